import t from 'tap'
import { checkName, nameKey, type NameKind } from '../../../src/common/names.js'
import { ApiError } from '../../../src/common/errors.js'

const good: [NameKind, string][] = [
  ['node', 'node-1'], ['node', 'n1.example.com'], ['node', 'ip-10-0-0-1_x'], ['node', 'ab'],
  ['rsc', 'pvc-1234_abc'], ['rsc', '_x1'], ['rsc', 'a'.repeat(48)], ['storPool', 'DfltStorPool'],
  ['netIf', 'default'], ['snapshot', 'snap_1'], ['kvs', 'csi-volumes'], ['rscGrp', 'DfltRscGrp'],
]
const bad: [NameKind, unknown, RegExp][] = [
  ['rsc', 'a', /shorter/], ['rsc', 'a'.repeat(49), /longer/], ['rsc', '../etc', /not allowed/], ['rsc', 'a/b', /'\/'/],
  ['rsc', 'a b', /' '/], ['rsc', 'x;rm', /';'/], ['rsc', '$(id)', /'\$'/], ['rsc', '1abc', /must start with a letter/],
  ['rsc', '__', /letter/], ['rsc', 'a\u0000b', /\\0/], ['rsc', 42, /string/], ['rsc', 'ä1', /'ä'/],
  ['node', '-bad', /hostname/], ['node', 'a..b', /hostname/], ['node', 'x'.repeat(256), /longer/],
  ['netIf', 'n'.repeat(33), /longer/], ['storPool', 'pool.x', /'\.'/],
]

t.test('valid names pass unchanged', async (t) => {
  for (const [k, v] of good) t.equal(checkName(k, v), v, `${k} ${v}`)
})

t.test('invalid names are refused with the kind\'s code and a reason', async (t) => {
  for (const [k, v, why] of bad) {
    let err: unknown
    try {
      checkName(k, v)
    } catch (e) {
      err = e
    }
    t.ok(err instanceof ApiError && err.status === 400 && why.test(err.message), `${k} ${String(v)}: ${(err as Error | undefined)?.message}`)
  }
})

t.test('keys are case-insensitive', async (t) => {
  t.equal(nameKey('MyRsc'), nameKey('myrsc'))
})
