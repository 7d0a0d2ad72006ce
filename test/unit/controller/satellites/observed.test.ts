import t from 'tap'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'
import type { ClusterEvent } from '../../../../src/controller/events/event.js'
import type { ResourceObserved } from '../../../../src/proto/messages.js'
import type { ApiReply } from '../../../helpers/controller.js'
import { CAPABILITIES, ready, silent, type SatellitePeer } from '../../../helpers/satellite-peer.js'
import { controller, must, peerNode, rscDfn, until, waitStatus } from '../../../helpers/satellite-setup.js'

// Short waits: these tests finish deletes after the REST call has given up waiting.
const tc = await controller({ satelliteTimeoutMs: 200 })
t.teardown(tc.stop)

const peer = await peerNode(tc, 'o1', { respond: silent })
t.teardown(() => peer.stop())
await waitStatus(tc, 'o1', 'ONLINE')

t.test('pool capacities and their errors reach the storage pool views; unknown pools are ignored', async (t) => {
  peer.send({
    type: 'CapacityReport',
    storPools: [
      { name: 'POOL1', freeKib: 100, totalKib: 200, errors: [] },
      { name: 'DfltDisklessStorPool', errors: [{ message: 'no capacity for a diskless pool', code: 'ERR_NO_CAPACITY', terminal: true }] },
      { name: 'nosuchpool', freeKib: 1, totalKib: 1, errors: [] },
    ],
  })
  const pool = await until('reported', async () => {
    const p = (await tc.get('/v1/nodes/o1/storage-pools/pool1')).body
    return p.free_capacity === 100 && p
  })
  t.equal(pool.total_capacity, 200)
  const dl = (await tc.get('/v1/view/storage-pools?nodes=o1&storage_pools=DfltDisklessStorPool')).body[0]
  t.notOk('free_capacity' in dl, 'unknown capacity stays absent')
  t.same(dl.reports.map((x: { message: string; cause: string }) => [x.message, x.cause]), [['no capacity for a diskless pool', 'ERR_NO_CAPACITY']])
  t.notOk(tc.ctrl.core.model.runtime.storPools.has('O1\0NOSUCHPOOL'))
})

t.test('capabilities: what the node can run, and why not', async (t) => {
  peer.send({
    type: 'NodeCapabilities', hostname: 'h', osName: 'Linux', osRelease: '6.1', osDistribution: '',
    layers: [{ kind: 'STORAGE', supported: true }, { kind: 'LUKS', supported: false }, { kind: 'DRBD', supported: true, version: '8.4.11' }],
    providers: [{ kind: 'FILE_THIN', supported: true }, { kind: 'ZFS', supported: false, reason: 'no zfs' }],
  })
  const n = await until('capabilities', async () => {
    const x = (await tc.get('/v1/nodes/o1')).body
    return x.unsupported_layers['LUKS'] !== undefined && x
  })
  t.same(n.resource_layers, ['STORAGE', 'DRBD'])
  t.equal(tc.ctrl.core.model.runtime.nodes.get('O1')?.drbdVersion, '8.4.11', 'the DRBD version is kept for placement')
  t.same(n.storage_providers, ['FILE_THIN'])
  t.same(n.unsupported_layers, { LUKS: ['not supported'] })
  t.same(n.unsupported_providers, { ZFS: ['no zfs'] })
  // Placement reads them: a provider the node lacks is refused.
  const r = await tc.post('/v1/nodes/o1/storage-pools', { storage_pool_name: 'zpool', provider_kind: 'ZFS', props: { 'StorDriver/StorPoolName': 'tank' } })
  t.equal(r.status, 409)
})

t.test('volume reports: errors of the resource show on every volume; unreported volumes lose stale state', async (t) => {
  await rscDfn(tc, 'ov', [4096, 4096])
  await must(tc.post('/v1/resource-definitions/ov/resources/o1', { resource: { props: { StorPoolName: 'pool1' } } }))
  const d = await peer.next('ResourceDesired', (x) => x.name === 'ov')
  peer.report('ov', d.generation, 'UPDATING', {
    errors: [{ message: 'pool is read-only', code: 'EROFS', terminal: false }],
    volumes: [{ number: 1, devicePath: '/dev/loop9', usableKib: 4096, peers: [], errors: [{ message: 'short write', details: 'wrote 0 of 4096' }].map((e) => ({ ...e, terminal: false })) }],
  })
  const vols = await until('reports', async () => {
    const v = (await tc.get('/v1/resource-definitions/ov/resources/o1')).body.volumes
    return v[0].reports.length > 0 && v
  })
  t.same(vols[0].reports.map((x: { message: string }) => x.message), ['pool is read-only'])
  t.notOk('device_path' in vols[0])
  t.same(vols[1].reports.map((x: { message: string; details?: string }) => [x.message, x.details]), [['pool is read-only', undefined], ['short write', 'wrote 0 of 4096']])
  t.equal(vols[1].device_path, '/dev/loop9')
  t.notOk('disk_state' in vols[1].state, 'no disk state unless reported (or failed)')

  peer.report('ov', d.generation, 'READY', { volumes: [{ number: 0, devicePath: '/dev/loop8', peers: [], errors: [] }] })
  const after = await until('cleared', async () => {
    const v = (await tc.get('/v1/resource-definitions/ov/resources/o1')).body.volumes
    return v[1].reports.length === 0 && v
  })
  t.equal(after[0].device_path, '/dev/loop8')
  t.notOk('device_path' in after[1], 'volume 1 was not reported: its old state is gone')
})

t.test('reports about what the controller does not know are ignored', async (t) => {
  peer.report('nosuch', 5n, 'GONE')
  peer.report('nosuch', 6n, 'READY')
  // A GONE for a resource that is not being deleted removes nothing.
  await rscDfn(tc, 'keep')
  await must(tc.post('/v1/resource-definitions/keep/resources/o1', { resource: { props: { StorPoolName: 'pool1' } } }))
  const d = await peer.next('ResourceDesired', (x) => x.name === 'keep')
  peer.report('keep', d.generation, 'GONE')
  await new Promise((r) => setTimeout(r, 100))
  t.equal((await tc.get('/v1/resource-definitions/keep/resources/o1')).status, 200)
  t.equal((await tc.get('/v1/nodes/o1')).body.connection_status, 'ONLINE', 'and the link stays up')
})

t.test('a GONE after the call stopped waiting still finishes the delete, with the definition and the node flagged with it', async (t) => {
  await rscDfn(tc, 'late1')
  await must(tc.post('/v1/resource-definitions/late1/resources/o1', { resource: { props: { StorPoolName: 'pool1' } } }))
  await peer.next('ResourceDesired', (x) => x.name === 'late1')
  const r = await tc.del('/v1/resource-definitions/late1')
  t.match(r.body.at(-1).message, /was not deleted on node 'o1' within 0.2 s/)
  t.same((await tc.get('/v1/resource-definitions/late1')).body.flags, ['DELETE'])
  const d = await peer.next('ResourceDesired', (x) => x.name === 'late1')
  t.equal(d.deleted, true)
  peer.report('late1', d.generation, 'GONE')
  await until('definition gone', async () => (await tc.get('/v1/resource-definitions/late1')).status === 404)

  const p2 = await peerNode(tc, 'o2', { respond: silent })
  t.teardown(() => p2.stop())
  await waitStatus(tc, 'o2', 'ONLINE')
  await rscDfn(tc, 'late2')
  await must(tc.post('/v1/resource-definitions/late2/resources/o2', { resource: { props: { StorPoolName: 'pool1' } } }))
  await must(tc.del('/v1/nodes/o2'))
  t.same((await tc.get('/v1/nodes/o2')).body.flags, ['DELETE'])
  const d2 = await p2.next('ResourceDesired', (x) => x.name === 'late2' && x.deleted)
  p2.report('late2', d2.generation, 'GONE')
  await until('node gone', async () => (await tc.get('/v1/nodes/o2')).status === 404)
  t.equal((await tc.get('/v1/resource-definitions/late2')).status, 200, 'a definition not flagged stays')
  t.equal([...tc.ctrl.core.model.storPoolsOfNode('o2')].length, 0, 'the node went with its pools')
})

t.test('deleting a volume definition finishes when the satellites applied the state without it', async (t) => {
  peer.respond = ready
  t.teardown(() => void (peer.respond = silent))
  await rscDfn(tc, 'vd2', [4096, 8192])
  await must(tc.post('/v1/resource-definitions/vd2/resources/o1', { resource: { props: { StorPoolName: 'pool1' } } }))
  const r = await tc.del('/v1/resource-definitions/vd2/volume-definitions/1')
  t.match(r.body[0].message, /marked for deletion/)
  const d = await peer.next('ResourceDesired', (x) => x.name === 'vd2' && x.volumes.length === 1)
  t.same(d.volumes.map((v) => v.number), [0], 'the volume is no longer wanted')
  await until('purged', async () => (await tc.get('/v1/resource-definitions/vd2/volume-definitions')).body.length === 1)
  t.same((await tc.get('/v1/resource-definitions/vd2/resources/o1')).body.volumes.map((v: { volume_number: number }) => v.volume_number), [0])
})

const CREATED_RSC = MASK.SUCCESS | 1n | OP.CRT | OBJ.RSC
const NOT_READY = BigInt.asIntN(64, MASK.WARN | OP.CRT | OBJ.RSC)

// DRBD: what satellites report of it, from the link to the user — the resource views (LINSTOR's fields),
// the events stream (a `state` event per change, none for a repeated report), and `resource create`
// answering only once a DRBD resource is usable. A controller of their own, which waits 1.5 s.
const dc = await controller({ satelliteTimeoutMs: 1500 })
t.teardown(dc.stop)

/** A peer whose node runs DRBD 9, with pool1. */
async function drbdNode(name: string): Promise<SatellitePeer> {
  const p = await peerNode(dc, name, { respond: silent })
  t.teardown(() => p.stop())
  await waitStatus(dc, name, 'ONLINE')
  p.send({ ...CAPABILITIES, layers: [{ kind: 'STORAGE', supported: true }, { kind: 'DRBD', supported: true, version: '9.2.8' }] })
  await until('DRBD supported', async () => ((await dc.get(`/v1/nodes/${name}`)).body.resource_layers as string[]).includes('DRBD'))
  return p
}

async function drbdRscDfn(name: string): Promise<void> {
  await must(dc.post('/v1/resource-definitions', { resource_definition: { name } }))
  await must(dc.post(`/v1/resource-definitions/${name}/volume-definitions`, { volume_definition: { size_kib: 65536 } }))
}

const create = (rsc: string, node: string): Promise<ApiReply> =>
  dc.post(`/v1/resource-definitions/${rsc}/resources`, [{ resource: { node_name: node, props: { StorPoolName: 'pool1' } }, layer_list: ['DRBD', 'STORAGE'] }])

type Report = Partial<Omit<ResourceObserved, 'name' | 'generation' | 'state'>>

/** A report of volume 0 with a peer `d2`: the local disk, the link and the peer's disk and replication. */
function drbdReport(disk: string, conn: string, peerDisk: string, repl: string, syncPercent?: number): Report {
  const peer = { peerNodeName: 'd2', replicationState: repl, peerDiskState: peerDisk, ...(syncPercent !== undefined ? { syncPercent } : {}) }
  return {
    inUse: false, mayPromote: disk === 'UpToDate', promotionScore: 10101,
    connections: [{ peerNodeName: 'd2', state: conn }],
    volumes: [{ number: 0, devicePath: '/dev/drbd1000', diskState: disk, peers: [peer], errors: [] }],
  }
}

const p1 = await drbdNode('d1')

t.test('the views show DRBD state as LINSTOR; a change is one state event, a repeated report none', async (t) => {
  await drbdRscDfn('dv')
  const made = create('dv', 'd1')
  const d = await p1.next('ResourceDesired', (x) => x.name === 'dv')
  const events: ClusterEvent[] = []
  const stop = dc.ctrl.events.onEvents((batch) => events.push(...batch.filter((e) => e.action === 'state' && e.nameKey === 'DV')))
  t.teardown(stop)
  const syncing = drbdReport('Inconsistent', 'Connected', 'UpToDate', 'SyncTarget', 42.5)
  p1.report('dv', d.generation, 'READY', syncing)
  const x = await until('reported', async () => {
    const b = (await dc.get('/v1/resource-definitions/dv/resources/d1')).body
    return b.state?.in_use === false && b
  })
  t.same(x.layer_object.drbd.connections, { d2: { connected: true, message: 'Connected' } })
  t.equal(x.layer_object.drbd.may_promote, false)
  t.equal(x.layer_object.drbd.promotion_score, 10101)
  t.same(x.volumes[0].state, { disk_state: 'SyncTarget(42.50%)', replication_states: { d2: { replication_state: 'SyncTarget', done_percentage: 42.5 } } },
    'resyncing: SyncTarget with its progress, as LINSTOR lists it')
  t.equal(x.volumes[0].layer_data_list[0].data.disk_state, 'Inconsistent', "the DRBD layer data keeps DRBD's own disk state")
  await until('the first events', () => events.length >= 2)
  t.same(events.map((e) => e.kind).sort(), ['resource', 'volume'])

  events.length = 0
  p1.report('dv', d.generation, 'READY', syncing)
  p1.report('dv', d.generation, 'READY', { ...syncing, connections: [{ peerNodeName: 'd2', state: 'StandAlone' }] })
  await until('the connection change', () => events.length >= 1)
  await new Promise((r) => setTimeout(r, 100))
  t.same(events.map((e) => e.kind), ['resource'], 'the repeated report made none, the connection change one (the volume is unchanged)')
  const ev = JSON.parse(events[0]!.text) as { object: { layer_object: { drbd: { connections: unknown } } } }
  t.same(ev.object.layer_object.drbd.connections, { d2: { connected: false, message: 'StandAlone' } }, 'the event shows the new state')

  events.length = 0
  p1.report('dv', d.generation, 'READY', drbdReport('UpToDate', 'Connected', 'UpToDate', 'Established'))
  await until('resync done', () => events.length >= 2)
  const done = (await dc.get('/v1/resource-definitions/dv/resources/d1')).body
  t.same(done.volumes[0].state, { disk_state: 'UpToDate', replication_states: { d2: { replication_state: 'Established' } } }, 'no percentage once in sync')
  t.equal(done.layer_object.drbd.may_promote, true)
  t.same((await must(made)).retCodes.slice(0, 2), [CREATED_RSC, CREATED_RSC])
})

t.test('DRBD 8.4 reports a resync as its connection state: the connection is up', async (t) => {
  await drbdRscDfn('d84')
  const made = create('d84', 'd1')
  const d = await p1.next('ResourceDesired', (x) => x.name === 'd84')
  p1.report('d84', d.generation, 'READY', drbdReport('Inconsistent', 'SyncTarget', 'UpToDate', 'SyncTarget', 3))
  const r = await made
  t.same(r.retCodes, [CREATED_RSC, CREATED_RSC], 'usable through the peer')
  const x = (await dc.get('/v1/resource-definitions/d84/resources/d1')).body
  t.same(x.layer_object.drbd.connections, { d2: { connected: true, message: 'SyncTarget' } })
})

t.test('create answers once every volume is usable: UpToDate, or an UpToDate peer connected', async (t) => {
  await drbdRscDfn('du')
  const made = create('du', 'd1')
  const d = await p1.next('ResourceDesired', (x) => x.name === 'du')
  let answered = false
  void made.then(() => (answered = true))
  p1.report('du', d.generation, 'READY', drbdReport('Inconsistent', 'Connecting', 'DUnknown', 'Off'))
  p1.report('du', d.generation, 'READY', drbdReport('Inconsistent', 'Connected', 'Inconsistent', 'Established'))
  p1.report('du', d.generation, 'READY', drbdReport('Outdated', 'StandAlone', 'UpToDate', 'Off'))
  await new Promise((r) => setTimeout(r, 200))
  t.notOk(answered, 'READY is not enough while no volume reaches UpToDate data')
  p1.report('du', d.generation, 'READY', drbdReport('UpToDate', 'Connecting', 'DUnknown', 'Off'))
  const r = await made
  t.same(r.retCodes, [CREATED_RSC, CREATED_RSC])
  t.equal(r.body[1].message, "Resource 'du' on 'd1' ready")

  await drbdRscDfn('dl')
  const diskless = dc.post('/v1/resource-definitions/dl/resources', [{ resource: { node_name: 'd1', flags: ['DRBD_DISKLESS'] }, layer_list: ['DRBD', 'STORAGE'] }])
  const dd = await p1.next('ResourceDesired', (x) => x.name === 'dl')
  p1.report('dl', dd.generation, 'READY', drbdReport('Diskless', 'Connected', 'UpToDate', 'Established'))
  t.same((await diskless).retCodes.slice(-1), [CREATED_RSC], 'a diskless client with an UpToDate peer is usable')

  await drbdRscDfn('di')
  const inactive = dc.post('/v1/resource-definitions/di/resources', [{ resource: { node_name: 'd1', flags: ['INACTIVE'], props: { StorPoolName: 'pool1' } }, layer_list: ['DRBD', 'STORAGE'] }])
  const di = await p1.next('ResourceDesired', (x) => x.name === 'di')
  p1.report('di', di.generation, 'READY', drbdReport('Inconsistent', 'StandAlone', 'DUnknown', 'Off'))
  t.same((await inactive).retCodes.slice(-1), [CREATED_RSC], 'an INACTIVE resource serves no I/O: READY is enough')
})

t.test('not usable in time: the warning says what it waits for', async (t) => {
  await drbdRscDfn('dw')
  const made = create('dw', 'd1')
  const d = await p1.next('ResourceDesired', (x) => x.name === 'dw')
  p1.report('dw', d.generation, 'READY', drbdReport('Inconsistent', 'Connecting', 'DUnknown', 'Off'))
  const r = await made
  t.equal(r.status, 201)
  t.same(r.retCodes, [CREATED_RSC, NOT_READY])
  t.equal(r.body[1].message, "Resource 'dw' on node 'd1' is deployed but not usable yet after 1.5 s: volume 0 Inconsistent, no UpToDate peer connected.")
})

t.test('a node whose satellite goes away: what it reported of DRBD is unknown until it reports again', async (t) => {
  const p9 = await drbdNode('d9')
  await drbdRscDfn('dz')
  const made = create('dz', 'd9')
  const d = await p9.next('ResourceDesired', (x) => x.name === 'dz')
  p9.report('dz', d.generation, 'READY', drbdReport('UpToDate', 'Connected', 'UpToDate', 'Established'))
  await must(made)
  const before = (await dc.get('/v1/resource-definitions/dz/resources/d9')).body
  t.equal(before.volumes[0].state.disk_state, 'UpToDate')
  await p9.stop()
  await waitStatus(dc, 'd9', 'OFFLINE')
  const after = (await dc.get('/v1/resource-definitions/dz/resources/d9')).body
  t.same(after.volumes[0].state, {}, 'no disk or replication state: the CLI shows Unknown')
  t.same(after.layer_object.drbd.connections, {}, 'no connections known')
  t.notOk('may_promote' in after.layer_object.drbd, 'may-promote unknown')
  t.notOk('state' in after && after.state?.in_use !== undefined, 'in_use unknown')
  t.equal(after.volumes[0].device_path, before.volumes[0].device_path, 'the device path stays')
})

t.test('the only UpToDate replica is not deleted while the other is behind: 409, nothing changes; once both are UpToDate it goes', async (t) => {
  const [e1, e2] = [await drbdNode('e1'), await drbdNode('e2')]
  await drbdRscDfn('dd')
  const made = dc.post('/v1/resource-definitions/dd/resources', ['e1', 'e2'].map((n) => ({ resource: { node_name: n, props: { StorPoolName: 'pool1' } }, layer_list: ['DRBD', 'STORAGE'] })))
  const [d1, d2] = [await e1.next('ResourceDesired', (x) => x.name === 'dd'), await e2.next('ResourceDesired', (x) => x.name === 'dd')]
  const report = (p: SatellitePeer, g: bigint, disk: string, peer: string, peerDisk: string, repl: string): void =>
    p.report('dd', g, 'READY', { ...drbdReport(disk, 'Connected', peerDisk, repl), connections: [{ peerNodeName: peer, state: 'Connected' }] })
  report(e1, d1.generation, 'UpToDate', 'e2', 'Inconsistent', 'SyncSource')
  report(e2, d2.generation, 'Inconsistent', 'e1', 'UpToDate', 'SyncTarget')
  await must(made)
  const refused = await dc.del('/v1/resource-definitions/dd/resources/e1')
  t.equal(refused.status, 409, refused.text)
  t.match(refused.body[0].message, /'e1' holds the only UpToDate copy of its data: 'e2' \(Inconsistent\) is not UpToDate yet/)
  t.notOk((await dc.get('/v1/resource-definitions/dd/resources/e1')).body.flags.includes('DELETE'), 'nothing was marked')
  report(e2, d2.generation, 'UpToDate', 'e1', 'UpToDate', 'Established')
  await until('e2 UpToDate', async () => (await dc.get('/v1/resource-definitions/dd/resources/e2/volumes')).body[0]?.state?.disk_state === 'UpToDate')
  const del = dc.del('/v1/resource-definitions/dd/resources/e1')
  const gone = await e1.next('ResourceDesired', (x) => x.name === 'dd' && x.deleted)
  e1.report('dd', gone.generation, 'GONE', {})
  t.equal((await del).status, 200, 'allowed once the other replica is UpToDate')
})
