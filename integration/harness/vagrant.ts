/**
 * Test nodes from `vagrant/` (KVM through libvirt, or VirtualBox) behind the same TestCluster interface
 * as the qemu harness, so a scenario runs against either. The machines are created and provisioned on
 * first use; each node then keeps a snapshot taken right after provisioning, halted, and every start
 * restores it and boots, so scenarios begin with empty data disks and nothing left running, as under qemu.
 * The project reaches the nodes by rsync (no NFS or 9p set-up on the host, and `vagrant validate` needs
 * no libvirt daemon): a copy, so what the host changes later reaches them through `syncProject`.
 * Commands go over `vagrant ssh-config`'s ssh to the management interface; the private network
 * (replication, the controller's links) is a separate interface that `setLinkUp` can cut.
 * vagrant/README.md says what the host needs.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { DEFAULT_RUN_TIMEOUT_MS, type RunOptions, type RunResult } from './agent-client.js'
import { GUEST_PROJECT_DIR, PROJECT_DIR } from './cluster.js'
import type { TestCluster, TestNode } from './nodes.js'

const execFileP = promisify(execFile)

export const VAGRANT_DIR = join(PROJECT_DIR, 'vagrant')
/** The snapshot each node gets right after provisioning (halted), with its data disks still empty. */
export const CLEAN_SNAPSHOT = 'blockyard-clean'
/** Where provision/disks.sh names the data disks, whatever the provider calls them. */
export const DATA_DISK_PREFIX = '/dev/blockyard/data'
/** The remote end prints the command's status after this word on stderr (see remoteCommand). */
const STATUS_MARKER = 'BLOCKYARD-SSH-STATUS'
/** How much longer than a command's own timeout the host waits before it gives up on ssh. */
const SSH_GRACE_MS = 15_000
/** `timeout`'s grace between SIGTERM and SIGKILL, in seconds. */
const KILL_AFTER_S = 5

export interface VagrantClusterOptions {
  /** Number of nodes (1..20, default 3), named vm1, vm2, … */
  nodes?: number
  /** Vagrant's provider; default: VAGRANT_DEFAULT_PROVIDER, else Vagrant's own choice. */
  provider?: 'libvirt' | 'virtualbox'
  /** Data disks per node, in GiB (default one of 4). Changing them needs `vagrant destroy` first. */
  dataDisksGiB?: readonly number[]
  memMiB?: number
  box?: string
  /** First three octets of the private network (default 192.168.56); nodes at .11…, the host at .1. */
  subnet?: string
  /** Bound on each `vagrant` command; the first `up` provisions (apt, DKMS builds). Default 1 h. */
  vagrantTimeoutMs?: number
  log?: (line: string) => void
}

/** Why Vagrant nodes cannot be started here, or undefined when they can (vagrant and ssh in PATH). */
export function vagrantUnsupportedReason(): string | undefined {
  const path = (process.env.PATH ?? '').split(delimiter)
  for (const tool of ['vagrant', 'ssh']) {
    if (!path.some((d) => d && existsSync(join(d, tool)))) return `Vagrant nodes need ${tool}: see vagrant/README.md`
  }
  return undefined
}

/** The Vagrantfile's settings (its header documents them) for these options. */
export function vagrantEnv(opts: VagrantClusterOptions, nodeBinary: string): Record<string, string> {
  const env: Record<string, string> = {
    BLOCKYARD_VAGRANT_NODES: String(opts.nodes ?? 3),
    BLOCKYARD_NODE: nodeBinary,
    // No version check against the network on every command.
    VAGRANT_CHECKPOINT_DISABLE: '1',
  }
  if (opts.dataDisksGiB) env.BLOCKYARD_VAGRANT_DISKS = opts.dataDisksGiB.join(',')
  if (opts.memMiB !== undefined) env.BLOCKYARD_VAGRANT_MEM_MIB = String(opts.memMiB)
  if (opts.box !== undefined) env.BLOCKYARD_VAGRANT_BOX = opts.box
  if (opts.subnet !== undefined) env.BLOCKYARD_VAGRANT_SUBNET = opts.subnet
  if (opts.provider !== undefined) env.VAGRANT_DEFAULT_PROVIDER = opts.provider
  return env
}

/**
 * `arg` as one word for a POSIX shell (sh, dash, bash, zsh): in single quotes, each `'` written as `'\''`.
 * Nothing inside single quotes is special, so no argument can expand, split or end the command.
 */
export function shellQuote(arg: string): string {
  if (typeof arg !== 'string') throw new TypeError(`argument ${String(arg)} is not a string`)
  // A C string cannot carry NUL: the remote program would get a shortened argument.
  if (arg.includes('\0')) throw new TypeError(`argument ${JSON.stringify(arg)} contains NUL`)
  return `'${arg.replaceAll("'", `'\\''`)}'`
}

/**
 * The command line sshd hands to the remote user's shell to run `argv` as root: sudo (non-interactive),
 * coreutils `timeout` (it runs the command in a process group of its own and signals the whole group at
 * the deadline, as the qemu agent does; 0 disables it), then the status printed on stderr after a
 * marker. Printing the status ourselves (rather than taking ssh's exit code) tells a command's own
 * status from ssh's failures, and a signal's death (the shell's 128+N) from an ssh error (255).
 */
export function remoteCommand(argv: readonly string[], timeoutMs: number): string {
  if (argv.length === 0) throw new TypeError('argv must name a program')
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw new RangeError(`timeoutMs ${timeoutMs} is not a whole number of ms`)
  const words = argv.map(shellQuote).join(' ')
  return `sudo -n -- timeout -k ${KILL_AFTER_S} ${timeoutMs / 1000} ${words}; printf '\\n%s %d\\n' ${STATUS_MARKER} "$?" >&2`
}

/**
 * The RunResult of one ssh run of remoteCommand. Throws when the marker is missing (ssh could not run
 * the command: its own message is in the error) or `timeout` could not start the program (exit 126/127
 * with its message: the qemu agent rejects those too). A status above 128 is the shell's report of a
 * signal; a command that itself exits with such a status reads the same (the shell cannot tell).
 */
export function decodeRemoteResult(
  node: string,
  argv: readonly string[],
  sshExit: number | null,
  stdout: string,
  stderr: string,
  ms: number,
  timeoutMs: number,
): RunResult {
  const at = stderr.lastIndexOf(`\n${STATUS_MARKER} `)
  const m = at < 0 ? null : /^(\d+)\n?$/.exec(stderr.slice(at + STATUS_MARKER.length + 2))
  if (!m) throw new Error(`${node}: ssh did not run ${JSON.stringify(argv)} (ssh exit ${sshExit}): ${stderr.trim() || 'no message'}`)
  const status = Number(m[1])
  const ownStderr = stderr.slice(0, at)
  if ((status === 126 || status === 127) && /^timeout: failed to run command/m.test(ownStderr)) {
    throw new Error(`${node}: ${ownStderr.trim()}`)
  }
  // timeout exits 124 after SIGTERM ended the command, 137 when SIGKILL had to follow.
  const timedOut = timeoutMs > 0 && ms >= timeoutMs && (status === 124 || status === 137)
  const signal = !timedOut && status > 128 && status < 128 + 65 ? status - 128 : 0
  return { exitCode: signal ? -1 : status, signal, timedOut, stdout, stderr: ownStderr, ms }
}

export type SshOptions = ReadonlyArray<readonly [key: string, value: string]>

/**
 * `vagrant ssh-config` output: per Host, its options in order (a key may repeat, e.g. IdentityFile).
 * Values in double quotes (Vagrant quotes paths with spaces) are unquoted. `Include` is refused: it has
 * no command-line form, and this Vagrantfile sets no `config.ssh.config` that would produce it.
 */
export function parseSshConfig(text: string): Map<string, SshOptions> {
  const hosts = new Map<string, Array<[string, string]>>()
  let current: Array<[string, string]> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = /^(\S+)\s+(.*)$/.exec(line)
    if (!m) throw new Error(`ssh-config: no value in ${JSON.stringify(line)}`)
    const key = m[1]!
    let value = m[2]!.trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    if (key.toLowerCase() === 'host') {
      current = []
      hosts.set(value, current)
    } else if (key.toLowerCase() === 'include') {
      throw new Error(`ssh-config: Include ${value} is not supported`)
    } else if (!current) {
      throw new Error(`ssh-config: ${key} before any Host`)
    } else {
      current.push([key, value])
    }
  }
  return hosts
}

/**
 * ssh's argv to run `remote` on `host` with the options from ssh-config. No configuration file is read
 * (the machines' options are all here), stdin is /dev/null, and nothing may prompt; LogLevel ERROR
 * comes first (ssh keeps an option's first value) so connection failures are not hidden by Vagrant's
 * LogLevel FATAL.
 */
export function sshArgv(host: string, options: SshOptions, remote: string): string[] {
  const args = ['-F', 'none', '-n', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR']
  for (const [key, value] of options) args.push('-o', `${key}=${value}`)
  return ['ssh', ...args, '--', host, remote]
}

/**
 * The interface that carries `address`, from `ip -o -4 addr show` output (`3: eth1    inet
 * 192.168.56.11/24 brd … scope global eth1\ …`), or undefined.
 */
export function interfaceWithAddress(ipOutput: string, address: string): string | undefined {
  for (const line of ipOutput.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+([0-9.]+)\//.exec(line)
    if (m && m[2] === address) return m[1]!.replace(/@.*$/, '')
  }
  return undefined
}

/**
 * Snapshot names from `vagrant --no-color snapshot list <machine>`: Vagrant 2.3.4 prints them one a line
 * without a prefix, after a `==> name:` line; its other messages ("No snapshots have been taken yet!",
 * "not created") start with `==>` or an indented `name:`.
 */
export function parseSnapshotList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !/^(==>|\s)/.test(l))
}

class VagrantNode implements TestNode {
  readonly dataDisks: readonly string[]
  /** The private network's interface in the node (setLinkUp); found at start. */
  privateInterface = ''

  constructor(
    readonly name: string,
    readonly address: string,
    dataDiskCount: number,
    private readonly cluster: VagrantCluster,
    /** ssh options from `vagrant ssh-config`; replaced after a restart (libvirt may hand out a new address). */
    public ssh: SshOptions,
  ) {
    this.dataDisks = Array.from({ length: dataDiskCount }, (_, i) => `${DATA_DISK_PREFIX}${i}`)
  }

  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS
    const [cmd, ...args] = sshArgv(this.name, this.ssh, remoteCommand(argv, timeoutMs))
    return new Promise<RunResult>((resolve, reject) => {
      const started = performance.now()
      const ssh = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      const out: Buffer[] = []
      const err: Buffer[] = []
      ssh.stdout.on('data', (d: Buffer) => out.push(d))
      ssh.stderr.on('data', (d: Buffer) => err.push(d))
      // The remote `timeout` ends the command; this only bounds a connection that hangs.
      const timer =
        timeoutMs === 0
          ? undefined
          : setTimeout(() => {
              ssh.kill('SIGKILL')
              reject(new Error(`${this.name}: no answer from ssh for ${JSON.stringify(argv)} within ${timeoutMs + SSH_GRACE_MS} ms`))
            }, timeoutMs + SSH_GRACE_MS)
      ssh.once('error', (e) => {
        clearTimeout(timer)
        reject(new Error(`${this.name}: ssh did not start: ${e.message}`))
      })
      ssh.once('close', (code) => {
        clearTimeout(timer)
        try {
          const stdout = Buffer.concat(out).toString('utf8')
          const stderr = Buffer.concat(err).toString('utf8')
          resolve(decodeRemoteResult(this.name, argv, code, stdout, stderr, performance.now() - started, timeoutMs))
        } catch (e) {
          reject(e as Error)
        }
      })
    })
  }

  /** `vagrant halt --force` (power off, no shutdown) and `vagrant up`; resolves once ssh runs commands. */
  async restart(): Promise<void> {
    await this.cluster.vagrant(['halt', '--force', this.name])
    await this.cluster.vagrant(['up', '--no-provision', this.name])
    await this.cluster.readSshConfig([this])
    await this.mustRun(['true'])
  }

  /** Runs `argv` and resolves with its stdout; anything but exit 0 rejects with its stderr. */
  async mustRun(argv: readonly string[]): Promise<string> {
    const r = await this.run(argv)
    if (r.exitCode !== 0) throw new Error(`${this.name}: ${argv.join(' ')}: exit ${r.exitCode} signal ${r.signal}: ${r.stderr.trim()}`)
    return r.stdout
  }
}

export class VagrantCluster implements TestCluster {
  readonly nodes: VagrantNode[] = []
  readonly projectDir = GUEST_PROJECT_DIR
  readonly hostAddress: string
  private done: Promise<void> | undefined

  constructor(
    private readonly env: Record<string, string>,
    subnet: string,
    private readonly timeoutMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.hostAddress = `${subnet}.1`
  }

  /** The host reaches the private network directly (Vagrant's host-only/isolated network). */
  hostExecArgv(argv: readonly string[]): string[] {
    return [...argv]
  }

  async setLinkUp(node: TestNode, up: boolean): Promise<void> {
    const n = this.nodes.find((x) => x === node)
    if (!n) throw new TypeError(`${node.name} is not a node of this cluster`)
    await n.mustRun(['ip', 'link', 'set', 'dev', n.privateInterface, up ? 'up' : 'down'])
  }

  /**
   * Copies the project tree to the nodes again (`vagrant rsync`): /project is a copy, not a live share,
   * so what the host built after the start (e.g. bundleForGuest) reaches the nodes only through this.
   */
  async syncProject(): Promise<void> {
    await this.vagrant(['rsync', ...this.nodes.map((n) => n.name)])
  }

  /** Powers every node off (`vagrant halt --force`); the next start restores their clean snapshots. Idempotent. */
  teardown(): Promise<void> {
    this.done ??= this.vagrant(['halt', '--force', ...this.nodes.map((n) => n.name)]).then(() => {})
    return this.done
  }

  /** Runs `vagrant args` in vagrant/ and resolves with its stdout; a failure carries the tail of its output. */
  async vagrant(args: readonly string[]): Promise<string> {
    this.log(`vagrant ${args.join(' ')}`)
    try {
      const { stdout } = await execFileP('vagrant', ['--no-color', ...args], {
        cwd: VAGRANT_DIR,
        env: { ...process.env, ...this.env },
        timeout: this.timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
      })
      return stdout
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string }
      const tail = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n')
      throw new Error(`vagrant ${args.join(' ')} failed: ${e.message.split('\n')[0]}\n${tail}`)
    }
  }

  /** Reads the ssh options of `nodes` from `vagrant ssh-config`. */
  async readSshConfig(nodes: readonly VagrantNode[]): Promise<void> {
    const config = parseSshConfig(await this.vagrant(['ssh-config', ...nodes.map((n) => n.name)]))
    for (const n of nodes) {
      const options = config.get(n.name)
      if (!options) throw new Error(`vagrant ssh-config printed no Host ${n.name}`)
      n.ssh = options
    }
  }
}

/**
 * Brings up `opts.nodes` Vagrant machines (vm1… at <subnet>.11…) from vagrant/, each in its clean state,
 * with the host's node and the project tree as it is now, and resolves once every node runs commands.
 * The first start creates and provisions the machines (many minutes: apt, DKMS) and snapshots them;
 * later starts restore those snapshots. On failure the nodes are powered off before it rejects.
 */
export async function startVagrantCluster(opts: VagrantClusterOptions = {}): Promise<VagrantCluster> {
  const count = opts.nodes ?? 3
  if (!Number.isInteger(count) || count < 1 || count > 20) throw new RangeError(`nodes ${count} is not 1..20`)
  const reason = vagrantUnsupportedReason()
  if (reason) throw new Error(reason)
  const subnet = opts.subnet ?? '192.168.56'
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const cluster = new VagrantCluster(vagrantEnv(opts, process.execPath), subnet, opts.vagrantTimeoutMs ?? 3_600_000, log)
  for (let i = 0; i < count; i++) {
    cluster.nodes.push(new VagrantNode(`vm${i + 1}`, `${subnet}.${11 + i}`, opts.dataDisksGiB?.length ?? 1, cluster, []))
  }
  const names = cluster.nodes.map((n) => n.name)
  try {
    const fresh: string[] = []
    for (const name of names) {
      if (parseSnapshotList(await cluster.vagrant(['snapshot', 'list', name])).includes(CLEAN_SNAPSHOT)) {
        await cluster.vagrant(['halt', '--force', name])
        await cluster.vagrant(['snapshot', 'restore', '--no-start', name, CLEAN_SNAPSHOT])
      } else {
        fresh.push(name)
      }
    }
    if (fresh.length > 0) {
      // Created and provisioned here, all at once where the provider can (libvirt); then shut down
      // cleanly and snapshotted before anything touches their disks. A halted machine's snapshot holds
      // only its disks (libvirt: internal qcow2 snapshots), and every start boots afresh from it.
      await cluster.vagrant(['up', ...fresh])
      await cluster.vagrant(['halt', ...fresh])
      for (const name of fresh) await cluster.vagrant(['snapshot', 'save', name, CLEAN_SNAPSHOT])
    }
    // `up` rsyncs the project tree; the node binary is uploaded again (the snapshot has an older one).
    await cluster.vagrant(['up', '--no-provision', ...names])
    await cluster.vagrant(['provision', '--provision-with', 'node,node-install', ...names])
    await cluster.readSshConfig(cluster.nodes)
    await Promise.all(
      cluster.nodes.map(async (n) => {
        const version = (await n.mustRun(['node', '--version'])).trim()
        if (version !== process.version) throw new Error(`${n.name}: node ${version} is not the host's ${process.version}`)
        const iface = interfaceWithAddress(await n.mustRun(['ip', '-o', '-4', 'addr', 'show']), n.address)
        if (!iface) throw new Error(`${n.name}: no interface has ${n.address}`)
        n.privateInterface = iface
      }),
    )
  } catch (err) {
    await cluster.teardown().catch(() => {})
    throw err
  }
  return cluster
}
