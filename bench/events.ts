/**
 * Events fan-out on a combined node: EVENTS_SUBSCRIBERS WebSocket subscribers on loopback follow
 * `ws://…/v1/x-blockyard/events` (every event, no filter) while a volume churn workload (bench/churn.ts's:
 * spawn a FILE_THIN volume through REST, delete it again, real loop devices) runs at a fixed pace chosen
 * so that the stream carries about EVENTS_RATE events/s, for EVENTS_SECONDS.
 *
 * It prints the events actually committed per second, the events delivered (in total and per
 * subscriber), the WebSocket messages they came in (one per batch the hub publishes: what costs a
 * write on the node and a read here, per subscriber) and the CPU per message, the delay from commit to receipt (p50/p99/max: an event's `time` is when its unit became
 * durable, in µs; the subscribers read the same clock, `performance.timeOrigin + performance.now()` as
 * the hub, in other processes and threads of this machine), and PASS/MISS for p99 < 10 ms at 1,000
 * events/s with 1,000 subscribers. Every subscriber is checked to have got every event: its count,
 * and its revisions in order (sum and rolling hash), equal to the hub's own history of the window,
 * fetched afterwards with `since=` (the record of what was committed).
 *
 * The subscribers are a minimal WebSocket client on raw `net` sockets written for this bench (server
 * frames are unmasked; fragments and several frames per read handled; pings answered), in worker
 * threads: per frame it finds each event's revision and time with Buffer.indexOf and parses a time
 * string once per batch, so that a thousand of them do not take the two cores the node needs.
 *
 * Baseline: no events. What a client without them pays per look: a plain REST poll of
 * `GET /v1/view/resources`, every EVENTS_POLL_MS during the run, its latency printed alongside (a poller
 * sees a change on average half its interval plus that late).
 *
 * What runs: `node bin/blockyard.js combined` from dist/ (npm run bench:events builds it first) with its
 * own state directory, as bench/churn.ts starts it. Run as root (loop devices), on a quiet machine.
 *   EVENTS_SUBSCRIBERS=1000 EVENTS_SECONDS=10 EVENTS_RATE=1000 EVENTS_WORKERS=1 EVENTS_POLL_MS=100
 *   EVENTS_LOG_LEVEL=info: the combined node's log level (its ready line is logged at info).
 * The node is stopped by its PID and every loop device on a file of the run's directory detached, on
 * exit, on errors and on SIGINT.
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, realpathSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { EVENTS_PATH } from '../src/controller/events/event.js'
import { cpuMs, fmt, pct, restClient, startCombined } from './_combined.js'

const SUBSCRIBERS = Number(process.env['EVENTS_SUBSCRIBERS'] ?? 1000)
const SECONDS = Number(process.env['EVENTS_SECONDS'] ?? 10)
const RATE = Number(process.env['EVENTS_RATE'] ?? 1000)
const WORKERS = Math.max(1, Number(process.env['EVENTS_WORKERS'] ?? 1))
const POLL_MS = Number(process.env['EVENTS_POLL_MS'] ?? 100)
const LOG_LEVEL = process.env['EVENTS_LOG_LEVEL'] ?? 'info'
const SIZE_MIB = 16
/** Delay histogram: 10 µs buckets up to 1 s; later ones are kept exactly. */
const BUCKET_MS = 0.01
const BUCKETS = 100_000

const now = (): number => performance.timeOrigin + performance.now()

// ---------------------------------------------------------------------------------------------------
// The minimal WebSocket subscriber (both threads use it: the workers for the load, main for the record)

/** What a subscriber counts of the events in the window (start, end] of revisions. */
interface Tally {
  count: number
  revSum: number
  /** Rolling hash of the revisions in the order received: equal hashes, equal sequences. */
  revHash: number
  lastRev: number
  /** Revisions that went down (never expected). */
  disorder: number
}

const newTally = (): Tally => ({ count: 0, revSum: 0, revHash: 0, lastRev: 0, disorder: 0 })

function tallyRev(t: Tally, rev: number): void {
  t.count++
  t.revSum += rev
  t.revHash = (Math.imul(t.revHash, 31) + rev) >>> 0
  if (rev < t.lastRev) t.disorder++
  t.lastRev = rev
}

interface Window {
  start: number
  end: number
}

const REV = '{"revision":'
const TIME = ',"time":"'
const HELLO = '{"type":"hello","revision":'
const TIME_CHARS = 27 // 2026-11-22T22:40:01.123456Z

/** Reads a decimal number at `at` in `s`; returns [value, index after it]. */
function readInt(s: string, at: number): [number, number] {
  let n = 0
  let i = at
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) break
    n = n * 10 + (c - 48)
  }
  return [n, i]
}

/** The delays of one thread's subscribers, merged at the end. */
class Delays {
  readonly buckets = new Uint32Array(BUCKETS)
  readonly over: number[] = []
  max = 0
  n = 0
  /** When the last receipt counted came in (ms, the shared clock). */
  lastAt = 0
  add(ms: number, at: number): void {
    this.n++
    if (at > this.lastAt) this.lastAt = at
    if (ms > this.max) this.max = ms
    const i = Math.floor(Math.max(0, ms) / BUCKET_MS)
    if (i < BUCKETS) this.buckets[i]!++
    else this.over.push(ms)
  }
}

/** Event times are parsed once per distinct text: every event of a batch, and every subscriber, share it. */
class TimeCache {
  private text = ''
  private ms = 0
  at(s: string, i: number): number {
    const t = s.slice(i, i + TIME_CHARS)
    if (t === this.text) return this.ms
    this.text = t
    this.ms = Date.parse(`${t.slice(0, 23)}Z`) + Number(t.slice(23, 26)) / 1000
    return this.ms
  }
}

const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)

class Subscriber {
  readonly tally = newTally()
  /** Text messages in the window (frames of events; a batch of the hub is one). */
  messages = 0
  hello = -1
  closeCode = 0
  /** The status line of a refused upgrade. */
  refused = ''
  private sock!: Socket
  private pending: Buffer | null = null
  private fragments: Buffer[] = []
  private handshaken = false
  private received = 0

  constructor(private readonly window: Window, private readonly delays: Delays | null, private readonly times: TimeCache, private readonly onText?: (msg: Buffer) => void) {}

  /** Connects and completes the upgrade; resolves once the server's hello is in. */
  open(port: number, query = ''): Promise<void> {
    return new Promise((resolve, reject) => {
      const key = randomBytes(16).toString('base64')
      // `onread`: reads land in one buffer the thread's subscribers share (whatever must outlive the
      // callback is copied), without the stream machinery and an allocation per read.
      this.sock = connect({
        port, host: '127.0.0.1', onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => {
          this.received = now()
          this.onData(Buffer.from(buf.buffer, buf.byteOffset, n))
          if (this.hello >= 0) resolve()
          return true
        } },
      }, () => {
        this.sock.setNoDelay(true)
        this.sock.write(`GET ${EVENTS_PATH}${query} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
      })
      this.sock.on('error', reject)
      this.sock.on('close', () => reject(new Error(`closed before hello: ${this.refused || `close code ${this.closeCode}`}`)))
    })
  }

  close(): void {
    this.sock.destroy()
  }

  private onData(chunk: Buffer): void {
    let b = this.pending === null ? chunk : Buffer.concat([this.pending, chunk])
    this.pending = null
    if (!this.handshaken) {
      const end = b.indexOf('\r\n\r\n')
      if (end < 0) {
        this.pending = Buffer.from(b)
        return
      }
      const head = b.toString('latin1', 0, end)
      if (!head.startsWith('HTTP/1.1 101')) {
        this.refused = head.split('\r\n')[0]!
        this.sock.destroy()
        return
      }
      this.handshaken = true
      b = b.subarray(end + 4)
    }
    let i = 0
    for (;;) {
      if (b.length - i < 2) break
      const b0 = b[i]!
      const b1 = b[i + 1]!
      let len = b1 & 0x7f
      let at = i + 2
      if (len === 126) {
        if (b.length - i < 4) break
        len = b.readUInt16BE(i + 2)
        at = i + 4
      } else if (len === 127) {
        if (b.length - i < 10) break
        len = Number(b.readBigUInt64BE(i + 2))
        at = i + 10
      }
      const masked = (b1 & 0x80) !== 0
      if (masked) at += 4
      if (b.length - at < len) break
      let payload = b.subarray(at, at + len)
      if (masked) {
        const mask = b.subarray(at - 4, at)
        payload = Buffer.from(payload.map((x, k) => x ^ mask[k & 3]!))
      }
      this.frame(b0 & 0x80 ? true : false, b0 & 0x0f, payload)
      i = at + len
    }
    if (i < b.length) this.pending = Buffer.from(b.subarray(i)) // a copy: `b` may be a reused chunk
  }

  private frame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case 0x0: // continuation
      case 0x1: // text
        if (!fin) {
          this.fragments.push(Buffer.from(payload))
          return
        }
        if (this.fragments.length > 0) {
          this.fragments.push(payload)
          payload = Buffer.concat(this.fragments)
          this.fragments = []
        }
        this.message(payload)
        return
      case 0x8:
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005
        return
      case 0x9: // ping: a masked pong with the same payload (clients always mask)
        this.sock.write(maskedFrame(0xa, payload))
        return
      default: // pong, binary: nothing to do
    }
  }

  /**
   * One text message. Scanned as a latin1 string: one conversion per message, then V8's own string
   * search (a Buffer method per event would cross into C++ each time).
   */
  private message(msg: Buffer): void {
    const s = msg.toString('latin1')
    if (this.hello < 0 && s.startsWith(HELLO)) {
      this.hello = readInt(s, HELLO.length)[0]
      return
    }
    this.onText?.(msg)
    const { start, end } = this.window
    let counted = false // a message counts once, at its first event in the window
    for (let i = s.indexOf(REV); i >= 0; i = s.indexOf(REV, i)) {
      const [rev, after] = readInt(s, i + REV.length)
      i = after
      if (rev <= start || rev > end) continue
      if (!counted) {
        counted = true
        this.messages++
      }
      tallyRev(this.tally, rev)
      if (this.delays !== null && s.startsWith(TIME, after)) {
        this.delays.add(this.received - this.times.at(s, after + TIME.length), this.received)
      }
    }
  }
}

function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4)
  const head = Buffer.from([0x80 | opcode, 0x80 | payload.length])
  return Buffer.concat([head, mask, Buffer.from(payload.map((x, k) => x ^ mask[k & 3]!))])
}

// ---------------------------------------------------------------------------------------------------
// Worker: a share of the subscribers

type ToWorker = { cmd: 'start'; start: number } | { cmd: 'finish'; end: number; deadline: number }
interface WorkerStats {
  tallies: Tally[]
  messages: number
  closeCodes: number[]
  buckets: Uint32Array
  over: number[]
  max: number
  n: number
  /** When the last event of the window came in to any of the worker's subscribers (ms, the shared clock). */
  lastAt: number
}

async function workerMain(): Promise<void> {
  const { port, count } = workerData as { port: number; count: number }
  const window: Window = { start: Number.MAX_SAFE_INTEGER, end: Number.MAX_SAFE_INTEGER }
  const delays = new Delays()
  const times = new TimeCache()
  const subs: Subscriber[] = []
  let failed = 0
  // A hundred handshakes at a time: the listen backlog is finite.
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, () => new Subscriber(window, delays, times))
    const opened = await Promise.allSettled(batch.map((s) => s.open(port)))
    for (const [k, r] of opened.entries()) {
      if (r.status === 'fulfilled') subs.push(batch[k]!)
      else failed++
    }
  }
  parentPort!.postMessage({ connected: subs.length, failed })
  parentPort!.on('message', (m: ToWorker) => {
    if (m.cmd === 'start') {
      window.start = m.start
      return
    }
    window.end = m.end
    const poll = (): void => {
      const behind = subs.some((s) => s.tally.lastRev < m.end && s.closeCode === 0)
      if (behind && Date.now() < m.deadline) {
        setTimeout(poll, 20)
        return
      }
      const stats: WorkerStats = {
        tallies: subs.map((s) => s.tally), messages: subs.reduce((a, s) => a + s.messages, 0), closeCodes: subs.map((s) => s.closeCode),
        buckets: delays.buckets, over: delays.over, max: delays.max, n: delays.n, lastAt: delays.lastAt,
      }
      for (const s of subs) s.close()
      parentPort!.postMessage(stats)
    }
    poll()
  })
}

/** Workers do not inherit tsx's loader: each registers it, then runs this file. */
const WORKER_BOOT = `
const { workerData } = require('node:worker_threads')
import('tsx/esm/api').then(({ register }) => { register(); return import(workerData.url) })
`

// ---------------------------------------------------------------------------------------------------
// Main: the node, the churn at a fixed pace, the poll baseline, the record, the report

const { rest, agent } = restClient(32)


/** Percentile of the merged histogram (bucket upper bound), or of the exact values above it. */
function histPct(buckets: Uint32Array, over: number[], n: number, p: number): number {
  const rank = Math.min(n - 1, Math.floor((p / 100) * n))
  let seen = 0
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i]!
    if (seen > rank) return (i + 1) * BUCKET_MS
  }
  const s = [...over].sort((a, b) => a - b)
  return s[rank - seen] ?? NaN
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')

/** Churn cycles (spawn a volume, delete it) started at a fixed interval, at most `maxInFlight` at once. */
async function churn(url: string, cyclesPerSecond: number, seconds: number, tag: string): Promise<{ cycles: number; skipped: number; failures: number; firstError: string }> {
  const maxInFlight = 32
  const out = { cycles: 0, skipped: 0, failures: 0, firstError: '' }
  let inFlight = 0
  const running = new Set<Promise<void>>()
  const cycle = async (i: number): Promise<void> => {
    const name = `ev_${tag}_${i}`
    const made = await rest(url, 'POST', '/v1/resource-groups/churn/spawn', { resource_definition_name: name, volume_sizes: [SIZE_MIB * 1024] })
    if (made.status !== 201) {
      out.failures++
      out.firstError ||= `${made.status} ${made.text.slice(0, 300)}`
    }
    const gone = await rest(url, 'DELETE', `/v1/resource-definitions/${name}`)
    if (gone.status !== 200) {
      out.failures++
      out.firstError ||= `${gone.status} ${gone.text.slice(0, 300)}`
    }
    out.cycles++
  }
  const interval = 1000 / cyclesPerSecond
  const t0 = performance.now()
  for (let i = 0; ; i++) {
    const at = t0 + i * interval
    if (at >= t0 + seconds * 1000) break
    const wait = at - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    if (inFlight >= maxInFlight) {
      out.skipped++
      continue
    }
    inFlight++
    const p = cycle(i).finally(() => {
      inFlight--
      running.delete(p)
    })
    running.add(p)
  }
  await Promise.all(running)
  return out
}

/** GET /v1/view/resources every POLL_MS until `stop()`; the latency of each look. */
function poller(url: string): { stop: () => Promise<number[]> } {
  const ms: number[] = []
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const t0 = performance.now()
      await rest(url, 'GET', '/v1/view/resources')
      ms.push(performance.now() - t0)
      await new Promise((r) => setTimeout(r, POLL_MS))
    }
  })()
  return { stop: async () => {
    stopped = true
    await loop
    return ms
  } }
}

/** Resolves once `sub` has seen no event for `quietMs` (the node's trailing satellite reports are in). */
async function quiet(meter: { last: number }, quietMs: number, maxMs: number): Promise<void> {
  const deadline = performance.now() + maxMs
  while (performance.now() < deadline && performance.now() - meter.last < quietMs) await new Promise((r) => setTimeout(r, 50))
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('events: skipped, needs root (the combined node makes loop devices)')
    return
  }
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'blockyard-events-')))
  let node: { child: ChildProcess; url: string } | undefined
  const workers: Worker[] = []
  const cleanup = async (): Promise<void> => {
    for (const w of workers) await w.terminate()
    if (node !== undefined && node.child.exitCode === null && node.child.signalCode === null) {
      const gone = once(node.child, 'exit')
      node.child.kill('SIGTERM')
      await gone
    }
    const { detachLoop, listLoops } = await import('../src/satellite/sys/loop.js')
    for (const l of await listLoops()) if (l.backingFile.startsWith(root + '/')) await detachLoop(l.device).catch(() => {})
    rmSync(root, { recursive: true, force: true })
    agent.destroy()
  }
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)))
  try {
    node = await startCombined(join(root, 'state'), { nodeName: 'events', logLevel: LOG_LEVEL })
    const port = Number(new URL(node.url).port)
    const setup = await rest(node.url, 'POST', '/v1/resource-groups', { name: 'churn', select_filter: { place_count: 1, storage_pool: 'DfltStorPool', layer_stack: ['STORAGE'] } })
    if (setup.status !== 201) throw new Error(`resource group: ${setup.text}`)
    console.log(`events: ${int(SUBSCRIBERS)} WebSocket subscribers in ${WORKERS} worker thread(s), ${SECONDS} s, target ${int(RATE)} events/s; load average before ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)

    // A meter in this thread: every event, to pace the churn and to tell when the node is quiet.
    const all: Window = { start: 0, end: Number.MAX_SAFE_INTEGER }
    const meter = { last: performance.now() }
    const meterSub = new Subscriber(all, null, new TimeCache(), () => {
      meter.last = performance.now()
    })
    await meterSub.open(port)

    // Warm-up (JIT) and the events one create+delete cycle makes here.
    const before = meterSub.tally.count
    const warm = await churn(node.url, 20, 3, 'warm')
    await quiet(meter, 500, 5000)
    const perCycle = (meterSub.tally.count - before) / Math.max(1, warm.cycles)
    const cyclesPerSecond = RATE / perCycle
    console.log(`  warm-up: ${warm.cycles} cycles, ${fmt(perCycle, 1)} events per create+delete cycle → ${fmt(cyclesPerSecond, 1)} cycles/s for ${int(RATE)} events/s`)

    // The subscribers.
    const per = Math.ceil(SUBSCRIBERS / WORKERS)
    const replies: { connected: number; failed: number }[] = []
    for (let w = 0; w < WORKERS; w++) {
      const count = Math.min(per, SUBSCRIBERS - w * per)
      if (count <= 0) break
      const worker = new Worker(WORKER_BOOT, { eval: true, workerData: { port, count, url: import.meta.url } })
      workers.push(worker)
      replies.push(await new Promise((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
      }))
    }
    const connected = replies.reduce((a, r) => a + r.connected, 0)
    const failedToConnect = replies.reduce((a, r) => a + r.failed, 0)
    console.log(`  subscribers connected: ${int(connected)}${failedToConnect > 0 ? ` (${failedToConnect} failed)` : ''}`)

    // The window: every revision after `start`, up to the last one once the node is quiet again.
    await quiet(meter, 300, 5000)
    const start = meterSub.tally.lastRev
    for (const w of workers) w.postMessage({ cmd: 'start', start } satisfies ToWorker)
    const cpu0 = { node: cpuMs(node.child.pid!), nodeSys: cpuMs(node.child.pid!, false, true), self: cpuMs('self'), selfSys: cpuMs('self', false, true) }
    const poll = poller(node.url)
    const t0 = now()
    const run = await churn(node.url, cyclesPerSecond, SECONDS, 'run')
    const churnSeconds = (now() - t0) / 1000
    const pollMs = await poll.stop()
    await quiet(meter, 500, 10_000)
    const end = meterSub.tally.lastRev
    const stats = await Promise.all(workers.map((w) => new Promise<WorkerStats>((resolve) => {
      w.once('message', resolve)
      w.postMessage({ cmd: 'finish', end, deadline: Date.now() + 30_000 } satisfies ToWorker)
    })))
    const cpu1 = { node: cpuMs(node.child.pid!), nodeSys: cpuMs(node.child.pid!, false, true), self: cpuMs('self'), selfSys: cpuMs('self', false, true) }
    meterSub.close()

    // The record: the hub's history of the window, replayed with since=start.
    const record = new Subscriber({ start, end }, null, new TimeCache())
    await record.open(port, `?since=${start}`)
    const recDeadline = Date.now() + 30_000
    while (record.tally.lastRev < end && Date.now() < recDeadline) await new Promise((r) => setTimeout(r, 20))
    record.close()
    const ref = record.tally
    const lastDone = Math.max(...stats.map((s) => s.lastAt))
    const windowSeconds = (lastDone - t0) / 1000

    const tallies = stats.flatMap((s) => s.tallies)
    const complete = tallies.filter((t) => t.count === ref.count && t.revSum === ref.revSum && t.revHash === ref.revHash && t.disorder === 0).length
    const delivered = tallies.reduce((a, t) => a + t.count, 0)
    const closed = stats.flatMap((s) => s.closeCodes).filter((c) => c !== 0)
    const buckets = new Uint32Array(BUCKETS)
    for (const s of stats) for (let i = 0; i < BUCKETS; i++) buckets[i]! += s.buckets[i]!
    const over = stats.flatMap((s) => s.over)
    const n = stats.reduce((a, s) => a + s.n, 0)
    const max = Math.max(...stats.map((s) => s.max))
    const p50 = histPct(buckets, over, n, 50)
    const p99 = histPct(buckets, over, n, 99)
    const committedRate = ref.count / churnSeconds

    console.log(`  committed: ${int(ref.count)} events in ${fmt(churnSeconds, 1)} s = ${int(committedRate)} events/s (revisions ${start + 1}–${end}; ${run.cycles} create+delete cycles${run.skipped > 0 ? `, ${run.skipped} skipped: ${32} in flight` : ''}${run.failures > 0 ? `, ${run.failures} failed: ${run.firstError}` : ''})`)
    console.log(`  delivered: ${int(delivered)} events to ${int(tallies.length)} subscribers in ${fmt(windowSeconds, 1)} s = ${int(delivered / windowSeconds)} events/s in total, ${int(delivered / windowSeconds / Math.max(1, tallies.length))} per subscriber`)
    const messages = stats.reduce((a, s) => a + s.messages, 0)
    console.log(`  messages: ${int(messages)} WebSocket messages = ${int(messages / windowSeconds / Math.max(1, tallies.length))} per subscriber per second, ${fmt(delivered / Math.max(1, messages), 1)} events each (one per batch the hub publishes)`)
    console.log(`  complete: ${int(complete)}/${int(tallies.length)} subscribers got every event of the window (${int(ref.count)} each, the same revisions in the same order as the hub's history)${closed.length > 0 ? `; ${closed.length} closed by the server (codes ${[...new Set(closed)].join(', ')})` : ''}`)
    console.log(`  delay commit → receipt: p50 ${fmt(p50, 2)} ms  p99 ${fmt(p99, 2)} ms  max ${fmt(max, 2)} ms  (${int(n)} receipts)`)
    const secs = (ms: number): string => fmt(ms / 1000, 1)
    console.log(`  cpu: node ${secs(cpu1.node - cpu0.node)} s (kernel ${secs(cpu1.nodeSys - cpu0.nodeSys)} s), this process (churn, poller, subscriber threads) ${secs(cpu1.self - cpu0.self)} s (kernel ${secs(cpu1.selfSys - cpu0.selfSys)} s), over ${fmt(windowSeconds, 1)} s on ${availableParallelism()} cores; per message delivered: node ${fmt(((cpu1.node - cpu0.node) * 1000) / Math.max(1, messages), 1)} µs, this process ${fmt(((cpu1.self - cpu0.self) * 1000) / Math.max(1, messages), 1)} µs`)
    console.log(`  baseline, no events: a REST poll of GET /v1/view/resources every ${POLL_MS} ms during the run: p50 ${fmt(pct(pollMs, 50), 2)} ms  p99 ${fmt(pct(pollMs, 99), 2)} ms per look (${pollMs.length} looks); a poller sees a change on average half its interval plus that late`)
    // The target's conditions: a run below them says MISS with the reason, whatever its delays.
    const short: string[] = []
    if (connected < 1000) short.push(`${int(connected)} subscribers, not 1,000`)
    if (committedRate < 900) short.push(`${int(committedRate)} events/s committed, not about 1,000`)
    if (complete !== tallies.length) short.push('not every subscriber got every event')
    console.log(`  ${p99 < 10 && short.length === 0 ? 'PASS' : 'MISS'} p99 < 10 ms at 1,000 events/s with 1,000 subscribers${short.length > 0 ? ` (${short.join('; ')})` : ''}`)
    console.log(`load average after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  } finally {
    await cleanup()
  }
}

if (isMainThread) await main()
else await workerMain()
