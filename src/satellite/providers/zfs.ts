/**
 * ZFS and ZFS_THIN (LINSTOR's ZfsProvider / ZfsThinProvider): a volume is the zvol
 * `<dataset>/<rsc>_<vlmNr as 5 digits>`, where the pool's `StorDriver/StorPoolName` (LINSTOR's
 * clients send `StorDriver/ZPool` / `StorDriver/ZPoolThin`, which the controller renames) names a
 * zpool or a filesystem dataset under one. ZFS_THIN zvols are sparse (`zfs create -s`: no
 * refreservation); ZFS ones reserve their size. The pool's `StorDriver/ZfscreateOptions` (`-o
 * property=value`, `-b volblocksize`) go to every `zfs create`. A volume's path and device is udev's
 * link `/dev/zvol/<dataset>/<name>`.
 *
 * Observation costs one `zfs list` per dataset however many resources look at once (shared as LVM's
 * report is: a list running, or just finished, serves every caller until a change of that dataset
 * finishes). Adoption: zvols are found by name; a create that finds its zvol made already keeps it and
 * grows it when smaller.
 *
 * A zvol that is open is never destroyed: detach refuses while it is claimed (DRBD attached to it, a
 * mount), and ZFS itself refuses the destroy of a zvol any program has open; both are reported saying
 * what to close.
 */
import type { ProviderKind } from '../../proto/messages.js'
import { TerminalError } from '../reconcile/errors.js'
import { claimedExclusively } from '../sys/blk.js'
import {
  assertZfsName, createArgv, destroyArgv, isBusy, isNoSuchDataset, listArgv, parseCreateOptions, parseList, parseZpoolSize,
  resizeArgv, toolRunner, waitForZvol, ZfsCommandError, zfsNameProblem, zpoolSizeArgv, type CreateOptions, type ZfsRow, type ZfsRunner,
} from '../sys/zfs.js'
import { SharedRead } from './_shared-read.js'
import { volumeName, withDevice, type PoolRef, type PoolSpace, type Provider, type VolumeFacts } from './provider.js'

/** The pool property naming the zpool or dataset, as LINSTOR stores it (StorageConstants.CONFIG_ZFS_POOL_KEY). */
export const POOL_NAME_KEY = 'StorDriver/StorPoolName'
/** Options of every `zfs create` of the pool (LINSTOR ApiConsts.KEY_STOR_POOL_ZFS_CREATE_OPTIONS). */
export const CREATE_OPTIONS_KEY = 'StorDriver/ZfscreateOptions'
/**
 * The volblocksize sizes are rounded up to when the pool's options set none: ZFS's default is 8 KiB in
 * 2.1 and 16 KiB from 2.2, and a volsize must be a multiple of it (`zfs create` refuses otherwise).
 */
export const DEFAULT_VOLBLOCKSIZE = 16 * 1024

const ZVOL_DIR = '/dev/zvol/'
const VOLUME_NAME = /^(.+)_(\d{5})$/
/** ZFS's words for a pool without room: retrying cannot help until someone frees space. */
const NO_SPACE = /out of space|volume size exceeds|size is greater than available space/i

/** Parses a pool's `StorDriver/StorPoolName` and create options; throws a TerminalError naming what is wrong. */
export function parsePool(pool: PoolRef): { dataset: string; options: CreateOptions } {
  const what = `storage pool '${pool.name}' (${pool.kind})`
  const dataset = pool.props[POOL_NAME_KEY]
  if (dataset === undefined || dataset === '') throw new TerminalError(`${what} has no zpool: its property ${POOL_NAME_KEY} is not set`)
  const problem = zfsNameProblem(dataset)
  if (problem !== null) throw new TerminalError(`${what}: ${POOL_NAME_KEY} '${dataset}' ${problem}`)
  try {
    return { dataset, options: parseCreateOptions(pool.props[CREATE_OPTIONS_KEY]) }
  } catch (e) {
    throw new TerminalError(`${what}: ${CREATE_OPTIONS_KEY}: ${(e as Error).message}`)
  }
}

/** `/dev/zvol/<dataset>/<name>` → the zvol's dataset name. */
export function zvolDataset(path: string): string {
  if (!path.startsWith(ZVOL_DIR)) throw new RangeError(`not a zvol path: ${path}`)
  const dataset = path.slice(ZVOL_DIR.length)
  assertZfsName(dataset)
  if (!dataset.includes('/')) throw new RangeError(`not a zvol path (no dataset under the zpool): ${path}`)
  return dataset
}

const parentOf = (dataset: string): string => dataset.slice(0, dataset.lastIndexOf('/'))
const kib = (bytes: number | null): number => Math.floor((bytes ?? 0) / 1024)

/** Whether a zvol's row belongs in a pool of `kind`: thick zvols reserve space, sparse ones none. */
function ofKind(row: ZfsRow, kind: ProviderKind): boolean {
  return row.type === 'volume' && (row.refreservation === 0) === (kind === 'ZFS_THIN')
}

/** Space the volume takes in its pool: all of a thick zvol, the referenced data of a sparse one. */
export function allocatedKib(row: ZfsRow, kind: ProviderKind): number {
  return kind === 'ZFS_THIN' ? Math.ceil(row.referenced / 1024) : kib(row.volsize)
}

/**
 * Free and total space as LINSTOR reports them (ZfsUtils.getZPoolTotalSize, getZPoolFreeSize) for
 * both kinds: free is the dataset's `available`; total its quota, or the zpool's size without one.
 * A thin pool's oversubscription is the controller's to allow, from these figures.
 */
export function poolSpace(own: ZfsRow, zpoolBytes: () => Promise<number>): Promise<PoolSpace> | PoolSpace {
  const freeKib = kib(own.available)
  if (own.quota !== null && own.quota > 0) return { freeKib, totalKib: kib(own.quota) }
  return zpoolBytes().then((bytes) => ({ freeKib, totalKib: kib(bytes) }))
}

/** Sizes a zvol can have: whole blocks of the volblocksize. */
export function roundToBlocks(sizeKib: number, volblocksize = DEFAULT_VOLBLOCKSIZE): number {
  const blockKib = volblocksize / 1024
  return Math.ceil(sizeKib / blockKib) * blockKib
}

/** A zvol that is open: refused, retried once it is closed (the holder may let go). */
function zvolOpen(dataset: string, device: string, cause?: unknown): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(
    `zvol ${dataset} is open (${device} is held by DRBD, a mount or another program): it is not destroyed while open. ` +
      'Close it — `drbdadm down <resource>` for DRBD, umount, or end the program holding it — and the delete goes on.',
    cause === undefined ? undefined : { cause },
  )
  err.code = 'EBUSY'
  return err
}

export interface ZfsProviderOptions {
  /** The runner; default: the zfs and zpool tools (sys/zfs.ts `toolRunner`). */
  runner?: ZfsRunner
  /** How long to wait for a zvol's device link, ms (default 10 000). */
  deviceTimeoutMs?: number
}

export class ZfsProvider implements Provider {
  readonly kinds: readonly ProviderKind[] = ['ZFS', 'ZFS_THIN']
  readonly #run: ZfsRunner
  readonly #deviceTimeoutMs: number
  /** One `zfs list` per dataset shared by the passes that ask at once (_shared-read.ts). */
  readonly #lists = new SharedRead<ZfsRow[]>((dataset) => this.#run('zfs', listArgv(dataset)).then(parseList))
  /**
   * The create options of each dataset as its pool's check found them: `create` gets only the path.
   * Two pools on one dataset share them (the last checked wins).
   */
  readonly #options = new Map<string, CreateOptions>()

  constructor(options: ZfsProviderOptions = {}) {
    this.#run = options.runner ?? toolRunner()
    this.#deviceTimeoutMs = options.deviceTimeoutMs ?? 10_000
  }

  /** The dataset's own row; a TerminalError when it does not exist or is no filesystem. */
  async #own(dataset: string, what: string): Promise<ZfsRow> {
    let rows
    try {
      rows = await this.#lists.get(dataset)
    } catch (e) {
      if (isNoSuchDataset(e)) throw new TerminalError(`${what}: ZFS dataset ${dataset} does not exist`, { cause: e })
      throw e
    }
    const own = rows.find((r) => r.name === dataset)
    if (own === undefined || own.type !== 'filesystem') throw new TerminalError(`${what}: ${dataset} is ${own === undefined ? 'not listed by zfs' : 'a volume, not a zpool or filesystem'}`)
    return own
  }

  async #change(dataset: string, argv: readonly string[]): Promise<void> {
    try {
      await this.#run('zfs', argv)
    } catch (e) {
      if (e instanceof ZfsCommandError && NO_SPACE.test(e.stderr)) throw new TerminalError(e.message, { cause: e })
      throw e
    } finally {
      this.#lists.changed(dataset)
    }
  }

  async #zvol(dataset: string, { fresh = false } = {}): Promise<ZfsRow | undefined> {
    const rows = await this.#lists.get(parentOf(dataset), { fresh })
    return rows.find((r) => r.name === dataset && r.type === 'volume')
  }

  async checkPool(pool: PoolRef): Promise<string> {
    const { dataset, options } = parsePool(pool)
    await this.#own(dataset, `storage pool '${pool.name}' (${pool.kind})`)
    this.#options.set(dataset, options)
    return dataset
  }

  /** A volsize is whole volblocks: desired sizes are compared with what ZFS will make. */
  async allocationKib(location: string, sizeKib: number): Promise<number> {
    return roundToBlocks(sizeKib, this.#options.get(location)?.volblocksize)
  }

  volumePath(location: string, rscName: string, number: number): string {
    const dataset = `${location}/${volumeName(rscName, number)}`
    assertZfsName(dataset)
    return ZVOL_DIR + dataset
  }

  async observe(pool: PoolRef, location: string, rscName: string): Promise<VolumeFacts[]> {
    const rows = await this.#lists.get(location)
    const found: Promise<VolumeFacts>[] = []
    for (const row of rows) {
      if (parentOf(row.name) !== location || !ofKind(row, pool.kind)) continue
      const m = VOLUME_NAME.exec(row.name.slice(location.length + 1))
      if (m === null || m[1] !== rscName) continue
      found.push(this.#facts(pool.kind, row, Number(m[2])))
    }
    return Promise.all(found)
  }

  async #facts(kind: ProviderKind, row: ZfsRow, number: number): Promise<VolumeFacts> {
    const path = ZVOL_DIR + row.name
    // The device is there once udev made its link (attach waits for it).
    return withDevice({ number, kind, path, sizeKib: kib(row.volsize), allocatedKib: allocatedKib(row, kind) }, path)
  }

  async create(kind: ProviderKind, path: string, sizeKib: number): Promise<void> {
    const dataset = zvolDataset(path)
    const options = this.#options.get(parentOf(dataset))?.argv ?? []
    try {
      await this.#change(parentOf(dataset), createArgv(dataset, sizeKib, kind === 'ZFS_THIN', options))
    } catch (e) {
      // Made already (an interrupted pass, or by hand): adopted, grown when smaller.
      const existing = await this.#zvol(dataset, { fresh: true })
      if (existing === undefined) throw e
      if (kib(existing.volsize) < sizeKib) await this.grow(kind, path, sizeKib)
    }
  }

  async grow(_kind: ProviderKind, path: string, sizeKib: number): Promise<void> {
    const dataset = zvolDataset(path)
    try {
      await this.#change(parentOf(dataset), resizeArgv(dataset, sizeKib))
    } catch (e) {
      const existing = await this.#zvol(dataset, { fresh: true })
      if (existing === undefined || kib(existing.volsize) < sizeKib) throw e // else: grown by an earlier pass
    }
  }

  async attach(path: string): Promise<string> {
    const dataset = zvolDataset(path)
    if ((await this.#zvol(dataset)) === undefined) throw new Error(`zvol ${dataset} does not exist`)
    await waitForZvol(path, this.#deviceTimeoutMs)
    return path
  }

  /** Nothing to do: `zfs set volsize` resizes the zvol's device itself. */
  async resizeDevice(_device: string): Promise<void> {}

  /** Only refuses while the zvol is open: the device goes with the zvol in `remove`. */
  async detach(path: string, device: string): Promise<void> {
    if (await this.inUse(device)) throw zvolOpen(zvolDataset(path), device)
  }

  async remove(path: string): Promise<void> {
    const dataset = zvolDataset(path)
    try {
      await this.#change(parentOf(dataset), destroyArgv(dataset))
    } catch (e) {
      // Opened between detach's check and the destroy: ZFS refused, nothing was destroyed.
      if (isBusy(e)) throw zvolOpen(dataset, path, e)
      if (!isNoSuchDataset(e) && (await this.#zvol(dataset, { fresh: true })) !== undefined) throw e // else: gone already
    }
  }

  /**
   * Whether the zvol is claimed exclusively (DRBD attached to it, a mount): an exclusive open fails
   * with EBUSY then. A plain reader is not seen here (zfs 2.1.11 on Linux 6.1 grants the exclusive open
   * beside it, measured in the VM), but ZFS counts every open and refuses to destroy a zvol that has
   * any (`dataset is busy`): remove reports that as the same refusal.
   */
  async inUse(device: string): Promise<boolean> {
    return claimedExclusively(device)
  }

  async space(pool: PoolRef, location: string): Promise<PoolSpace> {
    const own = await this.#own(location, `storage pool '${pool.name}' (${pool.kind})`)
    const zpool = location.split('/')[0]!
    return poolSpace(own, async () => parseZpoolSize(await this.#run('zpool', zpoolSizeArgv(zpool)), zpool))
  }
}
