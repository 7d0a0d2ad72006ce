// The satellite composed in-process, over the real link on loopback, with work that needs no root:
// what follows acceptance and a full sync, in which order; DISKLESS volumes; failures reported.
import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setLogSink } from '../../../src/common/log.js'
import type { FullSync, ResourceDesired, StorPoolDesired } from '../../../src/proto/messages.js'
import { startSatellite } from '../../../src/satellite/satellite.js'
import { TestController } from '../../helpers/satellite-link.js'

setLogSink(null)
const SECRET = 'beef'.repeat(16)
const root = mkdtempSync(join(tmpdir(), 'blockyard-satunit-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
const poolDir = join(root, 'pool')
mkdirSync(poolDir)

const pools: StorPoolDesired[] = [
  { name: 'DfltDisklessStorPool', providerKind: 'DISKLESS', props: {}, deleted: false },
  { name: 'files', providerKind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': poolDir }, deleted: false },
  { name: 'broken', providerKind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': 'relative/dir' }, deleted: false },
]
const diskless = (name: string, generation: bigint, deleted = false): ResourceDesired => ({
  name, generation, deleted, layers: ['STORAGE'], flags: ['DRBD_DISKLESS'], props: {},
  volumes: [{ number: 0, netSizeKib: 1024, grossSizeKib: 1024, storPoolName: 'DfltDisklessStorPool', providerKind: 'DISKLESS', storPoolProps: {}, props: {} }],
})
const sync = (syncId: number, resources: ResourceDesired[]): FullSync => ({ type: 'FullSync', syncId, nodeName: 'unit', nodeProps: {}, storPools: pools, resources })

t.test('satellite in-process', async (t) => {
  const sat = await startSatellite({ nodeName: 'unit', listen: { host: '127.0.0.1', port: 0 }, stateDir: join(root, 'state'), secret: SECRET })
  t.teardown(() => sat.stop())
  const url = `ws://127.0.0.1:${sat.port}/`

  // A peer that never authenticated: its desired state is not taken.
  const intruder = await TestController.connect(url)
  await intruder.next('Hello')
  intruder.send(sync(99, [diskless('evil', 1n)]))
  await intruder.closed
  t.equal(sat.store.resources.size, 0, 'nothing from an unauthenticated peer')

  const c = await TestController.connect(url)
  await c.handshake(SECRET)
  c.send(sync(1, [diskless('d1', 10n)]))
  const applied = await c.next('FullSyncApplied')
  t.equal(applied.syncId, 1)
  const r = await c.until('ResourceObserved', (m) => m.name === 'd1')
  t.match(r, { state: 'READY', generation: 10n, volumes: [{ number: 0, diskState: 'Diskless' }] })
  const order = c.received.map((m) => m.type).filter((x) => x !== 'Pong')
  t.same(order.slice(0, 6), ['Hello', 'SatelliteAuth', 'NodeCapabilities', 'CapacityReport', 'FullSyncApplied', 'ResourceObserved'], 'capabilities, capacities, sync applied, then observed state')

  const cap = c.received.find((m) => m.type === 'CapacityReport')!
  t.match(cap, { storPools: [{ name: 'DfltDisklessStorPool', errors: [] }, { name: 'files', errors: [] }, { name: 'broken', errors: [{ terminal: true, message: /must be an absolute path/ }] }] })
  t.ok((cap as { storPools: Array<{ totalKib?: number }> }).storPools[1]!.totalKib! > 0)

  // Incremental desired state: stale generations are ignored, new ones applied.
  c.send({ type: 'ResourceDesired', ...diskless('d1', 9n, true) })
  c.send({ type: 'ResourceDesired', ...diskless('d1', 11n, true) })
  const gone = await c.until('ResourceObserved', (m) => m.name === 'd1' && m.generation === 11n)
  t.equal(gone.state, 'GONE')
  t.notOk(c.received.some((m) => m.type === 'ResourceObserved' && m.generation === 9n), 'the stale one was ignored')

  // A volume in a pool that cannot be used: FAILED with the reason.
  const bad: ResourceDesired = { ...diskless('b1', 12n), volumes: [{ number: 0, netSizeKib: 8, grossSizeKib: 8, storPoolName: 'broken', providerKind: 'FILE_THIN', storPoolProps: pools[2]!.props, props: {} }] }
  c.send({ type: 'ResourceDesired', ...bad })
  t.match(await c.until('ResourceObserved', (m) => m.name === 'b1'), { state: 'FAILED', errors: [{ terminal: true, message: /must be an absolute path, got 'relative\/dir'/ }] })

  // A pool change brings a capacity report.
  const before = c.received.filter((m) => m.type === 'CapacityReport').length
  c.send({ type: 'StorPoolDesired', ...pools[2]!, deleted: true })
  await c.until('CapacityReport', (m) => m.storPools.every((p) => p.name !== 'broken'), 3000)
  t.ok(c.received.filter((m) => m.type === 'CapacityReport').length > before)

  // The controller goes; another links and syncs again.
  await c.close()
  const c2 = await TestController.connect(url)
  await c2.handshake(SECRET)
  c2.send(sync(2, [diskless('d2', 20n)]))
  await c2.next('FullSyncApplied')
  t.match(await c2.until('ResourceObserved', (m) => m.name === 'd2'), { state: 'READY' })
  t.same([...sat.store.resources.keys()], ['D2'], 'the new sync replaced the store')
  await c2.close()
})
