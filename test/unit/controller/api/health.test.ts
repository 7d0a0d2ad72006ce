import t from 'tap'
import { startTestController } from '../../../helpers/controller.js'
import { peerNode, controller, must, waitStatus } from '../../../helpers/satellite-setup.js'

// Liveness (/health) and readiness (/health/ready): readiness depends on the store, never on satellites.

const tc = await controller()
t.teardown(tc.stop)

t.test('liveness: 200 with counts while the database answers', async (t) => {
  const r = await tc.get('/health')
  t.equal(r.status, 200)
  t.same(r.body, { status: 'ok', nodes: 0, resource_definitions: 0 })
})

t.test('readiness: 200 with node counts; an offline satellite does not make the controller unready', async (t) => {
  const peer = await peerNode(tc, 'h1')
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'h1', 'ONLINE')
  // Nothing listens on port 1.
  await must(tc.post('/v1/nodes', { name: 'h2', type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: 1 }] }))
  await must(tc.post('/v1/nodes', { name: 'h3', type: 'auxiliary' }))
  const r = await tc.get('/health/ready')
  t.equal(r.status, 200)
  t.same(r.body, { status: 'ok', revision: tc.ctrl.core.store.revision, nodes: { total: 3, online: 1, offline: 2 } })
  t.equal((await tc.get('/health')).body.nodes, 3)
})

t.test('readiness: 503 when the store would not accept a commit, 200 again once it does', async (t) => {
  // A controller without nodes, so that nothing commits meanwhile (a failed commit stops the process).
  const quiet = await startTestController()
  t.teardown(quiet.stop)
  await must(quiet.post('/v1/nodes', { name: 'q1', type: 'auxiliary' }))
  const db = quiet.ctrl.core.store.db
  db.pragma('query_only = ON')
  let r = await quiet.get('/health/ready')
  t.equal(r.status, 503)
  t.equal(r.body.status, 'unavailable')
  t.match(r.body.reason, /does not accept writes: .*readonly/)
  t.same(r.body.nodes, { total: 1, online: 0, offline: 1 }, 'the counts are still there')
  t.equal((await quiet.get('/health')).status, 200, 'alive: the database answers queries')
  db.pragma('query_only = OFF')
  t.equal((await quiet.get('/health/ready')).status, 200)

  db.exec('BEGIN')
  r = await quiet.get('/health/ready')
  t.same([r.status, r.body.reason], [503, 'a database transaction was left open'])
  db.exec('ROLLBACK')
  t.equal((await quiet.get('/health/ready')).status, 200)
})

t.test('both 503 once the database is closed', async (t) => {
  const other = await startTestController()
  const db = other.ctrl.core.store.db
  db.close()
  const live = await other.get('/health')
  t.equal(live.status, 503)
  t.equal(live.body.status, 'unavailable')
  const ready = await other.get('/health/ready')
  t.same([ready.status, ready.body.reason], [503, 'the database is closed'])
  // Nothing was queued, so stopping finds nothing to write; closing a closed database is a no-op.
  await other.stop()
})

t.test('a wrong method is the router\'s 405', async (t) => {
  const r = await tc.post('/health/ready', {})
  t.equal(r.status, 405)
})
