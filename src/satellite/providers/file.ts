/**
 * FILE and FILE_THIN (LINSTOR's FileProvider): a volume is the file `<dir>/<rsc>_<vlmNr as 5 digits>.img`
 * in the pool's directory — preallocated with fallocate for FILE, sparse for FILE_THIN — exposed as a
 * loop device with direct I/O where the filesystem allows it. The directory is the pool's
 * `StorDriver/StorPoolName` property (an absolute path, checked by the controller and again here).
 *
 * Adoption: files are found by name, their loop devices by backing file (LoopIndex), so whatever an
 * earlier run left — a file without device, a device of a smaller size — is taken over, never made
 * again.
 *
 * Metadata calls on the pool's directory (stat, realpath, open/truncate/close of a sparse file, statfs,
 * the exclusive open that tells whether a device is held) are synchronous: on a local filesystem they
 * take microseconds, while a trip through libuv's thread pool costs tens (two thread wake-ups and an
 * event-loop wake-up each), and a create/delete pass makes more than a dozen of them. What can take
 * long stays asynchronous: allocating a FILE volume, unlinking one (freeing its extents), reading the
 * directory once, and the loop ioctls.
 */
import { closeSync, constants as fsc, fstatSync, ftruncateSync, openSync, realpathSync, statSync, statfsSync } from 'node:fs'
import { readdir, unlink } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { logger } from '../../common/log.js'
import type { ProviderKind } from '../../proto/messages.js'
import { TerminalError } from '../reconcile/errors.js'
import { claimedExclusively } from '../sys/blk.js'
import { allocateFile } from '../sys/file.js'
import { attachLoop, blockSize, detachLoop, resizeLoop } from '../sys/loop.js'
import { SysError } from '../sys/native.js'
import { waitForDevice } from '../sys/uevent.js'
import { LoopIndex } from './_loop-index.js'
import { volumeName, type PoolRef, type PoolSpace, type Provider, type VolumeFacts } from './provider.js'

const log = logger('satellite.file')

/** The pool property naming a FILE pool's directory (what LINSTOR stores for every provider). */
export const POOL_DIR_KEY = 'StorDriver/StorPoolName'

const VOLUME_FILE = /^(.+)_(\d{5})\.img$/

/** `<rsc>_<vlmNr as 5 digits>.img`, LINSTOR's name for a volume's file. */
export function volumeFileName(rscName: string, number: number): string {
  return `${volumeName(rscName, number)}.img`
}

export interface FileProviderOptions {
  /** How long to wait for a freshly bound loop device to be usable, ms (default 10 000). */
  deviceTimeoutMs?: number
}

/** Volume files of one directory: resource name (as spelled in the file name) → volume numbers. */
type DirIndex = Map<string, Set<number>>

export class FileProvider implements Provider {
  readonly kinds: readonly ProviderKind[] = ['FILE', 'FILE_THIN']
  readonly #deviceTimeoutMs: number
  readonly #loops = new LoopIndex()
  /**
   * Which volume files each pool directory holds: read once per directory and process, then kept up
   * to date by create/remove. Only the search is remembered: every volume is stat()ed on each pass.
   */
  readonly #dirs = new Map<string, Promise<DirIndex>>()

  constructor(options: FileProviderOptions = {}) {
    this.#deviceTimeoutMs = options.deviceTimeoutMs ?? 10_000
  }

  async checkPool(pool: PoolRef): Promise<string> {
    const dir = pool.props[POOL_DIR_KEY]
    if (dir === undefined || dir === '') {
      throw new TerminalError(`storage pool '${pool.name}' (${pool.kind}) has no directory: its property ${POOL_DIR_KEY} is not set`)
    }
    if (!isAbsolute(dir) || dir.includes('\0')) {
      throw new TerminalError(`storage pool '${pool.name}' (${pool.kind}): ${POOL_DIR_KEY} must be an absolute path, got '${dir}'`)
    }
    let st
    try {
      st = statSync(dir)
    } catch (e) {
      throw new TerminalError(`storage pool '${pool.name}' (${pool.kind}): directory ${dir} is not usable: ${(e as Error).message}`, { cause: e })
    }
    if (!st.isDirectory()) throw new TerminalError(`storage pool '${pool.name}' (${pool.kind}): ${dir} is not a directory`)
    return realpathSync(dir)
  }

  volumePath(location: string, rscName: string, number: number): string {
    return join(location, volumeFileName(rscName, number))
  }

  async observe(pool: PoolRef, location: string, rscName: string): Promise<VolumeFacts[]> {
    const numbers = (await this.#dirIndex(location)).get(rscName)
    if (numbers === undefined) return []
    const found = await Promise.all([...numbers].map((n) => this.#observeVolume(pool.kind, location, rscName, n)))
    return found.filter((v): v is VolumeFacts => v !== null)
  }

  async #observeVolume(kind: ProviderKind, location: string, rscName: string, number: number): Promise<VolumeFacts | null> {
    const path = this.volumePath(location, rscName, number)
    let st
    try {
      st = statSync(path, { bigint: true })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      this.#forget(location, rscName, number) // removed behind our back
      return null
    }
    if (!st.isFile()) throw new TerminalError(`${path} is not a regular file`)
    const facts: VolumeFacts = {
      number,
      kind,
      path,
      sizeKib: Number(st.size / 1024n),
      allocatedKib: Number((st.blocks * 512n + 1023n) / 1024n),
    }
    const device = await this.#loops.find(path, st.dev, st.ino)
    if (device !== null) {
      facts.device = device
      facts.deviceSizeKib = Math.floor((await blockSize(device)) / 1024)
    }
    return facts
  }

  async create(kind: ProviderKind, path: string, sizeKib: number): Promise<void> {
    // O_CREAT without O_TRUNC or O_EXCL: a file an interrupted pass left is kept and extended.
    const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT, 0o600)
    try {
      await this.#remember(path)
      await this.#extend(kind, path, fd, sizeKib)
    } finally {
      closeSync(fd)
    }
  }

  async grow(kind: ProviderKind, path: string, sizeKib: number): Promise<void> {
    const fd = openSync(path, fsc.O_WRONLY)
    try {
      await this.#extend(kind, path, fd, sizeKib)
    } finally {
      closeSync(fd)
    }
  }

  /** Makes the file (open as `fd`) at least `sizeKib` long: allocated (FILE) or sparse (FILE_THIN). Never shrinks. */
  async #extend(kind: ProviderKind, path: string, fd: number, sizeKib: number): Promise<void> {
    const bytes = sizeKib * 1024
    if (kind === 'FILE') {
      // Allocating what is allocated already is a no-op: a grow allocates the whole range again.
      await allocateFile(path, bytes)
      return
    }
    if (fstatSync(fd).size < bytes) ftruncateSync(fd, bytes)
  }

  async attach(path: string): Promise<string> {
    const device = await attachLoop(path, { directIo: true })
    this.#loops.set(path, device)
    log.debug('attached', { path, device })
    // LOOP_CTL_GET_FREE made the node before LOOP_CONFIGURE bound it (devtmpfs creates nodes
    // synchronously), so it normally answers at once; otherwise wait for the kernel's uevent.
    const size = await blockSize(device).catch(() => 0)
    if (size === 0) await waitForDevice(device, this.#deviceTimeoutMs)
    return device
  }

  async resizeDevice(device: string): Promise<void> {
    await resizeLoop(device)
  }

  async detach(path: string, device: string): Promise<void> {
    if (await this.inUse(device)) throw deviceInUse(device)
    try {
      await detachLoop(device)
    } catch (e) {
      if (!(e instanceof SysError && e.code === 'ENXIO')) throw e // ENXIO: unbound already
    }
    this.#loops.delete(path)
    log.debug('detached', { path, device })
  }

  async remove(path: string): Promise<void> {
    try {
      await unlink(path)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
    const m = VOLUME_FILE.exec(path.slice(path.lastIndexOf('/') + 1))
    if (m !== null) this.#forget(path.slice(0, path.lastIndexOf('/')), m[1]!, Number(m[2]))
  }

  async inUse(device: string): Promise<boolean> {
    return claimedExclusively(device)
  }

  async space(_pool: PoolRef, location: string): Promise<PoolSpace> {
    const s = statfsSync(location)
    return { freeKib: Math.floor((s.bavail * s.bsize) / 1024), totalKib: Math.floor((s.blocks * s.bsize) / 1024) }
  }

  #dirIndex(location: string): Promise<DirIndex> {
    let index = this.#dirs.get(location)
    if (index === undefined) {
      index = readdir(location).then((names) => {
        const out: DirIndex = new Map()
        for (const name of names) {
          const m = VOLUME_FILE.exec(name)
          if (m === null) continue
          let set = out.get(m[1]!)
          if (set === undefined) out.set(m[1]!, (set = new Set()))
          set.add(Number(m[2]))
        }
        return out
      })
      // A failed read is not kept: the next pass reads again.
      index.catch(() => this.#dirs.delete(location))
      this.#dirs.set(location, index)
    }
    return index
  }

  async #remember(path: string): Promise<void> {
    const slash = path.lastIndexOf('/')
    const m = VOLUME_FILE.exec(path.slice(slash + 1))
    if (m === null) return
    const index = await this.#dirIndex(path.slice(0, slash))
    let set = index.get(m[1]!)
    if (set === undefined) index.set(m[1]!, (set = new Set()))
    set.add(Number(m[2]))
  }

  #forget(location: string, rscName: string, number: number): void {
    void this.#dirs.get(location)?.then((index) => {
      const set = index.get(rscName)
      set?.delete(number)
      if (set?.size === 0) index.delete(rscName)
    }, () => {})
  }
}

/**
 * A device that cannot be detached now because it is mounted or held open: retried with backoff
 * (the holder may let go), reported as the EBUSY of the exclusive open that found it busy.
 */
function deviceInUse(device: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${device} is in use (mounted or held open): it is taken down once it is free`)
  err.code = 'EBUSY'
  err.errno = -16
  err.syscall = 'open'
  err.path = device
  return err
}
