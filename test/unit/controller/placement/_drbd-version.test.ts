import t from 'tap'
import { drbdAtLeast, drbdSupportsMixing, drbdSupportsQuorum, drbdSupportsTieBreaker, isDrbd84 } from '../../../../src/controller/placement/_drbd-version.js'

t.test('versions compare by major, minor, patch; an unknown one has nothing', async (t) => {
  t.ok(drbdAtLeast('9.0.18', 9, 0, 18))
  t.ok(drbdAtLeast('9.1.0', 9, 0, 18))
  t.ok(drbdAtLeast('10.0.0', 9, 2, 7))
  t.notOk(drbdAtLeast('9.0.17', 9, 0, 18))
  t.notOk(drbdAtLeast('8.4.11', 9, 0, 0))
  t.ok(drbdAtLeast('9.2.8-rc.1', 9, 2, 8), 'a suffix after the patch level is ignored')
  for (const v of [null, undefined, '', 'nine']) t.notOk(drbdAtLeast(v, 0, 0, 0), `${String(v)}: unknown`)
})

t.test('what each version can do', async (t) => {
  t.same(['8.4.11', '8.4.0', '9.0.0', null].map(isDrbd84), [true, true, false, false])
  t.same(['9.0.17', '9.0.18', '9.0.19', '8.4.11', null].map(drbdSupportsQuorum), [false, true, true, false, false])
  t.same(['9.0.18', '9.0.19', '9.2.8', null].map(drbdSupportsTieBreaker), [false, true, true, false])
  t.same(['9.1.17', '9.1.18', '9.1.40', '9.2.0', '9.2.6', '9.2.7', '9.3.0'].map(drbdSupportsMixing), [false, true, true, false, false, true, true])
})
