import t from 'tap'
import { codes, drbdCluster, messages, must, rdProps, replicas, rscDfn, stackOf } from './_drbd-cluster.js'

// b1–b4 run DRBD 9.2.8; c1 runs 9.0.10, too old for quorum (9.0.18) and a tiebreaker (9.0.19).
const { tc, stop } = await drbdCluster({ b1: '9.2.8', b2: '9.2.8', b3: '9.2.8', b4: '9.2.8', c1: '9.0.10' })
t.teardown(stop)

const QUORUM = 'DrbdOptions/Resource/quorum'
const AUTO_TB = 'DrbdOptions/auto-add-quorum-tiebreaker'
const TB_CREATED = 10003n
const TB_DELETING = 10004n
const TB_TAKEOVER = 10006n
const PROP_REMOVED = 10005n
const NO_TB_NODE = 1013n
const DISKFUL = ['b1', 'b2']

const tieBreakers = (rs: Record<string, string[]>): string[] => Object.keys(rs).filter((n) => rs[n]!.includes('TIE_BREAKER'))
const create = (rsc: string, nodes: string[], extra: object = {}): ReturnType<typeof tc.post> =>
  tc.post(`/v1/resource-definitions/${rsc}/resources`, nodes.map((n) => ({ resource: { node_name: n }, ...extra })))

t.test('two diskful DRBD 9 replicas get a diskless tiebreaker in the same call, and quorum', async (t) => {
  await rscDfn(tc, 'tb')
  const r = await create('tb', DISKFUL)
  t.equal(r.status, 201, r.text)
  t.ok(codes(r).includes(TB_CREATED), 'the reply says so')
  const rs = await replicas(tc, 'tb')
  const [tb] = tieBreakers(rs)
  t.ok(tb === 'b3' || tb === 'b4', `on a DRBD 9 node without a replica (${tb}); c1 is too old`)
  t.same(rs[tb!]!.slice().sort(), ['DRBD_DISKLESS', 'TIE_BREAKER'])
  t.equal((await rdProps(tc, 'tb'))[QUORUM], 'majority', 'two diskful and a diskless: quorum majority')
  t.same(await stackOf(tc, 'tb'), ['DRBD', 'STORAGE'])

  // A third diskful replica elsewhere: the tiebreaker goes, quorum stays.
  const other = tb === 'b3' ? 'b4' : 'b3'
  const third = await create('tb', [other])
  t.equal(third.status, 201, third.text)
  t.ok(codes(third).includes(TB_DELETING))
  t.same(tieBreakers(await replicas(tc, 'tb')), [])
  t.same(Object.keys(await replicas(tc, 'tb')).sort(), ['b1', 'b2', other].sort(), 'the tiebreaker is gone once its satellite confirmed')
  t.equal((await rdProps(tc, 'tb'))[QUORUM], 'majority')

  // Back to two: the tiebreaker comes back.
  const del = await tc.del(`/v1/resource-definitions/tb/resources/${other}`)
  t.equal(del.status, 200, del.text)
  t.ok(codes(del).includes(TB_CREATED))
  const after = await replicas(tc, 'tb')
  t.equal(tieBreakers(after).length, 1)
  t.equal(Object.keys(after).length, 3)
})

t.test('the tiebreaker\'s node: a diskless resource takes it over, a diskful one is refused', async (t) => {
  await rscDfn(tc, 'tk')
  await must(create('tk', DISKFUL))
  const [tb] = tieBreakers(await replicas(tc, 'tk'))
  const diskful = await create('tk', [tb!])
  t.equal(diskful.status, 409)
  t.match(messages(diskful), new RegExp(`Node '${tb}' holds the tiebreaker of resource 'tk'`))

  const client = await create('tk', [tb!], { drbd_client: true })
  t.equal(client.status, 201, client.text)
  t.ok(codes(client).includes(TB_TAKEOVER))
  const rs = await replicas(tc, 'tk')
  t.same(rs[tb!], ['DRBD_DISKLESS'], 'the same resource, now the user\'s')
  t.equal(Object.keys(rs).length, 3, 'no second tiebreaker: a diskless replica breaks ties already')
  t.equal((await rdProps(tc, 'tk'))[QUORUM], 'majority')
})

t.test('deleting the tiebreaker by hand turns auto-tiebreaker off for the definition', async (t) => {
  await rscDfn(tc, 'td')
  await must(create('td', DISKFUL))
  const [tb] = tieBreakers(await replicas(tc, 'td'))
  const del = await tc.del(`/v1/resource-definitions/td/resources/${tb}`)
  t.equal(del.status, 200, del.text)
  t.equal((await rdProps(tc, 'td'))[AUTO_TB], 'False')
  t.same(Object.keys(await replicas(tc, 'td')).sort(), DISKFUL, 'and it is not put back')
  t.notOk(QUORUM in (await rdProps(tc, 'td')), 'two diskful alone: no quorum')
  t.ok(codes(del).includes(PROP_REMOVED), 'the quorum set for three is removed')

  const on = await tc.put('/v1/resource-definitions/td', { override_props: { [AUTO_TB]: 'True' } })
  t.equal(on.status, 200, on.text)
  t.ok(codes(on).includes(TB_CREATED), 'turned on again: the tiebreaker comes back')
  t.equal(tieBreakers(await replicas(tc, 'td')).length, 1)
})

t.test('auto-tiebreaker off, or a quorum the user set, leave the definition alone', async (t) => {
  await rscDfn(tc, 'off', { [AUTO_TB]: 'false' })
  const r = await create('off', DISKFUL)
  t.equal(r.status, 201)
  t.same(Object.keys(await replicas(tc, 'off')).sort(), DISKFUL)

  await rscDfn(tc, 'uq')
  await must(create('uq', DISKFUL))
  t.equal(tieBreakers(await replicas(tc, 'uq')).length, 1)
  const q = await tc.put('/v1/resource-definitions/uq', { override_props: { [QUORUM]: 'off' } })
  t.equal(q.status, 200, q.text)
  t.ok(codes(q).includes(TB_DELETING), 'a quorum turned off by the user needs no tiebreaker')
  const props = await rdProps(tc, 'uq')
  t.equal(props[QUORUM], 'off', 'the user\'s value stays')
  t.equal(props['Internal/Drbd/QuorumSetBy'], 'user')
  t.same(Object.keys(await replicas(tc, 'uq')).sort(), DISKFUL)
  await must(create('uq', ['b3']))
  t.equal((await rdProps(tc, 'uq'))[QUORUM], 'off', 'three replicas: still the user\'s quorum')
})

t.test('a group\'s quorum replaces the one auto quorum set on its definitions', async (t) => {
  await must(tc.post('/v1/resource-groups', { name: 'grp' }))
  await rscDfn(tc, 'gq', {}, { resource_group_name: 'grp' })
  await must(create('gq', DISKFUL))
  t.equal((await rdProps(tc, 'gq'))[QUORUM], 'majority')
  const g = await tc.put('/v1/resource-groups/grp', { override_props: { [QUORUM]: 'off' } })
  t.equal(g.status, 200, g.text)
  t.notOk(QUORUM in (await rdProps(tc, 'gq')), 'the group\'s value applies')
  t.equal((await tc.get('/v1/resource-groups/grp')).body.props['Internal/Drbd/QuorumSetBy'], 'user')
  t.same(tieBreakers(await replicas(tc, 'gq')), [], 'quorum off: the tiebreaker goes')
})

t.test('a group\'s tiebreaker switch applies to its definitions', async (t) => {
  await must(tc.post('/v1/resource-groups', { name: 'grp2' }))
  await rscDfn(tc, 'gt', {}, { resource_group_name: 'grp2' })
  await must(create('gt', DISKFUL))
  t.equal(tieBreakers(await replicas(tc, 'gt')).length, 1)
  const off = await tc.put('/v1/resource-groups/grp2', { override_props: { [AUTO_TB]: 'False' } })
  t.equal(off.status, 200, off.text)
  t.ok(codes(off).includes(TB_DELETING))
  t.same(Object.keys(await replicas(tc, 'gt')).sort(), DISKFUL)
  t.notOk('Internal/Drbd/QuorumSetBy' in (await tc.get('/v1/resource-groups/grp2')).body.props, 'the quorum is still automatic')
})

t.test('no tiebreaker and no quorum where DRBD cannot do them', async (t) => {
  await rscDfn(tc, 'old')
  const r = await create('old', ['b1', 'c1'])
  t.equal(r.status, 201)
  t.same(Object.keys(await replicas(tc, 'old')).sort(), ['b1', 'c1'], 'c1 has no quorum: no tiebreaker')
  await must(create('old', ['b2']))
  t.notOk(QUORUM in (await rdProps(tc, 'old')), 'three replicas, but c1 is older than 9.0.18')

  // A node that never reported (no satellite yet) is assumed capable for placement, not for quorum.
  await must(tc.post('/v1/nodes', { name: 'u1', type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.9', satellite_port: 1 }] }))
  await must(tc.post('/v1/nodes/u1/storage-pools', { storage_pool_name: 'pool1', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': '/srv/u1' } }))
  await rscDfn(tc, 'unk')
  await must(create('unk', ['b1', 'u1']))
  t.same(await stackOf(tc, 'unk'), ['DRBD', 'STORAGE'])
  t.same(Object.keys(await replicas(tc, 'unk')).sort(), ['b1', 'u1'])
  t.notOk(QUORUM in (await rdProps(tc, 'unk')))
  await must(tc.del('/v1/resource-definitions/unk'))
  await must(tc.del('/v1/nodes/u1'))
})

t.test('no node for the tiebreaker: a warning, the replicas are placed', async (t) => {
  // The group keeps its definitions on b1 and b2: the tiebreaker has nowhere to go.
  await must(tc.post('/v1/resource-groups', { name: 'narrow', select_filter: { node_name_list: DISKFUL } }))
  await rscDfn(tc, 'nr', {}, { resource_group_name: 'narrow' })
  const r = await tc.post('/v1/resource-definitions/nr/autoplace', {})
  t.equal(r.status, 201, r.text)
  t.ok(codes(r).includes(NO_TB_NODE))
  t.same(Object.keys(await replicas(tc, 'nr')).length, 2)
})

t.test('diskless_on_remaining: a DRBD_DISKLESS resource on every other node, the tiebreaker\'s taken over', async (t) => {
  await rscDfn(tc, 'dr')
  const r = await tc.post('/v1/resource-definitions/dr/autoplace', { select_filter: { place_count: 2, node_name_list: DISKFUL } })
  t.equal(r.status, 201, r.text)
  const [tb] = tieBreakers(await replicas(tc, 'dr'))
  t.ok(tb !== undefined)
  const rem = await tc.post('/v1/resource-definitions/dr/autoplace', { select_filter: { place_count: 2 }, diskless_on_remaining: true })
  t.equal(rem.status, 201, rem.text)
  t.ok(codes(rem).includes(TB_TAKEOVER))
  const rs = await replicas(tc, 'dr')
  t.same(Object.keys(rs).sort(), ['b1', 'b2', 'b3', 'b4', 'c1'])
  for (const n of ['b3', 'b4', 'c1']) t.same(rs[n], ['DRBD_DISKLESS'], `${n}: a diskless DRBD client`)
  const list = (await tc.get('/v1/resource-definitions/dr/resources')).body as { node_name: string; volumes: { storage_pool_name: string }[] }[]
  for (const x of list.filter((y) => ['b3', 'b4', 'c1'].includes(y.node_name))) t.equal(x.volumes[0]!.storage_pool_name, 'DfltDisklessStorPool')
  t.notOk(QUORUM in (await rdProps(tc, 'dr')), 'c1 has no quorum')
})

t.test('auto-place picks another node than one holding a diskless replica (no disk toggling)', async (t) => {
  await rscDfn(tc, 'ap')
  await must(tc.post('/v1/resource-definitions/ap/autoplace', { select_filter: { place_count: 2, node_name_list: DISKFUL } }))
  const [tb] = tieBreakers(await replicas(tc, 'ap'))
  const more = await tc.post('/v1/resource-definitions/ap/autoplace', { select_filter: { place_count: 3, node_name_list: ['b1', 'b2', tb!] } })
  t.equal(more.status, 409, 'the only other node holds the tiebreaker')
  t.same(codes(more), [996n], 'a placement failure, not a resource that exists already')
  const ok = await tc.post('/v1/resource-definitions/ap/autoplace', { select_filter: { place_count: 3 } })
  t.equal(ok.status, 201, ok.text)
  const rs = await replicas(tc, 'ap')
  t.same(tieBreakers(rs), [], 'three diskful: no tiebreaker')
  t.equal(Object.keys(rs).length, 3)
})

t.test('the controller\'s quorum replaces the one auto quorum set on every definition, and auto quorum is back once it goes', async (t) => {
  await rscDfn(tc, 'cq')
  await must(create('cq', DISKFUL))
  t.equal((await rdProps(tc, 'cq'))[QUORUM], 'majority')
  const set = await tc.post('/v1/controller/properties', { override_props: { [QUORUM]: 'off' } })
  t.equal(set.status, 200, set.text)
  t.ok(codes(set).includes(TB_DELETING), 'quorum off: the tiebreaker goes')
  t.notOk(QUORUM in (await rdProps(tc, 'cq')), 'the controller\'s value applies')
  t.equal((await tc.get('/v1/controller/properties')).body['Internal/Drbd/QuorumSetBy'], 'user')
  t.same(tieBreakers(await replicas(tc, 'cq')), [])
  const del = await tc.del(`/v1/controller/properties/${encodeURIComponent(QUORUM)}`)
  t.equal(del.status, 200, del.text)
  t.notOk('Internal/Drbd/QuorumSetBy' in (await tc.get('/v1/controller/properties')).body, 'the marker goes with it')
  t.equal((await rdProps(tc, 'cq'))[QUORUM], 'majority', 'automatic again')
  t.equal(tieBreakers(await replicas(tc, 'cq')).length, 1, 'and the tiebreaker is back')
})
