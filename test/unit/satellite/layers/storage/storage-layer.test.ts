// The storage layer: which pools it looks in, where desired volumes live, one entry per file.
import t from 'tap'
import { setLogSink } from '../../../../../src/common/log.js'
import type { ResourceDesired, StorPoolDesired, VolumeDesired } from '../../../../../src/proto/messages.js'
import { StorageLayer } from '../../../../../src/satellite/layers/storage/storage-layer.js'
import { DisklessProvider } from '../../../../../src/satellite/providers/diskless.js'
import { TerminalError } from '../../../../../src/satellite/reconcile/errors.js'
import { FakeProvider } from '../../../../helpers/fake-provider.js'

setLogSink(null)
const DIR = 'StorDriver/StorPoolName'
const pool = (name: string, dir: string, providerKind: StorPoolDesired['providerKind'] = 'FILE_THIN'): StorPoolDesired => ({ name, providerKind, props: { [DIR]: dir }, deleted: false })
const vol = (number: number, p: StorPoolDesired): VolumeDesired => ({ number, netSizeKib: 8, grossSizeKib: 16, storPoolName: p.name, providerKind: p.providerKind, storPoolProps: p.props, props: {} })
const rsc = (volumes: VolumeDesired[], deleted = false): ResourceDesired => ({ name: 'r', generation: 1n, deleted, layers: ['STORAGE'], flags: [], props: {}, volumes })

function layer(): { fake: FakeProvider; storage: StorageLayer } {
  const fake = new FakeProvider()
  for (const d of ['/a', '/b']) fake.dirs.add(d)
  return { fake, storage: new StorageLayer([fake, new DisklessProvider()]) }
}

t.test('desired volumes get their path in their pool, the gross size, none for DISKLESS', async (t) => {
  const { storage } = layer()
  const a = pool('a', '/a')
  const dl: StorPoolDesired = { name: 'DfltDisklessStorPool', providerKind: 'DISKLESS', props: {}, deleted: false }
  const seen = await storage.observe(rsc([vol(0, a), vol(1, dl)]), [a, dl])
  t.strictSame(seen.desired, [
    { number: 0, kind: 'FILE_THIN', sizeKib: 16, path: '/a/r_00000.img' },
    { number: 1, kind: 'DISKLESS', sizeKib: 16 },
  ])
  t.same(seen.actual, [])
})

t.test('a desired size is what the provider will make of it (LVM: whole extents), so a rounded-up volume is not "larger"', async (t) => {
  class Rounding extends FakeProvider {
    async allocationKib(_location: string, sizeKib: number): Promise<number> {
      return Math.ceil(sizeKib / 4096) * 4096
    }
  }
  const fake = new Rounding()
  fake.dirs.add('/a')
  const a = pool('a', '/a')
  const seen = await new StorageLayer([fake]).observe(rsc([vol(0, a)]), [a])
  t.strictSame(seen.desired, [{ number: 0, kind: 'FILE_THIN', sizeKib: 4096, path: '/a/r_00000.img' }])
})

t.test('it searches every pool of the node, skips unusable ones, and counts a shared file once', async (t) => {
  const { fake, storage } = layer()
  fake.volumes.set('/b/r_00003.img', { kind: 'FILE_THIN', sizeKib: 16 })
  fake.volumes.set('/a/r_00000.img', { kind: 'FILE_THIN', sizeKib: 16 })
  fake.volumes.set('/a/other_00000.img', { kind: 'FILE_THIN', sizeKib: 16 })
  const a = pool('a', '/a')
  const seen = await storage.observe(rsc([vol(0, a)]), [a, pool('b', '/b'), pool('alsoA', '/a', 'FILE'), pool('missing', '/nowhere'), pool('lvm', '/x', 'LVM')])
  t.same(seen.actual.map((v) => v.path).sort(), ['/a/r_00000.img', '/b/r_00003.img'], 'another resource’s file is not ours; /a seen twice counts once')
})

t.test('a pool the desired volumes need must be usable', async (t) => {
  const { storage } = layer()
  const missing = pool('missing', '/nowhere')
  await t.rejects(storage.observe(rsc([vol(0, missing)]), []), TerminalError)
  // Deleting looks where the volumes were, and takes an unusable pool as empty.
  const seen = await storage.observe(rsc([vol(0, missing), vol(1, pool('a', '/a'))], true), [])
  t.same(seen, { desired: [], actual: [], locations: new Map([['A', '/a']]) })
})

t.test('a re-observation in the same pass reuses the pools checked, not their volumes', async (t) => {
  const { fake, storage } = layer()
  const a = pool('a', '/a')
  const first = await storage.observe(rsc([vol(0, a)]), [a, pool('missing', '/nowhere')])
  t.same([...first.locations], [['A', '/a']])
  fake.fail('checkPool', new Error('checked again'), 5)
  fake.volumes.set('/a/r_00000.img', { kind: 'FILE_THIN', sizeKib: 16 })
  const again = await storage.observe(rsc([vol(0, a)]), [a, pool('missing', '/nowhere')], first.locations)
  t.same(again.actual.map((v) => v.path), ['/a/r_00000.img'], 'volumes observed afresh, no pool checked again')
})

t.test('apply hands each step to its provider; space and in-use', async (t) => {
  const { fake, storage } = layer()
  await storage.apply({ op: 'create', number: 0, kind: 'FILE', path: '/a/r_00000.img', sizeKib: 10 })
  await storage.apply({ op: 'grow', number: 0, kind: 'FILE', path: '/a/r_00000.img', fromKib: 10, toKib: 20 })
  await storage.apply({ op: 'attach', number: 0, kind: 'FILE', path: '/a/r_00000.img' })
  await storage.apply({ op: 'resizeDevice', number: 0, kind: 'FILE', path: '/a/r_00000.img', device: '/dev/loop0' })
  const [v] = await fake.observe({ name: 'a', kind: 'FILE', props: {} }, '/a', 'r')
  t.equal(await storage.inUse([v!]), false)
  fake.volumes.get('/a/r_00000.img')!.held = true
  t.equal(await storage.inUse([v!, { ...v!, device: undefined } as never]), true)
  await storage.apply({ op: 'detach', number: 0, kind: 'FILE', path: '/a/r_00000.img', device: '/dev/loop0' })
  await storage.apply({ op: 'remove', number: 0, kind: 'FILE', path: '/a/r_00000.img' })
  t.same(fake.calls, ['create /a/r_00000.img 10', 'grow /a/r_00000.img 20', 'attach /a/r_00000.img', 'resizeDevice /dev/loop0', 'detach /dev/loop0', 'remove /a/r_00000.img'])
  t.same(await storage.space(pool('a', '/a')), { totalKib: 1_000_000, freeKib: 1_000_000 })
  t.equal(await storage.space({ name: 'd', providerKind: 'DISKLESS', props: {}, deleted: false }), undefined)
  await t.rejects(storage.space(pool('l', '/x', 'LVM')), { message: 'provider LVM is not supported by this satellite' })
  t.equal(storage.supports('FILE'), true)
  t.equal(storage.supports('ZFS'), false)
})
