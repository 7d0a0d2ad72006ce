import t from 'tap'
import { stringifyJson } from '../../../src/common/json.js'

t.test('bigints are written as exact digits', async (t) => {
  t.equal(stringifyJson({ a: -4611686018360279040n, b: [1n, 'x'] }), '{"a":-4611686018360279040,"b":[1,"x"]}')
  t.equal(stringifyJson({ s: '\u0000big:1' }), '{"s":"\\u0000big:1"}', 'a string that looks like the marker stays a string when no bigint is present')
  t.equal(stringifyJson([1, 'a']), '[1,"a"]')
})

t.test('values without a bigint take plain JSON.stringify; other errors still surface', async (t) => {
  const value = { a: [1, 'x', null, { b: true }], c: 'q"uote', d: undefined }
  t.equal(stringifyJson(value), JSON.stringify(value))
  t.equal(stringifyJson([{ ret_code: 5n, m: 'x' }, { n: 1 }]), '[{"ret_code":5,"m":"x"},{"n":1}]', 'a bigint anywhere still comes out exact')
  const cyclic: Record<string, unknown> = {}
  cyclic['self'] = cyclic
  t.throws(() => stringifyJson(cyclic), TypeError, 'a circular structure is not mistaken for a bigint')
})
