import t from 'tap'
import { SatellitePeer, silent } from '../../../helpers/satellite-peer.js'
import { controller, must, peerNode, rscDfn, secretOf, until, waitStatus } from '../../../helpers/satellite-setup.js'

const tc = await controller()
t.teardown(tc.stop)

const tombstones = (): { node: string; rsc: string; generation: number }[] =>
  tc.ctrl.core.store.db.prepare('SELECT node, rsc, generation FROM satellite_tombstones ORDER BY node, rsc').all() as never

t.test('full sync: the node, its pools, its resources with their volumes and generation', async (t) => {
  await must(tc.post('/v1/controller/properties', { override_props: { 'Aux/site': 'x' } }))
  // Created while no satellite runs: the node learns it all from its first full sync.
  await must(tc.post('/v1/nodes', { name: 'fs1', type: 'satellite', props: { 'Aux/rack': '7' }, net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: 1 }] }))
  await must(tc.post('/v1/nodes/fs1/storage-pools', { storage_pool_name: 'pool1', provider_kind: 'FILE', props: { 'StorDriver/StorPoolName': '/srv/fs1' } }))
  await rscDfn(tc, 'fsr', [65536, 1024])
  await must(tc.put('/v1/resource-definitions/fsr', { override_props: { 'Aux/owner': 'me' } }))
  await must(tc.post('/v1/resource-definitions/fsr/resources/fs1', { resource: { props: { StorPoolName: 'pool1' } } }))
  await rscDfn(tc, 'fsd')
  await must(tc.post('/v1/resource-definitions/fsd/resources/fs1', { resource: { flags: ['DISKLESS'] } }))
  const revision = tc.ctrl.core.store.revision

  const peer = await SatellitePeer.start({ nodeName: 'fs1', secret: secretOf(tc) })
  t.teardown(() => peer.stop())
  await must(tc.put('/v1/nodes/fs1/net-interfaces/default', { satellite_port: peer.port }))
  await waitStatus(tc, 'fs1', 'ONLINE')
  const sync = peer.fullSyncs[0]!
  t.equal(sync.nodeName, 'fs1')
  t.equal(sync.nodeProps['Aux/rack'], '7')
  const pools = Object.fromEntries(sync.storPools.map((p) => [p.name, p]))
  t.same(pools['pool1'], { name: 'pool1', providerKind: 'FILE', props: { 'StorDriver/StorPoolName': '/srv/fs1' }, deleted: false })
  t.equal(pools['DfltDisklessStorPool']!.providerKind, 'DISKLESS')
  const byName = Object.fromEntries(sync.resources.map((r) => [r.name, r]))
  const r = byName['fsr']!
  t.equal(r.deleted, false)
  t.same(r.layers, ['STORAGE'])
  t.ok(r.generation >= BigInt(revision) - 3n && r.generation <= BigInt(tc.ctrl.core.store.revision), 'generation: a cluster revision')
  t.equal(r.props['Aux/owner'], 'me', 'definition props merged')
  t.equal(r.props['Aux/site'], 'x', 'controller props merged')
  t.same(r.volumes.map((v) => [v.number, v.netSizeKib, v.grossSizeKib, v.storPoolName, v.providerKind, v.storPoolProps['StorDriver/StorPoolName']]), [
    [0, 65536, 65536, 'pool1', 'FILE', '/srv/fs1'],
    [1, 1024, 1024, 'pool1', 'FILE', '/srv/fs1'],
  ], 'STORAGE only: gross = net')
  t.notOk('drbd' in r)
  t.same(byName['fsd']!.flags, ['DISKLESS'])
  t.equal(byName['fsd']!.volumes[0]!.providerKind, 'DISKLESS')
  // The satellite reported READY: the view shows its devices.
  const view = await until('devices', async () => {
    const v = (await tc.get('/v1/view/resources?resources=fsr')).body[0]
    return v.volumes[0].device_path !== undefined && v
  })
  t.same(view.volumes.map((v: { device_path: string; usable_size_kib: number }) => [v.device_path, v.usable_size_kib]), [['/dev/loop10', 65536], ['/dev/loop11', 1024]])
})

t.test('pushes after REST changes, with increasing generations; nothing for what does not concern the node', async (t) => {
  const peer = await peerNode(tc, 'push1')
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'push1', 'ONLINE')
  await rscDfn(tc, 'pr')
  // The commit's revision, from the events stream: satellite reports take revisions of their own too.
  let created = -1
  const stop = tc.ctrl.events.onEvents((batch) => {
    for (const e of batch) if (e.kind === 'resource' && e.action === 'create' && e.nameKey === 'PR') created = e.revision
  })
  await must(tc.post('/v1/resource-definitions/pr/resources/push1', { resource: { props: { StorPoolName: 'pool1' } } }))
  stop()
  const g1 = (await peer.next('ResourceDesired', (d) => d.name === 'pr')).generation
  t.equal(g1, BigInt(created), 'the generation is the revision of the commit')

  await must(tc.put('/v1/resource-definitions/pr/resources/push1', { override_props: { 'Aux/x': '1' } }))
  const d2 = await peer.next('ResourceDesired', (d) => d.name === 'pr')
  t.ok(d2.generation > g1, 'a change, a higher generation')
  t.equal(d2.props['Aux/x'], '1')

  await must(tc.put('/v1/key-value-store/kv1', { override_props: { a: 'b' } }))
  await must(tc.put('/v1/resource-definitions/pr/resources/push1', { override_props: { 'Aux/x': '1' } }))
  await must(tc.put('/v1/resource-definitions/pr/volume-definitions/0', { size_kib: 131072 }))
  const d3 = await peer.next('ResourceDesired', (d) => d.name === 'pr')
  t.equal(d3.volumes[0]!.netSizeKib, 131072, 'the next push is the resize: the unrelated call and the no-op sent nothing')
  t.ok(d3.generation > d2.generation)

  await must(tc.put('/v1/nodes/push1/storage-pools/pool1', { override_props: { 'Aux/disk': 'ssd' } }))
  // The pool's first push (when it was made after the link came up) may still be queued: wait for this one.
  const sp = await peer.next('StorPoolDesired', (d) => d.name === 'pool1' && d.props['Aux/disk'] !== undefined)
  t.equal(sp.props['Aux/disk'], 'ssd', 'the pool is pushed again with its new props')
  const d4 = await peer.next('ResourceDesired', (d) => d.name === 'pr')
  t.equal(d4.volumes[0]!.storPoolProps['Aux/disk'], 'ssd', 'volumes carry their pool props')

  await must(tc.post('/v1/nodes/push1/storage-pools', { storage_pool_name: 'pool2', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': '/srv/p2' } }))
  t.equal((await peer.next('StorPoolDesired', (d) => d.name === 'pool2')).deleted, false)
  await must(tc.del('/v1/nodes/push1/storage-pools/pool2'))
  t.equal((await peer.next('StorPoolDesired', (d) => d.name === 'pool2')).deleted, true)

  await must(tc.del('/v1/resource-definitions/pr/resources/push1'))
  const gone = await peer.next('ResourceDesired', (d) => d.name === 'pr')
  t.equal(gone.deleted, true, 'a delete is desired state too')
  t.equal(gone.volumes.length, 1, 'with the volumes to tear down')
  t.ok(gone.generation > d4.generation)
})

t.test('tombstones: a resource deleted while its node was away is deleted when it returns, across a controller restart', async (t) => {
  const peer = await peerNode(tc, 'away1')
  await waitStatus(tc, 'away1', 'ONLINE')
  await rscDfn(tc, 'tomb', [4096])
  await must(tc.post('/v1/resource-definitions/tomb/resources/away1', { resource: { props: { StorPoolName: 'pool1' } } }))
  const port = peer.port
  await peer.stop()
  await waitStatus(tc, 'away1', 'OFFLINE')

  const before = tc.ctrl.core.store.revision
  const del = await tc.del('/v1/resource-definitions/tomb/resources/away1')
  t.equal(del.status, 200)
  t.match(del.body[0].message, /deleted\./, 'removed from the model at once')
  // Written with the delete: in its unit, so with a revision after the one before it. Not necessarily
  // the newest: a satellite report committed since takes a revision of its own.
  const tomb = tombstones().filter((x) => x.rsc === 'TOMB')
  t.same(tomb.map(({ node, rsc }) => ({ node, rsc })), [{ node: 'AWAY1', rsc: 'TOMB' }], 'a tombstone, written with the delete')
  t.ok(tomb[0]!.generation > before && tomb[0]!.generation <= tc.ctrl.core.store.revision, `its generation ${tomb[0]!.generation} is the delete's revision (after ${before})`)
  await tc.restart()
  t.equal(tombstones().filter((x) => x.rsc === 'TOMB').length, 1, 'it survives a restart')

  const back = await SatellitePeer.start({ nodeName: 'away1', secret: secretOf(tc), respond: silent }, port)
  t.teardown(() => back.stop())
  await waitStatus(tc, 'away1', 'ONLINE')
  const d = back.fullSyncs[0]!.resources.find((x) => x.name === 'tomb')!
  t.equal(d.deleted, true, 'the full sync tells it to delete')
  t.same(d.volumes.map((v) => [v.number, v.storPoolName, v.storPoolProps['StorDriver/StorPoolName']]), [[0, 'pool1', '/srv/away1']], 'with what to delete')
  back.report('tomb', d.generation - 1n, 'GONE')
  await new Promise((r) => setTimeout(r, 50))
  t.equal(tombstones().filter((x) => x.rsc === 'TOMB').length, 1, 'an older GONE does not clear it')
  back.report('tomb', d.generation, 'GONE')
  await until('cleared', () => tombstones().every((x) => x.rsc !== 'TOMB'))
  back.drop()
  await until('reconnected', () => back.fullSyncs.length >= 2)
  t.notOk(back.fullSyncs[1]!.resources.some((x) => x.name === 'tomb'), 'not sent again')
})

t.test('a resource created again where a tombstone waits is held back until the satellite confirms', async (t) => {
  const peer = await peerNode(tc, 'away2')
  await waitStatus(tc, 'away2', 'ONLINE')
  await rscDfn(tc, 'again', [4096])
  await must(tc.post('/v1/resource-definitions/again/resources/away2', { resource: { props: { StorPoolName: 'pool1' } } }))
  const port = peer.port
  await peer.stop()
  await waitStatus(tc, 'away2', 'OFFLINE')
  await must(tc.del('/v1/resource-definitions/again/resources/away2'))
  await must(tc.post('/v1/resource-definitions/again/resources/away2', { resource: { props: { StorPoolName: 'pool1' } } }))

  const back = await SatellitePeer.start({ nodeName: 'away2', secret: secretOf(tc), respond: silent }, port)
  t.teardown(() => back.stop())
  await waitStatus(tc, 'away2', 'ONLINE')
  const listed = back.fullSyncs[0]!.resources.filter((x) => x.name === 'again')
  t.equal(listed.length, 1, 'once')
  t.equal(listed[0]!.deleted, true, 'as its tombstone: the old volumes go first')
  back.report('again', listed[0]!.generation, 'GONE')
  const live = await back.next('ResourceDesired', (d) => d.name === 'again')
  t.equal(live.deleted, false, 'then the new resource')
  t.ok(live.generation > listed[0]!.generation)
})

t.test('a node deleted while away takes its tombstones with it', async (t) => {
  await must(tc.post('/v1/nodes', { name: 'gone1', type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: 1 }] }))
  await must(tc.post('/v1/nodes/gone1/storage-pools', { storage_pool_name: 'pool1', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': '/srv/gone1' } }))
  await rscDfn(tc, 'ong', [4096])
  await must(tc.post('/v1/resource-definitions/ong/resources/gone1', { resource: { props: { StorPoolName: 'pool1' } } }))
  await must(tc.del('/v1/resource-definitions/ong/resources/gone1'))
  t.equal(tombstones().filter((x) => x.node === 'GONE1').length, 1)
  await must(tc.del('/v1/nodes/gone1'))
  t.equal(tombstones().filter((x) => x.node === 'GONE1').length, 0)
})

t.test('the cluster revision is monotonic across restarts; generations keep growing', async (t) => {
  const before = tc.ctrl.core.store.revision
  t.ok(before > 0)
  await tc.restart()
  t.equal(tc.ctrl.core.store.revision, before, 'persisted')
  const peer = await peerNode(tc, 'rev1')
  t.teardown(() => peer.stop())
  await waitStatus(tc, 'rev1', 'ONLINE')
  await rscDfn(tc, 'revr')
  await must(tc.post('/v1/resource-definitions/revr/resources/rev1', { resource: { props: { StorPoolName: 'pool1' } } }))
  const d = await peer.next('ResourceDesired', (x) => x.name === 'revr')
  t.ok(d.generation > BigInt(before), 'above anything before the restart')
  await tc.restart()
  await waitStatus(tc, 'rev1', 'ONLINE')
  const again = peer.fullSyncs.at(-1)!.resources.find((x) => x.name === 'revr')!
  t.ok(again.generation >= d.generation, 'a restarted controller never goes below what a satellite holds')
})
