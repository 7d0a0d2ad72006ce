import t from 'tap'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'

const tc = await startTestController()
t.teardown(tc.stop)

const code = (rc: bigint): bigint => rc & MASK.BITS_CODE

t.test('empty at first', async (t) => {
  const r = await tc.get('/v1/key-value-store')
  t.equal(r.status, 200)
  t.same(r.body, [])
  const missing = await tc.get('/v1/key-value-store/nosuch')
  t.equal(missing.status, 404)
  t.equal(code(missing.retCodes[0]!), 316n, 'FAIL_NOT_FOUND_KVS')
})

t.test('PUT creates the store; JSON values as orchestrators store them', async (t) => {
  const json = JSON.stringify({ volumes: [{ name: 'pvc-1', size: 1024 }], note: 'multi\nline\ttabbed', unicode: 'Größe ✓' }, null, 2)
  const r = await tc.put('/v1/key-value-store/gateway', { override_props: { 'nfs/export1': json, 'Aux/x': '1' } })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 3n | OP.MOD | OBJ.KVS, 'MODIFIED | MOD | KVS')
  const one = await tc.get('/v1/key-value-store/GATEWAY')
  t.equal(one.status, 200)
  t.same(one.body, [{ name: 'gateway', props: { 'nfs/export1': json, 'Aux/x': '1' } }], 'LINSTOR answers a list holding the store')
  t.same(JSON.parse(one.body[0].props['nfs/export1']), JSON.parse(json), 'value round-trips exactly')
  t.equal((await tc.put('/v1/key-value-store/other', { override_props: { a: 'b' } })).status, 200)
  t.same((await tc.get('/v1/key-value-store')).body.map((k: { name: string }) => k.name), ['gateway', 'other'])
})

t.test("keys as linstor.KV writes them: absolute, relative when read back", async (t) => {
  t.equal((await tc.put('/v1/key-value-store/kv', { override_props: { '/ns/sub/key': 'v1', '//ns//other/': 'v2', '/top': 'v3' } })).status, 200)
  t.same((await tc.get('/v1/key-value-store/kv')).body[0].props, { 'ns/sub/key': 'v1', 'ns/other': 'v2', top: 'v3' })
  t.equal((await tc.put('/v1/key-value-store/kv', { delete_props: ['/ns/sub/key'] })).status, 200)
  t.same((await tc.get('/v1/key-value-store/kv')).body[0].props, { 'ns/other': 'v2', top: 'v3' })
  t.equal((await tc.put('/v1/key-value-store/kv', { delete_namespaces: ['/ns/'] })).status, 200)
  t.same((await tc.get('/v1/key-value-store/kv')).body[0].props, { top: 'v3' })
})

t.test('a store without properties ceases to exist (LINSTOR)', async (t) => {
  t.equal((await tc.put('/v1/key-value-store/kv', { delete_props: ['top'] })).status, 200)
  t.equal((await tc.get('/v1/key-value-store/kv')).status, 404)
  const empty = await tc.put('/v1/key-value-store/never', {})
  t.equal(empty.status, 200, 'an empty modify of a missing store succeeds')
  t.equal((await tc.get('/v1/key-value-store/never')).status, 404, '... and creates nothing')
  t.equal((await tc.put('/v1/key-value-store/never', { delete_props: ['a'] })).status, 200)
  t.equal((await tc.get('/v1/key-value-store/never')).status, 404)
})

t.test('bad input is refused with a 4xx ApiCallRc and changes nothing', async (t) => {
  const before = (await tc.get('/v1/key-value-store')).text
  const cases: [string, string, unknown, number, bigint][] = [
    ['path in name', '..%2Fx', { override_props: { a: 'b' } }, 400, 223n],
    ['shell metacharacter in name', 'a%3Bb', { override_props: { a: 'b' } }, 400, 223n],
    ['too short', 'a', { override_props: { a: 'b' } }, 400, 223n],
    ['override of wrong type', 'gateway', { override_props: 'x' }, 400, 234n],
    ['value of wrong type', 'gateway', { override_props: { a: { b: 1 } } }, 400, 234n],
    ['delete_props of wrong type', 'gateway', { delete_props: 'Aux/x' }, 400, 234n],
    ['delete_namespaces of wrong type', 'gateway', { delete_namespaces: [1] }, 400, 234n],
    ['body not an object', 'gateway', [1], 400, 234n],
    ['key of only slashes', 'gateway', { override_props: { '/': 'x' } }, 400, 213n],
    ['key with a space', 'gateway', { override_props: { 'a b': 'x' } }, 400, 213n],
    ['key too long', 'gateway', { override_props: { ['k'.repeat(600)]: 'x' } }, 400, 213n],
    ['value with NUL', 'gateway', { override_props: { a: 'x\u0000y' } }, 400, 213n],
    ['value too long', 'gateway', { override_props: { a: 'x'.repeat(9000) } }, 400, 213n],
    ['bad key in a new store', 'newstore', { override_props: { 'a b': 'x' } }, 400, 213n],
  ]
  for (const [what, name, body, status, rc] of cases) {
    const r = await tc.put(`/v1/key-value-store/${name}`, body)
    t.equal(r.status, status, `${what}: status`)
    t.equal(r.retCodes[0]! & MASK.BITS_TYPE, MASK.ERROR, `${what}: error severity`)
    t.equal(r.retCodes[0]! & MASK.BITS_OP, OP.MOD, `${what}: operation`)
    t.equal(r.retCodes[0]! & MASK.BITS_OBJ, OBJ.KVS, `${what}: object`)
    t.equal(code(r.retCodes[0]!), rc, `${what}: code`)
    t.ok(r.body[0].message.length > 0, `${what}: message`)
  }
  t.equal((await tc.get('/v1/key-value-store/a%3Bb')).status, 400, 'GET checks the name too')
  t.equal((await tc.del('/v1/key-value-store/..%2Fx')).status, 400, 'DELETE checks the name too')
  t.equal((await tc.put('/v1/key-value-store/gateway', '{"override_props":')).status, 400, 'malformed JSON')
  t.equal((await tc.get('/v1/key-value-store')).text, before, 'nothing changed')
})

t.test('delete', async (t) => {
  const r = await tc.del('/v1/key-value-store/Other')
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 2n | OP.DEL | OBJ.KVS, 'DELETED | DEL | KVS')
  t.equal((await tc.get('/v1/key-value-store/other')).status, 404)
  const again = await tc.del('/v1/key-value-store/other')
  t.equal(again.status, 200, 'LINSTOR: deleting a missing store is a warning')
  t.equal(again.retCodes[0], BigInt.asIntN(64, MASK.WARN | 3000n | OP.DEL | OBJ.KVS), 'WARN_NOT_FOUND')
})

t.test('survives a restart', async (t) => {
  const before = (await tc.get('/v1/key-value-store')).body
  t.equal(before.length, 1)
  await tc.restart()
  t.same((await tc.get('/v1/key-value-store')).body, before)
})
