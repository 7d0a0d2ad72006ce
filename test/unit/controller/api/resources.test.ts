import t from 'tap'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'

const tc = await startTestController()
t.teardown(tc.stop)

const code = (rc: bigint): bigint => rc & MASK.BITS_CODE
const online = (node: string, layers: string[] | null = null): void => {
  tc.ctrl.core.model.setRuntimeNode(node, { connectionStatus: 'ONLINE', supportedLayers: layers as never, supportedProviders: null })
}
const offline = (node: string): void => {
  tc.ctrl.core.model.deleteRuntimeNode(node)
}

/** Setup calls must succeed; a failure throws (and fails the test that made it) with the reply. */
async function must(p: Promise<{ status: number; text: string }>, status = 201): Promise<void> {
  const r = await p
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`)
}
async function node(name: string, i: number, props: Record<string, string> = {}): Promise<void> {
  await must(tc.post('/v1/nodes', { name, type: 'satellite', props, net_interfaces: [{ name: 'default', address: `127.0.0.${i}` }] }))
  await must(tc.post(`/v1/nodes/${name}/storage-pools`, { storage_pool_name: 'pool1', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': `/srv/${name}` } }))
}
async function rd(name: string, sizes: number[] = [65536], extra: object = {}): Promise<void> {
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name, ...extra } }))
  for (const s of sizes) await must(tc.post(`/v1/resource-definitions/${name}/volume-definitions`, { volume_definition: { size_kib: s } }))
}

t.before(async () => {
  for (const [i, n] of ['n1', 'n2', 'n3', 'n4'].entries()) await node(n, i + 1, { 'Aux/rack': i < 2 ? 'a' : 'b' })
})

t.test('create on named nodes: pools, layers, DRBD numbers', async (t) => {
  await rd('r1', [65536, 131072])
  const r = await tc.post('/v1/resource-definitions/r1/resources', [
    { resource: { node_name: 'n1', props: { StorPoolName: 'pool1' } } },
    { resource: { node_name: 'n2', props: { StorPoolName: 'pool1' } } },
    { resource: { node_name: 'n3', flags: ['DRBD_DISKLESS'] } },
  ])
  t.equal(r.status, 201)
  t.equal(r.retCodes[0], MASK.SUCCESS | 1n | OP.CRT | OBJ.RSC)
  t.equal(r.retCodes.filter((c) => (c & MASK.BITS_CODE) === 1002n).length, 3, 'a not-connected warning per node')
  const list = (await tc.get('/v1/resource-definitions/r1/resources')).body
  t.same(list.map((x: { node_name: string }) => x.node_name), ['n1', 'n2', 'n3'])
  const n1 = list[0]
  t.equal(n1.layer_object.type, 'DRBD', 'nodes that have not reported layers get DRBD,STORAGE')
  t.equal(n1.layer_object.children[0].type, 'STORAGE')
  t.same(n1.volumes.map((v: { volume_number: number; storage_pool_name: string }) => [v.volume_number, v.storage_pool_name]), [[0, 'pool1'], [1, 'pool1']])
  t.same(list[2].flags, ['DRBD_DISKLESS'])
  t.equal(list[2].volumes[0].storage_pool_name, 'DfltDisklessStorPool')
  const ids = list.map((x: { layer_object: { drbd: { node_id: number } } }) => x.layer_object.drbd.node_id)
  t.same(ids, [0, 1, 2], 'node ids 0..2')
  const ports = list.map((x: { layer_object: { drbd: { tcp_ports: number[] } } }) => x.layer_object.drbd.tcp_ports[0])
  t.same(ports, [7000, 7000, 7000], 'lowest free port per node')
  const minors = n1.layer_object.drbd.drbd_volumes.map((v: { drbd_volume_definition: { minor_number: number } }) => v.drbd_volume_definition.minor_number)
  t.equal(new Set(minors).size, 2, 'one minor per volume definition')
  t.same((await tc.get('/v1/resource-definitions/r1')).body.layer_data.map((l: { type: string }) => l.type), ['DRBD', 'STORAGE'], 'the first placement fixes the stack')

  const single = await tc.post('/v1/resource-definitions/r1/resources/n4', { resource: { props: { StorPoolName: 'pool1' } } })
  t.equal(single.status, 201)
  t.equal((await tc.get('/v1/resource-definitions/r1/resources/N4')).body.node_name, 'n4', 'single GET, case-insensitive')
})

t.test('a node that reports no DRBD gets a STORAGE-only stack', async (t) => {
  online('n1', ['STORAGE'])
  online('n2', ['STORAGE'])
  t.teardown(() => {
    offline('n1')
    offline('n2')
  })
  await rd('plain', [65536], { props: { StorPoolName: 'pool1' } })
  const r = await tc.post('/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'n1' } }, { resource: { node_name: 'n2' } }])
  t.equal(r.status, 201)
  const x = (await tc.get('/v1/resource-definitions/plain/resources/n1')).body
  t.equal(x.layer_object.type, 'STORAGE')
  t.same(x.layer_object.children, [])
  t.notOk('drbd' in x.layer_object)
  t.same(x.volumes[0].layer_data_list.map((l: { type: string }) => l.type), ['STORAGE'])
  const drbd = await tc.post('/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'n3' }, layer_list: ['drbd', 'storage'] }])
  t.equal(drbd.status, 201, 'an explicit stack is honoured on a node that has not reported')
  // A node that reported its layers refuses a layer it lacks.
  await rd('needsdrbd', [65536], { layer_data: [{ type: 'DRBD' }, { type: 'STORAGE' }], props: { StorPoolName: 'pool1' } })
  const refused = await tc.post('/v1/resource-definitions/needsdrbd/resources', [{ resource: { node_name: 'n1' } }])
  t.equal(refused.status, 409)
  t.equal(code(refused.retCodes[0]!), 988n, 'FAIL_STLT_DOES_NOT_SUPPORT_LAYER')
})

t.test('bad input gets a 4xx and changes nothing', async (t) => {
  await rd('nodefault')
  const before = (await tc.get('/v1/view/resources')).text
  const cases: [string, string, unknown, number, bigint][] = [
    ['missing definition', '/v1/resource-definitions/nosuch/resources', [{ resource: { node_name: 'n1' } }], 404, 301n],
    ['missing node', '/v1/resource-definitions/r1/resources', [{ resource: { node_name: 'n9' } }], 404, 300n],
    ['duplicate', '/v1/resource-definitions/r1/resources', [{ resource: { node_name: 'N1' } }], 409, 502n],
    ['node twice', '/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'n4' } }, { resource: { node_name: 'n4' } }], 400, 234n],
    ['not an array', '/v1/resource-definitions/plain/resources', { resource: { node_name: 'n4' } }, 400, 234n],
    ['empty array', '/v1/resource-definitions/plain/resources', [], 400, 234n],
    ['no node', '/v1/resource-definitions/plain/resources', [{ resource: {} }], 400, 234n],
    ['missing pool', '/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'n4', props: { StorPoolName: 'nope' } } }], 404, 310n],
    ['default pool missing', '/v1/resource-definitions/nodefault/resources', [{ resource: { node_name: 'n4' } }], 404, 310n],
    ['diskful on a diskless pool', '/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'n4', props: { StorPoolName: 'DfltDisklessStorPool' } } }], 409, 243n],
    ['bad layer list', '/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'n4' }, layer_list: ['storage', 'drbd'] }], 400, 225n],
    ['unknown flag', '/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'n4', flags: ['TOASTER'] } }], 400, 234n],
    ['bad node id', '/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'n4' }, drbd_node_id: 99 }], 400, 234n],
    ['bad prop', '/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'n4', props: { 'a b': 'c' } } }], 400, 213n],
    ['path in node name', '/v1/resource-definitions/plain/resources/..%2Fx', {}, 404, 300n],
  ]
  for (const [what, path, body, status, c] of cases) {
    const r = await tc.post(path, body)
    t.equal(r.status, status, `${what}: status`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
    t.equal(r.retCodes[0]! & MASK.BITS_OP, OP.CRT, `${what}: create operation`)
  }
  const partial = await tc.post('/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'n4' } }, { resource: { node_name: 'n9' } }])
  t.equal(partial.status, 404, 'one bad item refuses the whole request')
  t.equal((await tc.get('/v1/view/resources')).text, before, 'nothing changed')
})

t.test('auto-place', async (t) => {
  await rd('auto')
  const r = await tc.post('/v1/resource-definitions/auto/autoplace', { diskless_on_remaining: null, select_filter: { place_count: 2, replicas_on_different: ['Aux/rack'] } })
  t.equal(r.status, 201)
  const placed = (await tc.get('/v1/view/resources?resources=auto')).body
  t.equal(placed.length, 2)
  const racks = placed.map((x: { node_name: string }) => (['n1', 'n2'].includes(x.node_name) ? 'a' : 'b'))
  t.same(racks.sort(), ['a', 'b'], 'replicas on different racks')
  t.ok(r.retCodes.some((c) => code(c) === 1002n), 'warns that capacity is unknown / satellites away')

  const more = await tc.post('/v1/resource-definitions/auto/autoplace', { select_filter: { additional_place_count: 1 } })
  t.equal(more.status, 201)
  t.equal((await tc.get('/v1/view/resources?resources=auto')).body.length, 3)
  const enough = await tc.post('/v1/resource-definitions/auto/autoplace', { select_filter: { place_count: 2 } })
  t.equal(enough.status, 200, 'already placed: nothing to do')
  t.equal(code(enough.retCodes[0]!), 3001n, 'WARN_NO_EFFECT')

  await rd('toomany')
  const before = (await tc.get('/v1/view/resources')).text
  const fail = await tc.post('/v1/resource-definitions/toomany/autoplace', { select_filter: { place_count: 5 } })
  t.equal(fail.status, 409)
  t.equal(fail.retCodes[0], BigInt.asIntN(64, MASK.ERROR | 996n | OP.CRT | OBJ.RSC), 'FAIL_NOT_ENOUGH_NODES, exact')
  t.match(fail.body[0].message, /5|nodes/)
  t.ok(fail.body[0].correction.length > 0)
  const pools = await tc.post('/v1/resource-definitions/toomany/autoplace', { select_filter: { place_count: 1, storage_pool_list: ['nosuchpool'] } })
  t.equal(pools.status, 409)
  t.match(pools.body[0].correction, /storage-pool/)
  t.equal((await tc.get('/v1/view/resources')).text, before, 'failed placements change nothing')

  await rd('clients')
  const dl = await tc.post('/v1/resource-definitions/clients/autoplace', { diskless_on_remaining: true, select_filter: { place_count: 2 } })
  t.equal(dl.status, 201)
  const all = (await tc.get('/v1/view/resources?resources=clients')).body
  t.equal(all.length, 4, 'two diskful, two diskless')
  t.equal(all.filter((x: { flags: string[] }) => x.flags.includes('DRBD_DISKLESS')).length, 2)

  await tc.post('/v1/resource-definitions', { resource_definition: { name: 'novol' } })
  t.equal((await tc.post('/v1/resource-definitions/novol/autoplace', { select_filter: { place_count: 1 } })).status, 409, 'no volume definitions')
  t.equal((await tc.post('/v1/resource-definitions/auto/autoplace', { select_filter: { place_count: 'x' } })).status, 400)
  t.equal((await tc.post('/v1/resource-definitions/nosuch/autoplace', { select_filter: { place_count: 1 } })).status, 404)
})

t.test('views, filters and volumes', async (t) => {
  const all = (await tc.get('/v1/view/resources')).body
  t.ok(all.length >= 10)
  const n2 = (await tc.get('/v1/view/resources?nodes=n2')).body
  t.ok(n2.length > 0 && n2.every((x: { node_name: string }) => x.node_name === 'n2'))
  const paged = (await tc.get('/v1/view/resources?limit=2&offset=1')).body
  t.same(paged, all.slice(1, 3))
  for (const x of all) {
    t.type(x.layer_object.type, 'string', 'every resource has a layer type (LINSTOR client needs it)')
    t.notOk(JSON.stringify(x).includes('null'), 'no nulls: LINSTOR\'s client crashes on them')
  }
  const vols = (await tc.get('/v1/resource-definitions/r1/resources/n1/volumes')).body
  t.same(vols.map((v: { volume_number: number }) => v.volume_number), [0, 1])
  t.equal((await tc.get('/v1/resource-definitions/r1/resources/n1/volumes/1')).body.volume_number, 1)
  t.equal((await tc.get('/v1/resource-definitions/r1/resources/n1/volumes/7')).status, 404)
  t.equal((await tc.put('/v1/resource-definitions/r1/resources/n1/volumes/1', { override_props: { 'Aux/x': 'y' } })).status, 200)
  t.equal((await tc.get('/v1/resource-definitions/r1/resources/n1/volumes/1')).body.props['Aux/x'], 'y')
  t.equal((await tc.put('/v1/resource-definitions/r1/resources/n1', { override_props: { 'Aux/owner': 'me' } })).status, 200)
  t.equal((await tc.get('/v1/view/resources?props=Aux/owner=me')).body.length, 1)
})

t.test('delete: at once where the satellite is away, two-phase where it is connected', async (t) => {
  const away = await tc.del('/v1/resource-definitions/r1/resources/n4')
  t.equal(away.status, 200)
  t.equal(away.retCodes[0], MASK.SUCCESS | 2n | OP.DEL | OBJ.RSC)
  t.equal((await tc.get('/v1/resource-definitions/r1/resources/n4')).status, 404)
  online('n1')
  const waiting = await tc.del('/v1/resource-definitions/r1/resources/n1')
  t.equal(waiting.status, 200)
  t.match(waiting.body[0].message, /marked for deletion/)
  t.same((await tc.get('/v1/resource-definitions/r1/resources/n1')).body.flags, ['DELETE'])
  offline('n1')
  t.equal((await tc.del('/v1/resource-definitions/r1/resources/n1')).status, 200, 'a node that went away cannot block the delete')
  t.equal((await tc.get('/v1/resource-definitions/r1/resources/n1')).status, 404)
  t.equal((await tc.del('/v1/resource-definitions/r1/resources/n1')).status, 404)
})

t.test('numbers are reused after delete and never handed out twice, across a restart', async (t) => {
  for (let round = 0; round < 40; round++) {
    const name = `churn${round % 7}`
    if (round >= 7) t.equal((await tc.del(`/v1/resource-definitions/${name}`)).status, 200)
    await rd(name)
    t.equal((await tc.post(`/v1/resource-definitions/${name}/autoplace`, { select_filter: { place_count: 2 } })).status, 201)
    if (round === 20) await tc.restart()
  }
  await tc.restart()
  const m = tc.ctrl.core.model
  const minors = [...m.rscDfns.values()].flatMap((x) => x.vlmDfns.map((v) => v.minor)).filter((x) => x !== null)
  t.equal(new Set(minors).size, minors.length, 'minors unique cluster-wide')
  const ports = [...m.allResources()].filter((x) => x.drbdTcpPort !== null).map((x) => `${x.nodeName}:${x.drbdTcpPort}`)
  t.equal(new Set(ports).size, ports.length, 'ports unique per node')
  const ids = [...m.allResources()].filter((x) => x.drbdNodeId !== null).map((x) => `${x.rscName}:${x.drbdNodeId}`)
  t.equal(new Set(ids).size, ids.length, 'node ids unique per resource')
  t.ok(Math.max(...minors as number[]) < 1000 + minors.length + 20, 'freed minors are reused')
})

t.test('node delete takes its resources with it', async (t) => {
  await tc.post('/v1/nodes', { name: 'n5', type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.5' }] })
  await tc.post('/v1/nodes/n5/storage-pools', { storage_pool_name: 'pool1', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': '/srv/n5' } })
  await rd('onn5')
  await must(tc.post('/v1/resource-definitions/onn5/resources', [{ resource: { node_name: 'n5', props: { StorPoolName: 'pool1' } } }]))
  const r = await tc.del('/v1/nodes/n5')
  t.equal(r.status, 200)
  t.match(r.body[0].message, /onn5/)
  t.equal((await tc.get('/v1/nodes/n5')).status, 404)
  t.equal((await tc.get('/v1/view/resources?nodes=n5')).body.length, 0)
  t.equal((await tc.get('/v1/resource-definitions/onn5')).status, 200, 'the definition stays')
})
