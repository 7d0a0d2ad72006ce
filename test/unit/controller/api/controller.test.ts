import t from 'tap'
import { createRequire } from 'node:module'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'

const tc = await startTestController()
t.teardown(tc.stop)

const code = (rc: bigint): bigint => rc & MASK.BITS_CODE
const pkg = createRequire(import.meta.url)('../../../../package.json') as { version: string }

t.test('version: the shape LINSTOR clients read', async (t) => {
  const r = await tc.get('/v1/controller/version')
  t.equal(r.status, 200)
  t.same(Object.keys(r.body).sort(), ['build_time', 'git_hash', 'rest_api_version', 'version'])
  for (const k of Object.keys(r.body)) t.type(r.body[k], 'string', `${k} is a string`)
  t.equal(r.body.version, pkg.version)
  t.equal(r.body.rest_api_version, '1.28.0', 'the REST API version of the OpenAPI contract')
  t.match(r.body.rest_api_version, /^\d+\.\d+\.\d+$/, 'linstor-api-py compares it as a version')
})

t.test('properties: set, list, delete, namespaces', async (t) => {
  t.same((await tc.get('/v1/controller/properties')).body, {}, 'none at first')
  const r = await tc.post('/v1/controller/properties', { override_props: { 'Aux/a': '1', 'Aux/b': '2', 'DrbdOptions/Net/protocol': 'C', TcpPortAutoRange: ' 7100 - 7199 ' } })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 3n | OP.MOD | OBJ.CTRL_CONF, 'MODIFIED | MOD | CTRL_CONF')
  t.equal(r.retCodes.length, 1)
  t.same((await tc.get('/v1/controller/properties')).body, { 'Aux/a': '1', 'Aux/b': '2', 'DrbdOptions/Net/protocol': 'C', TcpPortAutoRange: ' 7100 - 7199 ' })

  const unset = await tc.post('/v1/controller/properties', { delete_props: ['Aux/a', 'Aux/nosuch'] })
  t.equal(unset.status, 200)
  t.equal(unset.retCodes[1], BigInt.asIntN(64, MASK.WARN | 1005n | OP.MOD | OBJ.CTRL_CONF), 'deleting an unset key warns')
  t.match(unset.body[1].message, /Aux\/nosuch/)
  t.notOk('Aux/a' in (await tc.get('/v1/controller/properties')).body)

  t.equal((await tc.post('/v1/controller/properties', { delete_namespaces: ['Aux'] })).status, 200)
  t.same((await tc.get('/v1/controller/properties')).body, { 'DrbdOptions/Net/protocol': 'C', TcpPortAutoRange: ' 7100 - 7199 ' })

  const del = await tc.del('/v1/controller/properties/DrbdOptions%2FNet%2Fprotocol')
  t.equal(del.status, 200)
  t.equal(del.retCodes[0], MASK.SUCCESS | 2n | OP.DEL | OBJ.CTRL_CONF, 'DELETED | DEL | CTRL_CONF')
  t.same((await tc.get('/v1/controller/properties')).body, { TcpPortAutoRange: ' 7100 - 7199 ' })
  const again = await tc.del('/v1/controller/properties/DrbdOptions%2FNet%2Fprotocol')
  t.equal(again.status, 404, 'deleting an unset property')
  t.equal(code(again.retCodes[0]!), 213n)
  t.equal(again.retCodes[0]! & MASK.BITS_OP, OP.DEL)
})

t.test('bad values and input are refused with 400 and change nothing', async (t) => {
  await tc.post('/v1/controller/properties', { override_props: { MinorNrAutoRange: '2000-2999', 'Aux/keep': 'x' } })
  const before = (await tc.get('/v1/controller/properties')).text
  const cases: [string, unknown, bigint][] = [
    ['TcpPortAutoRange reversed', { override_props: { TcpPortAutoRange: '9000-8000' } }, 213n],
    ['TcpPortAutoRange not a range', { override_props: { TcpPortAutoRange: 'abc' } }, 213n],
    ['TcpPortAutoRange beyond 65535', { override_props: { TcpPortAutoRange: '7000-70000' } }, 213n],
    ['TcpPortAutoRange from 0', { override_props: { TcpPortAutoRange: '0-100' } }, 213n],
    ['TcpPortAutoRange single port', { override_props: { TcpPortAutoRange: '7000' } }, 213n],
    ['MinorNrAutoRange reversed', { override_props: { MinorNrAutoRange: '9000-8000' } }, 213n],
    ['MinorNrAutoRange not a range', { override_props: { MinorNrAutoRange: 'abc' } }, 213n],
    ['MinorNrAutoRange beyond 2^20-1', { override_props: { MinorNrAutoRange: '1000-1048576' } }, 213n],
    ['MinorNrAutoRange negative', { override_props: { MinorNrAutoRange: '-1-100' } }, 213n],
    ['autoplacer weight not a number', { override_props: { 'Autoplacer/Weights/MaxFreeSpace': 'abc' } }, 213n],
    ['bad value beside a good one', { override_props: { 'Aux/new': 'y', TcpPortAutoRange: 'abc' } }, 213n],
    ['bad key', { override_props: { 'a//b': 'x' } }, 213n],
    ['control characters', { override_props: { 'Aux/x': 'a\u0001b' } }, 213n],
    ['bad namespace', { delete_namespaces: ['Aux//x'] }, 213n],
    ['override of wrong type', { override_props: ['TcpPortAutoRange'] }, 234n],
    ['value of wrong type', { override_props: { TcpPortAutoRange: { min: 1 } } }, 234n],
    ['delete_props of wrong type', { delete_props: 'Aux/keep' }, 234n],
    ['body not an object', 'null', 234n],
  ]
  for (const [what, body, rc] of cases) {
    const r = await tc.post('/v1/controller/properties', body)
    t.equal(r.status, 400, `${what}: status`)
    t.equal(r.retCodes[0]! & MASK.BITS_TYPE, MASK.ERROR, `${what}: error severity`)
    t.equal(r.retCodes[0]! & MASK.BITS_OBJ, OBJ.CTRL_CONF, `${what}: object`)
    t.equal(code(r.retCodes[0]!), rc, `${what}: code`)
    t.ok(r.body[0].message.length > 0, `${what}: message`)
  }
  const reversed = await tc.post('/v1/controller/properties', { override_props: { TcpPortAutoRange: '9000-8000' } })
  t.match(reversed.body[0].message, /TcpPortAutoRange/)
  t.match(reversed.body[0].correction, /7000-7999/)
  t.equal((await tc.del('/v1/controller/properties/a%2F%2Fb')).status, 400, 'DELETE with a bad key')
  t.equal((await tc.post('/v1/controller/properties', '{"override_props":')).status, 400, 'malformed JSON')
  t.equal((await tc.get('/v1/controller/properties')).text, before, 'nothing changed')
})

t.test('survives a restart', async (t) => {
  const before = (await tc.get('/v1/controller/properties')).body
  t.same(before, { TcpPortAutoRange: ' 7100 - 7199 ', MinorNrAutoRange: '2000-2999', 'Aux/keep': 'x' })
  await tc.restart()
  t.same((await tc.get('/v1/controller/properties')).body, before)
  t.equal(tc.ctrl.core.model.alloc.minors.allocate(), 2000, 'the minor allocator follows MinorNrAutoRange after a restart')
})
