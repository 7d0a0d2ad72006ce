import t from 'tap'
import { stringifyJson } from '../../../src/common/json.js'

t.test('bigints are written as exact digits', async (t) => {
  t.equal(stringifyJson({ a: -4611686018360279040n, b: [1n, 'x'] }), '{"a":-4611686018360279040,"b":[1,"x"]}')
  t.equal(stringifyJson({ s: '\u0000big:1' }), '{"s":"\\u0000big:1"}', 'a string that looks like the marker stays a string when no bigint is present')
  t.equal(stringifyJson([1, 'a']), '[1,"a"]')
})
