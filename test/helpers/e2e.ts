/**
 * End-to-end tests on real loop devices (test/local/e2e): controllers, satellites and combined nodes as
 * child processes, REST calls to them, and checks made on the kernel's side (sysfs, the pool's files)
 * rather than through the code under test.
 *
 * Everything a test makes is undone in its teardown, whatever happened: mounts under its directory are
 * unmounted, its child processes killed by PID, every loop device bound to a file under its directory
 * detached (also those a killed satellite left), and the directory removed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { detachLoop, listLoops, type BoundLoop } from '../../src/satellite/sys/loop.js'
import { callApi, type ApiReply } from './controller.js'
import { holdLoopLock } from './loop-lock.js'
import { until as poll } from './until.js'

const ENTRY = fileURLToPath(new URL('./run-cli.ts', import.meta.url))
/**
 * tsx (esbuild), not tap's ts-node loader that cli.ts uses: these tests start a dozen daemons, and tsx
 * starts one in about a second where ts-node takes ten. Both run the sources, never a stale build.
 * Registered on every thread (tsx-register.mjs), for the combined node's satellite thread.
 */
const TSX = new URL('./tsx-register.mjs', import.meta.url).href

/** `blockyard <args>` from the sources as a child process (stdout ignored, stderr piped). */
export function spawnDaemon(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', TSX, ENTRY, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A child daemon: its process, the URL it logged as ready, and everything it wrote to stderr. */
export interface Daemon {
  child: ChildProcess
  url: string
  stderr(): string
}

/** LINSTOR's severity of a ret_code (its two top bits). */
export function severity(rc: bigint): 'SUCCESS' | 'INFO' | 'WARN' | 'ERROR' {
  return (['SUCCESS', 'INFO', 'WARN', 'ERROR'] as const)[Number(BigInt.asUintN(64, rc) >> 62n)]!
}

/** Polls `fn` until it returns something truthy (every 25 ms, 20 s at most by default). */
export const until = <T>(what: string, fn: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 25): Promise<NonNullable<T>> => poll(what, fn, timeoutMs, everyMs)

/** The pool file LINSTOR's naming gives volume `vlmNr` of `rsc`. */
export const volumeFile = (dir: string, rsc: string, vlmNr = 0): string => join(dir, `${rsc}_${String(vlmNr).padStart(5, '0')}.img`)

/** The size of a block device in bytes, from sysfs (512-byte sectors whatever the block size). */
export function deviceBytes(device: string): number {
  return Number(readFileSync(`/sys/block/${device.replace(/^\/dev\//, '')}/size`, 'utf8').trim()) * 512
}

/**
 * A free TCP port on `host` below the kernel's ephemeral range, for a satellite that must come back on
 * the same port. An ephemeral one will not do: while nothing listens there, the controller's
 * reconnect can be given that very port as its own source port and connect to itself (TCP
 * simultaneous open), holding the port until its handshake times out.
 */
export async function stablePort(host: string): Promise<number> {
  const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (ephemeralLow - 10_000))
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer()
      srv.once('error', () => resolve(false))
      srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)))
    })
    if (free) return port
  }
}

/** One test's world: its directory, its children, its mounts, and the REST calls it makes. */
export class E2eEnv {
  readonly root: string
  readonly #children = new Set<ChildProcess>()
  readonly #mounts = new Set<string>()

  private constructor(prefix: string) {
    // The kernel reports backing files by their real path: compare with that.
    this.root = realpathSync(mkdtempSync(join(tmpdir(), `blockyard-e2e-${prefix}-`)))
  }

  /**
   * A new environment, undone by `t`'s teardown; it holds the loop-device test lock (loop-lock.ts)
   * until everything is undone (tap runs teardowns last-registered first).
   */
  static async create(t: { teardown(fn: () => unknown): void; comment(...m: unknown[]): void }, prefix: string): Promise<E2eEnv> {
    await holdLoopLock(t)
    const env = new E2eEnv(prefix)
    t.teardown(() => env.cleanup())
    return env
  }

  /** A directory under the root (created). */
  dir(...parts: string[]): string {
    const d = join(this.root, ...parts)
    mkdirSync(d, { recursive: true })
    return d
  }

  /** Write a cluster secret file (mode 0600) and return its path. */
  secretFile(name: string, secret: string): string {
    const f = join(this.root, name)
    writeFileSync(f, secret + '\n', { mode: 0o600 })
    return f
  }

  /** `blockyard combined` on 127.0.0.1:0; resolves once it logged `combined node ready`. */
  combined(stateDir: string, extra: string[] = []): Promise<Daemon> {
    return this.#spawn(['combined', '--state-dir', stateDir, '--rest-listen', '127.0.0.1:0', ...extra], /combined node ready \{"rest":"(http:\/\/[^"]+)"/)
  }

  /** `blockyard controller` on 127.0.0.1:0. */
  controller(stateDir: string, extra: string[] = []): Promise<Daemon> {
    return this.#spawn(['controller', '--state-dir', stateDir, '--rest-listen', '127.0.0.1:0', ...extra], /controller ready \{"rest":"(http:\/\/[^"]+)"/)
  }

  /** `blockyard satellite`; `url` is its link URL (ws://host:port/). */
  satellite(a: { nodeName: string; stateDir: string; secretFile: string; listen: string }): Promise<Daemon> {
    return this.#spawn(['satellite', '--node-name', a.nodeName, '--listen', a.listen, '--state-dir', a.stateDir, '--cluster-secret-file', a.secretFile], /satellite ready \{"link":"(ws:\/\/[^"]+)"/)
  }

  #spawn(args: string[], ready: RegExp): Promise<Daemon> {
    const child = spawnDaemon(args)
    this.#children.add(child)
    child.once('exit', () => this.#children.delete(child))
    let err = ''
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${args[0]} did not start within 30 s:\n${err}`)), 30_000)
      const onData = (): void => {
        const m = ready.exec(err)
        if (m) {
          clearTimeout(timer)
          child.stderr!.off('data', onData)
          child.off('exit', onExit)
          resolve({ child, url: m[1]!, stderr: () => err })
        }
      }
      const onExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer)
        reject(new Error(`${args[0]} exited with ${code ?? signal}:\n${err}`))
      }
      child.stderr!.on('data', onData)
      child.once('exit', onExit)
    })
  }

  /** Stop a daemon by its PID with `signal` and wait until it is gone. */
  async stop(d: Daemon, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (d.child.exitCode !== null || d.child.signalCode !== null) return
    const gone = new Promise((r) => d.child.once('exit', r))
    d.child.kill(signal)
    await gone
  }

  /** Loop devices bound to files under this environment's directory. */
  async loops(): Promise<BoundLoop[]> {
    return (await listLoops()).filter((l) => l.backingFile.startsWith(this.root + '/'))
  }

  /** The loop devices bound to `file` (more than one would be a duplicate attach). */
  async loopsOf(file: string): Promise<string[]> {
    return (await listLoops()).filter((l) => l.backingFile === file).map((l) => l.device)
  }

  /** mkfs.ext4 the device, mount it on a directory of its own, write a file, unmount. */
  formatAndMount(device: string, name: string): void {
    execFileSync('mkfs.ext4', ['-q', '-F', device], { stdio: 'pipe' })
    const mnt = this.dir('mnt', name)
    execFileSync('mount', [device, mnt], { stdio: 'pipe' })
    this.#mounts.add(mnt)
    writeFileSync(join(mnt, 'hello'), 'hello\n')
    execFileSync('umount', [mnt], { stdio: 'pipe' })
    this.#mounts.delete(mnt)
  }

  async cleanup(): Promise<void> {
    for (const m of this.#mounts) {
      try {
        execFileSync('umount', [m], { stdio: 'pipe' })
      } catch {}
    }
    const exits = [...this.#children].map((c) => new Promise((r) => {
      c.once('exit', r)
      c.kill('SIGKILL')
    }))
    await Promise.all(exits)
    for (const l of await this.loops()) await detachLoop(l.device).catch(() => {})
    rmSync(this.root, { recursive: true, force: true })
  }
}

/** What a test reads of a volume in /v1/view/resources. */
export interface ViewVolume {
  volume_number: number
  device_path?: string
  usable_size_kib?: number
  allocated_size_kib?: number
  state?: { disk_state?: string }
  reports?: unknown[]
}

/** REST calls to one controller, failing loudly where a test expects success. */
export class Rest {
  constructor(public url: string) {}

  call(method: string, path: string, body?: unknown): Promise<ApiReply> {
    return callApi(this.url, method, path, body)
  }

  get(path: string): Promise<ApiReply> {
    return this.call('GET', path)
  }

  /** A call that must succeed (2xx, no ERROR entry); returns the reply. */
  async must(method: string, path: string, body?: unknown): Promise<ApiReply> {
    const r = await this.call(method, path, body)
    if (r.status >= 300 || r.retCodes.some((rc) => severity(rc) === 'ERROR')) throw new Error(`${method} ${path}: ${r.status} ${r.text}`)
    return r
  }

  async nodeStatus(node: string): Promise<string> {
    return (await this.get(`/v1/nodes/${node}`)).body.connection_status as string
  }

  untilStatus(node: string, status: string, timeoutMs = 30_000): Promise<boolean> {
    return until(`node ${node} ${status}`, async () => (await this.nodeStatus(node)) === status, timeoutMs, 50)
  }

  /** Register a satellite node dialled at `address:port`, with a pool `pool` of `kind` in `dir`. */
  async node(name: string, address: string, port: number, pool?: { name: string; kind: 'FILE' | 'FILE_THIN'; dir: string }): Promise<void> {
    await this.must('POST', '/v1/nodes', { name, type: 'Satellite', net_interfaces: [{ name: 'default', address, satellite_port: port, satellite_encryption_type: 'PLAIN' }] })
    if (pool !== undefined) await this.pool(name, pool)
  }

  async pool(node: string, pool: { name: string; kind: 'FILE' | 'FILE_THIN'; dir: string }): Promise<void> {
    await this.must('POST', `/v1/nodes/${node}/storage-pools`, { storage_pool_name: pool.name, provider_kind: pool.kind, props: { 'StorDriver/StorPoolName': pool.dir } })
  }

  /** A resource definition with a STORAGE-only layer stack and one volume of `sizeKib`. */
  async rscDfn(name: string, sizeKib: number): Promise<void> {
    await this.must('POST', '/v1/resource-definitions', { resource_definition: { name, layer_data: [{ type: 'STORAGE' }] } })
    await this.must('POST', `/v1/resource-definitions/${name}/volume-definitions`, { volume_definition: { size_kib: sizeKib } })
  }

  /** Volume `vlmNr` of `rsc` on `node` as /v1/view/resources shows it (undefined when absent). */
  async volume(rsc: string, node: string, vlmNr = 0): Promise<ViewVolume | undefined> {
    const r = await this.get(`/v1/view/resources?resources=${rsc}&nodes=${node}`)
    const x = (r.body as { name: string; node_name: string; volumes: ViewVolume[] }[]).find((y) => y.name.toUpperCase() === rsc.toUpperCase() && y.node_name.toUpperCase() === node.toUpperCase())
    return x?.volumes.find((v) => v.volume_number === vlmNr)
  }

  /** Wait until the volume shows a device that is UpToDate; returns the device path. */
  async untilDevice(rsc: string, node: string, timeoutMs = 30_000): Promise<string> {
    return until(`${rsc} on ${node} UpToDate`, async () => {
      const v = await this.volume(rsc, node)
      return v?.state?.disk_state === 'UpToDate' ? v.device_path : undefined
    }, timeoutMs, 50)
  }
}
