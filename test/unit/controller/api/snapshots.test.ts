import t from 'tap'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'

const tc = await startTestController()
t.teardown(tc.stop)

const code = (rc: bigint): bigint => rc & MASK.BITS_CODE
const rc = (v: bigint): bigint => BigInt.asIntN(64, v)
const online = (...nodes: string[]): void => {
  for (const n of nodes) tc.ctrl.core.model.setRuntimeNode(n, { connectionStatus: 'ONLINE', supportedLayers: null, supportedProviders: null })
}
const offline = (...nodes: string[]): void => {
  for (const n of nodes) tc.ctrl.core.model.deleteRuntimeNode(n)
}
const snaps = (rsc: string): string => `/v1/resource-definitions/${rsc}/snapshots`
/** Everything a snapshot call could change, as text. */
const state = async (): Promise<string> => (await Promise.all([
  tc.get('/v1/view/snapshots'), tc.get('/v1/view/resources'), tc.get('/v1/resource-definitions?with_volume_definitions=true'), tc.get('/v1/nodes'),
])).map((x) => x.text).join('\n')

async function must(p: Promise<{ status: number; text: string }>, status = 201): Promise<void> {
  const r = await p
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`)
}
async function node(name: string, i: number): Promise<void> {
  await must(tc.post('/v1/nodes', { name, type: 'satellite', net_interfaces: [{ name: 'default', address: `127.0.0.${i}` }] }))
  await must(tc.post(`/v1/nodes/${name}/storage-pools`, { storage_pool_name: 'thin', provider_kind: 'LVM_THIN', props: { 'StorDriver/StorPoolName': 'vg0/thin' } }))
  await must(tc.post(`/v1/nodes/${name}/storage-pools`, { storage_pool_name: 'thin2', provider_kind: 'LVM_THIN', props: { 'StorDriver/StorPoolName': 'vg0/thin2' } }))
  await must(tc.post(`/v1/nodes/${name}/storage-pools`, { storage_pool_name: 'lvm', provider_kind: 'LVM', props: { 'StorDriver/StorPoolName': 'vg0' } }))
}
async function rd(name: string, sizes: number[] = [65536], props: Record<string, string> = {}): Promise<void> {
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name, props } }))
  for (const s of sizes) await must(tc.post(`/v1/resource-definitions/${name}/volume-definitions`, { volume_definition: { size_kib: s } }))
}
/** Resources of `rsc` on nodes, in pool `pool`; diskless ones on `clients`. */
async function place(rsc: string, nodes: string[], pool = 'thin', clients: string[] = []): Promise<void> {
  await must(tc.post(`/v1/resource-definitions/${rsc}/resources`, [
    ...nodes.map((n) => ({ resource: { node_name: n, props: { StorPoolName: pool } } })),
    ...clients.map((n) => ({ resource: { node_name: n, flags: ['DRBD_DISKLESS'] } })),
  ]))
}
/** What a satellite's confirmation will do (a later stage): the snapshot is taken everywhere. */
async function confirm(rsc: string, snap: string): Promise<void> {
  await tc.ctrl.core.mutate((tx, m) => {
    const sd = m.getSnapshotDfn(rsc, snap)!
    sd.flags = [...sd.flags, 'SUCCESSFUL']
    for (const s of sd.snapshots) s.createTimestamp = 1_700_000_000_000
    m.putSnapshotDfn(tx, sd)
  })
}

t.before(async () => {
  for (const [i, n] of ['n1', 'n2', 'n3', 'n4'].entries()) await node(n, i + 1)
})

t.test('create: every diskful node by default, LINSTOR JSON, not SUCCESSFUL until satellites confirm', async (t) => {
  await rd('r1', [65536, 131072], { 'Aux/owner': 'alice' })
  await place('r1', ['n1', 'n2'], 'thin', ['n3'])
  await must(tc.put('/v1/resource-definitions/r1/resources/n1', { override_props: { 'Aux/rsc': 'one' } }), 200)
  await must(tc.put('/v1/resource-definitions/r1/resources/n1/volumes/0', { override_props: { 'Aux/vlm': 'zero' } }), 200)
  online('n2')
  t.teardown(() => offline('n2'))

  const r = await tc.post(snaps('r1'), { name: 's1', snapshot_definition_props: { 'Aux/why': 'test' } })
  t.equal(r.status, 201)
  t.equal(r.retCodes[0], MASK.SUCCESS | 1n | OP.CRT | OBJ.SNAPSHOT, 'CREATED | CRT | SNAPSHOT')
  t.match(r.body[0].message, /registered for node\(s\) 'n1', 'n2'; it becomes SUCCESSFUL once their satellites have taken it/)
  t.same(r.body[0].obj_refs, { RscDfn: 'r1', Snapshot: 's1' })
  t.same(r.retCodes.slice(1), [rc(MASK.WARN | 1002n | OP.CRT | OBJ.SNAPSHOT)], 'a not-connected warning for n1 only (n2 is online)')
  t.match(r.body[1].message, /'n1': the snapshot is taken once the satellites of all its nodes are connected/)

  const one = await tc.get(`${snaps('r1')}/S1`)
  t.equal(one.status, 200, 'names are case-insensitive')
  const vd0 = (await tc.get('/v1/resource-definitions/r1/volume-definitions/0')).body
  const rsc1 = (await tc.get('/v1/resource-definitions/r1/resources/n1')).body
  const body = one.body
  t.same(body, {
    name: 's1',
    resource_name: 'r1',
    nodes: ['n1', 'n2'],
    props: { 'Aux/owner': 'alice', 'Aux/why': 'test' },
    snapshot_definition_props: { 'Aux/why': 'test' },
    resource_definition_props: { 'Aux/owner': 'alice' },
    flags: [],
    volume_definitions: [
      { volume_number: 0, size_kib: 65536, snapshot_volume_definition_props: {}, volume_definition_props: vd0.props },
      { volume_number: 1, size_kib: 131072, snapshot_volume_definition_props: {}, volume_definition_props: body.volume_definitions[1].volume_definition_props },
    ],
    uuid: body.uuid,
    snapshots: [
      {
        snapshot_name: 's1', node_name: 'n1', flags: [], uuid: body.snapshots[0].uuid, snapshot_props: {}, resource_props: rsc1.props,
        snapshot_volumes: [
          { uuid: body.snapshots[0].snapshot_volumes[0].uuid, vlm_nr: 0, props: { 'Aux/vlm': 'zero' }, snapshot_volume_props: {}, volume_props: { 'Aux/vlm': 'zero' } },
          { uuid: body.snapshots[0].snapshot_volumes[1].uuid, vlm_nr: 1, props: {}, snapshot_volume_props: {}, volume_props: {} },
        ],
      },
      {
        snapshot_name: 's1', node_name: 'n2', flags: [], uuid: body.snapshots[1].uuid, snapshot_props: {}, resource_props: { StorPoolName: 'thin' },
        snapshot_volumes: body.snapshots[1].snapshot_volumes,
      },
    ],
  }, 'exact shape; no create_timestamp and no SUCCESSFUL before a satellite has taken it')
  t.equal(rsc1.props['Aux/rsc'], 'one')
  t.ok('DrbdCurrentGi' in vd0.props, 'the volume definition properties are copied, with the DRBD generation id')
  t.notOk(one.text.includes('null'), 'never null')

  const list = await tc.get(snaps('r1'))
  t.same(list.body.map((x: { name: string }) => x.name), ['s1'])
  t.equal((await tc.get('/v1/view/snapshots')).body[0].name, 's1')

  await confirm('r1', 's1')
  const done = (await tc.get(`${snaps('r1')}/s1`)).body
  t.same(done.flags, ['SUCCESSFUL'])
  t.equal(done.snapshots[0].create_timestamp, 1_700_000_000_000, 'create_timestamp once taken')
})

t.test('create: named nodes, the older props field, evacuating nodes skipped', async (t) => {
  await rd('r2')
  await place('r2', ['n1', 'n2', 'n3'])
  const r = await tc.post(snaps('r2'), { name: 'only2', nodes: ['N2'], props: { 'Aux/x': '1' }, resource_name: 'R2' })
  t.equal(r.status, 201)
  const sd = (await tc.get(`${snaps('r2')}/only2`)).body
  t.same(sd.nodes, ['n2'], 'display name of the node')
  t.same(sd.snapshot_definition_props, { 'Aux/x': '1' })

  await tc.ctrl.core.mutate((tx, m) => {
    const n = m.getNode('n3')!
    n.flags = [...n.flags, 'EVACUATE']
    m.putNode(tx, n)
  })
  t.teardown(() => tc.ctrl.core.mutate((tx, m) => {
    const n = m.getNode('n3')!
    n.flags = n.flags.filter((f) => f !== 'EVACUATE')
    m.putNode(tx, n)
  }))
  const e = await tc.post(snaps('r2'), { name: 'evac' })
  t.equal(e.status, 201)
  t.ok(e.retCodes.some((x) => x === rc(MASK.WARN | OP.CRT | OBJ.SNAPSHOT)), 'a warning for the evacuating node')
  t.match(e.text, /not created on node 'n3': the node is being evacuated/)
  t.same((await tc.get(`${snaps('r2')}/evac`)).body.nodes, ['n1', 'n2'])
  const seq = [...tc.ctrl.core.model.snapshotDfnsOf('r2')].map((x) => [x.name, x.sequenceNumber])
  t.same(seq.sort(), [['evac', 2], ['only2', 1]], 'creation order is recorded')
})

t.test('create: bad input gets a 4xx with an ApiCallRc and changes nothing', async (t) => {
  await rd('lvmr')
  await place('lvmr', ['n1'], 'lvm')
  await rd('clientsonly')
  await place('clientsonly', [], 'thin', ['n1'])
  await rd('novd', [])
  await rd('goner')
  await place('goner', ['n4'])
  online('n4')
  await must(tc.del('/v1/resource-definitions/goner'), 200)
  offline('n4')
  const before = await state()
  const cases: [string, string, unknown, number, bigint][] = [
    ['no body', 'r1', undefined, 400, 234n],
    ['body not an object', 'r1', [1], 400, 234n],
    ['no name', 'r1', {}, 400, 234n],
    ['invalid name', 'r1', { name: 'a/b' }, 400, 218n],
    ['name too short', 'r1', { name: 'a' }, 400, 218n],
    ['duplicate', 'r1', { name: 'S1' }, 409, 514n],
    ['unknown definition', 'nosuch', { name: 'x1' }, 404, 301n],
    ['invalid definition name', 'a.b', { name: 'x1' }, 400, 202n],
    ['resource_name differs', 'r1', { name: 'x1', resource_name: 'r2' }, 400, 234n],
    ['nodes not strings', 'r1', { name: 'x1', nodes: [1] }, 400, 234n],
    ['invalid node name', 'r1', { name: 'x1', nodes: ['bad/node'] }, 400, 200n],
    ['node twice', 'r1', { name: 'x1', nodes: ['n1', 'N1'] }, 400, 234n],
    ['unknown node', 'r1', { name: 'x1', nodes: ['n9'] }, 404, 300n],
    ['node without the resource', 'r1', { name: 'x1', nodes: ['n4'] }, 404, 302n],
    ['diskless resource named', 'r1', { name: 'x1', nodes: ['n3'] }, 409, 994n],
    ['pool without snapshots (LVM)', 'lvmr', { name: 'x1' }, 409, 994n],
    ['no diskful resource', 'clientsonly', { name: 'x1' }, 404, 302n],
    ['no volume definitions', 'novd', { name: 'x1' }, 409, 243n],
    ['definition being deleted', 'goner', { name: 'x1' }, 409, 243n],
    ['bad property key', 'r1', { name: 'x1', snapshot_definition_props: { 'a//b': 'x' } }, 400, 213n],
  ]
  for (const [what, rsc, body, status, c] of cases) {
    const r = await tc.post(snaps(rsc), body)
    t.equal(r.status, status, `${what}: status`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
    t.equal(r.retCodes[0]! & (MASK.BITS_OP | MASK.BITS_OBJ), OP.CRT | OBJ.SNAPSHOT, `${what}: CRT | SNAPSHOT`)
  }
  const lvm = await tc.post(snaps('lvmr'), { name: 'x1' })
  t.match(lvm.body[0].message, /'lvm' on node 'n1' is LVM, which does not support snapshots/)
  t.match(lvm.body[0].correction, /LVM_THIN, ZFS, ZFS_THIN\./)
  t.equal(await state(), before, 'nothing changed')
})

t.test('modify properties', async (t) => {
  const r = await tc.put(`${snaps('r2')}/only2`, { override_props: { 'Aux/y': '2' }, delete_props: ['Aux/x', 'Aux/never'] })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 3n | OP.MOD | OBJ.SNAPSHOT)
  t.equal(code(r.retCodes[1]!), 1005n, 'WARN_DEL_UNSET_PROP for a key that was not set')
  t.same((await tc.get(`${snaps('r2')}/only2`)).body.snapshot_definition_props, { 'Aux/y': '2' })
  const before = await state()
  t.equal((await tc.put(`${snaps('r2')}/nosuch`, { override_props: { 'Aux/y': '3' } })).status, 404)
  t.equal((await tc.put(`${snaps('r2')}/only2`, { override_props: { '': '3' } })).status, 400)
  t.equal((await tc.put(`${snaps('r2')}/only2`, 'nope')).status, 400)
  t.equal(await state(), before)
})

t.test('GET: 404s, view filters and paging', async (t) => {
  const missing = await tc.get(`${snaps('r1')}/nosuch`)
  t.equal(missing.status, 404)
  t.equal(missing.retCodes[0], rc(MASK.ERROR | 313n | OBJ.SNAPSHOT), 'FAIL_NOT_FOUND_SNAPSHOT_DFN')
  t.equal((await tc.get(snaps('nosuch'))).status, 404)
  t.equal(code((await tc.get(snaps('nosuch'))).retCodes[0]!), 301n)
  t.equal((await tc.get(`${snaps('r1')}/x`)).status, 400, 'invalid snapshot name')

  const names = async (q: string): Promise<string[]> => (await tc.get(`/v1/view/snapshots${q}`)).body.map((x: { resource_name: string; name: string }) => `${x.resource_name}/${x.name}`)
  t.same(await names(''), ['r1/s1', 'r2/evac', 'r2/only2'])
  t.same(await names('?resources=R2'), ['r2/evac', 'r2/only2'])
  t.same(await names('?nodes=n1'), ['r1/s1', 'r2/evac'], 'a snapshot on any of the nodes')
  t.same(await names('?snapshots=only2,s1'), ['r1/s1', 'r2/only2'])
  t.same(await names('?props=Aux/y=2'), ['r2/only2'])
  t.same(await names('?limit=1&offset=1'), ['r2/evac'])
  t.equal((await tc.get('/v1/view/snapshots?limit=x')).status, 400)
  t.same((await tc.get(`${snaps('r2')}?limit=1`)).body.map((x: { name: string }) => x.name), ['evac'])
})

t.test('restore into a new resource definition', async (t) => {
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name: 'r1copy' } }))
  const r = await tc.post('/v1/resource-definitions/r1/snapshot-restore-resource/s1', { to_resource: 'r1copy' })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 1n | OP.CRT | OBJ.RSC, 'CREATED | CRT | RSC')
  t.match(r.body[0].message, /Resource 'r1copy' on node\(s\) 'n1', 'n2' restored from resource 'r1', snapshot 's1' with the snapshot's volume definitions 0, 1/)
  t.equal(r.retCodes.filter((x) => code(x) === 1002n).length, 2, 'not connected: created when the satellites connect')

  const target = (await tc.get('/v1/resource-definitions/r1copy?with_volume_definitions=true')).body
  const source = (await tc.get('/v1/resource-definitions?resource_definitions=r1&with_volume_definitions=true')).body[0]
  t.equal(target.props['Aux/owner'], 'alice', 'the definition takes the properties of the snapshot')
  const vds = (await tc.get('/v1/resource-definitions/r1copy/volume-definitions')).body
  t.same(vds.map((v: { volume_number: number; size_kib: number }) => [v.volume_number, v.size_kib]), [[0, 65536], [1, 131072]])
  t.equal(vds[0].props.DrbdCurrentGi, source.volume_definitions[0].props.DrbdCurrentGi, 'same DRBD generation id')
  t.not(vds[0].layer_data[0].data.minor_number, source.volume_definitions[0].layer_data[0].data.minor_number, 'a minor of its own')

  const rscs = (await tc.get('/v1/resource-definitions/r1copy/resources')).body
  t.same(rscs.map((x: { node_name: string }) => x.node_name), ['n1', 'n2'])
  const src = (await tc.get('/v1/resource-definitions/r1/resources')).body
  for (const [i, x] of rscs.entries()) {
    t.same(x.flags, ['RESTORE_FROM_SNAPSHOT'])
    t.equal(x.layer_object.drbd.node_id, src[i].layer_object.drbd.node_id, 'the DRBD node id of the snapshot')
    for (const v of x.volumes) {
      t.equal(v.storage_pool_name, 'thin')
      t.equal(v.props.RestoreFromResource, 'r1')
      t.equal(v.props.RestoreFromSnapshot, 's1')
    }
  }
  t.equal(rscs[0].props['Aux/rsc'], 'one', 'resource properties from the snapshot')
  t.equal(rscs[0].volumes[0].props['Aux/vlm'], 'zero', 'volume properties from the snapshot')
})

t.test('restore the volume definitions, then on one node into another pool of the same kind', async (t) => {
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name: 'r1b' } }))
  const v = await tc.post('/v1/resource-definitions/r1/snapshot-restore-volume-definition/s1', { to_resource: 'r1b' })
  t.equal(v.status, 200)
  t.equal(v.retCodes[0], MASK.SUCCESS | 1n | OP.CRT | OBJ.SNAPSHOT)
  t.same((await tc.get('/v1/resource-definitions/r1b/volume-definitions')).body.map((x: { size_kib: number }) => x.size_kib), [65536, 131072])
  t.same((await tc.get('/v1/resource-definitions/r1b/resources')).body, [], 'definitions only')
  const again = await tc.post('/v1/resource-definitions/r1/snapshot-restore-volume-definition/s1', { to_resource: 'r1b' })
  t.equal(again.status, 409)
  t.equal(code(again.retCodes[0]!), 503n, 'FAIL_EXISTS_VLM_DFN')

  const r = await tc.post('/v1/resource-definitions/r1/snapshot-restore-resource/s1', { to_resource: 'r1b', nodes: ['n2'], stor_pool_rename: { thin: 'thin2' } })
  t.equal(r.status, 200)
  const x = (await tc.get('/v1/resource-definitions/r1b/resources/n2')).body
  t.same(x.volumes.map((y: { storage_pool_name: string }) => y.storage_pool_name), ['thin2', 'thin2'])
  t.equal((await tc.get('/v1/resource-definitions/r1b/resources/n1')).status, 404, 'only the named node')
})

t.test('restore a STORAGE-only snapshot: no DRBD numbers', async (t) => {
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name: 'plainsrc', layer_data: [{ type: 'STORAGE' }] } }))
  await must(tc.post('/v1/resource-definitions/plainsrc/volume-definitions', { volume_definition: { size_kib: 4096 } }))
  await place('plainsrc', ['n1'])
  await must(tc.post(snaps('plainsrc'), { name: 'p1' }))
  await confirm('plainsrc', 'p1')
  t.same(tc.ctrl.core.model.getSnapshotDfn('plainsrc', 'p1')!.snapshots.map((s) => [s.layerStack, s.drbdNodeId]), [[['STORAGE'], null]])
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name: 'plaindst', layer_data: [{ type: 'STORAGE' }] } }))
  const r = await tc.post('/v1/resource-definitions/plainsrc/snapshot-restore-resource/p1', { to_resource: 'plaindst' })
  t.equal(r.status, 200)
  const x = (await tc.get('/v1/resource-definitions/plaindst/resources/n1')).body
  t.equal(x.layer_object.type, 'STORAGE')
  t.notOk('drbd' in x.layer_object)
  t.same((await tc.get('/v1/resource-definitions/plaindst/volume-definitions/0')).body.layer_data, [{ type: 'STORAGE' }], 'no minor')
})

t.test('restore: refusals change nothing', async (t) => {
  await rd('sized', [1024 * 1024])
  await rd('other', [65536, 131072, 65536])
  await rd('busy', [65536, 131072])
  await place('busy', ['n4'])
  await rd('plain', [])
  await tc.post(snaps('r2'), { name: 'unconfirmed', nodes: ['n1'] })
  await tc.post(snaps('r2'), { name: 'failed', nodes: ['n1'] })
  await tc.ctrl.core.mutate((tx, m) => {
    const sd = m.getSnapshotDfn('r2', 'failed')!
    sd.flags = ['FAILED_DEPLOYMENT']
    m.putSnapshotDfn(tx, sd)
  })
  const before = await state()
  const restore = (snap: string, body: unknown, rsc = 'r1'): ReturnType<typeof tc.post> => tc.post(`/v1/resource-definitions/${rsc}/snapshot-restore-resource/${snap}`, body)
  const cases: [string, Promise<{ status: number; retCodes: bigint[]; text: string }>, number, bigint][] = [
    ['no body', restore('s1', undefined), 400, 234n],
    ['no to_resource', restore('s1', {}), 400, 234n],
    ['invalid to_resource', restore('s1', { to_resource: '-x' }), 400, 202n],
    ['unknown target', restore('s1', { to_resource: 'nosuch' }), 404, 301n],
    ['unknown snapshot', restore('nosuch', { to_resource: 'plain' }), 404, 313n],
    ['unknown source', restore('s1', { to_resource: 'plain' }, 'nosuch'), 404, 301n],
    ['not yet taken', restore('unconfirmed', { to_resource: 'plain' }, 'r2'), 409, 998n],
    ['taking it failed', restore('failed', { to_resource: 'plain' }, 'r2'), 409, 998n],
    ['target being deleted', restore('s1', { to_resource: 'goner' }), 409, 243n],
    ['node named twice', restore('s1', { to_resource: 'plain', nodes: ['n1', 'n1'] }), 400, 234n],
    ['target has resources', restore('s1', { to_resource: 'busy' }), 409, 502n],
    ['volume size differs', restore('s1', { to_resource: 'sized' }), 409, 206n],
    ['volume the snapshot lacks', restore('s1', { to_resource: 'other' }), 404, 314n],
    ['node without the snapshot', restore('s1', { to_resource: 'plain', nodes: ['n3'] }), 404, 315n],
    ['unknown node', restore('s1', { to_resource: 'plain', nodes: ['n9'] }), 404, 300n],
    ['rename to a pool of another kind', restore('s1', { to_resource: 'plain', stor_pool_rename: { thin: 'lvm' } }), 409, 243n],
    ['rename to a missing pool', restore('s1', { to_resource: 'plain', stor_pool_rename: { thin: 'nosuch' } }), 404, 310n],
    ['rename value not a string', restore('s1', { to_resource: 'plain', stor_pool_rename: { thin: 1 } }), 400, 234n],
    ['rename not an object', restore('s1', { to_resource: 'plain', stor_pool_rename: ['thin'] }), 400, 234n],
    ['volume definitions into a target with resources', tc.post('/v1/resource-definitions/r1/snapshot-restore-volume-definition/s1', { to_resource: 'busy' }), 409, 502n],
  ]
  for (const [what, p, status, c] of cases) {
    const r = await p
    t.equal(r.status, status, `${what}: status (${r.text.slice(0, 200)})`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
  }
  const unconfirmed = await restore('unconfirmed', { to_resource: 'plain' }, 'r2')
  t.match(unconfirmed.text, /its satellites have not taken it yet/)
  t.equal(unconfirmed.retCodes[0]! & (MASK.BITS_OP | MASK.BITS_OBJ), OP.CRT | OBJ.RSC)
  t.equal(await state(), before, 'nothing changed')
})

t.test('rollback: refusals, then recorded as desired state', async (t) => {
  await rd('rb', [65536])
  await place('rb', ['n1', 'n2'], 'thin', ['n3'])
  await must(tc.post(snaps('rb'), { name: 'old' }))
  await must(tc.post(snaps('rb'), { name: 'new' }))
  const rollback = (snap: string, body: unknown = {}, rsc = 'rb'): ReturnType<typeof tc.post> => tc.post(`/v1/resource-definitions/${rsc}/snapshot-rollback/${snap}`, body)
  const expectRefused = async (what: string, p: ReturnType<typeof tc.post>, status: number, c: bigint): Promise<string> => {
    const r = await p
    t.equal(r.status, status, `${what}: status (${r.text.slice(0, 200)})`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
    return r.text
  }
  let before = await state()
  await expectRefused('unknown snapshot', rollback('nosuch'), 404, 313n)
  t.equal((await rollback('nosuch')).retCodes[0]! & (MASK.BITS_OP | MASK.BITS_OBJ), OP.MOD | OBJ.SNAPSHOT, 'errors: MOD | SNAPSHOT')
  await expectRefused('unknown resource', rollback('new', {}, 'nosuch'), 404, 301n)
  t.match(await expectRefused('not yet taken', rollback('new'), 409, 998n), /its satellites have not taken it yet/)
  await expectRefused('unknown strategy', rollback('new', { zfs_rollback_strategy: 'sideways' }), 400, 234n)
  await expectRefused('clone strategy', rollback('new', { zfs_rollback_strategy: 'clone' }), 501, 234n)
  t.equal(await state(), before, 'nothing changed')

  await confirm('rb', 'old')
  await confirm('rb', 'new')
  before = await state()
  t.match(await expectRefused('newer snapshots exist', rollback('old'), 409, 514n), /newer: 'new'/)
  t.match(await expectRefused('satellites away', rollback('new'), 409, 995n), /No active connection to satellite 'n1'/)
  t.teardown(() => offline('n1', 'n2', 'n3'))
  online('n1', 'n2')
  t.match(await expectRefused('a diskless client away too', rollback('new'), 409, 995n), /'n3'/)
  online('n3')
  await must(tc.post('/v1/resource-definitions/rb/volume-definitions', { volume_definition: { size_kib: 4096 } }))
  t.match(await expectRefused('volume definitions changed', rollback('new'), 409, 243n), /no longer those of snapshot 'new'/)
  offline('n1', 'n2', 'n3')
  await must(tc.del('/v1/resource-definitions/rb/volume-definitions/1'), 200)
  t.equal(await state(), before, 'nothing changed by the refusals')
  online('n1', 'n2', 'n3')

  const r = await rollback('new', { zfs_rollback_strategy: 'Rollback' })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 3n | OP.MOD | OBJ.SNAPSHOT, 'MODIFIED | MOD | SNAPSHOT')
  t.match(r.body[0].message, /marked for rollback to snapshot 'new' on node\(s\) 'n1', 'n2', 'n3'/)
  for (const n of ['n1', 'n2', 'n3']) t.equal((await tc.get(`/v1/resource-definitions/rb/resources/${n}`)).body.props.RollbackTarget, 'new', `${n}: RollbackTarget`)

  await expectRefused('a rollback is pending', rollback('new'), 409, 971n)
  await expectRefused('no new snapshot meanwhile', tc.post(snaps('rb'), { name: 'newer' }), 409, 971n)
  t.match(await expectRefused('its snapshot stays meanwhile', tc.del(`${snaps('rb')}/new`), 409, 997n), /pending rollback/)
  t.equal((await tc.del(`${snaps('rb')}/old`)).status, 200, 'other snapshots can go')
})

t.test('rollback: a resource without a copy of the snapshot, and a definition without resources', async (t) => {
  await rd('rb2', [65536])
  await place('rb2', ['n1', 'n2'])
  await must(tc.post(snaps('rb2'), { name: 'half', nodes: ['n1'] }))
  await confirm('rb2', 'half')
  online('n1', 'n2')
  t.teardown(() => offline('n1', 'n2'))
  const r = await tc.post('/v1/resource-definitions/rb2/snapshot-rollback/half')
  t.equal(r.status, 409)
  t.equal(code(r.retCodes[0]!), 243n)
  t.match(r.text, /no copy on node 'n2'/)

  offline('n1', 'n2')
  await must(tc.del('/v1/resource-definitions/rb2/resources/n1'), 200)
  await must(tc.del('/v1/resource-definitions/rb2/resources/n2'), 200)
  await must(tc.post('/v1/resource-definitions/rb2/resources', [{ resource: { node_name: 'n3', props: { StorPoolName: 'thin' } } }]))
  online('n3')
  await must(tc.del('/v1/resource-definitions/rb2/resources/n3'), 200)
  const deleting = await tc.post('/v1/resource-definitions/rb2/snapshot-rollback/half')
  t.equal(deleting.status, 409)
  t.match(deleting.text, /on node 'n3' is being deleted/)
  offline('n3')
  await must(tc.del('/v1/resource-definitions/rb2/resources/n3'), 200)
  const none = await tc.post('/v1/resource-definitions/rb2/snapshot-rollback/half')
  t.equal(none.status, 409)
  t.match(none.text, /no resources to roll back/)
})

t.test('delete: at once where the satellite is away, two-phase where it is connected', async (t) => {
  await rd('del', [65536])
  await place('del', ['n1', 'n2', 'n4'])
  await must(tc.post(snaps('del'), { name: 'd1' }))
  await must(tc.post(snaps('del'), { name: 'd2' }))

  const gone = await tc.del(`${snaps('del')}/d1`)
  t.equal(gone.status, 200)
  t.equal(gone.retCodes[0], MASK.SUCCESS | 2n | OP.DEL | OBJ.SNAPSHOT, 'DELETED | DEL | SNAPSHOT')
  t.match(gone.body[0].message, /Snapshot 'd1' of resource 'del' deleted\./)
  t.equal((await tc.get(`${snaps('del')}/d1`)).status, 404)

  online('n2')
  t.teardown(() => offline('n2'))
  const part = await tc.del(`${snaps('del')}/d2?nodes=n1,n2&nodes=n3`)
  t.equal(part.status, 200)
  t.match(part.body[0].message, /deleted on node\(s\) 'n1'\. .* marked for deletion on node\(s\) 'n2'/)
  t.equal(part.retCodes[1], rc(MASK.WARN | 3000n | OP.DEL | OBJ.SNAPSHOT), 'WARN_NOT_FOUND for n3')
  let d2 = (await tc.get(`${snaps('del')}/d2`)).body
  t.same(d2.nodes, ['n2', 'n4'])
  t.same(d2.snapshots[0].flags, ['DELETE'])
  t.same(d2.flags, [], 'n4 keeps its copy: the definition stays')

  t.same((await tc.del(`${snaps('del')}/d2?nodes=n3`)).retCodes, [rc(MASK.WARN | 3000n | OP.DEL | OBJ.SNAPSHOT)], 'nothing on the named nodes: only the warning')
  const rest = await tc.del(`${snaps('del')}/d2`)
  t.match(rest.body[0].message, /marked for deletion; it is removed once the satellites of 'n2' confirm/)
  d2 = (await tc.get(`${snaps('del')}/d2`)).body
  t.same(d2.nodes, ['n2'])
  t.same(d2.flags, ['DELETE'], 'no snapshot stays: the definition is marked too')
  t.equal(code((await tc.post('/v1/resource-definitions/del/snapshot-restore-resource/d2', { to_resource: 'plain' })).retCodes[0]!), 998n, 'a deleting snapshot cannot be restored')

  const missing = await tc.del(`${snaps('del')}/nosuch`)
  t.equal(missing.status, 200)
  t.same(missing.retCodes, [rc(MASK.WARN | 3000n | OP.DEL | OBJ.SNAPSHOT)], 'LINSTOR: a warning, not an error')
  t.equal((await tc.del(`${snaps('nosuch')}/d2`)).status, 404)
  t.equal((await tc.del(`${snaps('del')}/d2?nodes=bad/name`)).status, 400)

  offline('n2')
  t.equal((await tc.del(`${snaps('del')}/d2`)).status, 200, 'repeated once the satellite is away')
  t.equal((await tc.get(`${snaps('del')}/d2`)).status, 404, 'gone with its last snapshot')
})

t.test('deletion rules around snapshots', async (t) => {
  const rdDel = await tc.del('/v1/resource-definitions/r2')
  t.equal(rdDel.status, 409, 'a resource definition with snapshots stays')
  t.equal(code(rdDel.retCodes[0]!), 514n)
  const nodeDel = await tc.del('/v1/nodes/n2')
  t.equal(nodeDel.status, 409, 'a node with snapshots stays')
  t.equal(code(nodeDel.retCodes[0]!), 997n)
  const poolDel = await tc.del('/v1/nodes/n1/storage-pools/thin')
  t.equal(poolDel.status, 409, 'a pool holding snapshots stays')

  const restoring = await tc.del(`${snaps('r1')}/s1`)
  t.equal(restoring.status, 409, 'a snapshot that restored resources still clone from stays')
  t.equal(code(restoring.retCodes[0]!), 997n)
  t.match(restoring.text, /'r1copy' on 'n1'/)
})

t.test('everything survives a restart', async (t) => {
  const before = await state()
  await tc.restart()
  t.equal(await state(), before)
  const s1 = tc.ctrl.core.model.getSnapshotDfn('r1', 's1')!
  t.equal(s1.sequenceNumber, 1)
  t.same(s1.snapshots.map((s) => [s.nodeName, s.layerStack, s.drbdNodeId, s.volumes.map((v) => v.storPoolName)]), [
    ['n1', ['DRBD', 'STORAGE'], 0, ['thin', 'thin']],
    ['n2', ['DRBD', 'STORAGE'], 1, ['thin', 'thin']],
  ])
  t.equal((await tc.get('/v1/resource-definitions/rb/resources/n1')).body.props.RollbackTarget, 'new')
  t.equal((await tc.post(snaps('r1'), { name: 'S1' })).status, 409, 'names stay taken')
})
