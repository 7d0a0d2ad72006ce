/**
 * What the benchmarks that load a combined node share: starting `blockyard combined` from dist/ as a
 * child process, a keep-alive REST client, and CPU time from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'blockyard.js')

/**
 * Start `blockyard combined` with its own state directory on a free port; resolves with its REST URL
 * once it logged `combined node ready` (so `logLevel` must let info lines through).
 */
export async function startCombined(stateDir: string, opts: { nodeName: string; logLevel: string; nodeArgs?: string[] }): Promise<{ child: ChildProcess; url: string }> {
  const args = [...(opts.nodeArgs ?? []), BIN, 'combined', '--state-dir', stateDir, '--rest-listen', '127.0.0.1:0', '--node-name', opts.nodeName, '--log-level', opts.logLevel]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
    if (err.length > 1 << 20) err = err.slice(-(1 << 19))
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`combined did not start:\n${err}`)), 30_000)
    const onData = (): void => {
      const m = /combined node ready \{"rest":"(http:\/\/[^"]+)"/.exec(err)
      if (m) {
        clearTimeout(timer)
        child.stderr!.off('data', onData)
        resolve(m[1]!)
      }
    }
    child.stderr!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`combined exited with ${code}:\n${err}`)))
  })
  return { child, url }
}

export type Rest = (url: string, method: string, path: string, body?: unknown) => Promise<{ status: number; text: string }>

/**
 * node:http with keep-alive connections, at most `maxSockets`: the load generator shares the machine's
 * cores with the node it measures, and fetch (undici) costs several times more CPU per request.
 */
export function restClient(maxSockets: number): { rest: Rest; agent: Agent } {
  const agent = new Agent({ keepAlive: true, maxSockets })
  const rest: Rest = (url, method, path, body) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return new Promise((resolve, reject) => {
      const req = request(url + path, { method, agent, headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(payload)
    })
  }
  return { rest, agent }
}

const TICK_MS = 1000 / 100 // USER_HZ, 100 on Linux

/**
 * CPU time of process `pid` so far, ms: user + system, or only system with `sysOnly`; with `children`,
 * of its waited-for children too.
 */
export function cpuMs(pid: number | 'self', children = false, sysOnly = false): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const v = f.slice(f.lastIndexOf(')') + 2).split(' ').map(Number)
  // fields 14–17 of proc(5) stat (utime stime cutime cstime), counted here from field 3 (state)
  const [utime, stime, cutime, cstime] = [v[11]!, v[12]!, v[13]!, v[14]!]
  return ((sysOnly ? 0 : utime) + stime + (children ? (sysOnly ? 0 : cutime) + cstime : 0)) * TICK_MS
}

/** The p-th percentile of `xs` (NaN when empty). */
export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

/** `n` with `d` decimals, or "-" when it is not a number. */
export const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '-')
