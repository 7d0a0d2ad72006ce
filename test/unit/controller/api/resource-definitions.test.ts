import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'
import { purgeRscDfn } from '../../../../src/controller/api/resource-definitions.js'
import type { Model } from '../../../../src/controller/model/model.js'
import type { Resource, RscGrp, StorPool } from '../../../../src/controller/model/types.js'
import type { Tx } from '../../../../src/controller/db/tx.js'

const tc = await startTestController()
t.teardown(tc.stop)

/** A ret_code as the wire carries it: a signed 64-bit value. */
const rc = (v: bigint): bigint => BigInt.asIntN(64, v)
const WARN = MASK.WARN
const code = (rc: bigint): bigint => rc & MASK.BITS_CODE
const isError = (rc: bigint): boolean => (rc & MASK.BITS_TYPE) === (MASK.ERROR & MASK.BITS_TYPE)
const mutate = <T>(fn: (tx: Tx, m: Model) => T): Promise<T> => tc.ctrl.core.mutate(fn)
const create = (name: string, extra: Record<string, unknown> = {}, rd: Record<string, unknown> = {}) =>
  tc.post('/v1/resource-definitions', { resource_definition: { name, ...rd }, ...extra })

const sat = (name: string, address: string): object => ({
  name, type: 'Satellite', net_interfaces: [{ name: 'default', address, satellite_port: 3366 }],
})
const rscGrp = (name: string, extra: Partial<RscGrp> = {}): RscGrp => ({
  name, description: '', props: {}, selectFilter: { place_count: 2 }, peerSlots: null, vlmGrps: [], uuid: randomUUID(), ...extra,
})
const pool = (nodeName: string, name: string, providerKind: StorPool['providerKind']): StorPool => ({
  nodeName, name, providerKind, props: {}, sharedSpace: null, externalLocking: false, uuid: randomUUID(),
})
const resource = (rscName: string, nodeName: string, extra: Partial<Resource> = {}): Resource => ({
  rscName, nodeName, props: {}, flags: [], layerStack: ['DRBD', 'STORAGE'], drbdNodeId: null, drbdTcpPort: null,
  volumes: [], createTimestamp: Date.now(), uuid: randomUUID(), ...extra,
})

t.before(async () => {
  for (const [n, a] of [['n1', '127.0.0.1'], ['n2', '127.0.0.2'], ['n3', '127.0.0.3'], ['n4', '127.0.0.4']] as const) {
    t.equal((await tc.post('/v1/nodes', sat(n, a))).status, 201)
  }
  await mutate((tx, m) => {
    m.putRscGrp(tx, rscGrp('grp5', { peerSlots: 5 }))
    m.putRscGrp(tx, rscGrp('grpProps', { props: { PeerSlotsNewResource: '9' } }))
    for (const n of ['n1', 'n2', 'n3', 'n4']) m.putStorPool(tx, pool(n, 'DfltStorPool', 'LVM_THIN'))
  })
})

t.test('create with defaults: DfltRscGrp, DRBD data as LINSTOR generates it', async (t) => {
  const r = await create('rsc1')
  t.equal(r.status, 201)
  t.equal(r.retCodes[0], MASK.SUCCESS | 1n | OP.CRT | OBJ.RSC_DFN, 'CREATED | CRT | RSC_DFN')
  t.equal(r.body[0].obj_refs.RscDfn, 'rsc1')
  const rd = (await tc.get('/v1/resource-definitions/rsc1')).body
  t.equal(rd.name, 'rsc1')
  t.equal(rd.resource_group_name, 'DfltRscGrp')
  t.same(rd.props, {})
  t.same(rd.flags, [])
  t.notOk('external_name' in rd)
  t.notOk('volume_definitions' in rd, 'the single GET never embeds volume definitions')
  t.equal(rd.uuid, r.body[0].obj_refs.UUID)
  t.equal(rd.layer_data.length, 1, 'undecided stack: DRBD data only')
  const drbd = rd.layer_data[0]
  t.equal(drbd.type, 'DRBD')
  t.match(drbd.data, { resource_name_suffix: '', peer_slots: 7, al_stripes: 1, al_stripe_size_kib: 32, port: -1, transport_type: 'IP', down: false })
  t.match(drbd.data.secret, /^[A-Za-z0-9+/]{20}$/, '20-character secret')
  const other = (await tc.get('/v1/resource-definitions/rsc1')).body.layer_data[0].data.secret
  t.equal(other, drbd.data.secret, 'the secret is stored, not regenerated')
  await create('rsc2')
  t.not((await tc.get('/v1/resource-definitions/rsc2')).body.layer_data[0].data.secret, drbd.data.secret, 'secrets differ')
})

t.test('create as linstor-api-py sends it: layer_data, numbers as strings, group, DRBD options', async (t) => {
  const r = await tc.post('/v1/resource-definitions', {
    resource_definition: { name: 'Py1', layer_data: [{ type: 'drbd' }, { type: 'storage' }], resource_group_name: 'GRP5', props: { 'Aux/a': 'b' } },
    drbd_port: '7005', drbd_peer_slots: '3', drbd_secret: 'sEcReT123', drbd_transport_type: 'rdma',
  })
  t.equal(r.status, 201)
  const rd = (await tc.get('/v1/resource-definitions/py1')).body
  t.equal(rd.name, 'Py1', 'display name kept; lookup case-insensitive')
  t.equal(rd.resource_group_name, 'grp5', 'group name as stored')
  t.same(rd.props, { 'Aux/a': 'b' })
  t.same(rd.layer_data.map((l: { type: string }) => l.type), ['DRBD', 'STORAGE'])
  t.notOk('data' in rd.layer_data[1])
  t.match(rd.layer_data[0].data, { port: 7005, peer_slots: 3, secret: 'sEcReT123', transport_type: 'RDMA' })

  t.equal((await create('grpdef', {}, { resource_group_name: 'grp5' })).status, 201)
  t.equal((await tc.get('/v1/resource-definitions/grpdef')).body.layer_data[0].data.peer_slots, 5, "the group's peer slots")
  t.equal((await create('grpprops', {}, { resource_group_name: 'grpProps' })).status, 201)
  t.equal((await tc.get('/v1/resource-definitions/grpprops')).body.layer_data[0].data.peer_slots, 9, 'PeerSlotsNewResource of the group')
  t.equal((await tc.post('/v1/controller/properties', { override_props: { PeerSlotsNewResource: '11' } })).status, 200)
  t.equal((await create('ctrlprops')).status, 201)
  t.equal((await tc.get('/v1/resource-definitions/ctrlprops')).body.layer_data[0].data.peer_slots, 11, 'PeerSlotsNewResource of the controller')
  await tc.post('/v1/controller/properties', { delete_props: ['PeerSlotsNewResource'] })
  t.equal((await create('ps1', { drbd_peer_slots: 2 }, { resource_group_name: 'grp5' })).status, 201)
  t.equal((await tc.get('/v1/resource-definitions/ps1')).body.layer_data[0].data.peer_slots, 2, 'the request wins')
})

t.test('layer stacks: STORAGE appended as LINSTOR does, non-DRBD stacks have no DRBD data', async (t) => {
  const r = await create('onlydrbd', {}, { layer_data: [{ type: 'DRBD' }] })
  t.equal(r.status, 201)
  t.ok(r.retCodes.includes(rc(WARN | 1012n | OP.CRT | OBJ.RSC_DFN)), 'WARN_STORAGE_KIND_ADDED')
  t.same((await tc.get('/v1/resource-definitions/onlydrbd')).body.layer_data.map((l: { type: string }) => l.type), ['DRBD', 'STORAGE'])

  const s = await create('storonly', { drbd_port: 7001 }, { layer_data: [{ type: 'STORAGE' }] })
  t.equal(s.status, 201)
  t.ok(s.retCodes.includes(rc(WARN | 3001n | OP.CRT | OBJ.RSC_DFN)), 'WARN_NO_EFFECT for DRBD options without DRBD')
  t.same((await tc.get('/v1/resource-definitions/storonly')).body.layer_data, [{ type: 'STORAGE' }])

  const luks = await create('lukscache', {}, { layer_data: [{ type: 'cache' }, { type: 'luks' }, { type: 'storage' }] })
  t.equal(luks.status, 201)
  t.same((await tc.get('/v1/resource-definitions/lukscache')).body.layer_data, [{ type: 'LUKS' }, { type: 'CACHE' }, { type: 'STORAGE' }], 'LINSTOR lists layers in DeviceLayerKind order')
})

t.test('bad input is refused with a 4xx ApiCallRc and changes nothing', async (t) => {
  const before = (await tc.get('/v1/resource-definitions?with_volume_definitions=true')).text
  const cases: [string, unknown, number, bigint][] = [
    ['slash', { resource_definition: { name: 'a/b' } }, 400, 202n],
    ['dot-dot', { resource_definition: { name: '..' } }, 400, 202n],
    ['path', { resource_definition: { name: '../etc' } }, 400, 202n],
    ['semicolon', { resource_definition: { name: 'a;rm' } }, 400, 202n],
    ['space', { resource_definition: { name: 'a b' } }, 400, 202n],
    ['too long', { resource_definition: { name: 'x'.repeat(49) } }, 400, 202n],
    ['too short', { resource_definition: { name: 'x' } }, 400, 202n],
    ['digits only', { resource_definition: { name: '1234' } }, 400, 202n],
    ['name of wrong type', { resource_definition: { name: 7 } }, 400, 234n],
    ['no resource_definition', { name: 'abc' }, 400, 234n],
    ['resource_definition not an object', { resource_definition: 'abc' }, 400, 234n],
    ['no name, no external name', { resource_definition: {} }, 400, 606n],
    ['unknown group', { resource_definition: { name: 'newone', resource_group_name: 'nosuch' } }, 404, 317n],
    ['bad group name', { resource_definition: { name: 'newone', resource_group_name: 'a/b' } }, 400, 237n],
    ['storage above drbd', { resource_definition: { name: 'newone', layer_data: [{ type: 'storage' }, { type: 'drbd' }] } }, 400, 225n],
    ['drbd twice', { resource_definition: { name: 'newone', layer_data: [{ type: 'DRBD' }, { type: 'DRBD' }, { type: 'STORAGE' }] } }, 400, 225n],
    ['luks above drbd', { resource_definition: { name: 'newone', layer_data: [{ type: 'LUKS' }, { type: 'DRBD' }, { type: 'STORAGE' }] } }, 400, 225n],
    ['unknown layer', { resource_definition: { name: 'newone', layer_data: [{ type: 'nope' }, { type: 'STORAGE' }] } }, 400, 225n],
    ['layer_data not an array', { resource_definition: { name: 'newone', layer_data: 'DRBD' } }, 400, 234n],
    ['layer type not a string', { resource_definition: { name: 'newone', layer_data: [{ type: 1 }] } }, 400, 234n],
    ['peer slots 0', { resource_definition: { name: 'newone' }, drbd_peer_slots: 0 }, 400, 204n],
    ['peer slots 32', { resource_definition: { name: 'newone' }, drbd_peer_slots: 32 }, 400, 204n],
    ['peer slots text', { resource_definition: { name: 'newone' }, drbd_peer_slots: 'many' }, 400, 234n],
    ['port 0', { resource_definition: { name: 'newone' }, drbd_port: 0 }, 400, 234n],
    ['port 70000', { resource_definition: { name: 'newone' }, drbd_port: 70000 }, 400, 234n],
    ['transport', { resource_definition: { name: 'newone' }, drbd_transport_type: 'udp' }, 400, 214n],
    ['secret with quote', { resource_definition: { name: 'newone' }, drbd_secret: 'a"b' }, 400, 234n],
    ['secret too long', { resource_definition: { name: 'newone' }, drbd_secret: 'a'.repeat(65) }, 400, 234n],
    ['bad prop key', { resource_definition: { name: 'newone', props: { 'a//b': 'x' } } }, 400, 213n],
    ['prop value object', { resource_definition: { name: 'newone', props: { a: {} } } }, 400, 234n],
    ['duplicate, other case', { resource_definition: { name: 'RSC1' } }, 409, 501n],
    ['external name with control characters', { resource_definition: { external_name: 'a\u0001b' } }, 400, 226n],
    ['external name too long', { resource_definition: { external_name: 'é'.repeat(129) } }, 400, 226n],
  ]
  for (const [what, body, status, c] of cases) {
    const r = await tc.post('/v1/resource-definitions', body)
    t.equal(r.status, status, `${what}: status`)
    t.ok(isError(r.retCodes[0]!), `${what}: error severity`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
    t.ok(typeof r.body[0].message === 'string' && r.body[0].message.length > 0, `${what}: message`)
  }
  const stack = await create('newone', {}, { layer_data: [{ type: 'storage' }, { type: 'drbd' }] })
  t.match(stack.body[0].message, /DRBD cannot be placed below STORAGE/)
  t.match(stack.body[0].correction, /STORAGE/)
  t.equal(stack.retCodes[0], rc(MASK.ERROR | 225n | OP.CRT | OBJ.RSC_DFN), 'exact ret_code')
  t.equal((await tc.post('/v1/resource-definitions', '{"resource_definition": ')).status, 400, 'malformed JSON')
  t.equal((await tc.get('/v1/resource-definitions?with_volume_definitions=true')).text, before, 'nothing changed')
})

t.test('external names: generated resource names as LINSTOR, unique external names', async (t) => {
  const r = await tc.post('/v1/resource-definitions', { resource_definition: { external_name: 'my volume/1' } })
  t.equal(r.status, 201)
  const name = r.body[0].obj_refs.RscDfn
  t.equal(name, 'my_volume_1', 'invalid characters translated')
  const rd = (await tc.get(`/v1/resource-definitions/${name}`)).body
  t.equal(rd.external_name, 'my volume/1')
  const uuid = 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6'
  const u = await tc.post('/v1/resource-definitions', { resource_definition: { external_name: uuid } })
  t.equal(u.body[0].obj_refs.RscDfn, `LS_${uuid.toUpperCase()}`, 'a UUID becomes LS_<UUID>')
  const valid = await tc.post('/v1/resource-definitions', { resource_definition: { external_name: 'pvc_data' } })
  t.equal(valid.body[0].obj_refs.RscDfn, 'pvc_data', 'a valid name is used as it is')
  const clash = await tc.post('/v1/resource-definitions', { resource_definition: { external_name: 'rsc1' } })
  t.equal(clash.status, 201)
  t.match(clash.body[0].obj_refs.RscDfn, /^LS_[0-9a-f-]{36}$/, 'a taken name falls back to LS_<random UUID>')
  const empty = await tc.post('/v1/resource-definitions', { resource_definition: { name: '', external_name: '' } })
  t.equal(empty.status, 201)
  t.match(empty.body[0].obj_refs.RscDfn, /^LS_/)
  t.notOk('external_name' in (await tc.get(`/v1/resource-definitions/${empty.body[0].obj_refs.RscDfn}`)).body, 'a zero-length external name is not kept')
  const digits = await tc.post('/v1/resource-definitions', { resource_definition: { external_name: '0123' } })
  t.equal(digits.status, 201)
  t.match(digits.body[0].obj_refs.RscDfn, /^[A-Za-z_][A-Za-z0-9_-]*$/, 'a leading digit is translated')
  const dup = await tc.post('/v1/resource-definitions', { resource_definition: { external_name: 'my volume/1' } })
  t.equal(dup.status, 409)
  t.equal(code(dup.retCodes[0]!), 517n, 'FAIL_EXISTS_EXT_NAME')
  const both = await tc.post('/v1/resource-definitions', { resource_definition: { name: 'withext', external_name: 'Some Ext' } })
  t.equal(both.body[0].obj_refs.RscDfn, 'withext', 'a given name wins over the external name')
  for (const n of [name, `LS_${uuid.toUpperCase()}`, 'pvc_data', clash.body[0].obj_refs.RscDfn, empty.body[0].obj_refs.RscDfn, digits.body[0].obj_refs.RscDfn, 'withext']) {
    t.equal((await tc.del(`/v1/resource-definitions/${n}`)).status, 200)
  }
})

t.test('list: filters, props, paging, volume definitions on request', async (t) => {
  await tc.put('/v1/resource-definitions/rsc2', { override_props: { 'Aux/tier': 'gold' } })
  t.equal((await tc.post('/v1/resource-definitions/rsc2/volume-definitions', { volume_definition: { size_kib: 1024 } })).status, 201)
  const all = (await tc.get('/v1/resource-definitions')).body
  const names = all.map((x: { name: string }) => x.name)
  t.same(names, [...names].sort((a: string, b: string) => (a.toUpperCase() < b.toUpperCase() ? -1 : 1)), 'sorted by name')
  t.ok(all.every((x: object) => !('volume_definitions' in x)), 'no volume definitions unless asked')
  const filtered = (await tc.get('/v1/resource-definitions?resource_definitions=RSC2,rsc1')).body
  t.same(filtered.map((x: { name: string }) => x.name), ['rsc1', 'rsc2'])
  const repeated = (await tc.get('/v1/resource-definitions?resource_definitions=rsc2&resource_definitions=py1')).body
  t.same(repeated.map((x: { name: string }) => x.name), ['Py1', 'rsc2'])
  t.same((await tc.get('/v1/resource-definitions?props=Aux/tier=gold')).body.map((x: { name: string }) => x.name), ['rsc2'])
  t.same((await tc.get('/v1/resource-definitions?props=Aux/tier=silver')).body, [])
  const withVd = (await tc.get('/v1/resource-definitions?resource_definitions=rsc2&with_volume_definitions=true')).body[0]
  t.equal(withVd.volume_definitions.length, 1)
  t.match(withVd.volume_definitions[0], { volume_number: 0, size_kib: 1024 })
  const paged = (await tc.get('/v1/resource-definitions?limit=2&offset=1')).body
  t.same(paged.map((x: { name: string }) => x.name), names.slice(1, 3))
  t.equal((await tc.get('/v1/resource-definitions?limit=-1')).status, 400)
  t.equal((await tc.get('/v1/resource-definitions?resource_definitions=a/b')).status, 400, 'invalid filter name')
  const missing = await tc.get('/v1/resource-definitions/nosuch')
  t.equal(missing.status, 404)
  t.equal(missing.retCodes[0], rc(MASK.ERROR | 301n | OBJ.RSC_DFN), 'FAIL_NOT_FOUND_RSC_DFN')
  t.equal((await tc.get('/v1/resource-definitions/a..b')).status, 400, 'invalid name in the path')
})

t.test('modify: props, DRBD options, group, layer stack', async (t) => {
  const r = await tc.put('/v1/resource-definitions/RSC1', { override_props: { 'Aux/a': '1', 'Aux/b': '2', 'Other/c': '3' } })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 3n | OP.MOD | OBJ.RSC_DFN, 'MODIFIED | MOD | RSC_DFN')
  t.same((await tc.get('/v1/resource-definitions/rsc1')).body.props, { 'Aux/a': '1', 'Aux/b': '2', 'Other/c': '3' })
  const del = await tc.put('/v1/resource-definitions/rsc1', { delete_props: ['Other/c', 'Not/set'], delete_namespaces: ['Aux'] })
  t.equal(del.status, 200)
  t.ok(del.retCodes.includes(rc(WARN | 1005n | OP.MOD | OBJ.RSC_DFN)), 'WARN_DEL_UNSET_PROP for a key that was not set')
  t.same((await tc.get('/v1/resource-definitions/rsc1')).body.props, {})

  t.equal((await tc.put('/v1/resource-definitions/rsc1', { override_props: { 'DrbdOptions/Resource/quorum': 'majority' } })).status, 200)
  t.equal((await tc.get('/v1/resource-definitions/rsc1')).body.props['Internal/Drbd/QuorumSetBy'], 'user', 'a quorum set by the user is marked')
  t.equal((await tc.put('/v1/resource-definitions/rsc1', { delete_props: ['DrbdOptions/Resource/quorum'] })).status, 200)
  t.same((await tc.get('/v1/resource-definitions/rsc1')).body.props, {})

  t.equal((await tc.put('/v1/resource-definitions/rsc1', { drbd_port: '7010', drbd_peer_slots: 4 })).status, 200)
  t.match((await tc.get('/v1/resource-definitions/rsc1')).body.layer_data[0].data, { port: 7010, peer_slots: 4 })
  t.equal((await tc.put('/v1/resource-definitions/rsc1', { resource_group: 'grp5' })).status, 200)
  t.equal((await tc.get('/v1/resource-definitions/rsc1')).body.resource_group_name, 'grp5')

  t.equal((await tc.put('/v1/resource-definitions/rsc1', { layer_stack: ['drbd', 'storage'] })).status, 200)
  const rd = (await tc.get('/v1/resource-definitions/rsc1')).body
  t.same(rd.layer_data.map((l: { type: string }) => l.type), ['DRBD', 'STORAGE'])
  t.match(rd.layer_data[0].data, { port: 7010, peer_slots: 4 }, 'DRBD data kept')
  t.equal((await tc.put('/v1/resource-definitions/rsc1', { layer_stack: ['storage'] })).status, 200)
  t.same((await tc.get('/v1/resource-definitions/rsc1')).body.layer_data, [{ type: 'STORAGE' }], 'DRBD data dropped with DRBD')
  const noDrbd = await tc.put('/v1/resource-definitions/rsc1', { drbd_peer_slots: 5 })
  t.ok(noDrbd.retCodes.includes(rc(WARN | 3001n | OP.MOD | OBJ.RSC_DFN)), 'WARN_NO_EFFECT')
  t.equal((await tc.put('/v1/resource-definitions/rsc1', { layer_stack: ['DRBD', 'STORAGE'] })).status, 200)
  t.match((await tc.get('/v1/resource-definitions/rsc1')).body.layer_data[0].data, { peer_slots: 5, port: -1 }, 'fresh DRBD data from the group')
  t.equal((await tc.put('/v1/resource-definitions/rsc1', { layer_stack: [] })).status, 200, 'an empty layer_stack is ignored')
  t.same((await tc.get('/v1/resource-definitions/rsc1')).body.layer_data.map((l: { type: string }) => l.type), ['DRBD', 'STORAGE'])
})

t.test('modify: bad input changes nothing', async (t) => {
  const before = (await tc.get('/v1/resource-definitions/rsc1')).text
  const cases: [string, string, unknown, number, bigint][] = [
    ['missing', 'nosuch', {}, 404, 301n],
    ['bad path name', 'a;b', {}, 400, 202n],
    ['unknown group', 'rsc1', { resource_group: 'nosuch' }, 404, 317n],
    ['bad group name', 'rsc1', { resource_group: '../x' }, 400, 237n],
    ['invalid stack', 'rsc1', { layer_stack: ['STORAGE', 'DRBD'] }, 400, 225n],
    ['stack of wrong type', 'rsc1', { layer_stack: 'DRBD' }, 400, 234n],
    ['peer slots 0', 'rsc1', { drbd_peer_slots: 0 }, 400, 204n],
    ['port', 'rsc1', { drbd_port: 'x' }, 400, 234n],
    ['bad prop', 'rsc1', { override_props: { '/x': 'y' } }, 400, 213n],
    ['props not an object', 'rsc1', { override_props: ['x'] }, 400, 234n],
  ]
  for (const [what, name, body, status, c] of cases) {
    const r = await tc.put(`/v1/resource-definitions/${name}`, body)
    t.equal(r.status, status, `${what}: status`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
  }
  t.equal((await tc.get('/v1/resource-definitions/rsc1')).text, before, 'nothing changed')
})

t.test('modify with resources: layer stack locked, peer slots checked, ExactSize refused', async (t) => {
  await create('busy', {}, { layer_data: [{ type: 'DRBD' }, { type: 'STORAGE' }] })
  await mutate((tx, m) => {
    for (const n of ['n1', 'n2', 'n3', 'n4']) m.putResource(tx, resource('busy', n, { volumes: [] }))
  })
  const before = (await tc.get('/v1/resource-definitions/busy')).text
  const stack = await tc.put('/v1/resource-definitions/busy', { layer_stack: ['STORAGE'] })
  t.equal(stack.status, 409)
  t.equal(code(stack.retCodes[0]!), 502n, 'FAIL_EXISTS_RSC as LINSTOR')
  const slots = await tc.put('/v1/resource-definitions/busy', { drbd_peer_slots: 1 })
  t.equal(slots.status, 409)
  t.equal(code(slots.retCodes[0]!), 993n, 'FAIL_INSUFFICIENT_PEER_SLOTS')
  const exact = await tc.put('/v1/resource-definitions/busy', { override_props: { 'DrbdOptions/ExactSize': 'True' } })
  t.equal(exact.status, 400)
  t.equal(code(exact.retCodes[0]!), 213n)
  t.equal((await tc.get('/v1/resource-definitions/busy')).text, before, 'nothing changed')
  const same = await tc.put('/v1/resource-definitions/busy', { layer_stack: ['drbd', 'storage'], drbd_peer_slots: 2 })
  t.equal(same.status, 200, 'the same stack is no change; 2 slots suffice for 4 diskful resources')
  t.equal(same.retCodes.filter((x) => x === rc(WARN | 1002n | OP.MOD | OBJ.RSC_DFN)).length, 4, 'WARN_NOT_CONNECTED per node')
})

t.test('delete: at once without resources, two-phase with them, refused with snapshots', async (t) => {
  await create('gone')
  await tc.post('/v1/resource-definitions/gone/volume-definitions', { volume_definition: { size_kib: 4096 } })
  const r = await tc.del('/v1/resource-definitions/GONE')
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 2n | OP.DEL | OBJ.RSC_DFN, 'DELETED | DEL | RSC_DFN')
  t.match(r.body[0].message, /deleted/)
  t.equal((await tc.get('/v1/resource-definitions/gone')).status, 404)
  t.equal((await tc.get('/v1/resource-definitions/gone/volume-definitions')).status, 404, 'volume definitions went with it')

  const again = await tc.del('/v1/resource-definitions/gone')
  t.equal(again.status, 200, 'LINSTOR answers a delete of nothing with a warning')
  t.equal(again.retCodes[0], rc(WARN | 3000n | OP.DEL | OBJ.RSC_DFN), 'WARN_NOT_FOUND')
  t.equal((await tc.del('/v1/resource-definitions/a..b')).status, 400)

  await create('snapped')
  await mutate((tx, m) => m.putSnapshotDfn(tx, { rscName: 'snapped', name: 'snap1', props: {}, rscDfnProps: {}, flags: ['SUCCESSFUL'], sequenceNumber: 1, vlmDfns: [], snapshots: [], uuid: randomUUID() }))
  const snap = await tc.del('/v1/resource-definitions/snapped')
  t.equal(snap.status, 409)
  t.equal(snap.retCodes[0], rc(MASK.ERROR | 514n | OP.DEL | OBJ.RSC_DFN), 'FAIL_EXISTS_SNAPSHOT_DFN')
  t.equal((await tc.get('/v1/resource-definitions/snapped')).status, 200, 'still there')

  // Two of the four nodes are connected: their resources wait for their satellites, the others go now.
  for (const n of ['N1', 'N2']) tc.ctrl.core.model.setRuntimeNode(n, { connectionStatus: 'ONLINE', supportedLayers: null, supportedProviders: null })
  await tc.post('/v1/resource-definitions/busy/volume-definitions', { volume_definition: { size_kib: 4096 } })
  const busy = await tc.del('/v1/resource-definitions/busy')
  t.equal(busy.status, 200)
  t.equal(busy.retCodes[0], MASK.SUCCESS | 2n | OP.DEL | OBJ.RSC_DFN)
  t.match(busy.body[0].message, /marked for deletion.*'n1', 'n2'/)
  t.equal(busy.retCodes.filter((x) => x === rc(WARN | 1002n | OP.DEL | OBJ.RSC_DFN)).length, 2, 'WARN_NOT_CONNECTED per node that is away')
  const marked = (await tc.get('/v1/resource-definitions/busy')).body
  t.same(marked.flags, ['DELETE'])
  const rscs = [...tc.ctrl.core.model.resourcesOf('busy')]
  t.same(rscs.map((x) => x.nodeName).sort(), ['n1', 'n2'], 'resources on nodes that are away are gone at once')
  t.ok(rscs.every((x) => x.flags.includes('DELETE') && x.volumes.length === 1 && x.volumes.every((v) => v.flags.includes('DELETE'))), 'resources and their volumes marked')
  t.equal((await tc.del('/v1/resource-definitions/busy')).status, 200, 'deleting again is harmless')
  t.same((await tc.get('/v1/resource-definitions/busy')).body.flags, ['DELETE'], 'flag not doubled')

  await tc.restart()
  t.same((await tc.get('/v1/resource-definitions/busy')).body.flags, ['DELETE'], 'the mark survives a restart')
  t.ok([...tc.ctrl.core.model.resourcesOf('busy')].every((x) => x.flags.includes('DELETE')))

  // After the restart no satellite is connected: deleting again finishes the job instead of waiting forever.
  const finish = await tc.del('/v1/resource-definitions/busy')
  t.equal(finish.status, 200)
  t.match(finish.body[0].message, /deleted\./)
  t.equal((await tc.get('/v1/resource-definitions/busy')).status, 404)
  await tc.restart()
  t.equal((await tc.get('/v1/resource-definitions/busy')).status, 404)
  t.equal([...tc.ctrl.core.model.resourcesOf('busy')].length, 0)
})

t.test('changing the stack to DRBD checks the volume sizes against DRBD limits', async (t) => {
  await create('tiny', {}, { layer_data: [{ type: 'STORAGE' }] })
  t.equal((await tc.post('/v1/resource-definitions/tiny/volume-definitions', { volume_definition: { size_kib: 2 } })).status, 201)
  const r = await tc.put('/v1/resource-definitions/tiny', { layer_stack: ['DRBD', 'STORAGE'] })
  t.equal(r.status, 400)
  t.equal(code(r.retCodes[0]!), 206n, 'FAIL_INVLD_VLM_SIZE')
  t.match(r.body[0].correction, /from 4 to 1099511627776/)
  t.same((await tc.get('/v1/resource-definitions/tiny')).body.layer_data, [{ type: 'STORAGE' }])
})

t.test('minors follow DRBD in the layer stack; an exhausted minor range changes nothing', async (t) => {
  await create('mnr', {}, { layer_data: [{ type: 'DRBD' }, { type: 'STORAGE' }] })
  await tc.post('/v1/resource-definitions/mnr/volume-definitions', { volume_definition: { size_kib: 4096 } })
  const minor = tc.ctrl.core.model.getRscDfn('mnr')!.vlmDfns[0]!.minor!
  t.ok(tc.ctrl.core.model.alloc.minors.isAllocated(minor))
  t.equal((await tc.put('/v1/resource-definitions/mnr', { layer_stack: ['STORAGE'] })).status, 200)
  t.equal(tc.ctrl.core.model.getRscDfn('mnr')!.vlmDfns[0]!.minor, null)
  t.notOk(tc.ctrl.core.model.alloc.minors.isAllocated(minor), 'released with DRBD')
  await tc.post('/v1/resource-definitions/mnr/volume-definitions', { volume_definition: { size_kib: 4096 } })

  // Room for one minor only: switching two volume definitions to DRBD must fail as a whole.
  t.equal((await tc.post('/v1/controller/properties', { override_props: { MinorNrAutoRange: `${minor}-${minor}` } })).status, 200)
  const before = (await tc.get('/v1/resource-definitions/mnr')).text
  const r = await tc.put('/v1/resource-definitions/mnr', { layer_stack: ['DRBD', 'STORAGE'], override_props: { 'Aux/x': 'y' } })
  t.equal(r.status, 409)
  t.equal(code(r.retCodes[0]!), 801n, 'FAIL_POOL_EXHAUSTED_MINOR_NR')
  t.equal((await tc.get('/v1/resource-definitions/mnr')).text, before, 'nothing changed')
  t.notOk(tc.ctrl.core.model.alloc.minors.isAllocated(minor), 'the allocator rolled back as well')
  await tc.post('/v1/controller/properties', { delete_props: ['MinorNrAutoRange'] })
  t.equal((await tc.put('/v1/resource-definitions/mnr', { layer_stack: ['DRBD', 'STORAGE'] })).status, 200)
  t.ok(tc.ctrl.core.model.getRscDfn('mnr')!.vlmDfns.every((vd) => vd.minor !== null), 'both hold a minor')
})

t.test('survives a restart', async (t) => {
  const before = (await tc.get('/v1/resource-definitions?with_volume_definitions=true')).body
  await tc.restart()
  const after = (await tc.get('/v1/resource-definitions?with_volume_definitions=true')).body
  t.same(after, before, 'every definition, with DRBD data, props, flags and volume definitions')
  t.equal((await tc.get('/v1/resource-definitions/PY1')).body.layer_data[0].data.secret, 'sEcReT123')
})
