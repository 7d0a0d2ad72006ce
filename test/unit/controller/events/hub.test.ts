/**
 * The events hub against a real in-process controller: events for committed changes and satellite
 * reports, in revision order, gap-free against the store's revisions; filters; resume and its limits.
 */
import t from 'tap'
import { startTestController } from '../../../helpers/controller.js'
import { eventFilter, ANY_EVENT, type ClusterEvent } from '../../../../src/controller/events/event.js'
import { EventHub } from '../../../../src/controller/events/hub.js'

t.test('committed changes become events with their revision, in order', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const seen: ClusterEvent[] = []
  tc.ctrl.events.onEvents((b) => seen.push(...b))
  const before = tc.ctrl.core.store.revision
  t.equal((await tc.post('/v1/nodes', { name: 'alpha', type: 'Satellite', net_interfaces: [{ name: 'default', address: '127.0.0.2' }] })).status, 201)
  t.equal((await tc.post('/v1/resource-definitions', { resource_definition: { name: 'rsc1' } })).status, 201)
  t.equal((await tc.put('/v1/resource-definitions/rsc1', { override_props: { 'Aux/x': '1' } })).status, 200)
  t.equal((await tc.del('/v1/resource-definitions/rsc1')).status, 200)
  const after = tc.ctrl.core.store.revision
  const committed = seen.filter((e) => e.action !== 'state')
  // A new node gets LINSTOR's diskless pool in the same call.
  t.same(committed.map((e) => [e.kind, e.action]), [['node', 'create'], ['storage_pool', 'create'], ['resource_definition', 'create'], ['resource_definition', 'modify'], ['resource_definition', 'delete']])
  t.equal(committed[0]!.revision, committed[1]!.revision, 'one call, one revision')
  // Every revision the store gave out since `before` is in the stream exactly once per unit, in order.
  const revs = [...new Set(seen.map((e) => e.revision))]
  t.same(revs, Array.from({ length: after - before }, (_, i) => before + 1 + i))
  const rd = JSON.parse(committed[2]!.text)
  t.equal(rd.resource, 'rsc1')
  t.equal(rd.object.name, 'rsc1')
  t.match(rd.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
  const del = JSON.parse(committed[4]!.text)
  t.equal(del.object.props['Aux/x'], '1', 'a delete carries the object as it was last')
})

t.test('resume: since, too old, unknown, filters', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const start = tc.ctrl.events.revision
  for (let i = 0; i < 5; i++) await tc.post('/v1/resource-definitions', { resource_definition: { name: `r${i}` } })
  await tc.post('/v1/key-value-store', { name: 'kv1' }).catch(() => undefined)
  const all = tc.ctrl.events.since(start, ANY_EVENT)
  t.ok(all.ok)
  if (!all.ok) return
  t.ok(all.events.length >= 5)
  const mid = all.events[2]!.revision
  const rest = tc.ctrl.events.since(mid, ANY_EVENT)
  t.same(rest.ok && rest.events.map((e) => e.revision), all.events.filter((e) => e.revision > mid).map((e) => e.revision))
  const onlyR3 = tc.ctrl.events.since(start, eventFilter(['resource-definition'], ['R3'], []))
  t.same(onlyR3.ok && onlyR3.events.map((e) => JSON.parse(e.text).resource), ['r3'], 'names are case-insensitive')
  t.match(tc.ctrl.events.since(tc.ctrl.events.revision + 5, ANY_EVENT), { ok: false, reason: 'unknown' })
  t.throws(() => eventFilter(['nope'], [], []), /unknown event kind 'nope'/)
})

t.test('a small history budget drops the oldest and refuses resumes before them', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const hub = new EventHub(tc.ctrl.core.store, () => tc.ctrl.core.model, { historyBytes: 2000 })
  t.teardown(() => hub.close())
  const start = hub.revision
  for (let i = 0; i < 20; i++) await tc.post('/v1/resource-definitions', { resource_definition: { name: `h${i}` } })
  t.ok(hub.oldest > start, 'the floor moved up')
  t.match(hub.since(start, ANY_EVENT), { ok: false, reason: 'too-old', oldest: hub.oldest })
  const r = hub.since(hub.oldest, ANY_EVENT)
  t.ok(r.ok)
  if (r.ok) t.equal(r.events.at(-1)!.revision, hub.revision)
})

t.test('current state', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  await tc.post('/v1/resource-definitions', { resource_definition: { name: 'cur1' } })
  const cur = tc.ctrl.events.current(eventFilter(['resource_definition'], [], []))
  t.equal(cur.revision, tc.ctrl.core.store.revision)
  t.same(cur.events.map((e) => e.action), ['current'])
  t.match(cur.events[0]!.head, /"resource":"cur1"/)
})
