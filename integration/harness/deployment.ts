/**
 * Blockyard deployed on a test cluster (either harness, nodes.ts): a controller on the host where it
 * reaches the nodes (inside the qemu harness's network namespace), a satellite in every node, and REST
 * calls to the controller from the test.
 *
 * The test process itself stays outside the namespace; it talks to the controller through a forwarder
 * started next to the controller that listens on a unix socket (file system paths cross network
 * namespaces) and connects to the controller's TCP port.
 *
 * Programs are the bundles of harness/bundle.ts: the same `blockyard` file runs the controller on the host
 * and the satellites in the nodes.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { EVENTS_PATH } from '../../src/controller/events/event.js'
import { until as poll } from '../../test/helpers/until.js'
import { bundleForGuest, hostBundlePath } from './bundle.js'
import type { RunResult } from './agent-client.js'
import type { TestCluster, TestNode } from './nodes.js'

const REST_PORT = 3370
const SATELLITE_PORT = 3366
/** Where a node's satellite writes its PID, so that a test can kill it as a crash would. */
const PID_FILE = '/run/blockyard-satellite.pid'

export interface RestReply<T = unknown> {
  status: number
  body: T
}

/** One event of the controller's events stream (docs/events.md), as sent. */
export interface StreamEvent {
  revision: number
  kind: string
  action: string
  resource?: string
  node?: string
  volume_number?: number
  /** LINSTOR's JSON of the object: scenarios read the fields they check. */
  object: any
}

/**
 * A subscription to the events stream: every event in the order it came. Scenarios wait for the
 * events they expect with `next`, which looks from the event the previous `next` found on (that one
 * included: one report can show two awaited facts, e.g. a peer lost and may-promote), so a sequence
 * of waits checks the order too.
 */
export class EventLog {
  readonly events: StreamEvent[] = []
  #from = 0
  #closedWith: Error | null = null
  #wake: (() => void) | null = null

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString('utf8')) as { type: string; events?: StreamEvent[]; message?: string }
      if (msg.type === 'events' || msg.type === 'current') this.events.push(...(msg.events ?? []))
      else if (msg.type === 'error') this.#closedWith = new Error(`events stream: ${msg.message ?? 'error'}`)
      this.#wake?.()
    })
    ws.on('close', (code) => {
      this.#closedWith ??= new Error(`events stream closed (${code})`)
      this.#wake?.()
    })
  }

  /** The first event from the last match on (included) that satisfies `pred`; rejects naming `what` after `timeoutMs`. */
  async next(what: string, pred: (e: StreamEvent) => boolean, timeoutMs: number): Promise<StreamEvent> {
    const end = Date.now() + timeoutMs
    for (;;) {
      const i = this.events.findIndex((e, j) => j >= this.#from && pred(e))
      if (i >= 0) {
        this.#from = i
        return this.events[i]!
      }
      if (this.#closedWith !== null) throw this.#closedWith
      const left = end - Date.now()
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for an event: ${what}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = null
    }
  }

  close(): void {
    this.ws.close()
  }
}

/** A satellite running in a node: its PID file is PID_FILE there; `exited` settles when it ends. */
interface SatelliteProc {
  exited: Promise<RunResult>
}

export interface DeployOptions {
  log?: (line: string) => void
}

/** Host processes get this long to exit after SIGTERM before they are killed. */
const STOP_GRACE_MS = 10_000

/**
 * Deployments not stopped yet. A test process that exits without stopping one (interrupted: the VM
 * cluster's signal handler exits the process) kills its host processes and removes its directory here.
 */
const running = new Set<Deployment>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const d of running) d.stopSync()
  })
}

/** Forwards connections on a unix socket to a TCP address; written for `node -e`, inside the namespace. */
const FORWARDER = `const net = require('net'); const [sock, host, port] = process.argv.slice(1);
net.createServer((c) => { const u = net.connect(Number(port), host); c.pipe(u).pipe(c);
  const end = () => { c.destroy(); u.destroy() }; c.on('error', end); u.on('error', end) })
  .listen(sock, () => console.log('forwarding'))`

export class Deployment {
  readonly #satellites = new Map<string, SatelliteProc>()
  readonly #host = new Set<ChildProcess>()
  #controllerErr = ''
  #stopped: Promise<void> | undefined

  private constructor(
    readonly cluster: TestCluster,
    private readonly dir: string,
    private readonly blockyard: { host: string; guest: string },
    private readonly secret: string,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Bundles the `blockyard` program, starts the controller on the host and a satellite in every node, and
   * registers the nodes (satellites at their addresses, port 3366); resolves once every node is ONLINE.
   */
  static async start(cluster: TestCluster, opts: DeployOptions = {}): Promise<Deployment> {
    const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`))
    const guest = await bundleForGuest({ blockyard: 'integration/guest/blockyard.ts' }, cluster.projectDir)
    await cluster.syncProject()
    const dir = await mkdtemp(join(tmpdir(), 'blockyard-deploy-'))
    const d = new Deployment(cluster, dir, { host: hostBundlePath('blockyard'), guest: guest.blockyard! }, randomBytes(24).toString('base64url'), log)
    installExitHook()
    running.add(d)
    try {
      await d.#startController()
      await Promise.all(cluster.nodes.map((n) => d.startSatellite(n)))
      for (const n of cluster.nodes) {
        const r = await d.rest('POST', '/v1/nodes', { name: n.name, type: 'SATELLITE', net_interfaces: [{ name: 'default', address: n.address, satellite_port: SATELLITE_PORT, satellite_encryption_type: 'PLAIN' }] })
        if (r.status >= 300) throw new Error(`node create ${n.name}: ${r.status} ${JSON.stringify(r.body)}`)
      }
      await Promise.all(cluster.nodes.map((n) => d.waitOnline(n)))
    } catch (err) {
      await d.stop().catch(() => {})
      throw err
    }
    return d
  }

  /** A REST call to the controller; the body is parsed JSON (or the raw text when it is not JSON). */
  rest<T = unknown>(method: string, path: string, body?: unknown): Promise<RestReply<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    return new Promise((resolve, reject) => {
      const req = request(
        { socketPath: join(this.dir, 'rest.sock'), method, path, headers: { host: 'controller', ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) } },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            let parsed: unknown = text
            try {
              parsed = text === '' ? undefined : JSON.parse(text)
            } catch {
              // not JSON: the text is the answer
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T })
          })
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(payload)
    })
  }

  /** Subscribes to the controller's events stream with `query` (e.g. `kinds=resource&names=r1`); resolves once it is open. */
  events(query: string): Promise<EventLog> {
    const ws = new WebSocket(`ws+unix://${join(this.dir, 'rest.sock')}:${EVENTS_PATH}?${query}`)
    const log = new EventLog(ws)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(log))
      ws.once('error', reject)
    })
  }

  /** Resolves when the controller reports `node` ONLINE; rejects after `timeoutMs`. */
  async waitOnline(node: TestNode, timeoutMs = 180_000): Promise<void> {
    await until(`${node.name} ONLINE`, async () => {
      const r = await this.rest<{ connection_status?: string }>('GET', `/v1/nodes/${node.name}`)
      return r.status === 200 && r.body.connection_status === 'ONLINE'
    }, timeoutMs)
  }

  /** Starts the satellite in `node` (again: after a kill or a restart of the node). */
  async startSatellite(node: TestNode): Promise<void> {
    // The shell only writes the PID file and execs: the satellite's own argv is fixed here.
    const argv = ['sh', '-c', `echo $$ >${PID_FILE} && exec "$@"`, 'sh', 'env', `BLOCKYARD_CLUSTER_SECRET=${this.secret}`, 'node', this.blockyard.guest, 'satellite', '--node-name', node.name, '--listen', `${node.address}:${SATELLITE_PORT}`]
    const exited = node.run(argv, { timeoutMs: 0 })
    exited.then(
      (r) => this.log(`${node.name}: satellite exited (${r.signal ? `signal ${r.signal}` : `code ${r.exitCode}`}); its stderr:\n${r.stderr.split('\n').slice(-40).join('\n')}`),
      () => {}, // the node went away (restart, teardown)
    )
    this.#satellites.set(node.name, { exited })
  }

  /** Kills the satellite in `node` with `signal` (SIGKILL: as a crash) and waits until it is gone. */
  async killSatellite(node: TestNode, signal: 'KILL' | 'TERM' = 'KILL'): Promise<void> {
    const sat = this.#satellites.get(node.name)
    const r = await node.run(['sh', '-c', `kill -${signal} "$(cat ${PID_FILE})"`])
    if (r.exitCode !== 0) throw new Error(`${node.name}: kill -${signal} satellite: ${r.stderr}`)
    await sat?.exited.catch(() => {})
    this.#satellites.delete(node.name)
  }

  /** Stops the satellites, the controller and the forwarder, and removes the state directory. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await Promise.allSettled(this.cluster.nodes.filter((n) => this.#satellites.has(n.name)).map((n) => this.killSatellite(n, 'TERM')))
      const alive = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null
      for (const c of this.#host) if (alive(c)) c.kill('SIGTERM')
      const exited = Promise.all([...this.#host].map((c) => new Promise((res) => (alive(c) ? c.once('exit', res) : res(undefined)))))
      let timer: NodeJS.Timeout | undefined
      const grace = new Promise<'late'>((res) => (timer = setTimeout(() => res('late'), STOP_GRACE_MS)))
      if ((await Promise.race([exited, grace])) === 'late') {
        for (const c of this.#host) if (alive(c)) c.kill('SIGKILL')
        await exited
      }
      clearTimeout(timer)
      await rm(this.dir, { recursive: true, force: true })
      running.delete(this)
    })()
    return this.#stopped
  }

  /** What stop() does, at process exit (nothing asynchronous runs then): kill the host processes, remove the directory. */
  stopSync(): void {
    for (const c of this.#host) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
    running.delete(this)
  }

  /** What the controller wrote to stderr (its log), for failure messages. */
  controllerLog(lines = 60): string {
    return this.#controllerErr.split('\n').slice(-lines).join('\n')
  }

  async #startController(): Promise<void> {
    const secretFile = join(this.dir, 'cluster-secret')
    await writeFile(secretFile, `${this.secret}\n`, { mode: 0o600 })
    const rest = `${this.cluster.hostAddress}:${REST_PORT}`
    const controller = this.#spawnHost(
      [process.execPath, this.blockyard.host, 'controller', '--state-dir', join(this.dir, 'state'), '--rest-listen', rest, '--cluster-secret-file', secretFile],
      /controller ready/,
      (d) => (this.#controllerErr = (this.#controllerErr + d).slice(-200_000)),
    )
    await controller
    await this.#spawnHost([process.execPath, '-e', FORWARDER, join(this.dir, 'rest.sock'), this.cluster.hostAddress, String(REST_PORT)], /forwarding/)
  }

  /** Spawns `argv` on the host where it reaches the nodes; resolves when its output matches `ready`. */
  #spawnHost(argv: string[], ready: RegExp, onErr?: (text: string) => void): Promise<void> {
    const [cmd, ...args] = this.cluster.hostExecArgv(argv)
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#host.add(child)
    let seen = ''
    return new Promise((resolve, reject) => {
      const onData = (d: Buffer): void => {
        const text = d.toString()
        onErr?.(text)
        seen = (seen + text).slice(-8192)
        if (ready.test(seen)) resolve()
      }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', onData)
      child.once('exit', (code, signal) => reject(new Error(`${argv[1] ?? argv[0]} exited (${signal ?? code}) before it was ready:\n${seen}`)))
    })
  }
}

/** Polls `fn` every `everyMs` (500 by default) until it returns true; throws naming `what` after `timeoutMs`. For states reached over seconds. */
export async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 500): Promise<void> {
  await poll(what, fn, timeoutMs, everyMs)
}
