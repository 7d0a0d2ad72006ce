import t from 'tap'
import { SatellitePeer } from '../../../helpers/satellite-peer.js'
import { controller, must, peerNode, secretOf, statusOf, until, waitStatus } from '../../../helpers/satellite-setup.js'

const tc = await controller()
t.teardown(tc.stop)

const link = async (node: string): Promise<Record<string, string>> => (await tc.get(`/v1/x-blockyard/nodes/${node}/link`)).body

t.test('a changed satellite address is dialled at once', async (t) => {
  const first = await peerNode(tc, 'mv1')
  await waitStatus(tc, 'mv1', 'ONLINE')
  const second = await SatellitePeer.start({ nodeName: 'mv1', secret: secretOf(tc) })
  t.teardown(() => Promise.all([first.stop(), second.stop()]))
  const closed = first.closing()
  await must(tc.put('/v1/nodes/mv1/net-interfaces/default', { satellite_port: second.port }))
  await closed
  await until('the new address', () => second.linked)
  await waitStatus(tc, 'mv1', 'ONLINE')
  t.equal((await link('mv1'))['satellite_address'], `127.0.0.1:${second.port}`)

  // Another interface made active: that one is dialled.
  const third = await SatellitePeer.start({ nodeName: 'mv1', secret: secretOf(tc) })
  t.teardown(() => third.stop())
  await must(tc.post('/v1/nodes/mv1/net-interfaces', { name: 'backup', address: '127.0.0.1', satellite_port: third.port, is_active: true }))
  await until('the active interface', () => third.linked)
  t.equal(second.linked, false)
})

t.test('a deleted node loses its link and its runtime state', async (t) => {
  const peer = await peerNode(tc, 'del1')
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'del1', 'ONLINE')
  const closed = peer.closing()
  await must(tc.del('/v1/nodes/del1'))
  await closed
  t.notOk(tc.ctrl.core.model.runtime.nodes.has('DEL1'))
  const before = peer.connections
  await new Promise((r) => setTimeout(r, 300))
  t.equal(peer.connections, before, 'not dialled again')
})

t.test('nodes without a satellite to dial say why', async (t) => {
  await must(tc.post('/v1/nodes', { name: 'ctl1', type: 'controller', net_interfaces: [{ name: 'default', address: '127.0.0.1' }] }))
  t.equal(await statusOf(tc, 'ctl1'), 'OFFLINE')
  t.equal((await link('ctl1'))['reason'], 'a Controller node has no satellite')
  await must(tc.post('/v1/nodes', { name: 'ssl1', type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_encryption_type: 'SSL' }] }))
  t.match((await link('ssl1'))['reason'], /SSL is not supported yet/)
  t.notOk('satellite_version' in (await link('ssl1')))
})

t.test('a link that stays offline does not overwrite a status it did not set', async (t) => {
  await must(tc.post('/v1/nodes', { name: 'fake1', type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: 1 }] }))
  await until('first attempt', async () => (await link('fake1'))['reason'])
  tc.ctrl.core.model.setRuntimeNode('FAKE1', { connectionStatus: 'ONLINE', supportedLayers: null, supportedProviders: null })
  await new Promise((r) => setTimeout(r, 400))
  t.equal(await statusOf(tc, 'fake1'), 'ONLINE', 'a test standing in for a satellite keeps its status')
})

t.test('a controller restart reconnects every satellite', async (t) => {
  const peer = await peerNode(tc, 'rs1')
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'rs1', 'ONLINE')
  await tc.restart()
  await waitStatus(tc, 'rs1', 'ONLINE')
  t.equal(peer.fullSyncs.length, 2)
})
