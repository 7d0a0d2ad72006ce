/**
 * N test VMs on one private network: the harness's entry point. `startCluster` builds or reuses the
 * image, creates the network namespace and its bridge, boots the VMs and waits for their agents;
 * `teardown` stops exactly the qemu processes it started and removes the taps, the bridge, the namespace
 * and the run directory. Teardown also runs on SIGINT/SIGTERM, and a process that exits without it
 * kills its VMs and deletes its namespace synchronously.
 */
import { accessSync, constants, existsSync, rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureImage, type GuestImage } from './image.js'
import { NetNamespace } from './netns.js'
import type { TestCluster, TestNode } from './nodes.js'
import { QEMU_BINARY } from './qemu-argv.js'
import { Vm } from './vm.js'

export const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** Where the project tree appears, read-only, in every guest. */
export const GUEST_PROJECT_DIR = '/project'
const SUBNET = '10.99.0'
export const HOST_ADDRESS = `${SUBNET}.1`

export interface ClusterOptions {
  /** Number of VMs (1..20). */
  vms: number
  /** Guest memory; DESIGN.md §4 measured 768..1024 MiB with three VMs at once. */
  memMiB?: number
  /** Sparse data disks per VM, in MiB (default: one of 4 GiB). */
  dataDisksMiB?: readonly number[]
  /** An image from ensureImage(); built or taken from the cache when absent. */
  image?: GuestImage
  /** How long to wait for all agents (software emulation: tens of seconds per VM). */
  readyTimeoutMs?: number
  log?: (line: string) => void
}

/** Why VMs cannot run on this machine, or undefined when they can (root, /dev/net/tun, qemu, ip). */
export function vmUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return 'VMs need Linux'
  if (process.getuid?.() !== 0) return 'VMs need root (network namespaces, taps)'
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK)
  } catch {
    return 'VMs need /dev/net/tun'
  }
  const path = (process.env.PATH ?? '').split(delimiter)
  for (const tool of [QEMU_BINARY, 'qemu-img', 'ip']) {
    if (!path.some((d) => d && existsSync(join(d, tool)))) return `VMs need ${tool}: see integration/README.md for the host packages`
  }
  return undefined
}

const live = new Set<VmCluster>()
let handlersInstalled = false

function installHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  let stopping = false
  const onSignal = (signal: NodeJS.Signals, code: number): void => {
    if (stopping) {
      // A second signal: no more waiting, but still nothing left behind.
      for (const c of live) c.teardownSync()
      process.exit(code)
    }
    stopping = true
    process.stderr.write(`\n${signal}: stopping ${live.size} VM cluster(s)\n`)
    void Promise.allSettled([...live].map((c) => c.teardown())).finally(() => process.exit(code))
  }
  process.on('SIGINT', () => onSignal('SIGINT', 130))
  process.on('SIGTERM', () => onSignal('SIGTERM', 143))
  process.on('exit', () => {
    for (const c of live) c.teardownSync()
  })
}

export class VmCluster implements TestCluster {
  readonly vms: Vm[] = []
  readonly projectDir = GUEST_PROJECT_DIR
  private done: Promise<void> | undefined

  constructor(
    readonly image: GuestImage,
    readonly netns: NetNamespace,
    readonly runDir: string,
  ) {}

  /** The host's address on the VMs' bridge (inside the namespace). */
  get hostAddress(): string {
    return HOST_ADDRESS
  }

  get nodes(): readonly Vm[] {
    return this.vms
  }

  /** The VMs see the project tree through a live 9p share. */
  async syncProject(): Promise<void> {}

  /** Takes the VM's tap down (or up): the VM is cut off the bridge, its agent channel is not. */
  async setLinkUp(node: TestNode, up: boolean): Promise<void> {
    const vm = this.vms.find((v) => v === node)
    if (vm === undefined) throw new Error(`${node.name} is not a VM of this cluster`)
    await this.netns.setTapUp(vm.tap, up)
  }

  /** `argv` as run on the host inside the VMs' network namespace (e.g. a controller that dials them). */
  hostExecArgv(argv: readonly string[]): string[] {
    return this.netns.execArgv(argv)
  }

  /**
   * Stops every VM, then removes the taps, the bridge, the namespace and the run directory. Every step
   * runs even if an earlier one failed; the first failure is thrown at the end. Idempotent.
   */
  teardown(): Promise<void> {
    this.done ??= (async () => {
      const results = await Promise.allSettled(this.vms.map((vm) => vm.stop()))
      results.push(...(await Promise.allSettled([this.netns.destroy()])))
      results.push(...(await Promise.allSettled([rm(this.runDir, { recursive: true, force: true })])))
      live.delete(this)
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
    })()
    return this.done
  }

  /** teardown() for a process that is exiting: SIGKILL to its qemu processes, no waiting. */
  teardownSync(): void {
    for (const vm of this.vms) vm.killSync()
    this.netns.destroySync()
    rmSync(this.runDir, { recursive: true, force: true })
    live.delete(this)
  }
}

/**
 * Boots `opts.vms` VMs named vm1, vm2, … at 10.99.0.11, .12, … (host side 10.99.0.1) and resolves
 * once every agent is ready. On any failure everything started so far is torn down before it rejects.
 */
export async function startCluster(opts: ClusterOptions): Promise<VmCluster> {
  if (!Number.isInteger(opts.vms) || opts.vms < 1 || opts.vms > 20) throw new RangeError(`vms ${opts.vms} is not 1..20`)
  const reason = vmUnsupportedReason()
  if (reason) throw new Error(reason)
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const image = opts.image ?? (await ensureImage({ log }))
  installHandlers()
  const runDir = await mkdtemp(join(tmpdir(), 'blockyard-vm-'))
  let netns: NetNamespace
  try {
    netns = await NetNamespace.create(`blockyard-vm-${process.pid}-${runDir.slice(-6)}`, `${HOST_ADDRESS}/24`)
  } catch (err) {
    await rm(runDir, { recursive: true, force: true })
    throw err
  }
  const cluster = new VmCluster(image, netns, runDir)
  live.add(cluster)
  try {
    for (let i = 0; i < opts.vms; i++) {
      cluster.vms.push(
        await Vm.start({
          name: `vm${i + 1}`,
          index: i,
          image,
          netns,
          ip: `${SUBNET}.${11 + i}/24`,
          runDir,
          memMiB: opts.memMiB ?? 1024,
          dataDisksMiB: opts.dataDisksMiB ?? [4096],
          share: { hostDir: PROJECT_DIR, tag: 'project', guestDir: GUEST_PROJECT_DIR },
        }),
      )
    }
    await Promise.all(cluster.vms.map((vm) => vm.ready(opts.readyTimeoutMs ?? 120_000 * opts.vms)))
  } catch (err) {
    await cluster.teardown().catch(() => {})
    throw err
  }
  return cluster
}
