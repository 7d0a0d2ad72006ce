/**
 * The DRBD layer (LINSTOR's DrbdLayer): on top of the storage layer, it replicates each volume's
 * backing device. One pass, after the storage layer has made the backing devices: render the
 * resource file, create DRBD metadata on a backing device that has none, `drbdadm adjust` when the
 * file changed or the kernel's state falls short of it, start (or skip, on new thin volumes) the
 * initial sync of new replicas, and report DRBD's state. Deleting is `drbdadm down`, then removing
 * the file, before the storage layer removes the backing devices.
 *
 * State is read over generic netlink (drbd-genl.ts), never from `drbdsetup status`; its notifications
 * only enqueue the resource they concern (DESIGN §2.5). drbdadm runs through execa with argument
 * arrays and a timeout, its stderr in the error. Restart-safe: every decision is taken from what the
 * kernel, the backing devices and the files say now, so a resource that is up is adopted as it is.
 *
 * Resource files go to a directory of ours (`<stateDir>/drbd/<rsc>.res`) with a top-level file that
 * includes only them, passed to drbdadm with `-c`: drbdadm parses every file it is given, so a broken
 * or foreign file in /etc/drbd.d could fail our commands (and ours could fail the administrator's);
 * DRBD's own tools still show our resources (`drbdsetup status`, or `drbdadm -c <that file> …`).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { logger } from '../../../common/log.js'
import { checkName, nameKey } from '../../../common/names.js'
import type { DrbdConnectionObserved, DrbdPeerVolumeObserved, LayerSupport, ResourceDesired } from '../../../proto/messages.js'
import { TerminalError } from '../../reconcile/errors.js'
import type { VolumeFacts } from '../../providers/provider.js'
import { blockSize } from '../../sys/blk.js'
import { loadModule } from '../../sys/kmod.js'
import { GenlConnection } from '../../sys/genl.js'
import { DrbdGenl, type DrbdResourceStatus } from './drbd-genl.js'
import { renderResFile, type DrbdVersion } from './res-file.js'

const log = logger('satellite.drbd')

/** Limit of one drbdadm command, ms (adjust with a peer that does not answer waits for connect-int). */
const DRBDADM_TIMEOUT_MS = 60_000

/**
 * Magic numbers of DRBD's on-disk superblock (linux/drbd.h: DRBD_MAGIC + 4, + 5, + 6), big-endian at
 * byte 60 of the superblock in 8.4's and 9's layouts alike (drbd_meta_data.h keeps it "at the same
 * position as in v07 and v08").
 */
const MD_MAGICS: ReadonlyMap<number, string> = new Map([
  [0x8374026b, 'v08'],
  [0x8374026c, 'v08 (not cleanly detached)'],
  [0x8374026d, 'v09'],
])
const MD_MAGIC_OFFSET = 60
/** Internal metadata's superblock is the last 4 KiB block of the backing device (drbd_md_ss). */
export const MD_SUPERBLOCK_BYTES = 4096

/** Flags that make this node's replica diskless (res-file.ts writes `disk none` for them). */
const DISKLESS_FLAGS = ['DRBD_DISKLESS', 'TIE_BREAKER']

/** Where the superblock of internal metadata sits on a backing device of `sizeBytes`. */
export function superblockOffset(sizeBytes: number): number {
  const offset = Math.floor(sizeBytes / MD_SUPERBLOCK_BYTES) * MD_SUPERBLOCK_BYTES - MD_SUPERBLOCK_BYTES
  if (offset < 0) throw new RangeError(`a backing device of ${sizeBytes} bytes cannot hold DRBD metadata`)
  return offset
}

/** The metadata format a superblock's bytes carry ('v08', 'v09', …), or null when they are none of DRBD's. */
export function mdFormat(superblock: Buffer): string | null {
  if (superblock.length < MD_MAGIC_OFFSET + 4) return null
  return MD_MAGICS.get(superblock.readUInt32BE(MD_MAGIC_OFFSET)) ?? null
}

/**
 * The metadata format on `device`, read from its last 4 KiB. Only asked of a device DRBD does not hold:
 * the kernel writes metadata around the page cache, but the magic read here does not change while
 * attached, and drbdmeta's writes reach it.
 */
export async function readMdFormat(device: string): Promise<string | null> {
  const offset = superblockOffset(await blockSize(device))
  const fh = await open(device, 'r')
  try {
    const buf = Buffer.alloc(MD_SUPERBLOCK_BYTES)
    const { bytesRead } = await fh.read(buf, 0, MD_SUPERBLOCK_BYTES, offset)
    return mdFormat(buf.subarray(0, bytesRead))
  } finally {
    await fh.close()
  }
}

/** drbdadm's argv: our configuration file, drbdsetup/drbdmeta options after `--` (8.4's drbdadm wants them there), the command and its target. */
export function drbdadmArgv(confFile: string, command: string, target: string, options: readonly string[] = []): string[] {
  return ['-c', confFile, ...(options.length > 0 ? ['--', ...options] : []), command, target]
}

/** One change the layer makes before the resource is up as desired, in order. */
export type DrbdStep =
  | { op: 'write-res' }
  | { op: 'create-md'; volume: number }
  | { op: 'adjust' }
  | { op: 'forget-peer'; nodeId: number }
  | { op: 'resize'; volume: number }

export interface DrbdPlanInput {
  rsc: ResourceDesired
  version: DrbdVersion
  /** The rendered resource file and the one on disk (null: none). */
  resFile: { wanted: string; onDisk: string | null }
  /** The kernel's state of the resource (null: not up). */
  status: DrbdResourceStatus | null
  /** Metadata format found on each diskful volume's backing device not attached to DRBD (null: none). */
  metadata: ReadonlyMap<number, string | null>
}

function locallyDiskless(rsc: ResourceDesired): boolean {
  return rsc.flags.some((f) => DISKLESS_FLAGS.includes(f))
}

/** Whether DRBD has a disk attached for volume `number` of `status`. */
export function attached(status: DrbdResourceStatus | null, number: number): boolean {
  const d = status?.devices.find((v) => v.volume === number)
  return d !== undefined && d.diskState !== 'Diskless'
}

/**
 * Node ids of the `on` sections of resource file `onDisk` (DRBD 9's) that desired state names no
 * more, neither for this node nor for a peer: the replicas removed since the file was written.
 */
export function removedPeers(rsc: ResourceDesired, onDisk: string | null): number[] {
  if (onDisk === null || rsc.drbd === undefined) return []
  const kept = new Set([rsc.drbd.nodeId, ...rsc.drbd.peers.map((p) => p.nodeId)])
  const ids = [...onDisk.matchAll(/^\s*node-id (\d+);$/gm)].map((m) => Number(m[1]))
  return [...new Set(ids)].filter((id) => !kept.has(id)).sort((a, b) => a - b)
}

/**
 * The steps that bring the resource up as desired. `drbdadm adjust` (~0.5 s, a dozen drbdsetup
 * processes under 8.4) runs only when something differs: the file changed, metadata was created, the
 * resource or a volume is not up, a diskful volume has no disk, or a peer has no connection or is
 * StandAlone (adjust connects it again). A peer merely Connecting is left to DRBD. On DRBD 9 a
 * diskful node forgets each removed peer once adjust has dropped its connection (`forget-peer`, as
 * LINSTOR does: it frees the peer's bitmap slot for a later replica; 8.4 has one peer and no such
 * command). A volume DRBD shows smaller than desired is resized (on 8.4 only while a node is Primary).
 */
export function planUp(input: DrbdPlanInput): DrbdStep[] {
  const { rsc, status } = input
  const steps: DrbdStep[] = []
  if (input.resFile.wanted !== input.resFile.onDisk) steps.push({ op: 'write-res' })
  const diskful = !locallyDiskless(rsc)
  for (const v of [...rsc.volumes].sort((a, b) => a.number - b.number)) {
    if (diskful && !attached(status, v.number) && input.metadata.get(v.number) === null) steps.push({ op: 'create-md', volume: v.number })
  }
  const volumesDown = rsc.volumes.some((v) => {
    const d = status?.devices.find((x) => x.volume === v.number)
    return d === undefined || (diskful && d.diskState === 'Diskless')
  })
  const peers = (rsc.drbd?.peers ?? []).filter((p) => !(p.diskless && !diskful))
  const unconnected = status === null || status.connections.length < peers.length || status.connections.some((c) => c.connectionState === 'StandAlone')
  if (steps.length > 0 || volumesDown || unconnected) steps.push({ op: 'adjust' })
  if (input.version === 9 && diskful) for (const nodeId of removedPeers(rsc, input.resFile.onDisk)) steps.push({ op: 'forget-peer', nodeId })
  // A grown volume: the storage below has grown, DRBD takes the new size once every replica has it
  // (drbdadm resize fails until the peers' backing devices have grown too; the pass is retried).
  // DRBD 8.4 refuses to resize a connected resource with no Primary ("Need one Primary node to
  // resize"): the resize waits for one, whose role change is an event that brings the next pass.
  const primary = status !== null && (status.role === 'Primary' || status.connections.some((c) => c.peerRole === 'Primary'))
  if (input.version === 8 && !primary) return steps
  // Both nodes resize when they see the new size; the first one's resync of the added area makes the
  // other's fail ("Resize not allowed during resync"): while a resync runs there is nothing to do.
  if (status?.connections.some((c) => c.peerDevices.some((p) => p.syncing))) return steps
  for (const v of [...rsc.volumes].sort((a, b) => a.number - b.number)) {
    const d = status?.devices.find((x) => x.volume === v.number)
    if (diskful && d !== undefined && d.diskState !== 'Diskless' && d.sizeSectors !== null && d.sizeSectors > 0n && d.sizeSectors / 2n < BigInt(v.netSizeKib)) {
      steps.push({ op: 'resize', volume: v.number })
    }
  }
  return steps
}

/** How a new replica's initial sync goes: skipped (new zeroed volumes) or a full sync from one node. */
export type InitialSync = 'skip' | 'full'

/** What to do now about the initial sync of volumes whose metadata this process created. */
export interface InitialSyncPlan {
  /** Volumes whose sync is skipped (`new-current-uuid --clear-bitmap`): every replica becomes UpToDate. */
  skip: number[]
  /** Whether this node becomes Primary with --force, and Secondary again, so that a full sync starts from it. */
  force: boolean
}

/**
 * The initial sync of new replicas, as LINSTOR does it: decided by the diskful node with the lowest
 * node id, for volumes in `fresh` (metadata created by this process: their replica never held data),
 * once the volume is Inconsistent here and on every diskful peer, all of them connected (no replica
 * holds data). Zeroed volumes (`skip`: new thin volumes, identical without a sync) have their sync
 * skipped; the others (`full`: thick LVM, FILE…) get a full sync from this node, forced Primary, which
 * makes its disks UpToDate. The force happens only when no node is Primary and every volume of the
 * resource is either such a new volume or UpToDate everywhere: it would make any other Inconsistent,
 * Outdated or Consistent disk here the source of truth over a peer's data.
 */
export function initialSync(rsc: ResourceDesired, status: DrbdResourceStatus | null, fresh: ReadonlyMap<number, InitialSync>): InitialSyncPlan {
  const none: InitialSyncPlan = { skip: [], force: false }
  const drbd = rsc.drbd
  if (drbd === undefined || status === null || fresh.size === 0 || locallyDiskless(rsc)) return none
  const diskfulPeers = drbd.peers.filter((p) => !p.diskless)
  if (diskfulPeers.length === 0 || diskfulPeers.some((p) => p.nodeId < drbd.nodeId)) return none
  // Connections to diskless peers (a tiebreaker, clients) have no disk to wait for. 8.4 names no
  // peer node id: its one connection is to the one peer.
  const diskless = new Set(drbd.peers.filter((p) => p.diskless).map((p) => p.nodeId))
  const toDisks = status.connections.filter((c) => c.peerNodeId === null || !diskless.has(c.peerNodeId))
  if (toDisks.length < diskfulPeers.length || toDisks.some((c) => c.connectionState !== 'Connected')) return none
  const everywhere = (number: number, disk: string): boolean =>
    status.devices.find((d) => d.volume === number)?.diskState === disk &&
    toDisks.every((c) => {
      const p = c.peerDevices.find((x) => x.volume === number)
      return p !== undefined && p.replicationState === 'Established' && p.peerDiskState === disk
    })
  const ready = [...fresh.keys()].sort((a, b) => a - b).filter((number) => everywhere(number, 'Inconsistent'))
  const skip = ready.filter((number) => fresh.get(number) === 'skip')
  const full = ready.filter((number) => fresh.get(number) === 'full')
  const primary = status.role === 'Primary' || status.connections.some((c) => c.peerRole === 'Primary')
  const force = full.length > 0 && !primary && status.devices.every((d) => ready.includes(d.volume) || everywhere(d.volume, 'UpToDate'))
  return { skip, force }
}

/** What DRBD says of one volume, for the report. */
export interface DrbdVolumeObservation {
  devicePath: string
  diskState?: string
  usableKib?: number
  peers: DrbdPeerVolumeObserved[]
}

export interface DrbdObservation {
  volumes: Map<number, DrbdVolumeObservation>
  connections: DrbdConnectionObserved[]
  /** Whether this node is Primary (LINSTOR's in_use). */
  primary: boolean
  /** Whether a volume is resyncing (or verified) with a peer: its percentage moves without events. */
  syncing: boolean
  /** Whether this node could become Primary now, and DRBD 9's promotion score; absent when unknown. */
  mayPromote?: boolean
  promotionScore?: number
}

/**
 * The report's DRBD part from the kernel's state: per volume its device `/dev/drbd<minor>` (even when
 * not up: it is where the device will be) with disk state and size, per peer connection, replication
 * state and sync percentage; may-promote and the promotion score as drbd-genl.ts computes them.
 * Peers are named from desired state: by node id on DRBD 9, and on 8.4 (one peer, no ids in its
 * messages) the only one.
 */
export function drbdObservation(rsc: ResourceDesired, status: DrbdResourceStatus | null): DrbdObservation {
  const peers = rsc.drbd?.peers ?? []
  const peerName = (nodeId: number | null): string => (nodeId === null ? peers[0]?.nodeName : peers.find((p) => p.nodeId === nodeId)?.nodeName) ?? `node-id ${nodeId ?? '?'}`
  const volumes = new Map<number, DrbdVolumeObservation>()
  for (const v of rsc.volumes) {
    if (v.drbdMinor === undefined) continue
    const d = status?.devices.find((x) => x.volume === v.number)
    const out: DrbdVolumeObservation = { devicePath: `/dev/drbd${v.drbdMinor}`, peers: [] }
    if (d !== undefined) out.diskState = d.diskState
    if (d?.sizeSectors != null && d.sizeSectors > 0n) out.usableKib = Number(d.sizeSectors / 2n)
    for (const c of status?.connections ?? []) {
      const p = c.peerDevices.find((x) => x.volume === v.number)
      if (p === undefined) continue
      const pv: DrbdPeerVolumeObserved = { peerNodeName: peerName(c.peerNodeId), replicationState: p.replicationState, peerDiskState: p.peerDiskState }
      if (p.donePercent !== null) pv.syncPercent = Math.round(p.donePercent * 10) / 10
      out.peers.push(pv)
    }
    volumes.set(v.number, out)
  }
  const connections = (status?.connections ?? []).map((c) => ({ peerNodeName: peerName(c.peerNodeId), state: c.connectionState }))
  const syncing = (status?.connections ?? []).some((c) => c.peerDevices.some((p) => p.syncing))
  const out: DrbdObservation = { volumes, connections, primary: status?.role === 'Primary', syncing }
  if (status !== null) out.mayPromote = status.mayPromote
  if (status?.promotionScore != null) out.promotionScore = status.promotionScore
  return out
}

/** A failed drbdadm (or drbdsetup) command, with its stderr. */
export class DrbdCommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed${exitCode !== null ? ` (exit ${exitCode})` : ''}: ${stderr.trim()}`)
  }
}

/** Runs a DRBD tool; rejects with DrbdCommandError. */
export type DrbdRunner = (tool: 'drbdadm' | 'drbdsetup', argv: string[]) => Promise<void>

const runTool: DrbdRunner = async (tool, argv) => {
  const r = await execa(tool, argv, { reject: false, timeout: DRBDADM_TIMEOUT_MS, stdin: 'ignore' })
  if (r.failed) throw new DrbdCommandError([tool, ...argv], r.exitCode ?? null, r.timedOut ? `timed out after ${DRBDADM_TIMEOUT_MS} ms` : String(r.stderr ?? '') || (r.message ?? ''))
}

/** The DRBD version in /proc/drbd ("8.4.11"), or null when the module is not loaded. */
function loadedVersion(): string | null {
  try {
    return /^version: (\d+\.\d+\.\d+)/m.exec(readFileSync('/proc/drbd', 'utf8'))?.[1] ?? null
  } catch {
    return null
  }
}

/**
 * Whether the DRBD layer works here: the drbd module loaded (or loadable: this loads it) in a version
 * whose configuration we render (8.4 or 9), and drbdadm installed.
 */
export async function drbdSupport(): Promise<LayerSupport> {
  const no = (reason: string): LayerSupport => ({ kind: 'DRBD', supported: false, reason })
  let version = loadedVersion()
  if (version === null) {
    const notLoaded = loadModule('drbd')
    if (notLoaded !== null) return no(notLoaded)
    version = loadedVersion()
    if (version === null) return no('the drbd module is loaded but /proc/drbd shows no version')
  }
  if (versionOf(version) === null) return no(`DRBD ${version} is neither 8.4 nor 9`)
  const adm = await execa('drbdadm', ['--version'], { reject: false, timeout: 30_000, stdin: 'ignore' })
  if (adm.failed) return no(`drbdadm (drbd-utils) does not run: ${String(adm.stderr ?? '').trim() || (adm.message ?? '')}`)
  return { kind: 'DRBD', supported: true, version }
}

/** The configuration syntax for kernel module version `v`: 8 for 8.4.x, 9 for 9.x, null otherwise. */
export function versionOf(v: string): DrbdVersion | null {
  if (/^8\.4\./.test(v)) return 8
  if (/^9\./.test(v)) return 9
  return null
}

export interface DrbdLayerOptions {
  /** This node's name: drbdadm finds its `on` section by `uname -n`, so this must be the host name. */
  nodeName: string
  /** Directory for the resource files and the top-level file including them. */
  confDir: string
  genl: DrbdGenl
  version: DrbdVersion
  run?: DrbdRunner
  /** Reads the metadata format of a backing device (tests replace it). */
  readMd?: (device: string) => Promise<string | null>
}

export class DrbdLayer {
  readonly #o: DrbdLayerOptions
  readonly #run: DrbdRunner
  readonly #readMd: (device: string) => Promise<string | null>
  readonly #conf: string
  /** Per resource key: volumes whose metadata this process created, whose initial sync is still to come, and how it goes. */
  readonly #fresh = new Map<string, Map<number, InitialSync>>()
  /** Keys of resources this process forced Primary to start their initial sync: Secondary again is still to come. */
  readonly #forced = new Set<string>()
  /** Whether the kernel answers status dumps filtered by resource (DRBD 9 does; 8.4.11 does not). */
  #filteredDumps = true

  constructor(options: DrbdLayerOptions) {
    if (/["\\\n;{}]/.test(options.confDir)) throw new TypeError(`DRBD configuration directory ${JSON.stringify(options.confDir)} cannot be written into drbdadm's include`)
    this.#o = options
    this.#run = options.run ?? runTool
    this.#readMd = options.readMd ?? readMdFormat
    this.#conf = join(options.confDir, 'drbd.conf')
  }

  /**
   * Opens the layer when DRBD works here (drbdSupport), with the `drbd` netlink family's
   * notifications calling `onChange` with the key of the resource they concern (every resource's key
   * after notifications were lost); null with the reason when DRBD is not usable.
   */
  static async open(opts: { nodeName: string; confDir: string; onChange: (key: string | null) => void }): Promise<{ layer: DrbdLayer | null; support: LayerSupport }> {
    const support = await drbdSupport()
    const version = support.version === undefined ? null : versionOf(support.version)
    if (!support.supported || version === null) return { layer: null, support }
    const conn = new GenlConnection({ rcvbufBytes: 4 << 20, ref: false })
    const genl = await DrbdGenl.open(conn)
    genl.subscribe((m) => {
      if ('context' in m) opts.onChange(nameKey(m.context.resource))
    })
    conn.on('overflow', () => opts.onChange(null))
    conn.on('error', (e: Error) => log.error('DRBD netlink socket failed: DRBD state changes are no longer seen', { error: e.message }))
    const layer = new DrbdLayer({ nodeName: opts.nodeName, confDir: opts.confDir, genl, version })
    await layer.#writeTopFile()
    return { layer, support }
  }

  async #writeTopFile(): Promise<void> {
    await mkdir(this.#o.confDir, { recursive: true, mode: 0o700 })
    const text = `# Written by the Blockyard satellite: its DRBD resources, for drbdadm -c ${this.#conf}\nglobal {\n    usage-count no;\n}\ninclude "${this.#o.confDir}/*.res";\n`
    await writeAtomically(this.#conf, text)
  }

  #resPath(rsc: string): string {
    try {
      checkName('rsc', rsc) // a name is a file name here: nothing that leaves the directory
    } catch (e) {
      throw new TerminalError(`DRBD resource file: ${(e as Error).message}`, { cause: e })
    }
    return join(this.#o.confDir, `${rsc}.res`)
  }

  /** The kernel's state of resource `name` now; null when DRBD does not know it. */
  async status(name: string): Promise<DrbdResourceStatus | null> {
    if (this.#filteredDumps) {
      try {
        return (await this.#o.genl.status(name)).resource(name)
      } catch (e) {
        // DRBD 8.4.11 fails dumps filtered by resource name (EINVAL, whether it knows the resource
        // or not): when the unfiltered dumps answer, they are what this kernel takes from now on.
        const all = (await this.#o.genl.status()).resource(name)
        this.#filteredDumps = false
        log.info('DRBD refuses status dumps of one resource: reading all resources instead', { error: (e as Error).message })
        return all
      }
    }
    return (await this.#o.genl.status()).resource(name)
  }

  /**
   * Brings `rsc` up as desired over the backing devices in `backing` (the storage layer's volumes);
   * `created`: volume numbers the storage layer created in this pass. Resolves with DRBD's state.
   */
  async up(rsc: ResourceDesired, backing: readonly VolumeFacts[], created: ReadonlySet<number>): Promise<DrbdObservation> {
    const key = nameKey(rsc.name)
    const disks = new Map<number, VolumeFacts>()
    for (const v of backing) if (v.device !== undefined) disks.set(v.number, v)
    const diskful = !locallyDiskless(rsc)
    const backingDisks = new Map<number, string>()
    if (diskful) {
      for (const v of rsc.volumes) {
        const d = disks.get(v.number)
        if (d?.device === undefined) throw new Error(`volume ${v.number} has no backing device yet`)
        backingDisks.set(v.number, d.device)
      }
    }
    if (this.#o.version === 8 && diskful && !(rsc.drbd?.peers ?? []).some((p) => !p.diskless)) return this.#alone84(rsc)
    const wanted = renderResFile({ nodeName: this.#o.nodeName, rsc, backingDisks }, this.#o.version)
    const path = this.#resPath(rsc.name)
    const onDisk = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null
      throw e
    })
    let status = await this.status(rsc.name)
    const metadata = new Map<number, string | null>()
    if (diskful) {
      for (const [number, device] of backingDisks) if (!attached(status, number)) metadata.set(number, await this.#readMd(device))
    }
    const steps = planUp({ rsc, version: this.#o.version, resFile: { wanted, onDisk }, status, metadata })
    for (const step of steps) {
      switch (step.op) {
        case 'write-res':
          await writeAtomically(path, wanted)
          break
        case 'create-md': {
          const opts = ['--force', ...(this.#o.version === 9 ? [`--max-peers=${rsc.drbd?.peerSlots ?? 7}`] : [])]
          await this.#run('drbdadm', drbdadmArgv(this.#conf, 'create-md', `${rsc.name}/${step.volume}`, opts))
          // A volume the storage layer just created reads as zeros, as every new replica does, when the
          // controller says all of them are in pools of such kinds (it knows the peers' pools): they
          // are identical without a sync. Anything else (thick somewhere, or adopted with unknown
          // content) needs a full sync.
          const zeroed = rsc.volumes.find((x) => x.number === step.volume)?.newReplicasZeroed === true
          let fresh = this.#fresh.get(key)
          if (fresh === undefined) this.#fresh.set(key, (fresh = new Map()))
          fresh.set(step.volume, created.has(step.volume) && zeroed ? 'skip' : 'full')
          break
        }
        case 'adjust':
          await this.#run('drbdadm', drbdadmArgv(this.#conf, 'adjust', rsc.name))
          break
        case 'forget-peer':
          // The file no longer names the peer: a failure cannot be retried by a later pass, and only
          // leaves a bitmap slot taken (DRBD 9 takes another one for a new peer while any is free).
          await this.#run('drbdsetup', ['forget-peer', rsc.name, String(step.nodeId)]).catch((e: unknown) =>
            log.warn('DRBD did not forget a removed peer: its bitmap slot stays taken', { rsc: rsc.name, nodeId: step.nodeId, error: (e as Error).message }),
          )
          break
        case 'resize':
          await this.#run('drbdadm', drbdadmArgv(this.#conf, 'resize', `${rsc.name}/${step.volume}`))
          break
      }
    }
    if (steps.length > 0) {
      log.debug('DRBD resource adjusted', { rsc: rsc.name, steps: steps.map((s) => s.op) })
      status = await this.status(rsc.name)
    }
    status = await this.#initialSync(rsc, status)
    return drbdObservation(rsc, status)
  }

  async #initialSync(rsc: ResourceDesired, status: DrbdResourceStatus | null): Promise<DrbdResourceStatus | null> {
    const key = nameKey(rsc.name)
    let changed = false
    if (this.#forced.has(key)) {
      // Left Primary by a pass that failed after forcing it (the Secondary refused): finish the job.
      if (status?.role === 'Primary') {
        await this.#run('drbdadm', drbdadmArgv(this.#conf, 'secondary', rsc.name))
        changed = true
      }
      this.#forced.delete(key)
    }
    const fresh = this.#fresh.get(key)
    if (fresh !== undefined) {
      // A volume that left Inconsistent (synced, or written by a forced primary) is no longer fresh.
      for (const n of [...fresh.keys()]) {
        const d = status?.devices.find((x) => x.volume === n)
        if (d !== undefined && d.diskState !== 'Inconsistent') fresh.delete(n)
      }
      const plan = initialSync(rsc, status, fresh)
      for (const n of plan.skip) {
        await this.#run('drbdadm', drbdadmArgv(this.#conf, 'new-current-uuid', `${rsc.name}/${n}`, ['--clear-bitmap']))
        fresh.delete(n)
        changed = true
        log.info('initial sync skipped: the replicas are new zeroed volumes', { rsc: rsc.name, volume: n })
      }
      if (plan.force) {
        this.#forced.add(key)
        await this.#run('drbdadm', drbdadmArgv(this.#conf, 'primary', rsc.name, ['--force']))
        await this.#run('drbdadm', drbdadmArgv(this.#conf, 'secondary', rsc.name))
        this.#forced.delete(key)
        fresh.clear()
        changed = true
        log.info('initial sync started from this node: the replicas are new volumes of unknown content', { rsc: rsc.name })
      }
      if (fresh.size === 0) this.#fresh.delete(key)
    }
    return changed ? this.status(rsc.name) : status
  }

  /**
   * DRBD 8.4 with its peer removed and no new one yet: the middle of moving a replica (delete one, then
   * add the new one). 8.4's configuration cannot name one node alone, so the resource stays up as it
   * is, its file still naming the old peer, disconnected from it (StandAlone) so that nothing answers
   * in its place, until the new peer comes and the next pass writes the file for it. It cannot be
   * brought up alone: after a reboot it waits for its peer.
   */
  async #alone84(rsc: ResourceDesired): Promise<DrbdObservation> {
    let status = await this.status(rsc.name)
    if (status === null) throw new Error(`DRBD 8.4 cannot bring up '${rsc.name}' without its peer: add the second replica`)
    if (status.connections.some((c) => c.connectionState !== 'StandAlone')) {
      await this.#run('drbdadm', drbdadmArgv(this.#conf, 'disconnect', rsc.name))
      status = await this.status(rsc.name)
    }
    // The connection to a peer no longer desired is not reported: it has no name any more.
    return drbdObservation(rsc, status === null ? null : { ...status, connections: [] })
  }

  /** What DRBD says of `rsc` now (for a report after a failed pass). */
  async observe(rsc: ResourceDesired): Promise<DrbdObservation> {
    return drbdObservation(rsc, await this.status(rsc.name))
  }

  /**
   * Takes resource `name` down and removes its file: `drbdadm down` while the file is there,
   * `drbdsetup down` when the kernel has the resource but the file is gone (removed by hand).
   * Rejects while the device is open (DRBD refuses to go down while Primary and in use).
   */
  async down(name: string): Promise<void> {
    this.#fresh.delete(nameKey(name))
    this.#forced.delete(nameKey(name))
    const path = this.#resPath(name)
    const hasFile = await readFile(path, 'utf8').then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false
        throw e
      },
    )
    if ((await this.status(name)) !== null) {
      if (hasFile) await this.#run('drbdadm', drbdadmArgv(this.#conf, 'down', name))
      else await this.#run('drbdsetup', ['down', name])
      log.debug('DRBD resource down', { rsc: name })
    }
    await rm(path, { force: true })
  }
}

/** Writes `path` whole or not at all (a crash leaves the old file or the new one, never half). */
async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(tmp, text, { mode: 0o600 })
    await rename(tmp, path)
  } catch (e) {
    await rm(tmp, { force: true })
    throw e
  }
}
