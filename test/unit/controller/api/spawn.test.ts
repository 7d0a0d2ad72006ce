import t from 'tap'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'
import { INFO } from '../../../../src/common/errors.js'

const tc = await startTestController()
t.teardown(tc.stop)

const signed = (v: bigint): bigint => BigInt.asIntN(64, v)
const code = (rc: bigint): bigint => rc & MASK.BITS_CODE
const isError = (rc: bigint): boolean => (BigInt.asUintN(64, rc) & MASK.BITS_TYPE) === MASK.ERROR
const spawn = (rg: string, body: unknown) => tc.post(`/v1/resource-groups/${rg}/spawn`, body)
const view = async (): Promise<string> => (await tc.get('/v1/view/resources')).text
const rds = async (): Promise<string> => (await tc.get('/v1/resource-definitions?with_volume_definitions=true')).text
const placedOn = async (rsc: string): Promise<string[]> =>
  (await tc.get(`/v1/resource-definitions/${rsc}/resources`)).body.map((x: { node_name: string }) => x.node_name).sort()
const vds = async (rsc: string): Promise<{ volume_number: number; size_kib: number; flags: string[]; props: Record<string, string> }[]> =>
  (await tc.get(`/v1/resource-definitions/${rsc}/volume-definitions`)).body

/** Setup calls must succeed; a failure throws (and fails the test that made it) with the reply. */
async function must(p: Promise<{ status: number; text: string }>, status = 201): Promise<void> {
  const r = await p
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`)
}

// Four satellites with a FILE_THIN pool each, all OFFLINE: placement runs with unknown capacity.
t.before(async () => {
  for (const [i, n] of ['n1', 'n2', 'n3', 'n4'].entries()) {
    await must(tc.post('/v1/nodes', { name: n, type: 'satellite', net_interfaces: [{ name: 'default', address: `127.0.0.${i + 1}`, satellite_port: 3366, satellite_encryption_type: 'plain', is_active: true }] }))
    await must(tc.post(`/v1/nodes/${n}/storage-pools`, { storage_pool_name: 'pool1', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': `/srv/${n}` } }))
  }
  // As LINSTOR's client sends it: the place count as a string.
  await must(tc.post('/v1/resource-groups', { name: 'g1', select_filter: { place_count: '2' }, props: { 'Aux/tier': 'gold' } }))
})

t.test('spawn places with the group filter; no volume groups means partial mode, with a note', async (t) => {
  const r = await spawn('g1', { resource_definition_name: 'r2', volume_sizes: [65536], partial: false, definitions_only: false, select_filter: {} })
  t.equal(r.status, 201)
  t.equal(r.retCodes[0], signed(MASK.INFO | OBJ.RSC_GRP), 'INFO | RSC_GRP: automatic partial mode')
  t.match(r.body[0].message, /doesn't have any volume-groups, automatically assume partial mode/)
  t.ok(r.retCodes.includes(signed(1n | OP.CRT | OBJ.VLM_DFN)), 'volume definition created')
  t.ok(r.retCodes.includes(signed(1n | OP.CRT | OBJ.RSC_DFN)), 'resource definition created')
  t.equal(r.retCodes.filter((c) => c === signed(1n | OP.CRT | OBJ.RSC)).length, 2, 'two resources created')
  t.notOk(r.retCodes.some(isError))
  t.ok(r.retCodes.some((c) => code(c) === 1002n), 'warns that the satellites are not connected')
  const rdBody = r.body.find((x: { ret_code: number; obj_refs?: Record<string, string> }) => x.obj_refs?.['UUID'] !== undefined)
  t.same(rdBody.obj_refs.RscDfn, 'r2')

  const rd = (await tc.get('/v1/resource-definitions/r2')).body
  t.equal(rd.resource_group_name, 'g1')
  t.same(rd.props, {}, "the group's properties apply by resolution, they are not copied")
  t.same(rd.layer_data.map((l: { type: string }) => l.type), ['DRBD', 'STORAGE'])
  t.match(await vds('r2'), [{ volume_number: 0, size_kib: 65536, flags: [] }])
  t.equal((await placedOn('r2')).length, 2, "the group's place count")

  // The request's filter over the group's.
  t.equal((await spawn('g1', { resource_definition_name: 'r3', volume_sizes: [65536], select_filter: { place_count: '1' } })).status, 201)
  t.equal((await placedOn('r3')).length, 1, "the request's place count")
  t.equal((await spawn('g1', { resource_definition_name: 'r4', volume_sizes: [65536, 131072], select_filter: { node_name_list: ['n3', 'n4'] } })).status, 201)
  t.same(await placedOn('r4'), ['n3', 'n4'], 'node list from the request, place count from the group')
  t.same((await vds('r4')).map((v) => [v.volume_number, v.size_kib]), [[0, 65536], [1, 131072]], 'one volume definition per size')
})

t.test('partial given explicitly: no note; definitions_only: no resources', async (t) => {
  const r = await spawn('g1', { resource_definition_name: 'defonly', volume_sizes: [65536], partial: true, definitions_only: true })
  t.equal(r.status, 201)
  t.notOk(r.retCodes.includes(signed(MASK.INFO | OBJ.RSC_GRP)), 'no partial-mode note when partial was asked for')
  t.equal(r.retCodes.at(-1), signed(INFO.NO_RSC_SPAWNED), 'INFO_NO_RSC_SPAWNED')
  t.match(r.body.at(-1), { message: /created but no resources deployed/, cause: /definitions_only/ })
  t.same(await placedOn('defonly'), [])
  t.equal((await vds('defonly')).length, 1)
  // What LINSTOR's client sends for `rg spawn --definition-only g1 x` without sizes.
  t.equal((await spawn('g1', { resource_definition_name: 'nosizes', volume_sizes: [], definitions_only: true })).status, 201)
  t.same(await vds('nosizes'), [])
})

t.test('volume groups: numbers and flags per size; partial mode rules', async (t) => {
  await must(tc.post('/v1/resource-groups', { name: 'vg2', select_filter: { place_count: 1 } }))
  await must(tc.post('/v1/resource-groups/vg2/volume-groups', { volume_number: 0, props: { 'Aux/vg': 'zero' } }))
  await must(tc.post('/v1/resource-groups/vg2/volume-groups', { volume_number: 3, flags: ['GROSS_SIZE'] }))

  const both = await spawn('vg2', { resource_definition_name: 'match', volume_sizes: [65536, 131072] })
  t.equal(both.status, 201)
  t.notOk(both.retCodes.includes(signed(MASK.INFO | OBJ.RSC_GRP)), 'no partial-mode note')
  const v = await vds('match')
  t.same(v.map((x) => [x.volume_number, x.size_kib, x.flags]), [[0, 65536, []], [3, 131072, ['GROSS_SIZE']]], "volume group N's number and flags for size N")
  t.notOk('Aux/vg' in v[0]!.props, "the volume group's properties apply by resolution, they are not copied")
  t.equal((await placedOn('match')).length, 1)

  const before = await rds()
  const viewBefore = await view()
  const few = await spawn('vg2', { resource_definition_name: 'few', volume_sizes: [65536] })
  t.equal(few.status, 400)
  t.equal(few.retCodes[0], signed(MASK.ERROR | 228n | OP.CRT | OBJ.RSC_GRP), 'FAIL_INVLD_VLM_SIZES, exact')
  t.match(few.body[0], { message: /count of volume sizes/, details: /2 volume group\(s\), but 1 size\(s\)/, correction: /partial/ })
  t.equal((await spawn('vg2', { resource_definition_name: 'many', volume_sizes: [65536, 65536, 65536] })).status, 400, 'too many sizes')
  t.equal((await spawn('vg2', { resource_definition_name: 'none', volume_sizes: [] })).status, 400, 'no sizes')
  t.equal(await rds(), before, 'nothing created')
  t.equal(await view(), viewBefore)

  t.equal((await spawn('vg2', { resource_definition_name: 'fewpartial', volume_sizes: [65536], partial: true })).status, 201)
  t.same((await vds('fewpartial')).map((x) => x.volume_number), [0], 'partial: volume groups beyond the sizes are unused')
  t.equal((await spawn('vg2', { resource_definition_name: 'manypartial', volume_sizes: [65536, 65536, 65536], partial: true })).status, 201)
  t.same((await vds('manypartial')).map((x) => [x.volume_number, x.flags]), [[0, []], [1, []], [3, ['GROSS_SIZE']]], 'partial: extra sizes get the lowest free numbers and no flags')
})

t.test('layer stack and peer slots from the group, name from an external name, definition properties', async (t) => {
  await must(tc.post('/v1/resource-groups', { name: 'plain', peer_slots: 4, select_filter: { place_count: 1, layer_stack: ['storage'] } }))
  const r = await spawn('plain', { resource_definition_name: 'flat', volume_sizes: [1], resource_definition_props: { 'Aux/owner': 'me' } })
  t.equal(r.status, 201)
  const flat = (await tc.get('/v1/resource-definitions/flat')).body
  t.same(flat.layer_data, [{ type: 'STORAGE' }], "the group's layer stack, no DRBD data")
  t.same(flat.props, { 'Aux/owner': 'me' }, 'resource_definition_props')
  const rsc = (await tc.get('/v1/resource-definitions/flat/resources')).body
  t.equal(rsc.length, 1)
  t.equal(rsc[0].layer_object.type, 'STORAGE')
  const ignored = await spawn('plain', { resource_definition_name: 'flat2', volume_sizes: [1], peer_slots: 3 })
  t.equal(ignored.status, 201)
  t.ok(ignored.retCodes.some((c) => code(c) === 3001n), 'peer_slots without DRBD: a warning')

  await must(tc.post('/v1/resource-groups', { name: 'slots', peer_slots: 4, select_filter: { place_count: 1 } }))
  t.equal((await spawn('slots', { resource_definition_name: 'grpslots', volume_sizes: [65536] })).status, 201)
  const drbd = (name: string) => tc.get(`/v1/resource-definitions/${name}`).then((x) => x.body.layer_data.find((l: { type: string }) => l.type === 'DRBD').data)
  t.equal((await drbd('grpslots')).peer_slots, 4, "the group's peer slots")
  t.equal((await spawn('slots', { resource_definition_name: 'ownslots', volume_sizes: [65536], peer_slots: 6, definitions_only: true })).status, 201)
  t.equal((await drbd('ownslots')).peer_slots, 6, "the request's peer slots")

  const ext = await spawn('slots', { resource_definition_name: '', resource_definition_external_name: 'my volume', volume_sizes: [65536], definitions_only: true })
  t.equal(ext.status, 201)
  const made = (await tc.get('/v1/resource-definitions')).body.find((x: { external_name?: string }) => x.external_name === 'my volume')
  t.equal(made.name, 'my_volume', 'name generated from the external name')
  t.equal(made.resource_group_name, 'slots')
})

t.test('empty request fields clear the group constraint (one merge, LINSTOR semantics)', async (t) => {
  await must(tc.post('/v1/resource-groups', { name: 'pinned', select_filter: { place_count: 1, storage_pool_list: ['nosuch'] } }))
  const fail = await spawn('pinned', { resource_definition_name: 'pin1', volume_sizes: [65536] })
  t.equal(fail.status, 409, "the group's pool list applies")
  t.equal((await spawn('pinned', { resource_definition_name: 'pin1', volume_sizes: [65536], select_filter: { storage_pool_list: ['pool1'] } })).status, 201, "the request's pool list replaces it")
  t.equal((await spawn('pinned', { resource_definition_name: 'pin2', volume_sizes: [65536], select_filter: { storage_pool_list: [] } })).status, 201, 'an empty list means no constraint')
  t.match((await tc.get('/v1/resource-groups/pinned')).body.select_filter, { place_count: 1, storage_pool_list: ['nosuch'] }, 'the group is unchanged')
})

t.test('a placement that cannot be met changes nothing, and says which constraint failed', async (t) => {
  const before = await rds()
  const viewBefore = await view()
  const r = await spawn('g1', { resource_definition_name: 'toomany', volume_sizes: [65536, 65536], select_filter: { place_count: 5 } })
  t.equal(r.status, 409)
  t.equal(r.retCodes.length, 1)
  t.equal(r.retCodes[0], signed(MASK.ERROR | 996n | OP.CRT | OBJ.RSC_GRP), 'FAIL_NOT_ENOUGH_NODES, exact')
  t.ok(r.body[0].correction.length > 0, 'the correction names the constraint')
  t.match(r.body[0].message, /5 replicas/, 'the message says what was asked')
  const pools = await spawn('g1', { resource_definition_name: 'toomany', volume_sizes: [65536], select_filter: { storage_pool_list: ['nosuchpool'] } })
  t.equal(pools.status, 409)
  t.match(pools.body[0].correction, /storage-pool/)
  t.equal(await rds(), before, 'no resource definition, no volume definition')
  t.equal(await view(), viewBefore, 'no resource')
  t.equal((await tc.get('/v1/resource-definitions/toomany')).status, 404)

  // No DRBD number leaked: a spawn now gets the minor the failed one would have had.
  const minorsUsed = JSON.parse(before).flatMap((rd: { volume_definitions: { layer_data: { type: string; data?: { minor_number: number } }[] }[] }) =>
    rd.volume_definitions.flatMap((vd) => vd.layer_data.filter((l) => l.type === 'DRBD' && l.data !== undefined).map((l) => l.data!.minor_number)))
  let lowestFree = 1000
  while (minorsUsed.includes(lowestFree)) lowestFree++
  t.equal((await spawn('g1', { resource_definition_name: 'after', volume_sizes: [65536], definitions_only: true })).status, 201)
  const minor = (await tc.get('/v1/resource-definitions/after/volume-definitions/0')).body.layer_data.find((l: { type: string }) => l.type === 'DRBD').data.minor_number
  t.equal(minor, lowestFree)
})

t.test('bad requests: 4xx with an ApiCallRc, nothing changed', async (t) => {
  const before = await rds()
  const viewBefore = await view()
  const cases: [string, string, unknown, number, bigint][] = [
    ['unknown group', 'nosuch', { resource_definition_name: 'x1', volume_sizes: [65536] }, 404, 317n],
    ['invalid group name', 'a b', { resource_definition_name: 'x1', volume_sizes: [65536] }, 404, 317n],
    ['body not an object', 'g1', [1], 400, 234n],
    ['sizes not an array', 'g1', { resource_definition_name: 'x1', volume_sizes: 65536 }, 400, 234n],
    ['size not a number', 'g1', { resource_definition_name: 'x1', volume_sizes: ['big'] }, 400, 234n],
    ['size zero', 'g1', { resource_definition_name: 'x1', volume_sizes: [0] }, 400, 206n],
    ['size negative', 'g1', { resource_definition_name: 'x1', volume_sizes: [-1] }, 400, 206n],
    ['size fractional', 'g1', { resource_definition_name: 'x1', volume_sizes: [1.5] }, 400, 206n],
    ['size beyond DRBD', 'g1', { resource_definition_name: 'x1', volume_sizes: [2 ** 41] }, 400, 206n],
    ['second size bad', 'g1', { resource_definition_name: 'x1', volume_sizes: [65536, 'x'] }, 400, 234n],
    ['invalid name', 'g1', { resource_definition_name: '1bad', volume_sizes: [65536] }, 400, 202n],
    ['no name', 'g1', { volume_sizes: [65536] }, 400, 606n],
    ['existing name', 'g1', { resource_definition_name: 'R2', volume_sizes: [65536] }, 409, 501n],
    ['bad place count', 'g1', { resource_definition_name: 'x1', volume_sizes: [65536], select_filter: { place_count: 0 } }, 400, 219n],
    ['bad layer stack', 'g1', { resource_definition_name: 'x1', volume_sizes: [65536], select_filter: { layer_stack: ['drbd'] } }, 400, 225n],
    ['bad peer slots', 'g1', { resource_definition_name: 'x1', volume_sizes: [65536], peer_slots: 99 }, 400, 204n],
    ['bad partial', 'g1', { resource_definition_name: 'x1', volume_sizes: [65536], partial: 'maybe' }, 400, 234n],
    ['bad props', 'g1', { resource_definition_name: 'x1', volume_sizes: [65536], resource_definition_props: { 'a b': 'c' } }, 400, 213n],
    ['passphrase count', 'g1', { resource_definition_name: 'x1', volume_sizes: [65536], volume_passphrases: ['a', 'b'] }, 400, 234n],
    ['passphrase without master key', 'g1', { resource_definition_name: 'x1', volume_sizes: [65536], volume_passphrases: ['secret'] }, 404, 312n],
  ]
  for (const [what, rg, body, status, c] of cases) {
    const r = await spawn(rg, body)
    t.equal(r.status, status, `${what}: status`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
    t.ok(isError(r.retCodes[0]!), `${what}: an error`)
    t.equal(r.retCodes[0]! & MASK.BITS_OP, OP.CRT, `${what}: create operation`)
  }
  t.equal(await rds(), before, 'no definition created')
  t.equal(await view(), viewBefore, 'no resource created')
})

t.test('what spawn created survives a restart', async (t) => {
  const before = { rds: await rds(), view: await view() }
  await tc.restart()
  t.equal(await rds(), before.rds)
  t.equal(await view(), before.view)
  t.equal((await tc.get('/v1/resource-definitions/r2')).body.resource_group_name, 'g1')
  t.same(await placedOn('r4'), ['n3', 'n4'])
  // The group cannot go while definitions spawned from it exist.
  t.equal((await tc.del('/v1/resource-groups/g1')).status, 409)
})
