import t from 'tap'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'

const tc = await startTestController()
t.teardown(tc.stop)

const sat = (name: string, address = '127.0.0.1', extra: object = {}): object => ({
  name, type: 'Satellite', net_interfaces: [{ name: 'default', address, satellite_port: 3366, satellite_encryption_type: 'Plain' }], ...extra,
})

t.test('create, get (case-insensitive), list, filter by props', async (t) => {
  const r = await tc.post('/v1/nodes', sat('alpha', '127.0.0.1', { props: { 'Aux/rack': 'r1' } }))
  t.equal(r.status, 201)
  t.equal(r.retCodes[0], MASK.SUCCESS | 1n | OP.CRT | OBJ.NODE, 'CREATED | CRT | NODE')
  await tc.post('/v1/nodes', sat('beta', '127.0.0.2'))
  const one = await tc.get('/v1/nodes/ALPHA')
  t.equal(one.status, 200)
  t.equal(one.body.name, 'alpha')
  t.equal(one.body.type, 'SATELLITE')
  t.equal(one.body.connection_status, 'OFFLINE')
  t.match(one.body.net_interfaces[0], { name: 'default', address: '127.0.0.1', is_active: true, satellite_port: 3366, satellite_encryption_type: 'PLAIN' }, 'interface shape')
  t.equal(one.body.props['Aux/rack'], 'r1')
  const all = await tc.get('/v1/nodes')
  t.same(all.body.map((n: { name: string }) => n.name), ['alpha', 'beta'])
  const filtered = await tc.get('/v1/nodes?props=Aux/rack=r1')
  t.same(filtered.body.map((n: { name: string }) => n.name), ['alpha'])
  const byName = await tc.get('/v1/nodes?nodes=beta')
  t.same(byName.body.map((n: { name: string }) => n.name), ['beta'])
  const paged = await tc.get('/v1/nodes?limit=1&offset=1')
  t.same(paged.body.map((n: { name: string }) => n.name), ['beta'])
})

t.test('bad input is refused with a 4xx ApiCallRc and changes nothing', async (t) => {
  const before = (await tc.get('/v1/nodes')).text
  const cases: [string, unknown, number, bigint][] = [
    ['path in name', sat('../etc'), 400, 200n],
    ['shell metacharacters', sat('a;rm -rf'), 400, 200n],
    ['too short', sat('a'), 400, 200n],
    ['bad type', { ...sat('gamma'), type: 'Toaster' }, 400, 201n],
    ['bad address', sat('gamma', 'not-an-ip'), 400, 210n],
    ['port out of range', { name: 'gamma', type: 'Satellite', net_interfaces: [{ name: 'default', address: '127.0.0.3', satellite_port: 70000 }] }, 400, 234n],
    ['type of wrong type', { name: 'gamma', type: 7 }, 400, 234n],
    ['no interface', { name: 'gamma', type: 'Satellite', net_interfaces: [] }, 400, 234n],
    ['duplicate', sat('ALPHA'), 409, 500n],
    ['bad prop key', sat('gamma', '127.0.0.3', { props: { 'a//b': 'x' } }), 400, 213n],
  ]
  for (const [what, body, status, code] of cases) {
    const r = await tc.post('/v1/nodes', body)
    t.equal(r.status, status, `${what}: status`)
    t.equal(r.retCodes[0]! & MASK.BITS_TYPE, MASK.ERROR & MASK.BITS_TYPE, `${what}: error severity`)
    t.equal(r.retCodes[0]! & MASK.BITS_CODE, code, `${what}: code`)
    t.type(r.body[0].message, 'string')
    t.ok(r.body[0].message.length > 0, `${what}: message`)
  }
  const malformed = await tc.post('/v1/nodes', '{"name": ')
  t.equal(malformed.status, 400)
  t.equal(malformed.retCodes[0], -3458764513820540931n, 'API_CALL_PARSE_ERROR, exact')
  const huge = await tc.post('/v1/nodes', JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }))
  t.equal(huge.status, 413)
  t.equal((await tc.get('/v1/nodes')).text, before, 'nothing changed')
})

t.test('modify, props, type', async (t) => {
  const r = await tc.put('/v1/nodes/alpha', { override_props: { 'Aux/zone': 'z1' }, delete_props: ['Aux/rack'] })
  t.equal(r.status, 200)
  const n = (await tc.get('/v1/nodes/alpha')).body
  t.equal(n.props['Aux/zone'], 'z1')
  t.notOk('Aux/rack' in n.props)
  const ns = await tc.put('/v1/nodes/alpha', { delete_namespaces: ['Aux'] })
  t.equal(ns.status, 200)
  t.notOk('Aux/zone' in (await tc.get('/v1/nodes/alpha')).body.props)
  t.equal((await tc.put('/v1/nodes/nosuch', {})).status, 404)
})

t.test('net interfaces', async (t) => {
  t.equal((await tc.post('/v1/nodes/alpha/net-interfaces', { name: 'data', address: '127.168.1.1' })).status, 201)
  t.equal((await tc.post('/v1/nodes/alpha/net-interfaces', { name: 'DATA', address: '127.168.1.2' })).status, 409)
  const list = await tc.get('/v1/nodes/alpha/net-interfaces')
  t.same(list.body.map((x: { name: string }) => x.name), ['default', 'data'])
  t.equal((await tc.put('/v1/nodes/alpha/net-interfaces/data', { address: '127.168.1.9' })).status, 200)
  t.equal((await tc.get('/v1/nodes/alpha/net-interfaces/data')).body.address, '127.168.1.9')
  const active = await tc.del('/v1/nodes/alpha/net-interfaces/default')
  t.equal(active.status, 409, 'the active satellite connection cannot be deleted')
  t.equal((await tc.del('/v1/nodes/alpha/net-interfaces/data')).status, 200)
  t.equal((await tc.get('/v1/nodes/alpha/net-interfaces/data')).status, 404)
})

t.test('unknown routes and methods', async (t) => {
  const r = await tc.get('/v1/nosuch')
  t.equal(r.status, 404)
  const m = await tc.call('PATCH', '/v1/nodes')
  t.equal(m.status, 405)
})

t.test('delete and lost', async (t) => {
  t.equal((await tc.del('/v1/nodes/beta')).status, 200)
  t.equal((await tc.get('/v1/nodes/beta')).status, 404)
  t.equal((await tc.del('/v1/nodes/beta')).status, 404)
  t.equal((await tc.del('/v1/nodes/alpha/lost')).status, 200)
  t.same((await tc.get('/v1/nodes')).body, [])
})

t.test('survives a restart', async (t) => {
  await tc.post('/v1/nodes', sat('persisted', '127.0.0.7', { props: { 'Aux/a': 'b' } }))
  await tc.restart()
  const n = (await tc.get('/v1/nodes/persisted')).body
  t.equal(n.name, 'persisted')
  t.equal(n.props['Aux/a'], 'b')
})

t.test('a __proto__ property key is refused, not silently dropped', async (t) => {
  const r = await tc.post('/v1/nodes', '{"name":"protonode","type":"Satellite","props":{"__proto__":"x"},"net_interfaces":[{"name":"default","address":"127.0.0.9"}]}')
  t.equal(r.status, 400)
  t.equal((await tc.get('/v1/nodes/protonode')).status, 404)
  const m = await tc.put('/v1/nodes/persisted', '{"override_props":{"__proto__":"x"}}')
  t.equal(m.status, 400)
})
