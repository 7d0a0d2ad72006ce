/**
 * One test VM: qemu under software emulation in the harness's network namespace, and the host end of
 * its guest agent's channel. Start it with `Vm.start`, wait for `ready`, run commands with `run`, and
 * `stop` it (the cluster does this in its teardown).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { truncate, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { AgentClient, type RunOptions, type RunResult } from './agent-client.js'
import type { ReadyInfo } from './agent-protocol.js'
import type { GuestImage } from './image.js'
import type { NetNamespace } from './netns.js'
import type { TestNode } from './nodes.js'
import { QEMU_BINARY, qemuArgv, type QemuVmSpec } from './qemu-argv.js'

const execFileP = promisify(execFile)

export type { RunOptions, RunResult }

export interface VmStartOptions {
  name: string
  /** Index in the cluster: the tap, MAC and address follow it. */
  index: number
  image: GuestImage
  netns: NetNamespace
  /** Guest address with prefix length. */
  ip: string
  runDir: string
  memMiB: number
  /** Sizes of the sparse data disks, in MiB. */
  dataDisksMiB: readonly number[]
  share: QemuVmSpec['share']
}

export class Vm implements TestNode {
  readonly name: string
  readonly tap: string
  /** Guest address without prefix length. */
  readonly address: string
  readonly spec: QemuVmSpec
  /** Milliseconds from qemu's start to the agent's READY, once ready. */
  bootMs = Number.NaN
  private qemu: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private qemuStderr = ''
  private server: Server | undefined
  /** A new one per boot: a channel that failed stays failed. */
  private agent: AgentClient
  private startedAt = 0

  private constructor(private readonly o: VmStartOptions) {
    this.name = o.name
    this.tap = `tap${o.index}`
    this.address = o.ip.split('/')[0]!
    const hex = (o.index + 11).toString(16).padStart(2, '0')
    this.spec = {
      name: o.name,
      memMiB: o.memMiB,
      kernel: o.image.kernel,
      initrd: o.image.initrd,
      rootOverlay: join(o.runDir, `${o.name}-root.qcow2`),
      dataDisks: o.dataDisksMiB.map((_, i) => join(o.runDir, `${o.name}-data${i}.img`)),
      tap: this.tap,
      mac: `52:54:00:99:00:${hex}`,
      ip: o.ip,
      share: o.share,
      agentSocket: join(o.runDir, `${o.name}-agent.sock`),
      consoleLog: join(o.runDir, `${o.name}-console.log`),
    }
    this.agent = new AgentClient(o.name, () => this.diagnostics())
  }

  /**
   * Creates the VM's disks and tap and starts qemu; resolves once qemu is running (not yet booted:
   * await `ready()`). On failure it stops what it started; its tap goes with the namespace.
   */
  static async start(o: VmStartOptions): Promise<Vm> {
    const vm = new Vm(o)
    try {
      await vm.launch()
    } catch (err) {
      await vm.stop()
      throw err
    }
    return vm
  }

  /** The data disks as the guest names them (by their virtio serial). */
  get dataDisks(): string[] {
    return this.spec.dataDisks.map((_, i) => `/dev/disk/by-id/virtio-data${i}`)
  }

  private async launch(): Promise<void> {
    const { o, spec: s } = this
    // The overlay names its backing file by absolute path; the base image is never written.
    await execFileP('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', o.image.root, s.rootOverlay], { timeout: 30_000 })
    for (const [i, path] of s.dataDisks.entries()) {
      await writeFile(path, '')
      await truncate(path, o.dataDisksMiB[i]! * 1024 * 1024)
    }
    await o.netns.addTap(this.tap)
    await this.boot()
  }

  /** Starts qemu on the VM's existing disks and tap. */
  private async boot(): Promise<void> {
    const { o, spec: s } = this
    // The harness listens and qemu connects: the channel exists before the guest can write to it.
    this.server = createServer((sock) => this.agent.attach(sock))
    await new Promise<void>((res, rej) => {
      this.server!.once('error', rej)
      this.server!.listen(s.agentSocket, () => res())
    })
    this.startedAt = performance.now()
    const [cmd, ...args] = o.netns.execArgv([QEMU_BINARY, ...qemuArgv(s)])
    const qemu = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    this.qemu = qemu
    qemu.stderr!.on('data', (d: Buffer) => {
      this.qemuStderr = (this.qemuStderr + d.toString()).slice(-8192)
    })
    this.exited = new Promise<void>((res) => {
      qemu.once('exit', (code, signal) => {
        this.agent.fail(new Error(`${this.name}: qemu ended (${signal ? `killed by ${signal}` : `exit code ${code}`})${this.diagnostics()}`))
        res()
      })
      qemu.once('error', (err) => {
        this.agent.fail(new Error(`${this.name}: qemu did not start: ${err.message}`))
        res()
      })
    })
  }

  /** qemu's PID (`ip netns exec` execs qemu in place, so it is qemu's own). */
  get pid(): number | undefined {
    return this.qemu?.pid
  }

  /**
   * Resolves when the guest agent has announced itself; rejects when qemu ends first, the guest's
   * init reported a failed step, or `timeoutMs` passes. Errors carry the tail of the guest console.
   */
  async ready(timeoutMs = 180_000): Promise<ReadyInfo> {
    const info = await this.agent.ready(timeoutMs)
    this.bootMs = this.agent.readyAt - this.startedAt
    return info
  }

  /**
   * Runs `argv` in the guest (argv[0] searched in PATH, no shell, stdin /dev/null) and resolves with its
   * exit status and output whatever the exit code; see AgentClient.run.
   */
  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.agent.run(argv, opts)
  }

  /**
   * Power-cycles the VM: qemu is killed (the guest gets no shutdown, as in a power cut; what it flushed
   * is kept, see qemuArgv) and started again on the same disks; resolves when the agent is ready again.
   */
  async restart(timeoutMs = 180_000): Promise<void> {
    this.killSync()
    await this.exited
    this.agent.fail(new Error(`${this.name}: restarted`))
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()))
    this.agent = new AgentClient(this.name, () => this.diagnostics())
    this.qemuStderr = ''
    await this.boot()
    await this.ready(timeoutMs)
  }

  /** Stops qemu (SIGTERM, SIGKILL after 5 s) and closes the channel. Safe to call more than once. */
  async stop(): Promise<void> {
    const qemu = this.qemu
    if (qemu && qemu.exitCode === null && qemu.signalCode === null && qemu.pid !== undefined) {
      qemu.kill('SIGTERM')
      const killer = setTimeout(() => qemu.kill('SIGKILL'), 5000)
      await this.exited
      clearTimeout(killer)
    }
    this.agent.fail(new Error(`${this.name}: stopped`))
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()))
  }

  /** stop() for a process that is exiting: SIGKILL, no waiting. */
  killSync(): void {
    const qemu = this.qemu
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL')
  }

  /** The last lines of the guest console, for error messages. */
  consoleTail(lines = 40): string {
    if (!existsSync(this.spec.consoleLog)) return ''
    return readFileSync(this.spec.consoleLog, 'utf8').split('\n').slice(-lines).join('\n')
  }

  private diagnostics(): string {
    const parts: string[] = []
    if (this.qemuStderr.trim()) parts.push(`qemu stderr:\n${this.qemuStderr.trim()}`)
    const tail = this.consoleTail()
    if (tail.trim()) parts.push(`console (${this.spec.consoleLog}), last lines:\n${tail}`)
    return parts.length ? `\n${parts.join('\n')}` : ''
  }
}
