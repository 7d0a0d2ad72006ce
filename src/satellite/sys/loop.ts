/**
 * Loop devices for the FILE and FILE_THIN providers: attach a file, detach, grow, find the device of a
 * file again after a restart. Policy over the addon's loop primitives (see native.ts): which device to
 * take, retries when another process takes it first, the fallback from direct I/O.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { blockSize } from './blk.js'
import { native, SysError } from './native.js'

export { blockSize }

/**
 * How often attachLoop asks for a free device again after losing it to someone else. A loss to EBUSY
 * means another binder finished in between; 64 of them in a row only happen under a storm of foreign
 * attaches. (systemd's loop-util.c gives up after 64 too.)
 */
const MAX_ATTACH_ATTEMPTS = 64
/** Longest pause before retrying a device whose lock someone else holds (ms, before jitter). */
const MAX_LOCK_BACKOFF_MS = 50
/** lo_file_name holds 63 bytes and a NUL. */
const LO_NAME_BYTES = 63
const LOOP_DEVICE = /^\/dev\/loop(\d+)$/

export interface AttachOptions {
  /**
   * Ask for direct I/O (no double caching in the page cache). Where the kernel refuses it (EINVAL from
   * LOOP_CONFIGURE: the filesystem has no O_DIRECT, or its block size does not fit) the device is
   * attached with buffered I/O instead; {@link loopStatus} tells which one is in effect.
   */
  directIo?: boolean
  /** Bind read-only. */
  readOnly?: boolean
  /** Expose only the first `sizeLimit` bytes (0 or absent: the whole file, following its growth on resizeLoop). */
  sizeLimit?: number
}

export interface LoopStatus {
  /** `/dev/loopN` */
  device: string
  number: number
  /** lo_file_name as the binder set it (attachLoop: the path, cut to 63 bytes). */
  fileName: string
  /** st_dev and st_ino of the backing file: the identity that survives renames. */
  backingDevice: bigint
  backingInode: bigint
  offset: number
  sizeLimit: number
  flags: number
  directIo: boolean
  readOnly: boolean
  autoclear: boolean
  partscan: boolean
}

/** In-process order for LOOP_CTL_GET_FREE + LOOP_CONFIGURE (see attachLoop). */
let attachTail: Promise<unknown> = Promise.resolve()

function cutUtf8(s: string, maxBytes: number): string {
  const b = Buffer.from(s)
  if (b.length <= maxBytes) return s
  // Cut at a character boundary: drop continuation bytes (10xxxxxx) left dangling at the end.
  let end = maxBytes
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--
  return b.subarray(0, end).toString()
}

function checkDevice(device: unknown, what: string): asserts device is string {
  if (typeof device !== 'string' || device === '') throw new TypeError(`${what}: device must be a non-empty string`)
}

function isSysError(e: unknown, code: string, syscall?: string): e is SysError {
  return e instanceof SysError && e.code === code && (syscall === undefined || e.syscall === syscall)
}

/**
 * Binds the file at `path` to a free loop device and resolves with its node, `/dev/loopN`.
 *
 * Contract: `path` is absolute and names an existing regular file (else SysError `open` ENOENT/EACCES…,
 * target = path). The device has offset 0, no autoclear, no partition scan, lo_file_name = `path`;
 * its size is the file's rounded down to 512 bytes (or `sizeLimit`). Concurrent calls in this process
 * get distinct devices. A device another process binds or locks first is given up for the next free
 * one (SysError EBUSY, or EAGAIN from flock, after 64 such losses). Each call binds a new device:
 * callers that must not attach twice look first with {@link findLoopByBackingFile}.
 */
export async function attachLoop(path: string, options: AttachOptions = {}): Promise<string> {
  if (typeof path !== 'string' || !isAbsolute(path)) throw new TypeError(`attachLoop: path must be absolute, got ${String(path)}`)
  const sizeLimit = options.sizeLimit ?? 0
  if (!Number.isSafeInteger(sizeLimit) || sizeLimit < 0) throw new RangeError(`attachLoop: sizeLimit must be a non-negative integer, got ${sizeLimit}`)
  // LOOP_CTL_GET_FREE hands the same lowest free number to every caller until one binds it, so
  // parallel attaches in one process would only collide (EBUSY) and retry. One at a time here; other
  // processes are handled by the retry below.
  const run = attachTail.then(() => attachOnce(path, options, sizeLimit))
  attachTail = run.catch(() => undefined)
  return run
}

async function attachOnce(path: string, options: AttachOptions, sizeLimit: number): Promise<string> {
  const n = native()
  let flags = (options.readOnly === true ? n.LO_FLAGS.READ_ONLY : 0) | (options.directIo === true ? n.LO_FLAGS.DIRECT_IO : 0)
  const fileName = cutUtf8(path, LO_NAME_BYTES)
  let lastBusy: SysError | undefined
  for (let attempt = 0; attempt < MAX_ATTACH_ATTEMPTS; ) {
    const nr = await n.loopCtlGetFree()
    const device = `/dev/loop${nr}`
    try {
      await n.loopConfigure(device, path, flags, sizeLimit, fileName)
      return device
    } catch (e) {
      if ((flags & n.LO_FLAGS.DIRECT_IO) !== 0 && isSysError(e, 'EINVAL', 'ioctl(LOOP_CONFIGURE)')) {
        flags &= ~n.LO_FLAGS.DIRECT_IO // the filesystem cannot do direct I/O: buffered it is
        continue
      }
      // Another process bound it between GET_FREE and CONFIGURE: the next GET_FREE names another.
      if (isSysError(e, 'EBUSY', 'ioctl(LOOP_CONFIGURE)')) {
        lastBusy = e
        attempt++
        continue
      }
      // Someone holds its lock (flock: EWOULDBLOCK, named EAGAIN) — a binder that follows systemd's
      // convention mid-setup, or udev probing it. It is still unbound, so GET_FREE would name it again
      // at once; a flock release has no event to wait for, so back off briefly (with jitter, growing).
      if (isSysError(e, 'EAGAIN', 'flock')) {
        lastBusy = e
        attempt++
        await delay(Math.min(MAX_LOCK_BACKOFF_MS, 2 ** attempt) * (0.5 + Math.random() / 2))
        continue
      }
      throw e
    }
  }
  throw lastBusy!
}

/**
 * Unbinds the loop device `device` (`/dev/loopN`). Rejects with SysError ENXIO when nothing is bound,
 * ENOTTY (or EINVAL) when `device` is no loop device, ENOENT when there is no such node. While other
 * openers (a mount, a holder) remain, the kernel only marks it to unbind at their last close.
 */
export async function detachLoop(device: string): Promise<void> {
  checkDevice(device, 'detachLoop')
  await native().loopClrFd(device)
}

/**
 * Makes the loop device `device` take the current size of its backing file (after the file grew) and
 * resolves with the device's new size in bytes.
 */
export async function resizeLoop(device: string): Promise<number> {
  checkDevice(device, 'resizeLoop')
  await native().loopSetCapacity(device)
  return blockSize(device)
}

/** The binding of `device`, or null when nothing is bound to it. */
export async function loopStatus(device: string): Promise<LoopStatus | null> {
  checkDevice(device, 'loopStatus')
  const n = native()
  let s
  try {
    s = await n.loopGetStatus64(device)
  } catch (e) {
    if (isSysError(e, 'ENXIO')) return null
    throw e
  }
  const f = n.LO_FLAGS
  return {
    device,
    number: s.number,
    fileName: s.fileName.toString('utf8'),
    backingDevice: s.device,
    backingInode: s.inode,
    offset: s.offset,
    sizeLimit: s.sizeLimit,
    flags: s.flags,
    directIo: (s.flags & f.DIRECT_IO) !== 0,
    readOnly: (s.flags & f.READ_ONLY) !== 0,
    autoclear: (s.flags & f.AUTOCLEAR) !== 0,
    partscan: (s.flags & f.PARTSCAN) !== 0,
  }
}

export interface BoundLoop {
  /** `/dev/loopN` */
  device: string
  /**
   * The backing file's path as the kernel resolved it when binding (sysfs `loop/backing_file`), with
   * " (deleted)" appended by the kernel when the file was since removed.
   */
  backingFile: string
}

const SYS_BLOCK = '/sys/block'

/**
 * Every bound loop device with its backing file, from sysfs (`/sys/block/loopN/loop/backing_file`
 * exists only while a file is bound). No ioctl: cheap enough to call once per reconcile pass.
 */
export async function listLoops(): Promise<BoundLoop[]> {
  const names = (await readdir(SYS_BLOCK)).filter((n) => /^loop\d+$/.test(n))
  const found = await Promise.all(
    names.map(async (name): Promise<BoundLoop | null> => {
      try {
        const text = await readFile(`${SYS_BLOCK}/${name}/loop/backing_file`, 'utf8')
        return { device: `/dev/${name}`, backingFile: text.replace(/\n$/, '') }
      } catch {
        return null // unbound (no loop/ directory), or unbound while we read
      }
    }),
  )
  return found.filter((x): x is BoundLoop => x !== null).sort((a, b) => loopNumber(a.device) - loopNumber(b.device))
}

function loopNumber(device: string): number {
  return Number(LOOP_DEVICE.exec(device)?.[1] ?? Number.MAX_SAFE_INTEGER)
}

/**
 * The loop device bound to the file at `path` (adoption after a restart), or null. When several are
 * bound to it, the lowest-numbered one.
 *
 * Candidates come from sysfs by path (the kernel's resolved path, compared to realpath(path)); each
 * is confirmed with LOOP_GET_STATUS64 by the backing file's device and inode, so a file that was
 * removed and created again under the same name does not match the old binding. Null when `path`
 * does not exist.
 */
export async function findLoopByBackingFile(path: string): Promise<string | null> {
  if (typeof path !== 'string' || !isAbsolute(path)) throw new TypeError(`findLoopByBackingFile: path must be absolute, got ${String(path)}`)
  let real: string
  let st
  try {
    real = await realpath(path)
    st = await stat(real, { bigint: true })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
  for (const loop of await listLoops()) {
    if (loop.backingFile !== real) continue
    const s = await loopStatus(loop.device)
    if (s !== null && s.backingDevice === st.dev && s.backingInode === st.ino) return loop.device
  }
  return null
}

/** Creates `/dev/loop<nr>` (LOOP_CTL_ADD); SysError EEXIST when it exists. */
export async function addLoopDevice(nr: number): Promise<string> {
  if (!Number.isSafeInteger(nr) || nr < 0) throw new RangeError(`addLoopDevice: bad loop number ${nr}`)
  return `/dev/loop${await native().loopCtlAdd(nr)}`
}

/** Deletes the unbound, unopened `/dev/loopN` (LOOP_CTL_REMOVE); SysError EBUSY while bound or open. */
export async function removeLoopDevice(device: string): Promise<void> {
  checkDevice(device, 'removeLoopDevice')
  const m = LOOP_DEVICE.exec(device)
  if (m === null) throw new RangeError(`removeLoopDevice: not a /dev/loopN path: ${device}`)
  await native().loopCtlRemove(Number(m[1]))
}
