import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import {
  ApiCallError, BlockyardClient, ConnectionError, controllerUrl, controllerUrls, parseReplyJson, UnexpectedReplyError,
} from '../../../src/client/index.js'
import { startTestController } from '../../helpers/controller.js'

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** A server answering every request with `handler`'s status, content type and body. */
async function fakeServer(handler: (path: string) => { status: number; body: string; type?: string } | null): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const a = handler(req.url ?? '')
    if (a === null) return // never answer
    res.writeHead(a.status, { 'Content-Type': a.type ?? 'application/json' })
    res.end(a.body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

t.test('controller addresses as LINSTOR takes them', async (t) => {
  t.equal(controllerUrl('127.0.0.1'), 'http://127.0.0.1:3370')
  t.equal(controllerUrl('ctrl.example:4000'), 'http://ctrl.example:4000')
  t.equal(controllerUrl('linstor://ctrl'), 'http://ctrl:3370')
  t.equal(controllerUrl('linstor+ssl://ctrl'), 'https://ctrl:3371')
  t.equal(controllerUrl('https://ctrl:443/'), 'https://ctrl:443')
  t.equal(controllerUrl('http://ctrl'), 'http://ctrl:3370')
  t.equal(controllerUrl('[::1]:3370'), 'http://[::1]:3370')
  t.equal(controllerUrl('[fd00::1]'), 'http://[fd00::1]:3370')
  t.equal(controllerUrl('fd00::1'), 'http://[fd00::1]:3370')
  t.same(controllerUrls('a:1, b:2'), ['http://a:1', 'http://b:2'])
  t.same(controllerUrls(['a', 'b:5']), ['http://a:3370', 'http://b:5'])
  t.same(controllerUrls(undefined), ['http://127.0.0.1:3370'])
  t.throws(() => controllerUrl(''), RangeError)
  t.throws(() => controllerUrl('ftp://x'), /unknown scheme 'ftp'/)
  t.throws(() => controllerUrl('x:0'), /port 0 is not 1–65535/)
  t.throws(() => controllerUrl('x:70000'), RangeError)
  t.throws(() => controllerUrl('a b'), /is not HOST, HOST:PORT or a URL/)
  t.throws(() => controllerUrls(' , '), /no controller address/)
})

t.test('replies keep every ret_code exact', async (t) => {
  const v = parseReplyJson('[{"ret_code":-4611686018427387604,"message":"x \\"ret_code\\":1","obj_refs":{"ret_code":"7"}},{"ret_code" : 20709377}]') as { ret_code: bigint; message: string; obj_refs?: Record<string, string> }[]
  t.equal(v[0]!.ret_code, -4611686018427387604n)
  t.equal(v[0]!.message, 'x "ret_code":1')
  t.same(v[0]!.obj_refs, { ret_code: '7' })
  t.equal(v[1]!.ret_code, 20709377n)
})

t.test('every route against a controller', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const c = new BlockyardClient({ controllers: tc.url })
  t.equal(c.url, tc.url)

  const v = await c.controllerVersion()
  t.equal(v.rest_api_version, '1.28.0')
  t.equal((await c.controllerModifyProperties({ override_props: { 'Aux/site': 'a' } }))[0]!.ret_code, 34603011n)
  t.same(await c.controllerProperties(), { 'Aux/site': 'a' })
  await c.controllerDeleteProperty('Aux/site')
  t.same(await c.controllerProperties(), {})

  // Nodes, with exact success and warning codes.
  const made = await c.nodeCreate({ name: 'alpha', type: 'Satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: 3366, satellite_encryption_type: 'PLAIN', is_active: true }] })
  t.equal(made[0]!.ret_code, 20709377n)
  t.equal(made[1]!.ret_code, -9223372036834065430n, 'the not-connected warning, exact')
  await c.nodeCreate({ name: 'beta', type: 'Satellite', net_interfaces: [{ name: 'default', address: '127.0.0.2' }] })
  t.same((await c.nodeList()).map((n) => n.name), ['alpha', 'beta'])
  t.same((await c.nodeList({ nodes: ['beta'] })).map((n) => n.name), ['beta'])
  await c.nodeModify('alpha', { override_props: { 'Aux/rack': 'r1' } })
  t.same((await c.nodeList({ props: ['Aux/rack=r1'] })).map((n) => n.name), ['alpha'])
  t.equal((await c.nodeGet('alpha')).props?.['Aux/rack'], 'r1')
  await c.netInterfaceCreate('alpha', { name: 'data', address: '127.1.0.1' })
  await c.netInterfaceModify('alpha', 'data', { address: '127.1.0.9' })
  t.same((await c.netInterfaceList('alpha')).map((n) => [n.name, n.address]), [['default', '127.0.0.1'], ['data', '127.1.0.9']])
  await c.netInterfaceDelete('alpha', 'data')
  t.equal((await c.netInterfaceList('alpha')).length, 1)

  // Storage pool definitions and pools.
  await c.storagePoolDefinitionCreate({ storage_pool_name: 'spare' })
  await c.storagePoolDefinitionModify('spare', { override_props: { 'Aux/x': 'y' } })
  t.ok((await c.storagePoolDefinitionList({ storagePools: ['spare'] }))[0]!.props?.['Aux/x'] === 'y')
  await c.storagePoolDefinitionDelete('spare')
  for (const n of ['alpha', 'beta']) {
    await c.storagePoolCreate(n, { storage_pool_name: 'pool1', provider_kind: 'LVM_THIN', props: { 'StorDriver/StorPoolName': 'vg0/thin' } })
  }
  await c.storagePoolModify('alpha', 'pool1', { override_props: { 'Aux/a': 'b' } })
  t.same((await c.storagePoolView({ storagePools: ['pool1'] })).map((p) => p.node_name), ['alpha', 'beta'])
  t.same((await c.storagePoolList('beta')).map((p) => p.storage_pool_name).sort(), ['DfltDisklessStorPool', 'pool1'])

  // Resource groups, volume groups, spawn.
  await c.resourceGroupCreate({ name: 'web', select_filter: { place_count: 2, storage_pool_list: ['pool1'] } })
  await c.resourceGroupModify('web', { description: 'front' })
  t.equal((await c.resourceGroupGet('web')).description, 'front')
  t.same((await c.resourceGroupList({ resourceGroups: ['web'] })).map((g) => g.name), ['web'])
  await c.volumeGroupCreate('web', {})
  await c.volumeGroupModify('web', 0, { override_props: { 'Aux/v': '1' } })
  t.same((await c.volumeGroupList('web')).map((g) => g.volume_number), [0])
  const spawned = await c.resourceGroupSpawn('web', { resource_definition_name: 'site1', volume_sizes: [65536] })
  t.ok(spawned.some((r) => r.message.includes("Resource 'site1' on node 'alpha' created")))

  // Resource definitions, volume definitions, resources.
  await c.resourceDefinitionCreate({ resource_definition: { name: 'r1' } })
  await c.resourceDefinitionModify('r1', { override_props: { 'Aux/z': '1' } })
  t.equal((await c.resourceDefinitionGet('r1')).props?.['Aux/z'], '1')
  await c.volumeDefinitionCreate('r1', { volume_definition: { size_kib: 65536 } })
  await c.volumeDefinitionModify('r1', 0, { size_kib: 131072 })
  t.equal((await c.volumeDefinitionList('r1'))[0]!.size_kib, 131072)
  t.same((await c.resourceDefinitionList({ resourceDefinitions: ['r1'], withVolumeDefinitions: true }))[0]!.volume_definitions!.map((d) => d.size_kib), [131072])
  await c.resourceCreate('r1', [{ resource: { node_name: 'alpha', props: { StorPoolName: 'pool1' } } }])
  await c.resourceAutoPlace('r1', { select_filter: { place_count: 2 } })
  t.same((await c.resourceList('r1')).map((r) => r.node_name), ['alpha', 'beta'])
  t.same((await c.resourceView({ resources: ['r1'], nodes: ['beta'] })).map((r) => r.node_name), ['beta'])
  await c.resourceModify('r1', 'beta', { override_props: { 'Aux/q': '1' } })
  t.equal((await c.volumeList('r1', 'alpha'))[0]!.storage_pool_name, 'pool1')

  // Snapshots (they stay incomplete without satellites: restore and rollback are refused as LINSTOR does).
  await c.snapshotCreate('r1', { name: 's1' })
  await c.snapshotModify('r1', 's1', { override_props: { 'Aux/s': '1' } })
  t.same((await c.snapshotList('r1')).map((s) => s.name), ['s1'])
  t.same((await c.snapshotView({ resources: ['r1'] })).map((s) => s.nodes), [['alpha', 'beta']])
  await c.resourceDefinitionCreate({ resource_definition: { name: 'r1copy' } })
  await c.snapshotRestoreVolumeDefinitions('r1', 's1', 'r1copy')
  t.same((await c.volumeDefinitionList('r1copy')).map((d) => d.size_kib), [131072])
  await t.rejects(c.snapshotRestore('r1', 's1', { to_resource: 'r1copy' }), ApiCallError)
  await t.rejects(c.snapshotRollback('r1', 's1'), ApiCallError)
  await c.snapshotDelete('r1', 's1', { nodes: ['beta'] })
  await c.snapshotDelete('r1', 's1')

  // Key-value store.
  await c.keyValueStoreModify('kv1', { override_props: { a: 'b' } })
  t.same(await c.keyValueStoreList(), [{ name: 'kv1', props: { a: 'b' } }])
  t.same(await c.keyValueStoreGet('kv1'), { name: 'kv1', props: { a: 'b' } })
  await c.keyValueStoreDelete('kv1')
  await t.rejects(c.keyValueStoreGet('kv1'), ApiCallError)

  // Deletes.
  await c.resourceDelete('r1', 'beta', { keepTiebreaker: true })
  await c.resourceDelete('r1', 'alpha')
  await c.volumeDefinitionDelete('r1', 0)
  await c.resourceDefinitionDelete('r1')
  await c.resourceDefinitionDelete('r1copy')
  await c.resourceDefinitionDelete('site1')
  await c.volumeGroupDelete('web', 0)
  await c.resourceGroupDelete('web')
  await c.storagePoolDelete('alpha', 'pool1')
  await c.nodeDelete('alpha')
  await c.nodeLost('beta')
  t.same(await c.nodeList(), [])
})

t.test('a refusal is an ApiCallError with the whole reply, exact', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const c = new BlockyardClient({ controllers: tc.url })
  const e = await c.nodeDelete('gamma').then(() => null, (x: unknown) => x)
  t.ok(e instanceof ApiCallError)
  const err = e as ApiCallError
  t.equal(err.status, 404)
  t.equal(err.call, 'DELETE /v1/nodes/gamma')
  t.equal(err.message, "Node 'gamma' not found.")
  t.equal(err.replies.length, 1)
  t.equal(err.errors[0]!.ret_code, -4611686018373123796n)
  t.match(err.errors[0]!.correction, /node list/)
  const bad = await c.resourceDefinitionCreate({ resource_definition: { name: '../x' } }).then(() => null, (x: unknown) => x) as ApiCallError
  t.equal(bad.status, 400)
  t.equal(bad.errors[0]!.ret_code, -4611686018406940470n)
  await t.rejects(c.nodeGet('gamma'), { name: 'ApiCallError', status: 404 })
})

t.test('no controller: a ConnectionError naming the address', async (t) => {
  const port = await closedPort()
  const c = new BlockyardClient({ controllers: `127.0.0.1:${port}` })
  const e = await c.nodeList().then(() => null, (x: unknown) => x) as ConnectionError
  t.ok(e instanceof ConnectionError)
  t.equal(e.address, `http://127.0.0.1:${port}`)
  t.equal(e.timedOut, false)
  t.match(e.message, `Unable to connect to http://127.0.0.1:${port}: `)
  t.match(e.reason, /ECONNREFUSED/)
})

t.test('several controllers: the first that answers is used from then on', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const port = await closedPort()
  const c = new BlockyardClient({ controllers: `127.0.0.1:${port},${tc.url}` })
  t.equal(c.url, `http://127.0.0.1:${port}`)
  await c.nodeList()
  t.equal(c.url, tc.url)
  const none = new BlockyardClient({ controllers: [`127.0.0.1:${port}`, `127.0.0.1:${port}`] })
  await t.rejects(none.nodeList(), { name: 'ConnectionError', tried: [`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`] })
})

t.test('a controller that does not answer in time', async (t) => {
  const { url, server } = await fakeServer(() => null)
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const c = new BlockyardClient({ controllers: url, timeoutMs: 200 })
  await t.rejects(c.nodeList(), { name: 'ConnectionError', timedOut: true, reason: 'no reply within 0.2 s' })
})

t.test('replies that are not LINSTOR JSON', async (t) => {
  const { url, server } = await fakeServer((p) => {
    if (p === '/v1/nodes') return { status: 502, body: '<html>bad gateway</html>', type: 'text/html' }
    if (p === '/v1/nodes/x') return { status: 404, body: '{"error":"no"}' }
    if (p === '/v1/resource-groups') return { status: 200, body: '' }
    return { status: 200, body: '{"not":"a list"}' }
  })
  t.teardown(() => server.close())
  const c = new BlockyardClient({ controllers: url })
  await t.rejects(c.nodeList(), { name: 'UnexpectedReplyError', status: 502, message: /the reply is not JSON/, body: '<html>bad gateway</html>' })
  await t.rejects(c.nodeGet('x'), { name: 'UnexpectedReplyError', status: 404, message: /not a list of ApiCallRc/ })
  await t.rejects(c.resourceGroupList(), { name: 'UnexpectedReplyError', message: /empty reply/ })
  const e = await c.nodeDelete('y').then(() => null, (x: unknown) => x)
  t.ok(e instanceof UnexpectedReplyError)
  t.match((e as Error).message, 'DELETE /v1/nodes/y returned status 200: the reply is not a list of ApiCallRc')
})
