/**
 * The only loader of the satellite's native addon (`build/Release/blockyard.node`, built from
 * `native/` by node-gyp during `npm ci`, or by `npm run build:native`). It defines {@link SysError},
 * hands it to the addon at init so every failing kernel call rejects with one, and types the exports.
 *
 * The addon is thin (STYLE.md §5): one export per kernel call, numbers and Buffers in and out, calls
 * that can block on the thread pool, and those that only read kernel state (a free loop number, a
 * binding's status, a size) on the calling thread — both return Promises. Policy — which device, retries, fallbacks, parsing, logging — is in the
 * other files of `sys/`, which are the only users of this one.
 */
import { accessSync, constants as fsConstants, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { constants as osConstants } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getSystemErrorMap } from 'node:util'

const ERRNO_NAMES = new Map<number, string>()
for (const [name, n] of Object.entries(osConstants.errno)) {
  // First name wins for aliases (EAGAIN before EWOULDBLOCK, ENOTSUP before EOPNOTSUPP in node's table).
  if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name)
}
const ERRNO_TEXT = getSystemErrorMap()

/** The symbolic name of a (positive) errno, `'EBUSY'` for 16; `'E<n>'` when node does not know it. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`
}

/**
 * A failed kernel call. Thrown (or rejected with) by every native function; constructed by the addon.
 * `errno` is positive (16), `code` its name (`'EBUSY'`), `syscall` the call as a person reads it
 * (`'ioctl(LOOP_CONFIGURE)'`, `'open'`), `target` what it was called on (`'/dev/loop3'`).
 */
export class SysError extends Error {
  readonly errno: number
  readonly code: string
  readonly syscall: string
  readonly target: string

  constructor(errno: number, syscall: string, target: string) {
    const code = errnoName(errno)
    const text = ERRNO_TEXT.get(-errno)?.[1]
    super(`${syscall} ${target}: ${code}${text === undefined ? '' : ` (${text})`}`)
    this.errno = errno
    this.code = code
    this.syscall = syscall
    this.target = target
    Error.captureStackTrace?.(this, SysError)
  }
}
Object.defineProperty(SysError.prototype, 'name', { value: 'SysError', writable: true, enumerable: false, configurable: true })

/** `struct loop_info64` as `loopGetStatus64` unpacks it. */
export interface LoopInfo64 {
  /** st_dev of the backing file. */
  device: bigint
  /** st_ino of the backing file. */
  inode: bigint
  rdevice: bigint
  offset: number
  sizeLimit: number
  number: number
  /** LO_FLAGS_* bits. */
  flags: number
  /** lo_file_name up to its NUL: what the binder wrote, at most 63 bytes (not necessarily a path). */
  fileName: Buffer
}

/** A NETLINK_KOBJECT_UEVENT socket read on the main loop. */
export interface UeventSocket {
  /** Stops reading and closes the socket; idempotent. */
  close(): void
  /** Whether the open socket keeps the process alive (default: it does), as node's handles. */
  ref(): void
  unref(): void
}

/**
 * Receives each datagram raw: `err` is set (and `message` null) when reading failed — `ENOBUFS` means
 * the socket's buffer overflowed and events were lost. `senderUid` is -1 when no credentials came.
 */
export type UeventCallback = (err: SysError | null, message: Buffer | null, senderPort: number, senderUid: number, truncated: boolean) => void

/** A NETLINK_GENERIC socket read on the main loop; datagrams arrive through its {@link NetlinkCallback}. */
export interface GenlSocket {
  /** Stops reading and closes the socket; idempotent. */
  close(): void
  /** Whether the open socket keeps the process alive (default: it does), as node's handles. */
  ref(): void
  unref(): void
  /** sendto(2) of one datagram to the kernel (port 0); throws SysError (EBADF once closed). */
  send(message: Buffer): void
  /** setsockopt(NETLINK_ADD_MEMBERSHIP): joins multicast group `group`; throws SysError. */
  addMembership(group: number): void
}

/** The callback of a {@link GenlSocket}, as {@link UeventCallback}. */
export type NetlinkCallback = UeventCallback

/** The addon's exports. Every Promise rejects, and every throw is, a {@link SysError} for kernel failures. */
export interface NativeAddon {
  /** LOOP_CTL_GET_FREE on /dev/loop-control: an unbound loop number (created if none). Not reserved. */
  loopCtlGetFree(): Promise<number>
  /** LOOP_CTL_ADD: creates /dev/loop<nr>. */
  loopCtlAdd(nr: number): Promise<number>
  /** LOOP_CTL_REMOVE: deletes an unbound, unopened /dev/loop<nr>. */
  loopCtlRemove(nr: number): Promise<void>
  /**
   * flock(LOCK_EX|LOCK_NB) on a second descriptor of `device`, then LOOP_CONFIGURE binding `backingFile`
   * (opened read-write unless LO_FLAGS.READ_ONLY) at offset 0 with `flags`, `sizeLimit` (0: the whole
   * file) and lo_file_name `fileName` (cut to 63 bytes).
   */
  loopConfigure(device: string, backingFile: string, flags: number, sizeLimit: number, fileName: string): Promise<void>
  /** LOOP_CLR_FD. */
  loopClrFd(device: string): Promise<void>
  /** LOOP_SET_CAPACITY: re-read the backing file's size. */
  loopSetCapacity(device: string): Promise<void>
  /** LOOP_GET_STATUS64 (ENXIO when unbound). */
  loopGetStatus64(device: string): Promise<LoopInfo64>
  /** BLKGETSIZE64: the size in bytes. */
  blkGetSize64(device: string): Promise<number>
  /** fallocate(2) mode 0 on the existing file `path`: allocates [offset, offset + length), extending the file. */
  fallocate(path: string, offset: number, length: number): Promise<void>
  /** A NETLINK_KOBJECT_UEVENT socket bound to `groups` (1: kernel), SO_RCVBUFFORCE when `rcvbufBytes` > 0. */
  ueventOpen(groups: number, rcvbufBytes: number, callback: UeventCallback): UeventSocket
  /** A NETLINK_GENERIC socket in no multicast group, SO_RCVBUFFORCE when `rcvbufBytes` > 0. */
  genlOpen(rcvbufBytes: number, callback: NetlinkCallback): GenlSocket
  /**
   * The device-mapper ioctls on /dev/mapper/control (one descriptor, opened on first use and kept).
   * Each takes a packed `struct dm_ioctl` plus payload whose data_size is the buffer's length
   * (else a RangeError) and resolves with a copy of that buffer as the kernel left it; dm.ts packs
   * and unpacks. SysError target: the device name in the header, else /dev/mapper/control. Calls
   * that wait for I/O run on the thread pool, the others on the calling thread.
   *
   * This one: DM_VERSION, on the calling thread.
   */
  dmVersion(request: Buffer): Promise<Buffer>
  /** DM_LIST_DEVICES, on the calling thread. */
  dmListDevices(request: Buffer): Promise<Buffer>
  /** DM_LIST_VERSIONS (target types), on the calling thread. */
  dmListVersions(request: Buffer): Promise<Buffer>
  /** DM_DEV_STATUS, on the calling thread. */
  dmDevStatus(request: Buffer): Promise<Buffer>
  /** DM_DEV_CREATE. */
  dmDevCreate(request: Buffer): Promise<Buffer>
  /** DM_DEV_REMOVE. */
  dmDevRemove(request: Buffer): Promise<Buffer>
  /** DM_DEV_SUSPEND: suspend with DM_SUSPEND_FLAG, resume without. */
  dmDevSuspend(request: Buffer): Promise<Buffer>
  /** DM_TABLE_LOAD. */
  dmTableLoad(request: Buffer): Promise<Buffer>
  /**
   * DM_TABLE_STATUS: the table with DM_STATUS_TABLE_FLAG, else the status. On the thread pool, but on
   * the calling thread for a table or with DM_NOFLUSH_FLAG (no metadata commit then).
   */
  dmTableStatus(request: Buffer): Promise<Buffer>
  /** DM_TARGET_MSG. */
  dmTargetMsg(request: Buffer): Promise<Buffer>
  /** Sizes and offsets of `<linux/dm-ioctl.h>` as the addon was compiled with, to check dm.ts's packing. */
  readonly DM_ABI: {
    readonly ioctlSize: number
    readonly nameOffset: number
    readonly uuidOffset: number
    readonly dataOffset: number
    readonly targetSpecSize: number
    readonly nameListNameOffset: number
    readonly targetVersionsNameOffset: number
    readonly targetMsgMessageOffset: number
  }
  readonly LO_FLAGS: { readonly READ_ONLY: number; readonly AUTOCLEAR: number; readonly PARTSCAN: number; readonly DIRECT_IO: number }
}

interface RawAddon extends Partial<NativeAddon> {
  init?: (sysError: typeof SysError) => void
}

const ADDON_FILE = join('build', 'Release', 'blockyard.node')

/**
 * Where the built addon is: the nearest `build/Release/blockyard.node` above this module (the package
 * root, three levels up from both `src/satellite/sys/` and `dist/satellite/sys/`; a bundle may sit
 * elsewhere under it). `BLOCKYARD_NATIVE_ADDON` names the file explicitly.
 */
export function addonPath(): string {
  const explicit = process.env.BLOCKYARD_NATIVE_ADDON
  if (explicit !== undefined && explicit !== '') return explicit
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(dir, ADDON_FILE)
    if (existsSync(candidate)) return candidate
    const up = dirname(dir)
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', ADDON_FILE)
    dir = up
  }
}

let loaded: NativeAddon | undefined

/**
 * Why the control node `path` of one of the kernel interfaces the addon drives (loop, device-mapper)
 * cannot be opened for reading and writing, ending with `needs` (what it takes), or null when it can.
 */
export function controlNodeUnusable(path: string, needs: string): string | null {
  try {
    accessSync(path, fsConstants.R_OK | fsConstants.W_OK)
  } catch (e) {
    return `${path} is not usable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ${needs}`
  }
  return null
}

/**
 * The addon, loaded and initialised on first use (the controller and the CLI never load it). Throws an
 * Error naming the fix when it is not built, and when this platform is not Linux.
 */
export function native(): NativeAddon {
  if (loaded !== undefined) return loaded
  const path = addonPath()
  if (!existsSync(path)) {
    throw new Error(`Blockyard's native addon is not built (${path} is missing): run \`npm ci\`, or \`npm run build:native\` in the package directory`)
  }
  const raw = createRequire(import.meta.url)(path) as RawAddon
  if (typeof raw.init !== 'function') {
    throw new Error(`Blockyard's native addon supports Linux only (this is ${process.platform}): loop devices and kernel uevents are Linux's`)
  }
  raw.init(SysError)
  loaded = raw as NativeAddon
  return loaded
}
