// DISKLESS: nothing to observe, no space; asking it to make storage is a programming error.
import t from 'tap'
import { DisklessProvider } from '../../../../src/satellite/providers/diskless.js'

t.test('diskless', async (t) => {
  const p = new DisklessProvider()
  const pool = { name: 'DfltDisklessStorPool', kind: 'DISKLESS' as const, props: {} }
  t.same(p.kinds, ['DISKLESS'])
  t.equal(await p.checkPool(pool), '')
  t.equal(p.volumePath(), undefined)
  t.same(await p.observe(), [])
  t.equal(await p.inUse(), false)
  t.equal(await p.space(), undefined)
  for (const op of ['create', 'grow', 'attach', 'resizeDevice', 'detach', 'remove'] as const) {
    t.throws(() => (p[op] as () => unknown)(), TypeError, `${op} throws`)
  }
})
