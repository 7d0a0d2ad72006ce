import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'
import { WARN } from '../../../../src/common/errors.js'
import type { ProviderKind, RscDfn } from '../../../../src/controller/model/types.js'

const tc = await startTestController()
t.teardown(tc.stop)

const signed = (v: bigint): bigint => BigInt.asIntN(64, v)
const code = (rc: bigint): bigint => rc & MASK.BITS_CODE
const isError = (rc: bigint): boolean => (BigInt.asUintN(64, rc) & MASK.BITS_TYPE) === MASK.ERROR

/** A resource definition put straight into the model (the resource-definitions API is another module). */
async function putRscDfn(name: string, rscGrpName: string): Promise<void> {
  const rd: RscDfn = {
    name, externalName: null, props: {}, flags: [], layerStack: [], rscGrpName, drbd: null, vlmDfns: [], uuid: randomUUID(),
  }
  await tc.ctrl.core.mutate((tx, m) => m.putRscDfn(tx, rd))
}
async function deleteRscDfn(name: string): Promise<void> {
  await tc.ctrl.core.mutate((tx, m) => m.deleteRscDfn(tx, m.getRscDfn(name)!))
}

t.test('a fresh controller has DfltRscGrp with place count 2', async (t) => {
  const all = await tc.get('/v1/resource-groups')
  t.equal(all.status, 200)
  t.same(all.body.map((g: { name: string }) => g.name), ['DfltRscGrp'])
  const one = await tc.get('/v1/resource-groups/dfltrscgrp')
  t.equal(one.status, 200)
  t.equal(one.body.name, 'DfltRscGrp')
  t.same(one.body.select_filter, { place_count: 2 })
  t.same(one.body.props, {})
  t.type(one.body.uuid, 'string')
  t.notOk('peer_slots' in one.body)
})

t.test('create with every field, then read it back in LINSTOR shape', async (t) => {
  const r = await tc.post('/v1/resource-groups', {
    name: 'Gold',
    description: 'fast disks',
    props: { 'Aux/tier': 'gold', 'DrbdOptions/Net/protocol': 'C' },
    peer_slots: 5,
    select_filter: {
      place_count: '3',
      node_name_list: ['alpha', 'beta'],
      storage_pool: 'fast',
      storage_pool_diskless_list: ['DfltDisklessStorPool'],
      not_place_with_rsc: ['other'],
      not_place_with_rsc_regex: '^tmp-',
      replicas_on_same: ['Aux/site'],
      replicas_on_different: ['Aux/rack'],
      x_replicas_on_different_map: { 'Aux/dc': 2 },
      layer_stack: ['drbd', 'storage'],
      provider_list: ['lvm_thin'],
      diskless_on_remaining: true,
    },
  })
  t.equal(r.status, 201)
  t.equal(r.retCodes[0], signed(MASK.SUCCESS | 1n | OP.CRT | OBJ.RSC_GRP), 'CREATED | CRT | RSC_GRP')
  t.same(r.body[0].obj_refs, { RscGrp: 'Gold' })
  t.match(r.body[0].message, /New resource group 'Gold' created/)
  const g = (await tc.get('/v1/resource-groups/GOLD')).body
  t.same(g, {
    name: 'Gold',
    description: 'fast disks',
    props: { 'Aux/tier': 'gold', 'DrbdOptions/Net/protocol': 'C' },
    select_filter: {
      place_count: 3,
      node_name_list: ['alpha', 'beta'],
      storage_pool_list: ['fast'],
      storage_pool: 'fast',
      storage_pool_diskless_list: ['DfltDisklessStorPool'],
      not_place_with_rsc: ['other'],
      not_place_with_rsc_regex: '^tmp-',
      replicas_on_same: ['Aux/site'],
      replicas_on_different: ['Aux/rack'],
      x_replicas_on_different_map: { 'Aux/dc': 2 },
      layer_stack: ['DRBD', 'STORAGE'],
      provider_list: ['LVM_THIN'],
      diskless_on_remaining: true,
    },
    uuid: g.uuid,
    peer_slots: 5,
  })
  t.match(g.uuid, /^[0-9a-f-]{36}$/)
})

t.test('create with only a name gets LINSTOR defaults', async (t) => {
  t.equal((await tc.post('/v1/resource-groups', { name: 'plain' })).status, 201)
  const g = (await tc.get('/v1/resource-groups/plain')).body
  t.equal(g.description, '')
  t.same(g.props, {})
  t.same(g.select_filter, { place_count: 2 })
  t.notOk('peer_slots' in g)
})

t.test('fields a group does not keep are ignored with a warning', async (t) => {
  const r = await tc.post('/v1/resource-groups', { name: 'oneshot', select_filter: { place_count: 1, additional_place_count: 1, diskless_type: 'DRBD_DISKLESS', overprovision: 2 } })
  t.equal(r.status, 201)
  const warn = r.body.find((e: { message: string }) => /ignored/.test(e.message))
  t.ok(warn, 'warning entry')
  t.match(warn.message, /additional_place_count, diskless_type, overprovision/)
  t.ok(r.retCodes.includes(signed(WARN.NO_EFFECT | OP.CRT | OBJ.RSC_GRP)))
  t.same((await tc.get('/v1/resource-groups/oneshot')).body.select_filter, { place_count: 1 })
})

t.test('list: filter by name and props, paging, sorted by name', async (t) => {
  const names = (b: { name: string }[]): string[] => b.map((g) => g.name)
  t.same(names((await tc.get('/v1/resource-groups')).body), ['DfltRscGrp', 'Gold', 'oneshot', 'plain'])
  t.same(names((await tc.get('/v1/resource-groups?resource_groups=gold&resource_groups=PLAIN')).body), ['Gold', 'plain'])
  t.same(names((await tc.get('/v1/resource-groups?resource_groups=gold,plain')).body), ['Gold', 'plain'])
  t.same(names((await tc.get('/v1/resource-groups?props=Aux/tier=gold')).body), ['Gold'])
  t.same(names((await tc.get('/v1/resource-groups?props=Aux/tier')).body), ['Gold'])
  t.same(names((await tc.get('/v1/resource-groups?props=Aux/tier=silver')).body), [])
  t.same(names((await tc.get('/v1/resource-groups?limit=2&offset=1')).body), ['Gold', 'oneshot'])
  t.same(names((await tc.get('/v1/resource-groups?resource_groups=nosuch')).body), [])
  t.equal((await tc.get('/v1/resource-groups?limit=-1')).status, 400)
  const missing = await tc.get('/v1/resource-groups/nosuch')
  t.equal(missing.status, 404)
  t.equal(missing.retCodes[0], signed(MASK.ERROR | 317n | OBJ.RSC_GRP))
})

t.test('bad create input is refused with a 4xx ApiCallRc and changes nothing', async (t) => {
  const before = (await tc.get('/v1/resource-groups')).text
  const cases: [string, unknown, number, bigint][] = [
    ['no body', undefined, 400, 234n],
    ['no name', { description: 'x' }, 400, 234n],
    ['name not a string', { name: 7 }, 400, 234n],
    ['path in name', { name: '../etc' }, 400, 237n],
    ['too short', { name: 'a' }, 400, 237n],
    ['too long', { name: 'g'.repeat(49) }, 400, 237n],
    ['duplicate, other case', { name: 'GOLD' }, 409, 522n],
    ['default group again', { name: 'dfltrscgrp' }, 409, 522n],
    ['description too long', { name: 'newgrp', description: 'd'.repeat(1025) }, 400, 234n],
    ['description not a string', { name: 'newgrp', description: 5 }, 400, 234n],
    ['bad prop key', { name: 'newgrp', props: { 'a//b': 'x' } }, 400, 213n],
    ['prop value not a string', { name: 'newgrp', props: { 'Aux/a': { x: 1 } } }, 400, 234n],
    ['ExactSize on a group', { name: 'newgrp', props: { 'DrbdOptions/ExactSize': 'yes' } }, 400, 213n],
    ['peer slots 0', { name: 'newgrp', peer_slots: 0 }, 400, 204n],
    ['peer slots 32', { name: 'newgrp', peer_slots: 32 }, 400, 204n],
    ['peer slots text', { name: 'newgrp', peer_slots: 'many' }, 400, 234n],
    ['select filter not an object', { name: 'newgrp', select_filter: 'x' }, 400, 234n],
    ['place count 0', { name: 'newgrp', select_filter: { place_count: 0 } }, 400, 219n],
    ['place count 33', { name: 'newgrp', select_filter: { place_count: 33 } }, 400, 219n],
    ['bad node name', { name: 'newgrp', select_filter: { node_name_list: ['no such!'] } }, 400, 200n],
    ['bad pool name', { name: 'newgrp', select_filter: { storage_pool_list: ['p/q'] } }, 400, 208n],
    ['bad rsc name', { name: 'newgrp', select_filter: { not_place_with_rsc: ['-x'] } }, 400, 202n],
    ['bad regex', { name: 'newgrp', select_filter: { not_place_with_rsc_regex: '[' } }, 400, 234n],
    ['huge regex', { name: 'newgrp', select_filter: { not_place_with_rsc_regex: 'a'.repeat(1001) } }, 400, 234n],
    ['bad replicas-on-same key', { name: 'newgrp', select_filter: { replicas_on_same: ['Aux/'] } }, 400, 234n],
    ['bad layer stack', { name: 'newgrp', select_filter: { layer_stack: ['STORAGE', 'DRBD'] } }, 400, 225n],
    ['bad provider', { name: 'newgrp', select_filter: { provider_list: ['EXOS'] } }, 400, 221n],
    ['unsupported diskless type', { name: 'newgrp', select_filter: { diskless_type: 'EBS_INITIATOR' } }, 501, 234n],
  ]
  for (const [what, body, status, c] of cases) {
    const r = await tc.post('/v1/resource-groups', body)
    t.equal(r.status, status, `${what}: status`)
    t.ok(isError(r.retCodes[0]!), `${what}: error severity`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
    t.equal(r.retCodes[0]! & OP.DEL, OP.CRT, `${what}: CRT operation`)
    t.equal(BigInt.asUintN(64, r.retCodes[0]!) & MASK.BITS_OBJ, OBJ.RSC_GRP, `${what}: RSC_GRP object`)
    t.ok(r.body[0].message.length > 0, `${what}: message`)
  }
  const malformed = await tc.post('/v1/resource-groups', '{"name": ')
  t.equal(malformed.status, 400)
  t.equal((await tc.get('/v1/resource-groups')).text, before, 'nothing changed')
})

t.test('modify merges the given filter fields into the stored filter', async (t) => {
  const sf = async (): Promise<Record<string, unknown>> => (await tc.get('/v1/resource-groups/Gold')).body.select_filter
  const before = await sf()

  const r = await tc.put('/v1/resource-groups/gold', { select_filter: { place_count: 4 } })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], signed(MASK.SUCCESS | 3n | OP.MOD | OBJ.RSC_GRP), 'MODIFIED | MOD | RSC_GRP')
  t.same(r.body[0].obj_refs, { RscGrp: 'Gold' })
  t.same(await sf(), { ...before, place_count: 4 }, 'only place_count changed')

  // What LINSTOR's client sends for a modify without filter options: an empty select_filter.
  t.equal((await tc.put('/v1/resource-groups/gold', { select_filter: {} })).status, 200)
  t.same(await sf(), { ...before, place_count: 4 }, 'noop modify')

  await tc.put('/v1/resource-groups/gold', { select_filter: { replicas_on_same: ['Aux/x', 'Aux/y', 'Aux/z'], storage_pool_list: ['a1', 'a2'] } })
  let now = await sf()
  t.same(now['replicas_on_same'], ['Aux/x', 'Aux/y', 'Aux/z'], 'a given list replaces the stored one')
  t.same(now['storage_pool_list'], ['a1', 'a2'])
  t.notOk('storage_pool' in now, 'storage_pool is only shown for a single pool')
  t.same(now['replicas_on_different'], ['Aux/rack'], 'other lists stay')

  // `--replicas-on-same=` and friends: empty values clear the field.
  await tc.put('/v1/resource-groups/gold', { select_filter: { replicas_on_same: [], not_place_with_rsc_regex: '', x_replicas_on_different_map: {}, layer_stack: [], storage_pool_list: [] } })
  now = await sf()
  for (const k of ['replicas_on_same', 'not_place_with_rsc_regex', 'x_replicas_on_different_map', 'layer_stack', 'storage_pool_list', 'storage_pool']) {
    t.notOk(k in now, `${k} cleared`)
  }
  t.equal(now['place_count'], 4)
  t.same(now['node_name_list'], ['alpha', 'beta'], 'untouched fields stay')

  // The old clients' single storage_pool still works in a modify.
  await tc.put('/v1/resource-groups/gold', { select_filter: { storage_pool: 'solo', diskless_on_remaining: false } })
  now = await sf()
  t.same(now['storage_pool_list'], ['solo'])
  t.equal(now['storage_pool'], 'solo')
  t.equal(now['diskless_on_remaining'], false)
})

t.test('modify description, props and peer slots', async (t) => {
  const r = await tc.put('/v1/resource-groups/Gold', {
    description: 'faster disks', override_props: { 'Aux/zone': 'z1' }, delete_props: ['Aux/tier', 'Aux/never-set'], peer_slots: '7',
  })
  t.equal(r.status, 200)
  const unset = r.body.find((e: { message: string }) => /never-set/.test(e.message))
  t.ok(unset, 'warning for deleting a property that was not set')
  t.ok(r.retCodes.includes(signed(WARN.DEL_UNSET_PROP | OP.MOD | OBJ.RSC_GRP)))
  let g = (await tc.get('/v1/resource-groups/Gold')).body
  t.equal(g.description, 'faster disks')
  t.same(g.props, { 'Aux/zone': 'z1', 'DrbdOptions/Net/protocol': 'C' })
  t.equal(g.peer_slots, 7)
  t.equal((await tc.put('/v1/resource-groups/Gold', { delete_namespaces: ['Aux'] })).status, 200)
  g = (await tc.get('/v1/resource-groups/Gold')).body
  t.same(g.props, { 'DrbdOptions/Net/protocol': 'C' })
  t.equal(g.description, 'faster disks', 'description kept when not given')
  t.equal(g.peer_slots, 7, 'peer slots kept when not given')
  t.equal((await tc.put('/v1/resource-groups/Gold', { description: '' })).status, 200)
  t.equal((await tc.get('/v1/resource-groups/Gold')).body.description, '')
})

t.test('bad modify input is refused with a 4xx ApiCallRc and changes nothing', async (t) => {
  const before = (await tc.get('/v1/resource-groups')).text
  const cases: [string, string, unknown, number, bigint][] = [
    ['missing group', 'nosuch', {}, 404, 317n],
    ['no body', 'Gold', undefined, 400, 234n],
    ['place count 0', 'Gold', { select_filter: { place_count: 0 } }, 400, 219n],
    ['bad regex after a good field', 'Gold', { select_filter: { place_count: 3, not_place_with_rsc_regex: '(' } }, 400, 234n],
    ['bad layer stack', 'Gold', { select_filter: { layer_stack: ['LUKS'] } }, 400, 225n],
    ['bad provider', 'Gold', { select_filter: { provider_list: ['SPDK'] } }, 400, 221n],
    ['bad prop with good description', 'Gold', { description: 'changed', override_props: { '/x': 'y' } }, 400, 213n],
    ['ExactSize', 'Gold', { override_props: { 'DrbdOptions/ExactSize': 'true' } }, 400, 213n],
    ['peer slots 40', 'Gold', { peer_slots: 40 }, 400, 204n],
    ['delete_props not a list', 'Gold', { delete_props: 'Aux/x' }, 400, 234n],
    ['description too long', 'Gold', { description: 'x'.repeat(2000) }, 400, 234n],
  ]
  for (const [what, name, body, status, c] of cases) {
    const r = await tc.put(`/v1/resource-groups/${name}`, body)
    t.equal(r.status, status, `${what}: status`)
    t.ok(isError(r.retCodes[0]!), `${what}: error`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
    t.equal(r.retCodes[0]! & OP.DEL, OP.MOD, `${what}: MOD operation`)
  }
  t.equal((await tc.get('/v1/resource-groups')).text, before, 'nothing changed')
})

t.test('storage pools the filter names are checked against the pools nodes have (warnings only)', async (t) => {
  t.equal((await tc.post('/v1/nodes', { name: 'alpha', type: 'Satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1' }] })).status, 201)
  const pool = async (name: string, providerKind: ProviderKind): Promise<void> => {
    await tc.ctrl.core.mutate((tx, m) => {
      if (!m.getStorPoolDfn(name)) m.putStorPoolDfn(tx, { name, props: {}, uuid: randomUUID() })
      m.putStorPool(tx, { nodeName: 'alpha', name, providerKind, props: {}, sharedSpace: null, externalLocking: false, uuid: randomUUID() })
    })
  }
  await pool('thin1', 'LVM_THIN')
  await pool('DfltDisklessStorPool', 'DISKLESS')

  const good = await tc.post('/v1/resource-groups', { name: 'pooled', select_filter: { storage_pool_list: ['THIN1'], storage_pool_diskless_list: ['DfltDisklessStorPool'] } })
  t.equal(good.status, 201)
  t.same(good.retCodes, [signed(MASK.SUCCESS | 1n | OP.CRT | OBJ.RSC_GRP)], 'no warning for matching pools')

  const r = await tc.put('/v1/resource-groups/pooled', { select_filter: { storage_pool_list: ['DfltDisklessStorPool', 'nowhere'], storage_pool_diskless_list: ['thin1'] } })
  t.equal(r.status, 200)
  t.ok(r.retCodes.includes(signed(WARN.NOT_FOUND | OP.MOD | OBJ.RSC_GRP)), 'WARN_NOT_FOUND')
  const w = r.body.find((e: { message: string }) => /storage pools/.test(e.message)).message as string
  t.match(w, /do not exist on any node: nowhere/)
  t.match(w, /diskless, but are configured to be used for diskful placements: DfltDisklessStorPool/)
  t.match(w, /diskful, but are configured to be used for diskless placements: thin1/)
  t.same((await tc.get('/v1/resource-groups/pooled')).body.select_filter.storage_pool_list, ['DfltDisklessStorPool', 'nowhere'], 'kept anyway')
  t.equal((await tc.del('/v1/resource-groups/pooled')).status, 200)
})

t.test('deletion rules', async (t) => {
  const dflt = await tc.del('/v1/resource-groups/DfltRscGrp')
  t.equal(dflt.status, 409)
  t.equal(dflt.retCodes[0], signed(MASK.ERROR | 997n | OP.DEL | OBJ.RSC_GRP))
  t.match(dflt.body[0].message, /'DfltRscGrp' is a default object/)
  t.equal((await tc.del('/v1/resource-groups/dfltrscgrp')).status, 409, 'whatever the case')

  const names = Array.from({ length: 12 }, (_, i) => `rsc${String(i).padStart(2, '0')}`)
  for (const n of names) await putRscDfn(n, 'GOLD')
  await putRscDfn('elsewhere', 'plain')
  const inUse = await tc.del('/v1/resource-groups/gold')
  t.equal(inUse.status, 409)
  t.equal(code(inUse.retCodes[0]!), 997n)
  const msg = inUse.body[0].message as string
  t.match(msg, /Resource group 'Gold' is still in use: 12 resource definition\(s\): rsc00, rsc01/)
  t.match(msg, /rsc09, …/)
  t.notMatch(msg, /rsc10/, 'at most 10 named')
  t.notMatch(msg, /elsewhere/)
  t.ok(inUse.body[0].correction)
  t.equal((await tc.get('/v1/resource-groups/gold')).status, 200, 'still there')

  for (const n of names) await deleteRscDfn(n)
  const ok = await tc.del('/v1/resource-groups/gold')
  t.equal(ok.status, 200)
  t.equal(ok.retCodes[0], signed(MASK.SUCCESS | 2n | OP.DEL | OBJ.RSC_GRP))
  t.equal((await tc.get('/v1/resource-groups/gold')).status, 404)
  const again = await tc.del('/v1/resource-groups/gold')
  t.equal(again.status, 404)
  t.equal(again.retCodes[0], signed(MASK.ERROR | 317n | OP.DEL | OBJ.RSC_GRP))
  t.equal((await tc.del('/v1/resource-groups/plain')).status, 409, "'elsewhere' keeps 'plain' in use")
})

t.test('survives a restart', async (t) => {
  t.equal((await tc.post('/v1/resource-groups', {
    name: 'kept', description: 'd', props: { 'Aux/a': 'b' }, peer_slots: 3,
    select_filter: { place_count: 3, replicas_on_different: ['Aux/rack'], layer_stack: ['DRBD', 'LUKS', 'STORAGE'], x_replicas_on_different_map: { 'Aux/dc': 2 } },
  })).status, 201)
  const before = (await tc.get('/v1/resource-groups')).body
  await tc.restart()
  t.same((await tc.get('/v1/resource-groups')).body, before)
  const g = (await tc.get('/v1/resource-groups/kept')).body
  t.equal(g.peer_slots, 3)
  t.same(g.select_filter.layer_stack, ['DRBD', 'LUKS', 'STORAGE'])
  t.same((await tc.get('/v1/resource-groups/DfltRscGrp')).body.select_filter, { place_count: 2 })
})
