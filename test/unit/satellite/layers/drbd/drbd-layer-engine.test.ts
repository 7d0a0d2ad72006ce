// The DRBD layer stacked on the storage layer by the reconcile engine: the order of storage and DRBD
// steps, the report's DRBD part, the passes that follow a resync, and the stacks refused without DRBD.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { setLogSink } from '../../../../../src/common/log.js'
import type { ResourceDesired, ResourceObserved, StorPoolDesired } from '../../../../../src/proto/messages.js'
import { DesiredStore } from '../../../../../src/satellite/desired-store.js'
import type { DrbdGenl, DrbdResourceStatus } from '../../../../../src/satellite/layers/drbd/drbd-genl.js'
import { DrbdLayer } from '../../../../../src/satellite/layers/drbd/drbd-layer.js'
import { StorageLayer } from '../../../../../src/satellite/layers/storage/storage-layer.js'
import { ReconcileEngine, SYNC_REFRESH_MS } from '../../../../../src/satellite/reconcile/engine.js'
import { TerminalError } from '../../../../../src/satellite/reconcile/errors.js'
import { FakeProvider } from '../../../../helpers/fake-provider.js'

setLogSink(null)
const pool: StorPoolDesired = { name: 'thin', providerKind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': '/p' }, deleted: false }

const rsc = (generation: bigint, deleted = false): ResourceDesired => ({
  name: 'r1', generation, deleted, layers: ['DRBD', 'STORAGE'], flags: [], props: {},
  volumes: [{ number: 0, netSizeKib: 1024, grossSizeKib: 1092, storPoolName: 'thin', providerKind: 'FILE_THIN', storPoolProps: pool.props, props: {}, drbdMinor: 1000 }],
  drbd: { nodeId: 0, address: '10.0.0.1', port: 7000, peerSlots: 7, peers: [{ nodeName: 'n2', nodeId: 1, address: '10.0.0.2', port: 7000, diskless: false }] },
})

const up: DrbdResourceStatus = {
  name: 'r1', role: 'Primary', suspended: [], failIo: false, mayPromote: false, promotionScore: null,
  devices: [{ volume: 0, minor: 1000, diskState: 'UpToDate', sizeSectors: 2048n, hasQuorum: true, intentionalDiskless: false }],
  connections: [{
    connectionState: 'Connected', peerRole: 'Secondary', congested: false, peerNodeId: null, connectionName: null,
    peerDevices: [{ volume: 0, minor: 1000, replicationState: 'Established', peerDiskState: 'UpToDate', resyncSuspended: [], outOfSyncSectors: 0n, resyncFailedSectors: null, resyncTotalSectors: null, verifyLeftSectors: null, uuidFlags: null, syncing: false, replicationStateNumber: 10, peerDiskStateNumber: 8, donePercent: null }],
  }],
}

async function setup(t: Test, withDrbd = true) {
  const dir = await mkdtemp(join(tmpdir(), 'drbd-engine-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const fake = new FakeProvider()
  fake.dirs.add('/p')
  // `dumps`: the status reads DRBD was asked for.
  const kernel: { status: DrbdResourceStatus | null; dumps: number } = { status: null, dumps: 0 }
  const genl = {
    status: async (name: string) => {
      kernel.dumps++
      return { resource: (n: string) => (n === name ? kernel.status : null) }
    },
  } as unknown as DrbdGenl
  const drbd = new DrbdLayer({
    nodeName: 'n1', confDir: dir, genl, version: 8,
    // The one log shows storage and DRBD steps in the order they ran.
    run: async (tool, argv) => {
      fake.calls.push(`${tool} ${argv.at(-1)!.split('/')[0]} ${argv.at(-2)!}`)
      if (argv.at(-2) === 'adjust') kernel.status = up
      if (argv.at(-2) === 'down') kernel.status = null
    },
    readMd: async () => null,
  })
  // Storage observations counted: the passes during a resync make none.
  const storageObserved = { n: 0 }
  const observe = fake.observe.bind(fake)
  fake.observe = (...a) => {
    storageObserved.n++
    return observe(...a)
  }
  const store = new DesiredStore()
  store.replace({ type: 'FullSync', syncId: 1, nodeName: 'n1', nodeProps: {}, storPools: [pool], resources: [] })
  const reports: ResourceObserved[] = []
  const engine = new ReconcileEngine({ store, storage: new StorageLayer([fake]), ...(withDrbd ? { drbd } : {}), report: (o) => reports.push(o) })
  return { fake, engine, reports, store, kernel, storageObserved }
}

t.test('create: storage first, then DRBD over it; the report shows the DRBD device and its peer', async (t) => {
  const { fake, engine, reports, store } = await setup(t)
  store.setResource(rsc(1n))
  await engine.reconcile('R1')
  t.strictSame(fake.calls, ['create /p/r1_00000.img 1092', 'attach /p/r1_00000.img', 'drbdadm r1 create-md', 'drbdadm r1 adjust'])
  t.strictSame(reports.at(-1), {
    name: 'r1', generation: 1n, state: 'READY', inUse: true, errors: [], mayPromote: false,
    connections: [{ peerNodeName: 'n2', state: 'Connected' }],
    volumes: [{ number: 0, errors: [], devicePath: '/dev/drbd1000', allocatedKib: 0, usableKib: 1024, diskState: 'UpToDate', peers: [{ peerNodeName: 'n2', replicationState: 'Established', peerDiskState: 'UpToDate' }] }],
  })
  fake.calls.length = 0
  await engine.reconcile('R1')
  t.strictSame(fake.calls, [], 'a second pass: nothing to do')
})

/** `up` with this node SyncSource to its peer, `done` percent through. */
function syncing(done: number): DrbdResourceStatus {
  const c = up.connections[0]!
  const p = c.peerDevices[0]!
  return { ...up, role: 'Secondary', mayPromote: true, connections: [{ ...c, peerDevices: [{ ...p, replicationState: 'SyncSource', peerDiskState: 'Inconsistent', syncing: true, donePercent: done }] }] }
}

t.test('while a resync runs: a pass every SYNC_REFRESH_MS, each report with the percentage, storage not observed again', async (t) => {
  const { fake, engine, reports, store, kernel, storageObserved } = await setup(t)
  store.setResource(rsc(1n))
  t.strictSame(await engine.reconcile('R1'), { done: true }, 'in sync: nothing to look at again')
  kernel.status = syncing(10)
  t.strictSame(await engine.reconcile('R1'), { requeueAfterMs: SYNC_REFRESH_MS })
  t.equal(reports.at(-1)?.volumes[0]?.peers[0]?.syncPercent, 10)
  t.equal(reports.at(-1)?.mayPromote, true, 'may-promote as DRBD state says')
  const observed = storageObserved.n
  fake.calls.length = 0
  kernel.status = syncing(55)
  t.strictSame(await engine.reconcile('R1'), { requeueAfterMs: SYNC_REFRESH_MS })
  t.equal(reports.at(-1)?.volumes[0]?.peers[0]?.syncPercent, 55)
  t.equal(storageObserved.n, observed, 'the storage found before is taken as it is')
  kernel.status = up
  t.strictSame(await engine.reconcile('R1'), { done: true }, 'the resync is over')
  t.equal(reports.at(-1)?.volumes[0]?.peers[0]?.replicationState, 'Established')
  t.strictSame(fake.calls, [], 'no command at all')
  await engine.reconcile('R1')
  t.ok(storageObserved.n > observed, 'after it, passes observe storage again')
  kernel.status = syncing(60)
  await engine.reconcile('R1')
  const before = storageObserved.n
  store.setResource(rsc(2n))
  t.strictSame(await engine.reconcile('R1'), { requeueAfterMs: SYNC_REFRESH_MS })
  t.ok(storageObserved.n > before, 'new desired state: storage observed again')
  t.equal(reports.at(-1)?.generation, 2n)
})

t.test('delete: DRBD down before the backing storage is detached and removed', async (t) => {
  const { fake, engine, store } = await setup(t)
  store.setResource(rsc(1n))
  await engine.reconcile('R1')
  fake.calls.length = 0
  store.setResource(rsc(2n, true))
  await engine.reconcile('R1')
  t.strictSame(fake.calls, ['drbdadm r1 down', 'detach /dev/loop0', 'remove /p/r1_00000.img'])
})

t.test('delete of a resource that never had DRBD: no DRBD query, no DRBD command', async (t) => {
  const { fake, engine, store, kernel } = await setup(t)
  const plain = (generation: bigint, deleted = false): ResourceDesired => {
    const { drbd: _, ...r } = rsc(generation, deleted)
    return { ...r, layers: ['STORAGE'], volumes: r.volumes.map(({ drbdMinor: _m, ...v }) => v) }
  }
  store.setResource(plain(1n))
  await engine.reconcile('R1')
  fake.calls.length = 0
  store.setResource(plain(2n, true))
  await engine.reconcile('R1')
  t.strictSame(fake.calls, ['detach /dev/loop0', 'remove /p/r1_00000.img'])
  t.equal(kernel.dumps, 0, 'DRBD was never asked')
})

t.test('without a DRBD layer, a DRBD stack is refused as terminal', async (t) => {
  const { engine, store, reports } = await setup(t, false)
  store.setResource(rsc(1n))
  await t.rejects(engine.reconcile('R1'), TerminalError)
  t.match(reports.at(-1), { state: 'FAILED', errors: [{ message: /layer stack DRBD,STORAGE is not supported by this satellite: it builds STORAGE only/ }] })
})
