import t from 'tap'
import { codes, drbdCluster, messages, must, rdProps, replicas, rscDfn, stackOf } from './_drbd-cluster.js'

// a1–a3 run DRBD 8.4 (every stock kernel), b1 DRBD 9.
const { tc, stop } = await drbdCluster({ a1: '8.4.11', a2: '8.4.11', a3: '8.4.11', b1: '9.2.8' })
t.teardown(stop)

const RSC_STATE = 243n
const DRBD = ['DRBD', 'STORAGE']

t.test('default stack: DRBD for the two replicas 8.4 replicates, plain storage otherwise', async (t) => {
  await rscDfn(tc, 'two')
  const two = await tc.post('/v1/resource-definitions/two/resources', [{ resource: { node_name: 'a1' } }, { resource: { node_name: 'a2' } }])
  t.equal(two.status, 201, two.text)
  t.same(await stackOf(tc, 'two'), DRBD)

  await rscDfn(tc, 'one')
  await must(tc.post('/v1/resource-definitions/one/resources/a1', {}))
  t.same(await stackOf(tc, 'one'), ['STORAGE'], 'a single replica on 8.4 is a volume without replication')

  await rscDfn(tc, 'three')
  await must(tc.post('/v1/resource-definitions/three/resources', ['a1', 'a2', 'a3'].map((n) => ({ resource: { node_name: n } }))))
  t.same(await stackOf(tc, 'three'), ['STORAGE'], 'three on 8.4 cannot be DRBD')

  await rscDfn(tc, 'ap2')
  t.equal((await tc.post('/v1/resource-definitions/ap2/autoplace', { select_filter: { place_count: 2 } })).status, 201)
  t.same(await stackOf(tc, 'ap2'), DRBD, 'auto-place of two: DRBD')
  await rscDfn(tc, 'ap3')
  t.equal((await tc.post('/v1/resource-definitions/ap3/autoplace', { select_filter: { place_count: 3 } })).status, 201)
  t.same(await stackOf(tc, 'ap3'), ['STORAGE'], 'auto-place of three among 8.4 nodes: STORAGE')
})

t.test('a lone DRBD replica on 8.4 is refused: both are created together', async (t) => {
  await rscDfn(tc, 'lone')
  const r = await tc.post('/v1/resource-definitions/lone/resources/a1', { layer_list: ['DRBD', 'STORAGE'] })
  t.equal(r.status, 409)
  t.same(codes(r), [RSC_STATE])
  t.match(messages(r), /single DRBD replica: node 'a1' \(8\.4\.11\) runs DRBD 8\.4/)
  t.match(messages(r), /place_count 2.*POST \/v1\/resource-definitions\/lone\/resources with both nodes/)
  t.same(await replicas(tc, 'lone'), {}, 'nothing created')
  t.same((await tc.get('/v1/resource-definitions/lone')).body.layer_data.map((l: { type: string }) => l.type), ['DRBD'], 'the stack is still undecided')

  const both = await tc.post('/v1/resource-definitions/lone/resources', ['a1', 'a2'].map((n) => ({ resource: { node_name: n }, layer_list: DRBD })))
  t.equal(both.status, 201, both.text)
})

t.test('a third replica, a diskless one, or auto-place beyond two are refused before anything is written', async (t) => {
  await rscDfn(tc, 'pair')
  await must(tc.post('/v1/resource-definitions/pair/resources', ['a1', 'a2'].map((n) => ({ resource: { node_name: n } }))))
  const before = await replicas(tc, 'pair')
  t.same(Object.keys(before).sort(), ['a1', 'a2'])

  const third = await tc.post('/v1/resource-definitions/pair/resources/a3', {})
  t.equal(third.status, 409)
  t.match(messages(third), /cannot have 3 replicas: nodes 'a1' \(8\.4\.11\), 'a2' \(8\.4\.11\), 'a3' \(8\.4\.11\) run DRBD 8\.4/)
  t.match(messages(third), /DRBD 9 on every node.*delete one first, then add the new one/)
  const onNine = await tc.post('/v1/resource-definitions/pair/resources/b1', {})
  t.equal(onNine.status, 409, 'a DRBD 9 node joining an 8.4 pair too')
  t.match(messages(onNine), /nodes 'a1' \(8\.4\.11\), 'a2' \(8\.4\.11\) run DRBD 8\.4/)

  const client = await tc.post('/v1/resource-definitions/pair/resources/b1', { drbd_client: true })
  t.equal(client.status, 409)
  t.match(messages(client), /cannot have a diskless replica \('b1'\)/)
  const flagged = await tc.post('/v1/resource-definitions/pair/resources/a3', { resource: { flags: ['DRBD_DISKLESS'] } })
  t.equal(flagged.status, 409)

  const more = await tc.post('/v1/resource-definitions/pair/autoplace', { select_filter: { place_count: 3 } })
  t.equal(more.status, 409)
  t.same(codes(more), [RSC_STATE])
  const remaining = await tc.post('/v1/resource-definitions/pair/autoplace', { select_filter: { place_count: 2 }, diskless_on_remaining: true })
  t.equal(remaining.status, 409, 'diskless on the remaining nodes is a diskless replica too')
  t.match(messages(remaining), /diskless replica \('a3', 'b1'\)/)

  await rscDfn(tc, 'fresh')
  const fresh = await tc.post('/v1/resource-definitions/fresh/autoplace', { select_filter: { place_count: 3, node_name_list: ['a1', 'a2', 'a3'] }, layer_list: DRBD })
  t.equal(fresh.status, 409)
  t.same(await replicas(tc, 'fresh'), {})

  t.same(await replicas(tc, 'pair'), before, 'the pair is unchanged')
  t.notOk(Object.values(await replicas(tc, 'pair')).flat().includes('TIE_BREAKER'), 'no tiebreaker on 8.4')
  t.notOk('DrbdOptions/Resource/quorum' in (await rdProps(tc, 'pair')), 'no quorum on 8.4')
})

t.test('a replica moves on 8.4 by deleting one, then adding the new one', async (t) => {
  await rscDfn(tc, 'mv')
  await must(tc.post('/v1/resource-definitions/mv/resources', ['a1', 'a2'].map((n) => ({ resource: { node_name: n } }))))
  await must(tc.del('/v1/resource-definitions/mv/resources/a2'))
  const add = await tc.post('/v1/resource-definitions/mv/resources/a3', {})
  t.equal(add.status, 201, add.text)
  t.same(Object.keys(await replicas(tc, 'mv')).sort(), ['a1', 'a3'])
  t.same(await stackOf(tc, 'mv'), DRBD)
})

t.test('a replica being deleted does not count: its replacement may come before it is gone', async (t) => {
  await rscDfn(tc, 'mv2')
  await must(tc.post('/v1/resource-definitions/mv2/resources', ['a1', 'a2'].map((n) => ({ resource: { node_name: n } }))))
  // Flag the delete in the model only, as while its satellite has not confirmed yet.
  const m = tc.ctrl.core.model
  await tc.ctrl.core.mutate((tx, model) => {
    const x = model.getResource('mv2', 'a2')!
    x.flags = [...x.flags, 'DELETE']
    model.putResource(tx, x)
  })
  t.ok(m.getResource('mv2', 'a2')!.flags.includes('DELETE'))
  t.equal((await tc.post('/v1/resource-definitions/mv2/resources/a3', {})).status, 201)
  t.equal((await tc.post('/v1/resource-definitions/mv2/resources/b1', {})).status, 409, 'but a third that stays is refused')
})
