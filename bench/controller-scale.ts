/**
 * The controller at scale, as the issue states it: 100 nodes, 10,000 resource definitions, 30,000
 * resources (no satellites): time to start, resident memory, GET /v1/view/resources time, and auto-place
 * time with 1,000 nodes. Targets: start-up under 2 s, under 300 MB, the view under 300 ms, one placement
 * among 1,000 nodes under 2 ms. It prints the figures with PASS/MISS against the targets and never fails
 * on timing: it is a report, not a test.
 *
 * What runs: the real controller (`node bin/blockyard.js controller`, from dist/) as a child process,
 * populated through the REST API with bounded concurrency, as an orchestrator would; then stopped and
 * started again on the same state directory, which is what start-up, memory and the views are measured
 * on. Placement is measured twice: end to end (POST …/autoplace against a second controller with 1,000
 * nodes, each with 1–3 storage pools) and in process (`placeResource` on a Model holding the same
 * cluster), which isolates the placer and its glue from HTTP and the durable commit.
 *
 * Baseline, side by side in the same run: LINSTOR itself cannot run here (its build needs Maven Central),
 * so the baseline is LINSTOR's storage layout instead of ours: the same objects in a normalized SQLite
 * schema with a row per property (bench/_row-per-prop-store.ts). Compared: loading every object and
 * building the model (our start-up's work) and answering the resources view from that store per request.
 *
 * Run: npm run bench:scale (builds dist/ first). Sizes and limits come from the environment; the
 * defaults are the figures:
 *   SCALE_NODES=100 SCALE_RSC_DFNS=10000 SCALE_REPLICAS=3 SCALE_CONCURRENCY=32 SCALE_VIEW_RUNS=7
 *   SCALE_PLACE_NODES=1000 SCALE_PLACEMENTS=200 SCALE_PLACE_BACKGROUND=10000 (definitions already placed,
 *   3 replicas each, on the placement cluster) SCALE_LAYER_STACK= (empty: the controller's default
 *   DRBD,STORAGE; e.g. STORAGE) SCALE_DEADLINE_S=1800 (the whole run; past it everything is stopped).
 * Child processes are stopped by PID and state directories removed on exit, on errors and on SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { setLogSink } from '../src/common/log.js'
import { stringifyJson } from '../src/common/json.js'
import type { LayerKind } from '../src/common/layer-stack.js'
import { allocatedKib, createResource } from '../src/controller/api/_resources.js'
import { registerApis } from '../src/controller/api/index.js'
import { Core } from '../src/controller/core.js'
import { Store } from '../src/controller/db/store.js'
import { Tx } from '../src/controller/db/tx.js'
import { JsonText, Router, type Reply, type Request } from '../src/controller/http/router.js'
import { DFLT_DISKLESS_STOR_POOL, DFLT_RSC_GRP, Model } from '../src/controller/model/model.js'
import type { RscDfn } from '../src/controller/model/types.js'
import { placeResource } from '../src/controller/placement/place.js'
import { exportModel, loadRows } from './_row-per-prop-store.js'
import { rng } from '../test/helpers/rng.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = join(ROOT, 'bin', 'blockyard.js')

function envInt(name: string, dflt: number, min: number): number {
  const text = process.env[name]
  if (text === undefined || text === '') return dflt
  const n = Number(text)
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min} (got '${text}')`)
  return n
}

const CFG = {
  nodes: envInt('SCALE_NODES', 100, 1),
  rscDfns: envInt('SCALE_RSC_DFNS', 10_000, 1),
  replicas: envInt('SCALE_REPLICAS', 3, 1),
  concurrency: envInt('SCALE_CONCURRENCY', 32, 1),
  viewRuns: envInt('SCALE_VIEW_RUNS', 7, 1),
  placeNodes: envInt('SCALE_PLACE_NODES', 1000, 3),
  placements: envInt('SCALE_PLACEMENTS', 200, 1),
  placeBackground: envInt('SCALE_PLACE_BACKGROUND', 10_000, 0),
  layerStack: (process.env['SCALE_LAYER_STACK'] ?? '').split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== ''),
  deadlineS: envInt('SCALE_DEADLINE_S', 1800, 10),
}
if (CFG.replicas > CFG.nodes) throw new Error('SCALE_REPLICAS cannot exceed SCALE_NODES: replicas go on distinct nodes')

/** The targets. 300 MB is read as 300·10^6 bytes, the stricter reading. */
const TARGET = { startupMs: 2000, rssMiB: (300 * 1e6) / 2 ** 20, viewMs: 300, placeMs: 2 }
const VOLUME_KIB = 64 * 1024
const PLACE_COUNT = 3
const READY_TIMEOUT_MS = 120_000
const REQUEST_TIMEOUT_MS = 120_000
const STOP_TIMEOUT_MS = 30_000
const POOL_DIR = '/var/lib/blockyard-bench'

// ---------------------------------------------------------------------------------------------------
// Cleanup: every child is stopped by its PID and every state directory removed, whatever ends the run.

const children = new Set<ChildProcess>()
const stateDirs = new Set<string>()

function cleanup(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        process.kill(c.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  children.clear()
  for (const d of stateDirs) rmSync(d, { recursive: true, force: true })
  stateDirs.clear()
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping the controllers and removing state directories`)
    cleanup()
    process.exit(130)
  })
}
setTimeout(() => {
  console.error(`\ndeadline of ${CFG.deadlineS} s reached (SCALE_DEADLINE_S): stopping`)
  cleanup()
  process.exit(2)
}, CFG.deadlineS * 1000).unref()

function newStateDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `blockyard-scale-${tag}-`))
  stateDirs.add(d)
  return d
}

// ---------------------------------------------------------------------------------------------------
// Small helpers

const now = (): number => performance.now()
const progress = (msg: string): void => console.error(`  … ${msg}`)

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN
}
const median = (v: number[]): number => quantile(v, 0.5)
const ms = (v: number, digits = 1): string => `${v.toFixed(digits)} ms`
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`

/** Run `fn(0..n-1)` with at most `limit` calls in flight; the first failure stops the rest. */
async function parallel(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (!failed && next < n) {
      const i = next++
      try {
        await fn(i)
      } catch (e) {
        failed = true
        throw e
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker))
}

/** dist/ older than src/ would measure yesterday's code. */
function warnIfStale(): string | null {
  const built = join(ROOT, 'dist', 'cli', 'main.js')
  let builtAt: number
  try {
    builtAt = statSync(built).mtimeMs
  } catch {
    throw new Error('dist/ is missing: run `npm run build` (npm run bench:scale does it)')
  }
  const src = join(ROOT, 'src')
  const newer = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && statSync(join(src, f)).mtimeMs > builtAt)
  return newer.length > 0 ? `dist/ is older than ${newer.length} file(s) in src/ (e.g. ${newer[0]}): the controller measured is not the current source` : null
}

// ---------------------------------------------------------------------------------------------------
// The controller as a child process

interface Controller {
  proc: ChildProcess
  pid: number
  url: string
  stateDir: string
  /** Wall time from spawn to the ready line, as a supervisor sees it. */
  spawnToReadyMs: number
  /** The controller's own figure: opening the store, loading the model, defaults, listening. */
  startupMs: number
  /** Last lines of its log, shown when something fails. */
  log: string[]
}

async function startController(stateDir: string): Promise<Controller> {
  const t0 = now()
  const proc = spawn(process.execPath, [BIN, 'controller', '--state-dir', stateDir, '--rest-listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  children.add(proc)
  const log: string[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`controller not ready after ${READY_TIMEOUT_MS} ms; its log:\n${log.join('\n')}`)), READY_TIMEOUT_MS)
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      if (log.length >= 40) log.shift()
      log.push(line)
      const m = /controller ready (\{.*\})$/.exec(line)
      if (m === null) return
      clearTimeout(timer)
      const f = JSON.parse(m[1]!) as { rest: string; startupMs: number }
      resolve({ proc, pid: proc.pid!, url: f.rest, stateDir, spawnToReadyMs: now() - t0, startupMs: f.startupMs, log })
    })
    proc.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`controller exited (${code ?? signal}) before it was ready; its log:\n${log.join('\n')}`))
    })
  })
}

/** SIGTERM (the controller flushes and closes its database), SIGKILL if it has not exited in time. */
async function stopController(c: Controller): Promise<void> {
  if (c.proc.exitCode === null && c.proc.signalCode === null) {
    const exited = once(c.proc, 'exit')
    c.proc.kill('SIGTERM')
    const killer = setTimeout(() => c.proc.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await exited
    clearTimeout(killer)
  }
  children.delete(c.proc)
}

/** Resident and peak resident memory of a process (bytes), from /proc. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') }
}

function dbBytes(stateDir: string): number {
  return readdirSync(stateDir).filter((f) => f.startsWith('controller.db')).reduce((s, f) => s + statSync(join(stateDir, f)).size, 0)
}

// ---------------------------------------------------------------------------------------------------
// REST client

async function api(c: Controller, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const init: RequestInit = { method, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }
  if (body !== undefined) {
    init.body = JSON.stringify(body)
    init.headers = { 'Content-Type': 'application/json' }
  }
  let res: Response
  try {
    res = await fetch(c.url + path, init)
  } catch (e) {
    throw new Error(`${method} ${path}: ${(e as Error).message}; controller log:\n${c.log.join('\n')}`)
  }
  const text = await res.text()
  if (res.status >= 400) throw new Error(`${method} ${path}: HTTP ${res.status}: ${text.slice(0, 600)}`)
  return { status: res.status, text }
}

/** A GET timed until its last byte has arrived (what a client waits for), with the reply's size. */
async function timedGet(c: Controller, path: string): Promise<{ ms: number; bytes: number; text: string }> {
  const t0 = now()
  const res = await fetch(c.url + path, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  const buf = Buffer.from(await res.arrayBuffer())
  const elapsed = now() - t0
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}: ${buf.toString('utf8', 0, 600)}`)
  return { ms: elapsed, bytes: buf.length, text: buf.toString('utf8') }
}

// ---------------------------------------------------------------------------------------------------
// Populating a controller through the REST API

const nodeName = (i: number): string => `node-${String(i).padStart(4, '0')}`
const rscName = (prefix: string, i: number): string => `${prefix}-${String(i).padStart(5, '0')}`

interface PopulateStats {
  calls: number
  seconds: number
  resources: number
  latencies: Map<string, number[]>
}

/** Nodes, each with storage pools pool1…poolK (FILE_THIN); DfltRscGrp gets StorPoolName=pool1. */
async function populateNodes(c: Controller, nodes: number, poolsOf: (i: number) => number, stats: PopulateStats): Promise<void> {
  const t0 = now()
  await api(c, 'PUT', `/v1/resource-groups/${DFLT_RSC_GRP}`, { override_props: { StorPoolName: 'pool1' } })
  stats.calls++
  await parallel(nodes, CFG.concurrency, async (i) => {
    const name = nodeName(i)
    await timed(stats, 'node create', () => api(c, 'POST', '/v1/nodes', {
      name, type: 'Satellite',
      net_interfaces: [{ name: 'default', address: `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, satellite_port: 3366, satellite_encryption_type: 'PLAIN' }],
      props: zoneProps(i),
    }))
    for (let p = 1; p <= poolsOf(i); p++) {
      await timed(stats, 'storage pool create', () => api(c, 'POST', `/v1/nodes/${name}/storage-pools`, {
        storage_pool_name: `pool${p}`, provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': `${POOL_DIR}/pool${p}` },
      }))
    }
  })
  stats.seconds += (now() - t0) / 1000
}

/** Auxiliary properties as a real cluster has them (placement constraints may name them). */
function zoneProps(i: number): Record<string, string> {
  return { 'Aux/zone': `zone-${i % 3}`, 'Aux/rack': `rack-${Math.floor(i / 20)}` }
}

/** Definitions, each with one 64 MiB volume definition and `replicas` resources on named nodes (round robin). */
async function populateRscDfns(c: Controller, prefix: string, count: number, nodes: number, replicas: number, stats: PopulateStats): Promise<void> {
  const t0 = now()
  const layerData = CFG.layerStack.length > 0 ? { layer_data: CFG.layerStack.map((type) => ({ type })) } : {}
  let done = 0
  await parallel(count, CFG.concurrency, async (i) => {
    const name = rscName(prefix, i)
    await timed(stats, 'resource-definition create', () => api(c, 'POST', '/v1/resource-definitions', { resource_definition: { name, ...layerData } }))
    await timed(stats, 'volume-definition create', () => api(c, 'POST', `/v1/resource-definitions/${name}/volume-definitions`, { volume_definition: { size_kib: VOLUME_KIB } }))
    if (replicas > 0) {
      const on = Array.from({ length: replicas }, (_, k) => ({ resource: { node_name: nodeName((i * replicas + k) % nodes) } }))
      await timed(stats, `resource create (${replicas} nodes)`, () => api(c, 'POST', `/v1/resource-definitions/${name}/resources`, on))
      stats.resources += replicas
    }
    if (++done % 2000 === 0) progress(`${done}/${count} definitions`)
  })
  stats.seconds += (now() - t0) / 1000
}

async function timed<T>(stats: PopulateStats, kind: string, fn: () => Promise<T>): Promise<T> {
  const t0 = now()
  const out = await fn()
  let list = stats.latencies.get(kind)
  if (list === undefined) stats.latencies.set(kind, (list = []))
  list.push(now() - t0)
  stats.calls++
  return out
}

const newStats = (): PopulateStats => ({ calls: 0, seconds: 0, resources: 0, latencies: new Map() })

function printPopulate(title: string, s: PopulateStats): void {
  console.log(`${title}: ${s.calls} calls in ${s.seconds.toFixed(1)} s = ${Math.round(s.calls / s.seconds)} calls/s` +
    (s.resources > 0 ? `, ${Math.round(s.resources / s.seconds)} resources/s` : '') + ` (${CFG.concurrency} in flight)`)
  for (const [kind, l] of s.latencies) {
    console.log(`  ${kind.padEnd(30)} n=${String(l.length).padStart(6)}  p50 ${ms(median(l), 2).padStart(10)}  p99 ${ms(quantile(l, 0.99), 2).padStart(10)}`)
  }
}

// ---------------------------------------------------------------------------------------------------
// In-process measurements (the bench process imports the controller's modules from src/)

const getRequest = (path: string): Request => ({ method: 'GET', path, params: {}, query: new URLSearchParams(), body: undefined, header: () => undefined })

/** Time `fn` `runs` times; the median. */
function medianOf(runs: number, fn: () => void): number {
  const t: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = now()
    fn()
    t.push(now() - t0)
  }
  return median(t)
}

/** The view as the route builds it, without HTTP: handler + JSON text (joined here; the server streams its parts). */
function viewInProcess(router: Router): string {
  const m = router.match('GET', '/v1/view/resources')
  if (m === null || !('found' in m)) throw new Error('no route for GET /v1/view/resources')
  const reply = m.found.handler(getRequest('/v1/view/resources')) as Reply
  return reply.body instanceof JsonText ? reply.body.toString() : stringifyJson(reply.body)
}

/** The resources view answered from the row-per-property store: load, build the model, same JSON. */
function viewFromBaseline(path: string): string {
  // GET routes read nothing of Core but its model: a Core over the baseline's model is enough for them.
  const core = { model: Model.fromRows(loadRows(path)) } as Core
  const router = new Router()
  registerApis(router, core)
  return viewInProcess(router)
}

/** The placement cluster as a Model: nodes with 1–3 FILE_THIN pools, `background` placed definitions. */
function placementModel(nodes: number, poolsOf: (i: number) => number, background: number): Model {
  const m = Model.fromRows({ ctrlProps: {}, objects: { node: [], storPoolDfn: [], storPool: [], rscGrp: [], rscDfn: [], resource: [], snapshotDfn: [], kvs: [] } })
  m.putRscGrp(null, { name: DFLT_RSC_GRP, description: '', props: { StorPoolName: 'pool1' }, selectFilter: { place_count: 2 }, peerSlots: null, vlmGrps: [], uuid: 'rg' })
  for (const name of [DFLT_DISKLESS_STOR_POOL, 'pool1', 'pool2', 'pool3']) m.putStorPoolDfn(null, { name, props: {}, uuid: name })
  for (let i = 0; i < nodes; i++) {
    const name = nodeName(i)
    m.putNode(null, { name, type: 'Satellite', flags: [], props: { ...zoneProps(i), NodeUname: name, CurStltConnName: 'default' }, netInterfaces: [], uuid: name })
    m.putStorPool(null, { nodeName: name, name: DFLT_DISKLESS_STOR_POOL, providerKind: 'DISKLESS', props: {}, sharedSpace: null, externalLocking: false, uuid: `${name}-dl` })
    for (let p = 1; p <= poolsOf(i); p++) {
      m.putStorPool(null, { nodeName: name, name: `pool${p}`, providerKind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': `${POOL_DIR}/pool${p}` }, sharedSpace: null, externalLocking: false, uuid: `${name}-${p}` })
    }
  }
  const tx = new Tx() // collects rows nobody writes: the model is all that is measured
  for (let i = 0; i < background; i++) {
    const rd = newRscDfn(m, rscName('bg', i))
    for (let k = 0; k < PLACE_COUNT; k++) createResource(tx, m, rd, { nodeName: nodeName((i * PLACE_COUNT + k) % nodes), poolName: 'pool1', layerStack: stackOf(rd) })
  }
  return m
}

const stackOf = (rd: RscDfn): LayerKind[] => (rd.layerStack.length > 0 ? rd.layerStack : ['DRBD', 'STORAGE'])

function newRscDfn(m: Model, name: string): RscDfn {
  const stack = CFG.layerStack as LayerKind[]
  const drbd = stack.length === 0 || stack.includes('DRBD')
  const rd: RscDfn = {
    name, externalName: null, props: {}, flags: [], layerStack: stack, rscGrpName: DFLT_RSC_GRP,
    drbd: drbd ? { peerSlots: 7, alStripes: 1, alStripeSizeKib: 32, transportType: 'IP', secret: 'benchsecret', port: null } : null,
    vlmDfns: [{ vlmNr: 0, sizeKib: VOLUME_KIB, props: {}, flags: [], minor: drbd ? m.allocMinor() : null, uuid: `${name}-0` }],
    uuid: name,
  }
  m.putRscDfn(null, rd)
  return rd
}

// ---------------------------------------------------------------------------------------------------

/**
 * Our layout against LINSTOR's, in this process on the same objects (read from `ourDb`, the populated
 * controller's database): loading everything and building the model, and the resources view answered
 * from each. In a function of its own so that none of it stays alive for the placement timings after it.
 */
function compareWithBaseline(ourDb: string, viewHttpMs: number): void {
  progress('baseline: loading both layouts in process')
  let ourModel: Model | undefined
  const oursLoad = medianOf(3, () => {
    const store = new Store(ourDb)
    ourModel = Model.fromRows(store.loadAll())
    store.close()
  })
  const store = new Store(ourDb)
  const core = new Core(store)
  const router = new Router()
  registerApis(router, core)
  let oursText = ''
  const oursView = medianOf(3, () => (oursText = viewInProcess(router)))
  store.close()
  const baseDb = join(newStateDir('baseline'), 'linstor-layout.db')
  const exported = exportModel(ourModel!, baseDb)
  ourModel = undefined
  const baseLoad = medianOf(3, () => Model.fromRows(loadRows(baseDb)))
  let baseText = ''
  const baseView = medianOf(3, () => (baseText = viewFromBaseline(baseDb)))
  const same = baseText === oursText ? 'identical' : baseText.length === oursText.length ? 'same length, different order' : `DIFFERENT (${baseText.length} vs ${oursText.length} chars)`
  console.log('\n## baseline: the same objects in LINSTOR\'s layout (normalized tables, PROPS_CONTAINERS row per property), same process')
  const m = core.model
  console.log(`rows: ours ${m.nodes.size + m.storPoolDfns.size + [...m.allStorPools()].length + m.rscGrps.size + m.rscDfns.size + [...m.allResources()].length} (one per object, props as JSON), ` +
    `baseline ${exported.objectRows + exported.propRows} (${exported.objectRows} object/layer rows + ${exported.propRows} property rows)`)
  console.log(`load every object + build the model: ours ${ms(oursLoad, 0)}, baseline ${ms(baseLoad, 0)} → baseline/ours ${(baseLoad / oursLoad).toFixed(2)}×`)
  console.log(`resources view, in process (route + JSON): ours from memory ${ms(oursView, 0)}, baseline from its store per request ${ms(baseView, 0)} → ${(baseView / oursView).toFixed(1)}×; ` +
    `against ours over HTTP (median ${ms(viewHttpMs, 0)}): ${(baseView / viewHttpMs).toFixed(1)}× (replies ${same})`)
}

interface Verdict { what: string; measured: string; target: string; pass: boolean }

async function main(): Promise<void> {
  setLogSink(null) // the in-process store and model log nothing worth reading here
  const stale = warnIfStale()
  const verdicts: Verdict[] = []
  const expected = CFG.rscDfns * CFG.replicas
  console.log(`controller scale: ${CFG.nodes} nodes, ${CFG.rscDfns} resource definitions (one ${VOLUME_KIB / 1024} MiB volume each), ` +
    `${expected} resources, stack ${CFG.layerStack.length > 0 ? CFG.layerStack.join(',') : 'default (DRBD,STORAGE)'}, no satellites; ` +
    `placement: ${CFG.placeNodes} nodes (node ${process.version})`)
  if (stale !== null) console.log(`WARNING: ${stale}`)
  console.log(`machine: ${availableParallelism()} CPUs, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at start (other work on the machine skews every figure)`)

  // 1. Populate through REST, as an orchestrator would.
  const dirA = newStateDir('a')
  let a = await startController(dirA)
  progress(`populating ${a.url} (pid ${a.pid})`)
  const nodeStats = newStats()
  await populateNodes(a, CFG.nodes, () => 1, nodeStats)
  const rdStats = newStats()
  await populateRscDfns(a, 'pvc', CFG.rscDfns, CFG.nodes, CFG.replicas, rdStats)
  const memPopulated = memoryOf(a.pid)
  console.log('\n## populate (REST)')
  printPopulate('nodes + storage pools', nodeStats)
  printPopulate('definitions + volume definitions + resources', rdStats)
  console.log(`controller after populating: RSS ${mib(memPopulated.rss)}, peak ${mib(memPopulated.hwm)}`)
  await stopController(a)
  console.log(`database: ${mib(dbBytes(dirA))}`)

  // 2. Start again on the same state directory: start-up, memory, views.
  progress('restarting on the same state directory')
  a = await startController(dirA)
  const memStarted = memoryOf(a.pid)
  const view: number[] = []
  let viewBytes = 0
  let viewText = ''
  for (let i = 0; i < CFG.viewRuns; i++) {
    const r = await timedGet(a, '/v1/view/resources')
    view.push(r.ms)
    viewBytes = r.bytes
    if (i === 0) viewText = r.text
  }
  const viewCount = (JSON.parse(viewText) as unknown[]).length
  viewText = ''
  if (viewCount !== expected) throw new Error(`the view lists ${viewCount} resources, expected ${expected}`)
  const memViewed = memoryOf(a.pid)
  const rdList: number[] = []
  let rdBytes = 0
  for (let i = 0; i < CFG.viewRuns; i++) {
    const r = await timedGet(a, '/v1/resource-definitions')
    rdList.push(r.ms)
    rdBytes = r.bytes
  }
  const memEnd = memoryOf(a.pid)
  await stopController(a)

  console.log('\n## restart on the populated state directory')
  console.log(`start-up: spawn → ready ${ms(a.spawnToReadyMs, 0)} (controller's own startupMs ${a.startupMs} ms: store, model, listen)`)
  console.log(`memory: RSS after start ${mib(memStarted.rss)}, after ${CFG.viewRuns} views ${mib(memViewed.rss)}, after the definition lists ${mib(memEnd.rss)}; peak (VmHWM) ${mib(memEnd.hwm)}`)
  console.log(`GET /v1/view/resources: ${viewCount} resources, ${mib(viewBytes)}; first ${ms(view[0]!, 0)}, median of ${view.length} ${ms(median(view), 0)}, min ${ms(Math.min(...view), 0)}, max ${ms(Math.max(...view), 0)}`)
  console.log(`GET /v1/resource-definitions: ${CFG.rscDfns} definitions, ${mib(rdBytes)}; median of ${rdList.length} ${ms(median(rdList), 0)}, min ${ms(Math.min(...rdList), 0)}`)
  verdicts.push({ what: 'start-up (spawn → ready)', measured: ms(a.spawnToReadyMs, 0), target: `< ${TARGET.startupMs} ms`, pass: a.spawnToReadyMs < TARGET.startupMs })
  const memTarget = `< ${TARGET.rssMiB.toFixed(0)} MiB (300 MB)`
  verdicts.push({ what: 'resident memory after start', measured: mib(memStarted.rss), target: memTarget, pass: memStarted.rss / 2 ** 20 < TARGET.rssMiB })
  verdicts.push({ what: `resident memory after ${CFG.viewRuns} views`, measured: mib(memViewed.rss), target: memTarget, pass: memViewed.rss / 2 ** 20 < TARGET.rssMiB })
  verdicts.push({ what: '  peak (VmHWM) over start + views', measured: mib(memEnd.hwm), target: memTarget, pass: memEnd.hwm / 2 ** 20 < TARGET.rssMiB })
  verdicts.push({ what: 'GET /v1/view/resources (median)', measured: ms(median(view), 0), target: `< ${TARGET.viewMs} ms`, pass: median(view) < TARGET.viewMs })

  // 3. Baseline, in this process on the same data: our layout vs LINSTOR's row-per-property layout.
  compareWithBaseline(join(dirA, 'controller.db'), median(view))

  // 4. Placement end to end: a second controller with the placement cluster.
  const poolsOf = ((r) => {
    const counts = Array.from({ length: CFG.placeNodes }, () => 1 + Math.floor(r() * 3))
    return (i: number) => counts[i]!
  })(rng(42))
  const dirB = newStateDir('b')
  const b = await startController(dirB)
  progress(`placement cluster: ${CFG.placeNodes} nodes, ${CFG.placeBackground} placed definitions (pid ${b.pid})`)
  const bStats = newStats()
  await populateNodes(b, CFG.placeNodes, poolsOf, bStats)
  await populateRscDfns(b, 'bg', CFG.placeBackground, CFG.placeNodes, PLACE_COUNT, bStats)
  const warmup = Math.min(20, CFG.placements)
  await populateRscDfns(b, 'place', CFG.placements + warmup, CFG.placeNodes, 0, newStats())
  const e2e: number[] = []
  for (let i = 0; i < CFG.placements + warmup; i++) {
    const t0 = now()
    const r = await api(b, 'POST', `/v1/resource-definitions/${rscName('place', i)}/autoplace`, { select_filter: { place_count: PLACE_COUNT } })
    const elapsed = now() - t0
    if (r.status !== 201) throw new Error(`autoplace of ${rscName('place', i)}: HTTP ${r.status}: ${r.text.slice(0, 300)}`)
    if (i >= warmup) e2e.push(elapsed)
  }
  const memB = memoryOf(b.pid)
  await stopController(b)
  const pools = Array.from({ length: CFG.placeNodes }, (_, i) => poolsOf(i)).reduce((s, n) => s + n, 0)

  // 5. Placement in process: the same cluster as a Model, placeResource alone.
  progress('placement in process')
  const pm = placementModel(CFG.placeNodes, poolsOf, CFG.placeBackground)
  const placeRds = Array.from({ length: CFG.placements + warmup }, (_, i) => newRscDfn(pm, rscName('place', i)))
  const inProc: number[] = []
  placeRds.forEach((rd, i) => {
    const tx = new Tx() // one per placement, as one API call has: the rows are not written
    const t0 = now()
    const p = placeResource(pm, rd, { place_count: PLACE_COUNT }, stackOf(rd))
    const elapsed = now() - t0
    if (i >= warmup) inProc.push(elapsed)
    for (const s of p.selected) createResource(tx, pm, rd, { nodeName: s.nodeName, poolName: s.poolName, layerStack: stackOf(rd) })
  })
  const sizeKib = allocatedKib(placeRds[0]!, stackOf(placeRds[0]!), VOLUME_KIB, false)

  console.log(`\n## placement: ${CFG.placeNodes} nodes, ${pools} FILE_THIN pools (1–3 per node) + a diskless pool each, ` +
    `${CFG.placeBackground * PLACE_COUNT} resources already placed; ${CFG.placements} placements of ${PLACE_COUNT} replicas (${sizeKib} KiB gross), after ${warmup} warm-up`)
  printPopulate('cluster populate (REST)', bStats)
  console.log(`controller RSS ${mib(memB.rss)}, peak ${mib(memB.hwm)}`)
  console.log(`POST …/autoplace end to end (HTTP + placement + durable commit): p50 ${ms(median(e2e), 2)}, p99 ${ms(quantile(e2e, 0.99), 2)}, max ${ms(Math.max(...e2e), 2)}`)
  console.log(`placeResource in process (placer + model glue): p50 ${ms(median(inProc), 3)}, p99 ${ms(quantile(inProc, 0.99), 3)}, max ${ms(Math.max(...inProc), 3)}`)
  verdicts.push({ what: 'one placement among 1,000 nodes (p50)', measured: ms(median(inProc), 3), target: `< ${TARGET.placeMs} ms`, pass: median(inProc) < TARGET.placeMs })
  verdicts.push({ what: '  same, p99', measured: ms(quantile(inProc, 0.99), 3), target: `< ${TARGET.placeMs} ms`, pass: quantile(inProc, 0.99) < TARGET.placeMs })

  console.log(`\nload average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end`)
  console.log('\n## targets (a report: timing never fails the run)')
  for (const v of verdicts) console.log(`${v.what.padEnd(40)} ${v.measured.padStart(12)}   ${v.target.padEnd(24)} ${v.pass ? 'PASS' : 'MISS'}`)
  if (stale !== null) console.log(`WARNING: ${stale}`)
}

main().then(() => cleanup(), (e: unknown) => {
  console.error(`\ncontroller-scale failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
  cleanup()
  process.exitCode = 1
})
