/**
 * Volume churn on a combined node: CHURN_CLIENTS clients each create a FILE_THIN volume through REST
 * (`POST /v1/resource-groups/churn/spawn`: definition, volume definition and resource in one call) and
 * delete it again (`DELETE /v1/resource-definitions/{rd}`), over and over, for CHURN_SECONDS. A create's
 * latency is from the REST call to its reply, which the controller sends once the satellite reported
 * the volume READY (its loop device answers BLKGETSIZE64); a delete's, to the reply after GONE. It prints
 * creates/s, deletes/s, p50/p99 of both, and the CPU time the node and the clients spent per volume
 * (from /proc: the two cores are shared by both). Eight clients by default: on two cores the node is
 * saturated by then, and more clients only wait longer in its queues. Three seconds of churn before
 * the first round let the JIT compile the node's paths.
 *
 * Baseline, side by side in the same run: what LINSTOR does per FILE_THIN volume, one volume at a time
 * (LINSTOR's device manager is a single thread): `truncate -s 64M FILE`, `losetup -f --show FILE`, then
 * wait for the device node (fs.watch on /dev when it is not there yet: no sleeping), and to delete it
 * `losetup -d DEV` and unlink. Child processes through execa with argument arrays, no artificial
 * sleeps, no REST, no database: only the device work, which is the baseline's best case. Rounds alternate (ours, baseline, ours, baseline…) so neither gets the warmer
 * machine; it prints each round and the ratio of the best rounds, and PASS/MISS against the targets
 * (≥ 1,000 creates/s, p99 < 20 ms, ≥ 10× the baseline). A report, not a test: it never fails on timing.
 *
 * What runs: `node bin/blockyard.js combined` from dist/ (npm run bench:churn builds it first) as a
 * child process with its own state directory, as `npm start` runs it. Run as root (loop devices).
 *   CHURN_CLIENTS=8 CHURN_SECONDS=10 CHURN_ROUNDS=2 CHURN_SIZE_MIB=64
 *   CHURN_CPU_PROF=DIR: the combined node runs with --cpu-prof, a profile per thread written to DIR on exit.
 *   CHURN_LOG_LEVEL=info: the combined node's log level.
 * Every process is stopped by its PID and every loop device on a file of the run's directories is
 * detached, on exit, on errors and on SIGINT.
 */
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, unlinkSync, watch } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { execa } from 'execa'
import { detachLoop, listLoops } from '../src/satellite/sys/loop.js'
import { cpuMs, fmt, pct, restClient, startCombined } from './_combined.js'

const CLIENTS = Number(process.env['CHURN_CLIENTS'] ?? 8)
const SECONDS = Number(process.env['CHURN_SECONDS'] ?? 10)
const ROUNDS = Number(process.env['CHURN_ROUNDS'] ?? 2)
const SIZE_MIB = Number(process.env['CHURN_SIZE_MIB'] ?? 64)
const CPU_PROF = process.env['CHURN_CPU_PROF']
const LOG_LEVEL = process.env['CHURN_LOG_LEVEL'] ?? 'info'

interface RoundResult {
  /** CPU time (user + system, ms) of the combined node and of this process (its HTTP clients) in the round. */
  cpuNodeMs: number
  /** The node's system (kernel) part of it. */
  sysNodeMs: number
  cpuClientMs: number
  creates: number
  deletes: number
  failures: number
  seconds: number
  createMs: number[]
  deleteMs: number[]
}



function line(name: string, r: RoundResult): string {
  return `${name.padEnd(9)} ${fmt(r.creates / r.seconds, 0).padStart(7)} creates/s ${fmt(r.deletes / r.seconds, 0).padStart(7)} deletes/s` +
    `   create p50 ${fmt(pct(r.createMs, 50), 2).padStart(6)} ms p99 ${fmt(pct(r.createMs, 99), 2).padStart(6)} ms` +
    `   delete p50 ${fmt(pct(r.deleteMs, 50), 2).padStart(6)} ms p99 ${fmt(pct(r.deleteMs, 99), 2).padStart(6)} ms` +
    `   cpu per create+delete: node ${fmt(r.cpuNodeMs / r.creates, 2)} ms (kernel ${fmt(r.sysNodeMs / r.creates, 2)}), client ${fmt(r.cpuClientMs / r.creates, 2)} ms` +
    (r.failures > 0 ? `   ${r.failures} FAILED` : '')
}

/** Start `blockyard combined` (CHURN_CPU_PROF: with --cpu-prof). */
function startNode(stateDir: string): Promise<{ child: ChildProcess; url: string }> {
  return startCombined(stateDir, { nodeName: 'churn', logLevel: LOG_LEVEL, nodeArgs: CPU_PROF !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [] })
}

const { rest, agent } = restClient(CLIENTS)

/** A reply with an ERROR or WARN entry (ret_code < 0: the top bit is set for both). */
const troubled = (text: string): boolean => /"ret_code":-/.test(text)

/** The messages of a reply's ERROR and WARN entries (or its text, when it is not a list of ApiCallRc). */
function trouble(text: string): string {
  try {
    const rcs = JSON.parse(text) as { ret_code: number; message: string; cause?: string }[]
    return rcs.filter((rc) => rc.ret_code < 0).map((rc) => rc.message + (rc.cause !== undefined ? ` (${rc.cause})` : '')).join(' / ')
  } catch {
    return text.slice(0, 400)
  }
}

async function oursRound(url: string, pid: number, round: number, seconds = SECONDS): Promise<RoundResult> {
  const r: RoundResult = { cpuNodeMs: -cpuMs(pid), sysNodeMs: -cpuMs(pid, false, true), cpuClientMs: -cpuMs('self'), creates: 0, deletes: 0, failures: 0, seconds: 0, createMs: [], deleteMs: [] }
  let firstError = ''
  const end = performance.now() + seconds * 1000
  const client = async (c: number): Promise<void> => {
    for (let i = 0; performance.now() < end; i++) {
      const name = `churn_${round}_${c}_${i}`
      let t0 = performance.now()
      const made = await rest(url, 'POST', '/v1/resource-groups/churn/spawn', { resource_definition_name: name, volume_sizes: [SIZE_MIB * 1024] })
      if (made.status !== 201 || troubled(made.text)) {
        r.failures++
        firstError ||= `${made.status} ${trouble(made.text)}`
      }
      r.createMs.push(performance.now() - t0)
      r.creates++
      t0 = performance.now()
      const gone = await rest(url, 'DELETE', `/v1/resource-definitions/${name}`)
      if (gone.status !== 200 || troubled(gone.text)) {
        r.failures++
        firstError ||= `${gone.status} ${trouble(gone.text)}`
      }
      r.deleteMs.push(performance.now() - t0)
      r.deletes++
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)))
  r.seconds = (performance.now() - t0) / 1000
  r.cpuNodeMs += cpuMs(pid)
  r.sysNodeMs += cpuMs(pid, false, true)
  r.cpuClientMs += cpuMs('self')
  if (firstError !== '') console.log(`  ${r.failures} replies with errors or warnings; the first: ${firstError}`)
  return r
}

/** Resolves once `device` exists: at once, or on the /dev event that makes it. */
function deviceNode(device: string): Promise<void> {
  if (existsSync(device)) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const w = watch(dirname(device), (_e, name) => {
      if (name === basename(device) && existsSync(device)) {
        w.close()
        resolve()
      }
    })
    w.once('error', reject)
    // The node may have come between the first check and the watch.
    if (existsSync(device)) {
      w.close()
      resolve()
    }
  })
}

async function baselineRound(dir: string, round: number, live: Set<string>): Promise<RoundResult> {
  // The baseline's "node" is its tools (truncate, losetup: waited-for children); its client is this process.
  const r: RoundResult = { cpuNodeMs: -(cpuMs('self', true) - cpuMs('self')), sysNodeMs: -(cpuMs('self', true, true) - cpuMs('self', false, true)), cpuClientMs: -cpuMs('self'), creates: 0, deletes: 0, failures: 0, seconds: 0, createMs: [], deleteMs: [] }
  const end = performance.now() + SECONDS * 1000
  const t0 = performance.now()
  for (let i = 0; performance.now() < end; i++) {
    const file = join(dir, `base_${round}_${i}_00000.img`)
    let t = performance.now()
    await execa('truncate', ['-s', `${SIZE_MIB}M`, file], { timeout: 10_000 })
    const device = (await execa('losetup', ['-f', '--show', file], { timeout: 10_000 })).stdout.trim()
    live.add(device)
    await deviceNode(device)
    r.createMs.push(performance.now() - t)
    r.creates++
    t = performance.now()
    await execa('losetup', ['-d', device], { timeout: 10_000 })
    live.delete(device)
    unlinkSync(file)
    r.deleteMs.push(performance.now() - t)
    r.deletes++
  }
  r.seconds = (performance.now() - t0) / 1000
  r.cpuNodeMs += cpuMs('self', true) - cpuMs('self')
  r.sysNodeMs += cpuMs('self', true, true) - cpuMs('self', false, true)
  r.cpuClientMs += cpuMs('self')
  return r
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('churn: skipped, needs root (the combined node and the baseline make loop devices)')
    return
  }
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'blockyard-churn-')))
  const baseDir = join(root, 'baseline')
  mkdirSync(baseDir)
  const live = new Set<string>()
  let node: { child: ChildProcess; url: string } | undefined
  const cleanup = async (): Promise<void> => {
    if (node !== undefined && node.child.exitCode === null && node.child.signalCode === null) {
      const gone = once(node.child, 'exit')
      node.child.kill('SIGTERM')
      await gone
    }
    for (const d of live) await detachLoop(d).catch(() => {})
    for (const l of await listLoops()) if (l.backingFile.startsWith(root + '/')) await detachLoop(l.device).catch(() => {})
    rmSync(root, { recursive: true, force: true })
    agent.destroy()
  }
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)))
  try {
    node = await startNode(join(root, 'state'))
    const setup = await rest(node.url, 'POST', '/v1/resource-groups', { name: 'churn', select_filter: { place_count: 1, storage_pool: 'DfltStorPool', layer_stack: ['STORAGE'] } })
    if (setup.status !== 201) throw new Error(`resource group: ${setup.text}`)
    console.log(`churn: ${CLIENTS} clients, ${SECONDS} s per round, ${ROUNDS} rounds, FILE_THIN ${SIZE_MIB} MiB volumes; load average before ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
    // Three seconds of churn first: the node's code paths are compiled (JIT) before anything is measured.
    await oursRound(node.url, node.child.pid!, -1, 3)
    const ours: RoundResult[] = []
    const base: RoundResult[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const o = await oursRound(node.url, node.child.pid!, round)
      ours.push(o)
      console.log(line(`blockyard`, o))
      const b = await baselineRound(baseDir, round, live)
      base.push(b)
      console.log(line(`baseline`, b))
    }
    const left = (await listLoops()).filter((l) => l.backingFile.startsWith(root + '/'))
    if (left.length > 0) console.log(`  ${left.length} loop devices left after the run (detached now)`)
    const best = (rs: RoundResult[]): RoundResult => rs.reduce((a, b) => (b.creates / b.seconds > a.creates / a.seconds ? b : a))
    const o = best(ours)
    const b = best(base)
    const rate = o.creates / o.seconds
    const ratio = rate / (b.creates / b.seconds)
    const p99 = pct(o.createMs, 99)
    console.log(`\nbest rounds: blockyard ${fmt(rate, 0)} creates/s (p99 ${fmt(p99, 2)} ms), baseline ${fmt(b.creates / b.seconds, 0)} creates/s: ratio ${fmt(ratio, 1)}×`)
    console.log(`  ${rate >= 1000 ? 'PASS' : 'MISS'} ≥ 1,000 creates/s   ${p99 < 20 ? 'PASS' : 'MISS'} create p99 < 20 ms   ${ratio >= 10 ? 'PASS' : 'MISS'} ≥ 10× the baseline`)
    console.log(`load average after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  } finally {
    await cleanup()
  }
}

await main()
