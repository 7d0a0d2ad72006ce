import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'
import { WARN } from '../../../../src/common/errors.js'
import { MAX_VLM_NR } from '../../../../src/controller/api/volume-groups.js'
import type { RscDfn } from '../../../../src/controller/model/types.js'

const tc = await startTestController()
t.teardown(tc.stop)

const signed = (v: bigint): bigint => BigInt.asIntN(64, v)
const code = (rc: bigint): bigint => rc & MASK.BITS_CODE
const isError = (rc: bigint): boolean => (BigInt.asUintN(64, rc) & MASK.BITS_TYPE) === MASK.ERROR
const BASE = '/v1/resource-groups/grp1/volume-groups'

t.before(async () => {
  t.equal((await tc.post('/v1/resource-groups', { name: 'grp1' })).status, 201)
})

t.test('create: lowest free number, given number, props, flags', async (t) => {
  t.same((await tc.get(BASE)).body, [], 'no volume groups yet')
  const first = await tc.post(BASE, { props: { 'Aux/a': 'b' } })
  t.equal(first.status, 201)
  t.equal(first.retCodes[0], signed(MASK.SUCCESS | 1n | OP.CRT | OBJ.VLM_GRP), 'CREATED | CRT | VLM_GRP')
  t.same(first.body[0].obj_refs, { RscGrp: 'grp1', VlmNr: '0' })
  t.match(first.body[0].message, /New volume group with number '0' of resource group 'grp1' created/)

  t.equal((await tc.post(BASE, { volume_number: 2, flags: ['gross_size'] })).status, 201)
  // LINSTOR's client may send no body at all.
  const empty = await tc.post('/v1/resource-groups/GRP1/volume-groups')
  t.equal(empty.status, 201)
  t.same(empty.body[0].obj_refs, { RscGrp: 'grp1', VlmNr: '1' }, 'the gap is filled first')
  t.equal((await tc.post(BASE, {})).body[0].obj_refs.VlmNr, '3')
  t.equal((await tc.post(BASE, { volume_number: '7', props: null, flags: null })).status, 201, 'numbers as strings, nulls as absent')

  const list = (await tc.get(BASE)).body
  t.same(list.map((v: { volume_number: number }) => v.volume_number), [0, 1, 2, 3, 7], 'sorted by number')
  t.same(list[0], { volume_number: 0, props: { 'Aux/a': 'b' }, uuid: list[0].uuid, flags: [] })
  t.same(list[2].flags, ['GROSS_SIZE'])
  t.match(list[0].uuid, /^[0-9a-f-]{36}$/)
  const one = await tc.get(`${BASE}/2`)
  t.equal(one.status, 200)
  t.equal(one.body.volume_number, 2)
  t.same((await tc.get(`${BASE}?limit=2&offset=1`)).body.map((v: { volume_number: number }) => v.volume_number), [1, 2])
})

t.test('bad create input is refused with a 4xx ApiCallRc and changes nothing', async (t) => {
  const before = (await tc.get(BASE)).text
  const cases: [string, string, unknown, number, bigint][] = [
    ['duplicate number', BASE, { volume_number: 2 }, 409, 523n],
    ['negative number', BASE, { volume_number: -1 }, 400, 205n],
    ['number too large', BASE, { volume_number: MAX_VLM_NR + 1 }, 400, 205n],
    ['number not an integer', BASE, { volume_number: 1.5 }, 400, 234n],
    ['body not an object', BASE, [1], 400, 234n],
    ['bad prop key', BASE, { props: { 'a b': 'c' } }, 400, 213n],
    ['unknown flag', BASE, { flags: ['FAST'] }, 400, 234n],
    ['removal flag on create', BASE, { flags: ['-GROSS_SIZE'] }, 400, 234n],
    ['flags not a list', BASE, { flags: 'GROSS_SIZE' }, 400, 234n],
    ['missing group', '/v1/resource-groups/nosuch/volume-groups', {}, 404, 317n],
  ]
  for (const [what, path, body, status, c] of cases) {
    const r = await tc.post(path, body)
    t.equal(r.status, status, `${what}: status`)
    t.ok(isError(r.retCodes[0]!), `${what}: error`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
    t.equal(r.retCodes[0]! & OP.DEL, OP.CRT, `${what}: CRT operation`)
    t.equal(BigInt.asUintN(64, r.retCodes[0]!) & MASK.BITS_OBJ, OBJ.VLM_GRP, `${what}: VLM_GRP object`)
  }
  t.equal((await tc.get(BASE)).text, before, 'nothing changed')
})

t.test('get: missing and invalid numbers', async (t) => {
  const missing = await tc.get(`${BASE}/5`)
  t.equal(missing.status, 404)
  t.equal(missing.retCodes[0], signed(MASK.ERROR | 318n | OBJ.VLM_GRP))
  t.match(missing.body[0].message, /Volume group 5 of resource group 'grp1' not found/)
  t.equal((await tc.get(`${BASE}/x`)).status, 400)
  t.equal((await tc.get(`${BASE}/99999999999`)).status, 400)
  t.equal((await tc.get('/v1/resource-groups/nosuch/volume-groups')).status, 404)
  t.equal((await tc.get('/v1/resource-groups/nosuch/volume-groups/0')).status, 404)
})

t.test('modify props and flags', async (t) => {
  const r = await tc.put(`${BASE}/0`, { override_props: { 'Aux/c': 'd' }, delete_props: ['Aux/a', 'Aux/none'], flags: ['GROSS_SIZE'] })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], signed(MASK.SUCCESS | 3n | OP.MOD | OBJ.VLM_GRP))
  t.same(r.body[0].obj_refs, { RscGrp: 'grp1', VlmNr: '0' })
  t.ok(r.retCodes.includes(signed(WARN.DEL_UNSET_PROP | OP.MOD | OBJ.VLM_GRP)), 'warning for the unset property')
  let vg = (await tc.get(`${BASE}/0`)).body
  t.same(vg.props, { 'Aux/c': 'd' })
  t.same(vg.flags, ['GROSS_SIZE'])
  t.equal((await tc.put(`${BASE}/0`, { flags: ['GROSS_SIZE'] })).status, 200, 'setting a set flag again')
  t.same((await tc.get(`${BASE}/0`)).body.flags, ['GROSS_SIZE'])
  t.equal((await tc.put(`${BASE}/0`, { flags: ['-gross_size'], delete_namespaces: ['Aux'] })).status, 200)
  vg = (await tc.get(`${BASE}/0`)).body
  t.same(vg.flags, [])
  t.same(vg.props, {})
  t.same((await tc.get(`${BASE}/2`)).body.flags, ['GROSS_SIZE'], 'other volume groups untouched')
})

t.test('bad modify input is refused with a 4xx ApiCallRc and changes nothing', async (t) => {
  const before = (await tc.get(BASE)).text
  const cases: [string, string, unknown, number, bigint][] = [
    ['missing volume group', `${BASE}/5`, {}, 404, 318n],
    ['missing group', '/v1/resource-groups/nosuch/volume-groups/0', {}, 404, 317n],
    ['invalid number', `${BASE}/-1`, {}, 400, 205n],
    ['no body', `${BASE}/0`, undefined, 400, 234n],
    ['unknown flag', `${BASE}/0`, { flags: ['-FAST'] }, 400, 234n],
    ['set and cleared', `${BASE}/0`, { flags: ['GROSS_SIZE', '-GROSS_SIZE'] }, 400, 234n],
    ['bad prop with good flag', `${BASE}/0`, { flags: ['GROSS_SIZE'], override_props: { '': 'x' } }, 400, 213n],
  ]
  for (const [what, path, body, status, c] of cases) {
    const r = await tc.put(path, body)
    t.equal(r.status, status, `${what}: status`)
    t.ok(isError(r.retCodes[0]!), `${what}: error`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
    t.equal(r.retCodes[0]! & OP.DEL, OP.MOD, `${what}: MOD operation`)
  }
  t.equal((await tc.get(BASE)).text, before, 'nothing changed')
})

t.test('no new volume group once the group has resource definitions', async (t) => {
  const rd: RscDfn = { name: 'spawned', externalName: null, props: {}, flags: [], layerStack: [], rscGrpName: 'grp1', drbd: null, vlmDfns: [], uuid: randomUUID() }
  await tc.ctrl.core.mutate((tx, m) => m.putRscDfn(tx, rd))
  const before = (await tc.get(BASE)).text
  const r = await tc.post(BASE, {})
  t.equal(r.status, 409)
  t.equal(code(r.retCodes[0]!), 997n)
  t.match(r.body[0].message, /Resource group 'grp1' is still in use: 1 resource definition\(s\): spawned/)
  t.equal((await tc.get(BASE)).text, before, 'nothing changed')
  // Modifying and deleting stay allowed, as in LINSTOR.
  t.equal((await tc.put(`${BASE}/3`, { override_props: { 'Aux/late': 'yes' } })).status, 200)
  await tc.ctrl.core.mutate((tx, m) => m.deleteRscDfn(tx, m.getRscDfn('spawned')!))
})

t.test('delete', async (t) => {
  const r = await tc.del(`${BASE}/1`)
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], signed(MASK.SUCCESS | 2n | OP.DEL | OBJ.VLM_GRP))
  t.equal((await tc.get(`${BASE}/1`)).status, 404)
  const again = await tc.del(`${BASE}/1`)
  t.equal(again.status, 404)
  t.equal(again.retCodes[0], signed(MASK.ERROR | 318n | OP.DEL | OBJ.VLM_GRP))
  t.equal((await tc.del('/v1/resource-groups/nosuch/volume-groups/0')).status, 404)
  t.equal((await tc.del(`${BASE}/abc`)).status, 400)
  t.equal((await tc.post(BASE, {})).body[0].obj_refs.VlmNr, '1', 'a freed number is reused')
})

t.test('volume numbers run out', async (t) => {
  t.equal((await tc.post('/v1/resource-groups', { name: 'full' })).status, 201)
  await tc.ctrl.core.mutate((tx, m) => {
    const rg = m.getRscGrp('full')!
    const vlmGrps = Array.from({ length: MAX_VLM_NR + 1 }, (_, vlmNr) => ({ vlmNr, props: {}, flags: [], uuid: randomUUID() }))
    m.putRscGrp(tx, { ...rg, vlmGrps })
  })
  const r = await tc.post('/v1/resource-groups/full/volume-groups', {})
  t.equal(r.status, 409)
  t.equal(code(r.retCodes[0]!), 800n)
  t.match(r.body[0].message, /No free volume number in resource group 'full'/)
  t.equal((await tc.del('/v1/resource-groups/full')).status, 200)
})

t.test('volume groups go with their resource group', async (t) => {
  t.equal((await tc.post('/v1/resource-groups', { name: 'short' })).status, 201)
  t.equal((await tc.post('/v1/resource-groups/short/volume-groups', {})).status, 201)
  t.equal((await tc.del('/v1/resource-groups/short')).status, 200)
  t.equal((await tc.post('/v1/resource-groups', { name: 'short' })).status, 201)
  t.same((await tc.get('/v1/resource-groups/short/volume-groups')).body, [], 'a new group of the same name starts empty')
})

t.test('survives a restart', async (t) => {
  const before = (await tc.get(BASE)).body
  t.ok(before.length > 0)
  await tc.restart()
  t.same((await tc.get(BASE)).body, before)
})
