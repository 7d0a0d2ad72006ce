/**
 * A storage provider (LINSTOR's DeviceProvider, STYLE.md §7.6): where a volume's data lives and how it
 * becomes a block device. The storage layer asks it what exists (`observe`) and has it carry out the
 * diff's steps; every step is idempotent, so a pass cut short by a crash is simply run again.
 */
import type { Props, ProviderKind } from '../../proto/messages.js'
import type { ActualVolume } from '../reconcile/diff.js'
import { blockSize } from '../sys/blk.js'

/** `<rsc>_<vlmNr as 5 digits>`: LINSTOR's name for a volume in every pool (LV, zvol, file without `.img`). */
export function volumeName(rscName: string, number: number): string {
  return `${rscName}_${String(number).padStart(5, '0')}`
}

/**
 * `facts` with the block device at `path` and its size, when the node is there and answers (udev made
 * it); unchanged otherwise.
 */
export async function withDevice(facts: VolumeFacts, path: string): Promise<VolumeFacts> {
  const bytes = await blockSize(path).catch(() => null)
  if (bytes !== null) {
    facts.device = path
    facts.deviceSizeKib = Math.floor(bytes / 1024)
  }
  return facts
}

/** A storage pool as desired state describes it. */
export interface PoolRef {
  name: string
  kind: ProviderKind
  props: Props
}

/** Space of a pool, KiB. */
export interface PoolSpace {
  freeKib: number
  totalKib: number
}

/** What the storage layer reports about a volume besides the diff's facts. */
export interface VolumeFacts extends ActualVolume {
  /** Space the volume really takes in its pool, KiB (thin: the allocated blocks). */
  allocatedKib: number
}

export interface Provider {
  /** The kinds this provider serves. */
  readonly kinds: readonly ProviderKind[]
  /**
   * Checks the pool's configuration and resolves with its location (FILE: the real path of its
   * directory), or rejects with a TerminalError naming what is wrong (and the failed syscall).
   */
  checkPool(pool: PoolRef): Promise<string>
  /**
   * The size a volume of `sizeKib` is given in the pool at `location` (LVM: whole extents). Absent: the
   * size asked for. The diff compares what exists with this, so a rounded-up volume is not "larger".
   */
  allocationKib?(location: string, sizeKib: number): Promise<number>
  /** Where volume `number` of resource `rscName` lives in the pool at `location`; undefined: nowhere (DISKLESS). */
  volumePath(location: string, rscName: string, number: number): string | undefined
  /** The volumes of `rscName` found in the pool at `location` — observed now, not remembered. */
  observe(pool: PoolRef, location: string, rscName: string): Promise<VolumeFacts[]>
  /** Allocates volume storage of `sizeKib` at `path`; keeps what exists there (adoption), extending it. */
  create(kind: ProviderKind, path: string, sizeKib: number): Promise<void>
  /** Grows the storage at `path` to `sizeKib`. */
  grow(kind: ProviderKind, path: string, sizeKib: number): Promise<void>
  /** Exposes the storage at `path` as a block device, resolving once the device is usable. */
  attach(path: string): Promise<string>
  /** Makes `device` take the current size of its storage. */
  resizeDevice(device: string): Promise<void>
  /** Takes `device` down. Rejects (retryably) while it is in use. */
  detach(path: string, device: string): Promise<void>
  /** Frees the storage at `path`; nothing there is fine. */
  remove(path: string): Promise<void>
  /** Whether `device` is held open exclusively (mounted, claimed by a holder). */
  inUse(device: string): Promise<boolean>
  /** Free and total space of the pool at `location`; undefined where a pool has no space (DISKLESS). */
  space(pool: PoolRef, location: string): Promise<PoolSpace | undefined>
}
