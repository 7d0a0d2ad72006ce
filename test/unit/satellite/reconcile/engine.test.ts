// Reconcile passes over an in-memory provider: what is applied, what is reported, what is terminal.
import t from 'tap'
import { setLogSink } from '../../../../src/common/log.js'
import type { ResourceDesired, ResourceObserved, StorPoolDesired, VolumeDesired } from '../../../../src/proto/messages.js'
import { DesiredStore } from '../../../../src/satellite/desired-store.js'
import { StorageLayer } from '../../../../src/satellite/layers/storage/storage-layer.js'
import { DisklessProvider } from '../../../../src/satellite/providers/diskless.js'
import { ReconcileEngine } from '../../../../src/satellite/reconcile/engine.js'
import { TerminalError } from '../../../../src/satellite/reconcile/errors.js'
import { FakeProvider } from '../../../helpers/fake-provider.js'

setLogSink(null)
const DIR = 'StorDriver/StorPoolName'
const thin: StorPoolDesired = { name: 'thin', providerKind: 'FILE_THIN', props: { [DIR]: '/p/thin' }, deleted: false }
const thick: StorPoolDesired = { name: 'thick', providerKind: 'FILE', props: { [DIR]: '/p/thick' }, deleted: false }
const nowhere: StorPoolDesired = { name: 'nowhere', providerKind: 'FILE_THIN', props: { [DIR]: '/p/none' }, deleted: false }
const diskless: StorPoolDesired = { name: 'DfltDisklessStorPool', providerKind: 'DISKLESS', props: {}, deleted: false }

const vol = (number: number, sizeKib: number, pool: StorPoolDesired = thin): VolumeDesired => ({
  number, netSizeKib: sizeKib, grossSizeKib: sizeKib, storPoolName: pool.name, providerKind: pool.providerKind, storPoolProps: pool.props, props: {},
})
const rsc = (name: string, generation: bigint, volumes: VolumeDesired[], deleted = false): ResourceDesired => ({ name, generation, deleted, layers: ['STORAGE'], flags: [], props: {}, volumes })

function setup(): { store: DesiredStore; fake: FakeProvider; engine: ReconcileEngine; reports: ResourceObserved[]; changed: { n: number }; put: (r: ResourceDesired) => string } {
  const store = new DesiredStore()
  store.replace({ type: 'FullSync', syncId: 1, nodeName: 'n', nodeProps: {}, storPools: [thin, thick, nowhere, diskless], resources: [] })
  const fake = new FakeProvider()
  fake.dirs.add('/p/thin')
  fake.dirs.add('/p/thick')
  const reports: ResourceObserved[] = []
  const changed = { n: 0 }
  const engine = new ReconcileEngine({ store, storage: new StorageLayer([fake, new DisklessProvider()]), report: (o) => reports.push(o), onStorageChanged: () => changed.n++ })
  return { store, fake, engine, reports, changed, put: (r) => store.setResource(r)! }
}

t.test('create: file then device; READY with device, sizes, generation', async (t) => {
  const { fake, engine, reports, changed, put } = setup()
  const key = put(rsc('r1', 5n, [vol(0, 1024), vol(1, 2048, thick)]))
  t.same(await engine.reconcile(key), { done: true })
  t.same(fake.calls, ['create /p/thin/r1_00000.img 1024', 'attach /p/thin/r1_00000.img', 'create /p/thick/r1_00001.img 2048', 'attach /p/thick/r1_00001.img'])
  t.equal(changed.n, 1, 'storage changed once')
  t.strictSame(reports, [{
    name: 'r1', generation: 5n, state: 'READY', inUse: false, connections: [], errors: [],
    volumes: [
      { number: 0, peers: [], errors: [], devicePath: '/dev/loop0', allocatedKib: 0, usableKib: 1024, diskState: 'UpToDate' },
      { number: 1, peers: [], errors: [], devicePath: '/dev/loop1', allocatedKib: 2048, usableKib: 2048, diskState: 'UpToDate' },
    ],
  }])
  // A second pass finds everything in place: nothing applied, the same report.
  fake.calls.length = 0
  await engine.reconcile(key)
  t.same(fake.calls, [])
  t.equal(changed.n, 1)
  t.equal(reports[1]!.state, 'READY')
})

t.test('adoption: a file and device that exist are kept; a short file is grown', async (t) => {
  const { fake, engine, reports, put } = setup()
  fake.volumes.set('/p/thin/r1_00000.img', { kind: 'FILE_THIN', sizeKib: 1024, device: '/dev/loop9', deviceSizeKib: 1024 })
  fake.volumes.set('/p/thin/r1_00001.img', { kind: 'FILE_THIN', sizeKib: 100 })
  await engine.reconcile(put(rsc('r1', 6n, [vol(0, 1024), vol(1, 1024)])))
  t.same(fake.calls, ['grow /p/thin/r1_00001.img 1024', 'attach /p/thin/r1_00001.img'])
  t.equal(reports[0]!.volumes[0]!.devicePath, '/dev/loop9')
})

t.test('delete: devices down, files gone, GONE; the store forgets it', async (t) => {
  const { store, fake, engine, reports, put } = setup()
  const key = put(rsc('r1', 1n, [vol(0, 1024)]))
  await engine.reconcile(key)
  fake.calls.length = 0
  const del = rsc('r1', 2n, [], true)
  put(del)
  await engine.reconcile(key)
  t.same(fake.calls, ['detach /dev/loop0', 'remove /p/thin/r1_00000.img'])
  t.match(reports[1], { state: 'GONE', generation: 2n, volumes: [], errors: [] })
  t.equal(store.resources.has(key), false)
  t.same(await engine.reconcile(key), { done: true }, 'nothing desired: done, no report')
  t.equal(reports.length, 2)
})

t.test('a deleted resource whose pool has no directory is GONE (nothing of it can be there)', async (t) => {
  const { engine, reports, put } = setup()
  await engine.reconcile(put(rsc('r1', 3n, [vol(0, 1024, nowhere)], true)))
  t.match(reports[0], { state: 'GONE' })
})

t.test('a pool directory that does not exist: FAILED, terminal, with syscall and errno', async (t) => {
  const { engine, reports, put, fake } = setup()
  await t.rejects(engine.reconcile(put(rsc('r1', 4n, [vol(0, 1024, nowhere)]))), TerminalError)
  t.match(reports[0], { state: 'FAILED', generation: 4n, errors: [{ code: 'ENOENT', syscall: 'stat', errno: 2, terminal: true, message: /\/p\/none is not usable/ }] })
  t.same(fake.calls, [])
})

t.test('a retryable failure: reported with the volume error, thrown for backoff; the next pass goes on', async (t) => {
  const { engine, reports, put, fake } = setup()
  const busy = Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY', errno: -16, syscall: 'ioctl' })
  fake.fail('attach', busy)
  const key = put(rsc('r1', 7n, [vol(0, 1024)]))
  await t.rejects(engine.reconcile(key), /volume 0: EBUSY/)
  t.match(reports[0], { state: 'CREATING', generation: 7n, volumes: [{ number: 0, errors: [{ code: 'EBUSY', errno: 16, syscall: 'ioctl', terminal: false }] }] })
  t.notOk('devicePath' in reports[0]!.volumes[0]!, 'no device yet')
  t.equal(reports[0]!.volumes[0]!.allocatedKib, 0, 'but the file is there')
  await engine.reconcile(key)
  t.match(reports[1], { state: 'READY' })
  t.same(fake.calls.filter((c) => c.startsWith('create')), ['create /p/thin/r1_00000.img 1024'], 'the file was made once')
})

t.test('failures of an existing resource are UPDATING; of a deleted one DELETING', async (t) => {
  const { engine, reports, put, fake } = setup()
  const key = put(rsc('r1', 1n, [vol(0, 1024)]))
  await engine.reconcile(key)
  fake.fail('grow', new Error('something odd'))
  put(rsc('r1', 2n, [vol(0, 2048)]))
  await t.rejects(engine.reconcile(key))
  t.match(reports[1], { state: 'UPDATING', generation: 2n, volumes: [{ usableKib: 1024, errors: [{ message: 'something odd', terminal: false }] }] })
  await engine.reconcile(key)
  t.match(reports[2], { state: 'READY', volumes: [{ usableKib: 2048 }] })
  fake.volumes.get('/p/thin/r1_00000.img')!.held = true
  t.equal((await engine.reconcile(key), reports[3]!.inUse), true, 'a held device is in use')
  fake.fail('detach', Object.assign(new Error('in use'), { code: 'EBUSY', errno: -16, syscall: 'open' }))
  put(rsc('r1', 3n, [], true))
  await t.rejects(engine.reconcile(key))
  t.match(reports[4], { state: 'DELETING', generation: 3n, volumes: [{ number: 0, devicePath: '/dev/loop0', errors: [{ code: 'EBUSY' }] }] })
})

t.test('an errno retrying cannot fix makes the resource FAILED', async (t) => {
  const { engine, reports, put, fake } = setup()
  fake.fail('create', Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC', errno: -28, syscall: 'fallocate' }))
  await t.rejects(engine.reconcile(put(rsc('r1', 8n, [vol(0, 1024, thick)]))), TerminalError)
  t.match(reports[0], { state: 'FAILED', volumes: [{ number: 0, diskState: 'Failed', errors: [{ code: 'ENOSPC', syscall: 'fallocate', errno: 28, terminal: true }] }] })
})

t.test('shrinking is refused: FAILED, the volume untouched', async (t) => {
  const { engine, reports, put, fake } = setup()
  const key = put(rsc('r1', 1n, [vol(0, 2048)]))
  await engine.reconcile(key)
  fake.calls.length = 0
  put(rsc('r1', 2n, [vol(0, 1024)]))
  await t.rejects(engine.reconcile(key), TerminalError)
  t.same(fake.calls, [])
  t.match(reports[1], { state: 'FAILED', volumes: [{ number: 0, devicePath: '/dev/loop0', usableKib: 2048, errors: [{ terminal: true, message: /never shrinks/ }] }] })
})

t.test('stacks and providers this satellite cannot build are terminal', async (t) => {
  const { engine, reports, put, fake } = setup()
  await t.rejects(engine.reconcile(put({ ...rsc('r1', 1n, [vol(0, 1024)]), layers: ['DRBD', 'STORAGE'] })), TerminalError)
  t.match(reports[0]!.errors[0], { message: 'layer stack DRBD,STORAGE is not supported by this satellite: it builds STORAGE only', terminal: true })
  const lvm: VolumeDesired = { ...vol(0, 1024), storPoolName: 'lvm', providerKind: 'LVM' }
  await t.rejects(engine.reconcile(put(rsc('r2', 1n, [lvm]))), TerminalError)
  t.match(reports[1]!.errors[0], { message: /provider LVM, which this satellite does not support/ })
  t.same(fake.calls, [])
})

t.test('a DISKLESS volume is READY without storage', async (t) => {
  const { engine, reports, put, fake } = setup()
  await engine.reconcile(put(rsc('r1', 1n, [vol(0, 1024, diskless)])))
  t.strictSame(reports[0]!.volumes, [{ number: 0, peers: [], errors: [], diskState: 'Diskless' }])
  t.equal(reports[0]!.state, 'READY')
  t.same(fake.calls, [])
})

t.test('a node that does not converge is an error (retried), not READY', async (t) => {
  const { engine, reports, put, fake } = setup()
  fake.ignoreAttach = true
  await t.rejects(engine.reconcile(put(rsc('r1', 1n, [vol(0, 1024)]))), /still differs from desired state after applying 2 step\(s\): attach volume 0/)
  t.match(reports[0], { state: 'CREATING', errors: [{ terminal: false }] })
})

t.test('an observation that fails is reported on the resource', async (t) => {
  const { engine, reports, put, fake } = setup()
  fake.fail('observe', Object.assign(new Error('EIO: i/o error, stat'), { code: 'EIO', errno: -5, syscall: 'stat' }), 2)
  await t.rejects(engine.reconcile(put(rsc('r1', 1n, [vol(0, 1024)]))), /EIO/)
  t.match(reports[0], { state: 'CREATING', errors: [{ code: 'EIO', errno: 5, syscall: 'stat', terminal: false }] })
  fake.fail('inUse', new Error('cannot tell'))
  await engine.reconcile(put(rsc('r1', 2n, [vol(0, 1024)])))
  t.match(reports[1], { state: 'READY', inUse: false, errors: [{ message: 'cannot tell' }] })
})
