/**
 * FILE_THIN volumes created and deleted through the satellite's reconcile engine, in-process (no link,
 * no controller): desired store → work queue → engine → storage layer → FILE provider → native addon.
 * A create is one whole pass: observe, create the sparse file, attach a loop device (direct I/O), wait
 * for the device, observe again, report READY. For each P, P clients create COUNT resources between
 * them, each client one after the other (so P are in flight), then delete them the same way; it prints
 * creates/s, deletes/s and p50/p99 latency of one resource (enqueue → READY/GONE report). A report,
 * not a test: it never fails on timing.
 *
 * Run as root: node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/satellite-file-thin.ts
 * SAT_BENCH_COUNT=500 resources per round, SAT_BENCH_P="1,8,32,128".
 * Every loop device it made is detached (the engine deletes what it created; a final sysfs sweep of
 * its own directory catches anything a failure left).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setLogSink } from '../src/common/log.js'
import type { ResourceDesired, ResourceObserved, StorPoolDesired } from '../src/proto/messages.js'
import { DesiredStore } from '../src/satellite/desired-store.js'
import { StorageLayer } from '../src/satellite/layers/storage/storage-layer.js'
import { FileProvider } from '../src/satellite/providers/file.js'
import { ReconcileEngine } from '../src/satellite/reconcile/engine.js'
import { WorkQueue } from '../src/satellite/reconcile/queue.js'
import { detachLoop, listLoops } from '../src/satellite/sys/loop.js'

const COUNT = Number(process.env.SAT_BENCH_COUNT ?? 500)
const PARALLEL = (process.env.SAT_BENCH_P ?? '1,8,32,128').split(',').map(Number)
const SIZE_KIB = 64 * 1024

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

async function round(dir: string, parallel: number, gen: { n: bigint }): Promise<void> {
  const pool: StorPoolDesired = { name: 'bench', providerKind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': dir }, deleted: false }
  const store = new DesiredStore()
  store.replace({ type: 'FullSync', syncId: 1, nodeName: 'bench', nodeProps: {}, storPools: [pool], resources: [] })
  const waiting = new Map<string, { resolve: (o: ResourceObserved) => void }>()

  const engine = new ReconcileEngine({
    store,
    storage: new StorageLayer([new FileProvider()]),
    report: (o) => {
      const w = waiting.get(o.name)
      if (w !== undefined && (o.state === 'READY' || o.state === 'GONE' || o.state === 'FAILED')) {
        waiting.delete(o.name)
        w.resolve(o)
      }
    },
  })
  const queue = new WorkQueue((k) => engine.reconcile(k), { concurrency: parallel })
  const pass = (i: number, deleted: boolean): Promise<ResourceObserved> => {
    const name = `bench${i}`
    const r: ResourceDesired = {
      name,
      generation: ++gen.n,
      deleted,
      layers: ['STORAGE'],
      flags: [],
      props: {},
      volumes: [{ number: 0, netSizeKib: SIZE_KIB, grossSizeKib: SIZE_KIB, storPoolName: 'bench', providerKind: 'FILE_THIN', storPoolProps: pool.props, props: {} }],
    }
    return new Promise((resolve) => {
      waiting.set(name, { resolve })
      queue.enqueue(store.setResource(r)!)
    })
  }
  // P clients, each creating (then deleting) its share of the resources one after the other: the
  // latency is one resource's, enqueue to report, with P in flight.
  const phase = async (deleted: boolean): Promise<{ rate: number; lat: number[]; failed: number }> => {
    const lat: number[] = []
    let failed = 0
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: parallel }, async (_, client) => {
        for (let i = client; i < COUNT; i += parallel) {
          const since = performance.now()
          const o = await pass(i, deleted)
          lat.push(performance.now() - since)
          if (o.state === 'FAILED') failed++
        }
      }),
    )
    return { rate: COUNT / ((performance.now() - t0) / 1000), lat, failed }
  }
  const c = await phase(false)
  const d = await phase(true)
  await queue.close()
  const fmt = (x: { rate: number; lat: number[]; failed: number }): string =>
    `${x.rate.toFixed(0).padStart(6)}/s  p50 ${pct(x.lat, 50).toFixed(1).padStart(6)} ms  p99 ${pct(x.lat, 99).toFixed(1).padStart(6)} ms${x.failed > 0 ? `  FAILED ${x.failed}` : ''}`
  console.log(`P=${String(parallel).padStart(3)}  creates ${fmt(c)}   deletes ${fmt(d)}`)
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('satellite-file-thin: skipped, needs root (loop ioctls need CAP_SYS_ADMIN)')
    return
  }
  setLogSink(null)
  const root = mkdtempSync(join(tmpdir(), 'blockyard-bench-sat-'))
  const gen = { n: 0n }
  try {
    console.log(`FILE_THIN ${SIZE_KIB / 1024} MiB volumes, ${COUNT} per round, through the reconcile engine (create = file + loop attach + device ready)`)
    for (const p of PARALLEL) {
      const dir = join(root, `p${p}`)
      mkdirSync(dir)
      await round(dir, p, gen)
    }
  } finally {
    for (const l of await listLoops()) if (l.backingFile.startsWith(root + '/')) await detachLoop(l.device).catch(() => {})
    rmSync(root, { recursive: true, force: true })
  }
}

await main()
