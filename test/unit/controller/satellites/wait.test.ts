import t from 'tap'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'
import { unusableReason } from '../../../../src/controller/satellites/wait.js'
import type { VolumeObserved } from '../../../../src/proto/messages.js'
import type { ApiReply } from '../../../helpers/controller.js'
import { failing, ready, silent } from '../../../helpers/satellite-peer.js'
import { controller, must, peerNode, rscDfn, until, waitStatus } from '../../../helpers/satellite-setup.js'

const tc = await controller()
t.teardown(tc.stop)

const CREATED_RSC = MASK.SUCCESS | 1n | OP.CRT | OBJ.RSC
const DELETED_RSC = MASK.SUCCESS | 2n | OP.DEL | OBJ.RSC
const FAILED_RSC = BigInt.asIntN(64, MASK.ERROR | 998n | OP.CRT | OBJ.RSC)
const NOT_READY = BigInt.asIntN(64, MASK.WARN | OP.CRT | OBJ.RSC)
const NOT_CONNECTED = BigInt.asIntN(64, MASK.WARN | 1002n | OP.CRT | OBJ.RSC)

/** Whether a promise has settled by now. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending')
  return (await Promise.race([p, new Promise((r) => setTimeout(() => r(marker), 30))])) !== marker
}

const peer = await peerNode(tc, 'w1', { respond: silent })
const peer2 = await peerNode(tc, 'w2')
t.teardown(() => Promise.all([peer.stop(), peer2.stop()]))
await waitStatus(tc, 'w1', 'ONLINE')
await waitStatus(tc, 'w2', 'ONLINE')

t.test('create answers once the satellite reports the generation READY', async (t) => {
  await rscDfn(tc, 'rw')
  const call = tc.post('/v1/resource-definitions/rw/resources/w1', { resource: { props: { StorPoolName: 'pool1' } } })
  const d = await peer.next('ResourceDesired', (x) => x.name === 'rw')
  t.notOk(await settled(call), 'still waiting')
  peer.report('rw', d.generation - 1n, 'READY')
  peer.report('rw', d.generation, 'CREATING')
  t.notOk(await settled(call), 'an older generation or CREATING is not enough')
  peer.report('rw', d.generation, 'READY', { volumes: [{ number: 0, devicePath: '/dev/loop3', usableKib: 65536, allocatedKib: 12, diskState: 'UpToDate', peers: [], errors: [] }] })
  const r = await call
  t.equal(r.status, 201)
  t.same(r.retCodes, [CREATED_RSC, CREATED_RSC])
  t.equal(r.body[1].message, "Resource 'rw' on 'w1' ready")
  t.same(r.body[1].obj_refs, { RscDfn: 'rw', Node: 'w1' })
  const v = (await tc.get('/v1/resource-definitions/rw/resources/w1')).body.volumes[0]
  t.equal(v.device_path, '/dev/loop3', 'the view shows what was reported')
  t.equal(v.allocated_size_kib, 12)
})

t.test('a satellite that fails: ERROR entry naming node and cause, status 500, the resource shows it', async (t) => {
  peer2.respond = failing({ message: 'cannot attach /srv/w2/rf_00000.img to a loop device', code: 'EBUSY', syscall: 'ioctl(LOOP_CONFIGURE)', errno: 16, terminal: true, details: 'loop7 is busy' })
  t.teardown(() => void (peer2.respond = ready))
  await rscDfn(tc, 'rf')
  const r = await tc.post('/v1/resource-definitions/rf/resources/w2', { resource: { props: { StorPoolName: 'pool1' } } })
  t.equal(r.status, 500, 'LINSTOR answers a reply with an error entry with 500')
  t.same(r.retCodes, [CREATED_RSC, FAILED_RSC], 'created, then the failure')
  const e = r.body[1]
  t.equal(e.message, "(Node: 'w2') Deploying resource 'rf' failed: cannot attach /srv/w2/rf_00000.img to a loop device")
  t.equal(e.cause, 'ioctl(LOOP_CONFIGURE) failed: EBUSY (errno 16)')
  t.equal(e.details, 'loop7 is busy')
  t.match(e.correction, /stopped trying/)
  t.same(e.obj_refs, { RscDfn: 'rf', Node: 'w2' })
  const x = (await tc.get('/v1/resource-definitions/rf/resources/w2'))
  t.equal(x.status, 200, 'the resource exists')
  const v = x.body.volumes[0]
  t.equal(v.state.disk_state, 'Failed')
  t.equal(v.reports[0].message, 'cannot attach /srv/w2/rf_00000.img to a loop device')
  t.equal(v.reports[0].cause, 'ioctl(LOOP_CONFIGURE) failed: EBUSY (errno 16)')

  peer2.respond = failing({ message: 'drbdadm failed', command: ['drbdadm', 'adjust', 'rg'], exitCode: 10, terminal: true })
  await rscDfn(tc, 'rg')
  const c = await tc.post('/v1/resource-definitions/rg/resources/w2', { resource: { props: { StorPoolName: 'pool1' } } })
  t.equal(c.body[1].cause, "command 'drbdadm adjust rg' exited with status 10")
})

t.test('no answer in time: a warning, and the resource stays', async (t) => {
  const slow = await controller({ satelliteTimeoutMs: 300 })
  t.teardown(slow.stop)
  const p = await peerNode(slow, 's1', { respond: silent })
  t.teardown(() => p.stop())
  await waitStatus(slow, 's1', 'ONLINE')
  await rscDfn(slow, 'late')
  const call = slow.post('/v1/resource-definitions/late/resources/s1', { resource: { props: { StorPoolName: 'pool1' } } })
  const d = await p.next('ResourceDesired')
  // Still retrying: the satellite's last error is the likely reason, and the warning says so.
  p.report('late', d.generation, 'CREATING', { errors: [{ message: 'pool directory missing', code: 'ENOENT', syscall: 'statfs', errno: 2, terminal: false }] })
  const r = await call
  t.equal(r.status, 201)
  t.same(r.retCodes, [CREATED_RSC, NOT_READY])
  t.equal(r.body[1].message, "Resource 'late' did not become ready on node 's1' within 0.3 s, check the satellite for errors.")
  t.equal(r.body[1].cause, 'pool directory missing: statfs failed: ENOENT (errno 2)')
  t.equal((await slow.get('/v1/resource-definitions/late/resources/s1')).status, 200)
})

t.test('a satellite that goes away during the wait: a not-connected warning', async (t) => {
  await rscDfn(tc, 'gone')
  const call = tc.post('/v1/resource-definitions/gone/resources/w1', { resource: { props: { StorPoolName: 'pool1' } } })
  await peer.next('ResourceDesired', (x) => x.name === 'gone')
  peer.drop()
  const r = await call
  t.same(r.retCodes, [CREATED_RSC, NOT_CONNECTED])
  t.match(r.body[1].message, /went away before it confirmed resource 'gone'/)
  await waitStatus(tc, 'w1', 'ONLINE')
})

t.test('nodes whose satellite is not online are not waited for', async (t) => {
  await must(tc.post('/v1/nodes', { name: 'w9', type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: 1 }] }))
  await must(tc.post('/v1/nodes/w9/storage-pools', { storage_pool_name: 'pool1', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': '/srv/w9' } }))
  await rscDfn(tc, 'off')
  const r = await tc.post('/v1/resource-definitions/off/resources/w9', { resource: { props: { StorPoolName: 'pool1' } } })
  t.same(r.retCodes, [CREATED_RSC, NOT_CONNECTED], 'the usual warning, at once')
})

t.test('delete answers when the satellite reports the resource GONE at the deleting generation', async (t) => {
  await rscDfn(tc, 'del1')
  const made = tc.post('/v1/resource-definitions/del1/resources/w1', { resource: { props: { StorPoolName: 'pool1' } } })
  const d = await peer.next('ResourceDesired', (x) => x.name === 'del1')
  peer.report('del1', d.generation, 'READY')
  await must(made)
  const call = tc.del('/v1/resource-definitions/del1/resources/w1')
  const dd = await peer.next('ResourceDesired', (x) => x.name === 'del1')
  t.equal(dd.deleted, true)
  t.same((await tc.get('/v1/resource-definitions/del1/resources/w1')).body.flags, ['DELETE'], 'marked meanwhile')
  peer.report('del1', d.generation, 'GONE')
  t.notOk(await settled(call), 'a GONE for an older generation does not finish it')
  peer.report('del1', dd.generation, 'GONE')
  const r = await call
  t.equal(r.status, 200)
  t.same(r.retCodes, [DELETED_RSC, DELETED_RSC])
  t.equal(r.body[1].message, "Resource 'del1' on node 'w1' deleted by its satellite.")
  t.equal((await tc.get('/v1/resource-definitions/del1/resources/w1')).status, 404)
})

t.test('a failed delete is an error entry too; the resource stays marked', async (t) => {
  await rscDfn(tc, 'del2')
  const made = tc.post('/v1/resource-definitions/del2/resources/w1', { resource: { props: { StorPoolName: 'pool1' } } })
  peer.report('del2', (await peer.next('ResourceDesired', (x) => x.name === 'del2')).generation, 'READY')
  await must(made)
  const call = tc.del('/v1/resource-definitions/del2/resources/w1')
  const dd = await peer.next('ResourceDesired', (x) => x.name === 'del2')
  peer.report('del2', dd.generation, 'FAILED', { errors: [{ message: 'device is in use', code: 'EBUSY', syscall: 'ioctl(LOOP_CLR_FD)', errno: 16, terminal: true }] })
  const r = await call
  t.equal(r.status, 500)
  t.equal(r.retCodes[1], BigInt.asIntN(64, MASK.ERROR | 998n | OP.DEL | OBJ.RSC))
  t.equal(r.body[1].message, "(Node: 'w1') Deleting resource 'del2' failed: device is in use")
  t.same((await tc.get('/v1/resource-definitions/del2/resources/w1')).body.flags, ['DELETE'])
})

t.test('resource definition and node deletes finish with their last resource', async (t) => {
  peer2.respond = ready
  await rscDfn(tc, 'rdd')
  const made = await tc.post('/v1/resource-definitions/rdd/resources', [{ resource: { node_name: 'w2', props: { StorPoolName: 'pool1' } } }])
  t.same(made.retCodes, [CREATED_RSC, CREATED_RSC])
  const r = await tc.del('/v1/resource-definitions/rdd')
  t.equal(r.status, 200)
  t.match(r.body[0].message, /marked for deletion/)
  t.equal(r.body.at(-1).message, "Resource definition 'rdd' deleted.")
  t.equal((await tc.get('/v1/resource-definitions/rdd')).status, 404)

  const p3 = await peerNode(tc, 'w3')
  await waitStatus(tc, 'w3', 'ONLINE')
  await rscDfn(tc, 'onw3')
  await must(tc.post('/v1/resource-definitions/onw3/resources/w3', { resource: { props: { StorPoolName: 'pool1' } } }))
  const closed = p3.closing()
  const n = await tc.del('/v1/nodes/w3')
  t.equal(n.status, 200)
  t.match(n.body[0].message, /marked for deletion/)
  t.equal(n.body.at(-1).message, "Node 'w3' deleted.")
  t.equal((await tc.get('/v1/nodes/w3')).status, 404)
  t.equal((await tc.get('/v1/resource-definitions/onw3')).status, 200, 'the definition stays')
  await closed
  t.pass('the link to the deleted node is closed')
  await p3.stop()
})

t.test('auto-place and spawn wait for every placed resource', async (t) => {
  peer.respond = ready
  t.teardown(() => void (peer.respond = silent))
  await rscDfn(tc, 'ap')
  const a: ApiReply = await tc.post('/v1/resource-definitions/ap/autoplace', { select_filter: { place_count: 2, storage_pool: 'pool1', node_name_list: ['w1', 'w2'] } })
  t.equal(a.status, 201)
  t.equal(a.body.filter((x: { message: string }) => / ready$/.test(x.message)).length, 2, 'one ready entry per replica')

  await must(tc.post('/v1/resource-groups', { name: 'grp', select_filter: { place_count: 1, storage_pool: 'pool1', node_name_list: ['w2'] } }))
  const s = await tc.post('/v1/resource-groups/grp/spawn', { resource_definition_name: 'spawned', volume_sizes: [4096] })
  t.equal(s.status, 201)
  t.equal(s.body.at(-1).message, "Resource 'spawned' on 'w2' ready")
})

t.test('unusableReason: every volume must reach UpToDate data, its own or a connected peer\'s', async (t) => {
  const vol = (number: number, diskState: string | undefined, peers: [string, string][] = []): VolumeObserved => ({
    number, ...(diskState !== undefined ? { diskState } : {}), errors: [],
    peers: peers.map(([peerNodeName, peerDiskState]) => ({ peerNodeName, peerDiskState, replicationState: 'Established' })),
  })
  const conns = [{ peerNodeName: 'b', state: 'Connected' }, { peerNodeName: 'c', state: 'Connecting' }]
  const cases: [string, VolumeObserved[], string | null][] = [
    ['UpToDate', [vol(0, 'UpToDate'), vol(1, 'UpToDate')], null],
    ['through a connected UpToDate peer', [vol(0, 'Diskless', [['b', 'UpToDate']]), vol(1, 'Outdated', [['c', 'Inconsistent'], ['b', 'UpToDate']])], null],
    ['an UpToDate peer that is not connected', [vol(0, 'UpToDate'), vol(1, 'Inconsistent', [['c', 'UpToDate']])], 'volume 1 Inconsistent, no UpToDate peer connected'],
    ['a volume not reported, one without a disk state', [vol(1, undefined)], 'volume 0 has no disk state yet; volume 1 has no disk state yet'],
  ]
  for (const [what, volumes, want] of cases) t.equal(unusableReason([0, 1], { volumes, connections: conns }), want, what)
})
