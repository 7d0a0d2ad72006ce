import t from 'tap'
import { failing, ready, silent } from '../../../helpers/satellite-peer.js'
import { controller, must, peerNode, rscDfn, until, waitStatus } from '../../../helpers/satellite-setup.js'
import { METRICS_CONTENT_TYPE } from '../../../../src/controller/api/metrics.js'
import { HTTP_BUCKETS, HttpMetrics } from '../../../../src/controller/metrics/_http.js'
import { CONNECTION_STATES } from '../../../../src/controller/metrics/_model.js'
import { MetricsRegistry } from '../../../../src/controller/metrics/registry.js'
import { histogram, parse, samples, value, type ParsedFamily } from '../../../helpers/prometheus.js'

// A controller with one satellite (a test peer), one satellite node that never answers and one auxiliary
// node; objects made through REST, then /metrics read back with an independent parser and compared.

// Short waits: a delete whose satellite stays silent leaves its resource DELETING quickly.
const tc = await controller({ satelliteTimeoutMs: 300 })
t.teardown(tc.stop)
const peer = await peerNode(tc, 'm1')
t.teardown(() => peer.stop())
await waitStatus(tc, 'm1', 'ONLINE')
// Nothing listens on port 1: the link stays OFFLINE.
await must(tc.post('/v1/nodes', { name: 'm2', type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: 1 }] }))
await must(tc.post('/v1/nodes/m2/storage-pools', { storage_pool_name: 'pool1', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': '/srv/m2' } }))
await must(tc.post('/v1/nodes', { name: 'm3', type: 'auxiliary' }))

async function scrape(): Promise<{ text: string; f: Map<string, ParsedFamily> }> {
  const res = await fetch(tc.url + '/metrics')
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), METRICS_CONTENT_TYPE)
  const text = await res.text()
  return { text, f: parse(text) }
}

t.test('every family has HELP and TYPE, and a blockyard_ or process_ name', async (t) => {
  const { text, f } = await scrape()
  for (const fam of f.values()) {
    t.match(fam.name, /^(blockyard_|process_)/, fam.name)
    t.not(fam.help, '', `${fam.name} has help`)
    t.match(fam.type, /^(COUNTER|GAUGE|HISTOGRAM)$/, `${fam.name} is typed`)
  }
  for (const name of ['blockyard_nodes', 'blockyard_node_connection_state', 'blockyard_resources', 'blockyard_volumes', 'blockyard_store_commits_total',
    'blockyard_cluster_revision', 'process_cpu_seconds_total', 'process_resident_memory_bytes', 'blockyard_event_loop_busy_seconds_total']) {
    t.ok(f.has(name), `${name} is there`)
  }
  t.ok(text.includes('# TYPE blockyard_satellite_apply_duration_seconds histogram'))
})

t.test('nodes: count by type, connection state one-hot per node', async (t) => {
  const { f } = await scrape()
  t.same(Object.fromEntries(samples(f, 'blockyard_nodes').map(([l, v]) => [l['type'], v])), { AUXILIARY: 1, COMBINED: 0, CONTROLLER: 0, SATELLITE: 2 })
  for (const [node, want] of [['m1', 'ONLINE'], ['m2', 'OFFLINE'], ['m3', 'OFFLINE']] as const) {
    const mine = samples(f, 'blockyard_node_connection_state').filter(([l]) => l['node'] === node)
    t.equal(mine.length, CONNECTION_STATES.length, `${node}: one series per state`)
    t.same(mine.filter(([, v]) => v === 1).map(([l]) => l['state']), [want], `${node} is ${want}`)
    // The same status GET /v1/nodes/{node} shows.
    t.equal((await tc.get(`/v1/nodes/${node}`)).body.connection_status, want)
  }
})

t.test('storage pools: capacity and free space in bytes as reported; absent while unknown', async (t) => {
  peer.send({ type: 'CapacityReport', storPools: [{ name: 'pool1', freeKib: 1000, totalKib: 4096, errors: [] }] })
  await until('capacity', async () => (await tc.get('/v1/nodes/m1/storage-pools/pool1')).body.free_capacity === 1000)
  const { f } = await scrape()
  const m1 = { node: 'm1', pool: 'pool1', provider: 'FILE_THIN' }
  t.equal(value(f, 'blockyard_storage_pool_capacity_bytes', m1), 4096 * 1024)
  t.equal(value(f, 'blockyard_storage_pool_free_bytes', m1), 1000 * 1024)
  t.equal(value(f, 'blockyard_storage_pool_errors', m1), 0)
  const m2 = { node: 'm2', pool: 'pool1', provider: 'FILE_THIN' }
  t.equal(value(f, 'blockyard_storage_pool_capacity_bytes', m2), undefined, 'no report from m2')
  t.equal(value(f, 'blockyard_storage_pool_free_bytes', m2), undefined)
  t.equal(value(f, 'blockyard_storage_pool_errors', m2), 0, 'pools without a report still show their (zero) errors')
  peer.send({ type: 'CapacityReport', storPools: [{ name: 'pool1', errors: [{ message: 'cannot stat', terminal: false }] }] })
  await until('error reported', async () => value((await scrape()).f, 'blockyard_storage_pool_errors', m1) === 1)
  t.equal(value((await scrape()).f, 'blockyard_storage_pool_capacity_bytes', m1), undefined, 'capacity unknown again')
})

t.test('resources by state, volumes by disk state, definitions; store counters', async (t) => {
  const before = await scrape()
  const units0 = value(before.f, 'blockyard_store_units_total')!
  peer.respond = ready
  await rscDfn(tc, 'mok', [4096, 4096])
  await must(tc.post('/v1/resource-definitions/mok/resources/m1', { resource: { props: { StorPoolName: 'pool1' } } }))
  await rscDfn(tc, 'munk', [4096])
  await must(tc.post('/v1/resource-definitions/munk/resources/m2', { resource: { props: { StorPoolName: 'pool1' } } }))
  peer.respond = failing({ message: 'no space', code: 'ENOSPC', terminal: true })
  await rscDfn(tc, 'mbad', [4096])
  await must(tc.post('/v1/resource-definitions/mbad/resources/m1', { resource: { props: { StorPoolName: 'pool1' } } }), 500)
  peer.respond = silent
  await rscDfn(tc, 'mdel', [4096])
  await must(tc.post('/v1/resource-definitions/mdel/resources/m1', { resource: { props: { StorPoolName: 'pool1' } } }))
  await must(tc.del('/v1/resource-definitions/mdel/resources/m1'))
  t.ok((await tc.get('/v1/resource-definitions/mdel/resources/m1')).body.flags.includes('DELETE'), 'still waiting for m1')

  const { f } = await scrape()
  t.same(Object.fromEntries(samples(f, 'blockyard_resources').map(([l, v]) => [l['state'], v])), { Ok: 1, Unknown: 1, Failed: 1, DELETING: 1, INACTIVE: 0 })
  const disk = Object.fromEntries(samples(f, 'blockyard_volumes').map(([l, v]) => [l['disk_state'], v]))
  // mok: 2 UpToDate; mbad: Failed; munk (never reported) and mdel (silent satellite): Unknown.
  t.same(disk, { UpToDate: 2, Failed: 1, Unknown: 2 })
  t.equal(value(f, 'blockyard_resource_definitions'), tc.ctrl.core.model.rscDfns.size)
  t.equal(value(f, 'blockyard_resource_definitions'), 4)
  t.equal(value(f, 'blockyard_volume_definitions'), 5)
  t.equal(value(f, 'blockyard_cluster_revision'), tc.ctrl.core.store.revision)
  t.ok(value(f, 'blockyard_store_units_total')! > units0, 'units counted')
  t.equal(value(f, 'blockyard_store_units_total'), tc.ctrl.core.store.stats.units)
  t.equal(value(f, 'blockyard_store_commits_total'), tc.ctrl.core.store.stats.commits)
})

t.test('satellite apply durations: from the push to the first final report at that generation, by node and result', async (t) => {
  const countOf = async (result: string): Promise<number> => histogram((await scrape()).text, 'blockyard_satellite_apply_duration_seconds', { node: 'm1', result })?.count ?? 0
  const { text } = await scrape()
  const readyBefore = await countOf('READY')
  t.ok(readyBefore >= 1, 'the creates above were timed')
  t.ok((await countOf('FAILED')) >= 1, 'so was the failed one')
  const h = histogram(text, 'blockyard_satellite_apply_duration_seconds', { node: 'm1', result: 'READY' })!
  t.ok(h.sum > 0 && h.sum < 30, 'seconds, not milliseconds')
  t.notOk(text.split('\n').some((l) => l.startsWith('blockyard_satellite_apply_duration_seconds') && l.includes('node="m2"')), 'nothing for a node that never answered')

  peer.respond = silent
  await rscDfn(tc, 'mgen', [4096])
  const created = tc.post('/v1/resource-definitions/mgen/resources/m1', { resource: { props: { StorPoolName: 'pool1' } } })
  const d = await peer.next('ResourceDesired', (x) => x.name === 'mgen')
  peer.report('mgen', d.generation - 1n, 'READY')
  peer.report('mgen', d.generation, 'UPDATING')
  await created
  t.equal(await countOf('READY'), readyBefore, 'an older generation and an unfinished report are not timed')
  peer.report('mgen', d.generation, 'READY')
  await until('timed', async () => (await countOf('READY')) === readyBefore + 1)
  peer.report('mgen', d.generation, 'READY')
  await tc.get('/v1/controller/version') // a round trip after the report
  await new Promise((r) => setTimeout(r, 50))
  t.equal(await countOf('READY'), readyBefore + 1, 'a second report of the same push counts once')
})

t.test('REST requests: by method, route template and status; latency by method and route', async (t) => {
  const { f: f0, text: t0 } = await scrape()
  const at = (f: Map<string, ParsedFamily>, labels: Record<string, string>): number => value(f, 'blockyard_http_requests_total', labels) ?? 0
  const version = { method: 'GET', route: '/v1/controller/version', code: '200' }
  const n0 = at(f0, version)
  const h0 = histogram(t0, 'blockyard_http_request_duration_seconds', { method: 'GET', route: '/v1/controller/version' })?.count ?? 0
  for (let i = 0; i < 3; i++) await must(tc.get('/v1/controller/version'))
  await tc.get('/v1/resource-definitions/mok')
  await tc.get('/v1/resource-definitions/nosuch')
  await tc.get('/no/such/path')
  await tc.del('/v1/controller/version')
  const { f, text } = await scrape()
  t.equal(at(f, version) - n0, 3)
  const rd = '/v1/resource-definitions/{resource}'
  t.ok(at(f, { method: 'GET', route: rd, code: '200' }) >= 1)
  t.ok(at(f, { method: 'GET', route: rd, code: '404' }) >= 1, 'a missing object is its route\'s 404')
  t.ok(at(f, { method: 'GET', route: 'unmatched', code: '404' }) >= 1, 'a path no route has')
  t.ok(at(f, { method: 'DELETE', route: 'unmatched', code: '405' }) >= 1, 'a method the path does not have')
  t.notOk(/route="[^"]*(mok|nosuch|no\/such)/.test(text), 'never a raw path in a label')
  const h = histogram(text, 'blockyard_http_request_duration_seconds', { method: 'GET', route: '/v1/controller/version' })!
  t.equal(h.count - h0, 3)
  t.same([...h.buckets.keys()], [...HTTP_BUCKETS.map(String), '+Inf'], 'buckets from 0.1 ms to 30 s')
  t.equal(h.buckets.get('+Inf'), h.count)
  const counts = [...h.buckets.values()]
  t.ok(counts.every((c, i) => i === 0 || c >= counts[i - 1]!), 'cumulative')
  t.ok(h.sum > 0)
  // The scrape itself is a request like any other.
  t.ok(at(f, { method: 'GET', route: '/metrics', code: '200' }) >= 1)
})

t.test('series of a deleted node go', async (t) => {
  await must(tc.del('/v1/nodes/m3'))
  const { f } = await scrape()
  t.equal(samples(f, 'blockyard_node_connection_state').filter(([l]) => l['node'] === 'm3').length, 0)
  t.equal(value(f, 'blockyard_nodes', { type: 'AUXILIARY' }), 0)
})

t.test('request labels stay bounded: unusual methods are OTHER, unrouted paths unmatched', async (t) => {
  // uWS refuses methods it does not know before any handler runs; the observer bounds them anyway.
  const r = new MetricsRegistry()
  const http = new HttpMetrics(r)
  http.observe('PROPFIND', null, 405, 0.001)
  http.observe('X-ANYTHING', null, 405, 0.002)
  http.observe('GET', '/v1/nodes/{node}', 200, 0.003)
  const f = parse(r.expose())
  t.equal(value(f, 'blockyard_http_requests_total', { method: 'OTHER', route: 'unmatched', code: '405' }), 2)
  t.equal(value(f, 'blockyard_http_requests_total', { method: 'GET', route: '/v1/nodes/{node}', code: '200' }), 1)
  t.equal(samples(f, 'blockyard_http_requests_total').length, 2)
})
