import t from 'tap'
import { createServer } from 'node:net'
import { encode } from '../../../../src/proto/codec.js'
import { LINK_CLOSE, PROTOCOL_VERSION } from '../../../../src/proto/messages.js'
import { SatellitePeer } from '../../../helpers/satellite-peer.js'
import { controller, must, peerNode, secretOf, statusOf, until, waitStatus } from '../../../helpers/satellite-setup.js'

const tc = await controller()
t.teardown(tc.stop)

const link = async (node: string): Promise<Record<string, string>> => (await tc.get(`/v1/x-blockyard/nodes/${node}/link`)).body

t.test('handshake: the node goes ONLINE, gets its full sync, and shows what it can do', async (t) => {
  const peer = await peerNode(tc, 'good')
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'good', 'ONLINE')
  const sync = peer.fullSyncs[0]!
  t.equal(sync.nodeName, 'good')
  t.same(sync.storPools.map((p) => p.name).sort(), ['DfltDisklessStorPool', 'pool1'])
  const n = (await tc.get('/v1/nodes/good')).body
  t.same(n.storage_providers, ['DISKLESS', 'FILE', 'FILE_THIN'], 'supported providers from NodeCapabilities')
  t.same(n.resource_layers, ['STORAGE'])
  t.same(n.unsupported_layers, { DRBD: ['drbd kernel module not loaded'] })
  t.same(n.unsupported_providers, { LVM: ['lvm2 not installed'] })
  const l = await link('good')
  t.equal(l['connection_status'], 'ONLINE')
  t.equal(l['satellite_version'], 'peer')
  t.equal(l['satellite_address'], `127.0.0.1:${peer.port}`)
  t.notOk('reason' in l, 'no reason when online')
  t.ok(Date.parse(l['since']!) > 0)
  // Capacities reported after the sync reach the storage pool view.
  const pool = await until('capacity', async () => (await tc.get('/v1/nodes/good/storage-pools/pool1')).body.free_capacity !== undefined && (await tc.get('/v1/nodes/good/storage-pools/pool1')).body)
  t.equal(pool.free_capacity, 1 << 20)
  t.equal(pool.total_capacity, 2 << 20)
  t.equal(peer.connections, 1, 'one connection, kept')
})

t.test('a satellite with another secret that refuses the controller: AUTHENTICATION_ERROR', async (t) => {
  const peer = await peerNode(tc, 'badkey1', { secret: 'not-the-cluster-secret' })
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'badkey1', 'AUTHENTICATION_ERROR')
  t.match((await link('badkey1'))['reason'], /refused the link: the controller does not know the cluster secret/)
  t.equal(peer.fullSyncs.length, 0, 'nothing sent to it')
  // It keeps refusing: the status stays while the controller retries.
  await until('a retry', () => peer.connections >= 3)
  t.equal(await statusOf(tc, 'badkey1'), 'AUTHENTICATION_ERROR')
})

t.test('a satellite with another secret that answers anyway: the controller refuses it', async (t) => {
  const peer = await peerNode(tc, 'badkey2', { secret: 'not-the-cluster-secret', checkControllerProof: false })
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'badkey2', 'AUTHENTICATION_ERROR')
  t.match((await link('badkey2'))['reason'], /does not know the cluster secret/)
  t.equal(peer.fullSyncs.length, 0)
})

t.test('another protocol version: VERSION_MISMATCH naming both', async (t) => {
  const peer = await peerNode(tc, 'oldsat', { protocolVersion: PROTOCOL_VERSION + 1 })
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'oldsat', 'VERSION_MISMATCH')
  t.equal((await link('oldsat'))['reason'], `the satellite speaks protocol version ${PROTOCOL_VERSION + 1}, this controller ${PROTOCOL_VERSION}`)
})

t.test('another node answering at the address: HOSTNAME_MISMATCH', async (t) => {
  const peer = await SatellitePeer.start({ nodeName: 'somebody-else', secret: secretOf(tc) })
  t.teardown(() => peer.stop())
  await must(tc.post('/v1/nodes', { name: 'expected', type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: peer.port }] }))
  await waitStatus(tc, 'expected', 'HOSTNAME_MISMATCH')
  t.match((await link('expected'))['reason'], /is node 'somebody-else', not 'expected'/)
})

t.test('nothing listening: OFFLINE with the reason', async (t) => {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((r) => server.close(() => r()))
  await must(tc.post('/v1/nodes', { name: 'nobody', type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: port }] }))
  await until('a reason', async () => (await link('nobody'))['reason'])
  t.equal(await statusOf(tc, 'nobody'), 'OFFLINE')
  t.match((await link('nobody'))['reason'], /refused/)
  t.equal((await tc.get('/v1/x-blockyard/nodes/missing/link')).status, 404)
})

t.test('an undecodable frame closes the link with PROTOCOL_ERROR; it comes back', async (t) => {
  const peer = await peerNode(tc, 'garbler')
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'garbler', 'ONLINE')
  const closed = peer.closing()
  peer.sendRaw(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]))
  const c = await closed
  t.equal(c.code, LINK_CLOSE.PROTOCOL_ERROR, 'closed with PROTOCOL_ERROR')
  t.match(c.reason, /protocol error: undecodable frame/)
  await until('reconnected', () => peer.connections >= 2)
  await waitStatus(tc, 'garbler', 'ONLINE')
  t.equal(peer.fullSyncs.length, 2, 'a full sync per connection')
})

t.test('a frame out of sequence is a protocol error too', async (t) => {
  const peer = await peerNode(tc, 'skipper')
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'skipper', 'ONLINE')
  const closed = peer.closing()
  peer.sendRaw(encode({ seq: 1000, msg: { type: 'Ping', sentAtUs: 1 } }))
  t.match((await closed).reason, /frame 1000 where \d+ was due/)
  await until('reconnected', () => peer.connections >= 2)
  await waitStatus(tc, 'skipper', 'ONLINE')
})

t.test('no Pong for the timeout: OFFLINE, then ONLINE again once the satellite answers', async (t) => {
  const fast = await controller({ linkTimings: { pingIntervalMs: 50, pongTimeoutMs: 300 } })
  t.teardown(fast.stop)
  const peer = await peerNode(fast, 'sleepy')
  t.teardown(() => peer.stop())
  await waitStatus(fast, 'sleepy', 'ONLINE')
  peer.silence()
  await waitStatus(fast, 'sleepy', 'OFFLINE')
  t.equal((await fast.get('/v1/x-blockyard/nodes/sleepy/link')).body.reason, 'no answer for 0.3 s')
  await waitStatus(fast, 'sleepy', 'ONLINE')
  t.ok(peer.connections >= 2, 'redialled')
  t.equal(peer.fullSyncs.length, peer.connections, 'a full sync per connection')
})

t.test('a satellite that never applies its full sync: FULL_SYNC_FAILED', async (t) => {
  const peer = await peerNode(tc, 'stuck')
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'stuck', 'ONLINE')
  peer.applyFullSync = false
  peer.drop()
  await waitStatus(tc, 'stuck', 'FULL_SYNC_FAILED')
  t.match((await link('stuck'))['reason'], /did not apply its full sync within 2 s/)
})
