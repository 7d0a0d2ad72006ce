/**
 * What satellites report of DRBD, from the link to the user: the resource views (LINSTOR's fields), the
 * events stream (a `state` event per change, none for a repeated report), and `resource create`
 * answering only once a DRBD resource is usable.
 */
import t from 'tap'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'
import type { ClusterEvent } from '../../../../src/controller/events/event.js'
import type { ResourceObserved } from '../../../../src/proto/messages.js'
import type { ApiReply } from '../../../helpers/controller.js'
import { CAPABILITIES, silent, type SatellitePeer } from '../../../helpers/satellite-peer.js'
import { controller, must, peerNode, until, waitStatus } from '../../../helpers/satellite-setup.js'

const CREATED_RSC = MASK.SUCCESS | 1n | OP.CRT | OBJ.RSC
const NOT_READY = BigInt.asIntN(64, MASK.WARN | OP.CRT | OBJ.RSC)

const tc = await controller({ satelliteTimeoutMs: 1500 })
t.teardown(tc.stop)

/** A peer whose node runs DRBD 9, with pool1. */
async function drbdNode(name: string): Promise<SatellitePeer> {
  const p = await peerNode(tc, name, { respond: silent })
  t.teardown(() => p.stop())
  await waitStatus(tc, name, 'ONLINE')
  p.send({ ...CAPABILITIES, layers: [{ kind: 'STORAGE', supported: true }, { kind: 'DRBD', supported: true, version: '9.2.8' }] })
  await until('DRBD supported', async () => ((await tc.get(`/v1/nodes/${name}`)).body.resource_layers as string[]).includes('DRBD'))
  return p
}

async function drbdRscDfn(name: string): Promise<void> {
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name } }))
  await must(tc.post(`/v1/resource-definitions/${name}/volume-definitions`, { volume_definition: { size_kib: 65536 } }))
}

const create = (rsc: string, node: string): Promise<ApiReply> =>
  tc.post(`/v1/resource-definitions/${rsc}/resources`, [{ resource: { node_name: node, props: { StorPoolName: 'pool1' } }, layer_list: ['DRBD', 'STORAGE'] }])

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
  const stop = tc.ctrl.events.onEvents((batch) => events.push(...batch.filter((e) => e.action === 'state' && e.nameKey === 'DV')))
  t.teardown(stop)
  const syncing = drbdReport('Inconsistent', 'Connected', 'UpToDate', 'SyncTarget', 42.5)
  p1.report('dv', d.generation, 'READY', syncing)
  const x = await until('reported', async () => {
    const b = (await tc.get('/v1/resource-definitions/dv/resources/d1')).body
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
  const done = (await tc.get('/v1/resource-definitions/dv/resources/d1')).body
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
  const x = (await tc.get('/v1/resource-definitions/d84/resources/d1')).body
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
  const diskless = tc.post('/v1/resource-definitions/dl/resources', [{ resource: { node_name: 'd1', flags: ['DRBD_DISKLESS'] }, layer_list: ['DRBD', 'STORAGE'] }])
  const dd = await p1.next('ResourceDesired', (x) => x.name === 'dl')
  p1.report('dl', dd.generation, 'READY', drbdReport('Diskless', 'Connected', 'UpToDate', 'Established'))
  t.same((await diskless).retCodes.slice(-1), [CREATED_RSC], 'a diskless client with an UpToDate peer is usable')

  await drbdRscDfn('di')
  const inactive = tc.post('/v1/resource-definitions/di/resources', [{ resource: { node_name: 'd1', flags: ['INACTIVE'], props: { StorPoolName: 'pool1' } }, layer_list: ['DRBD', 'STORAGE'] }])
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
