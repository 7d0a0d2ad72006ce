/**
 * Device-mapper through its ioctls on /dev/mapper/control (native.ts `dm*`), so that the satellite
 * observes and changes dm state without a `dmsetup` or `lvs` process per question. The addon only
 * runs the ioctl; this file packs `struct dm_ioctl` and its payloads, unpacks the replies, asks again
 * with a bigger buffer when the kernel says the reply did not fit, and checks names first.
 *
 * Layouts are those of `include/uapi/linux/dm-ioctl.h` (interface 4.x), little-endian as on every
 * architecture we run on; the addon exports the header's sizes and offsets as `DM_ABI` for a test.
 *
 * Udev: `dmsetup` passes a udev cookie (in event_nr) on resume and remove, and then blocks on a SysV
 * semaphore until udev's 95-dm-notify rule releases it: a wait for udev's rules (several processes
 * each) on every change. This module passes no cookie and never waits for udev: the
 * device's node `/dev/dm-<minor>` is made by devtmpfs before the first DM_TABLE_LOAD returns (since
 * Linux 5.15, "dm: delay registering the gendisk"; before, at DM_DEV_CREATE) and has its size once
 * DM_DEV_SUSPEND (resume) returns, so {@link dmDevicePath} is usable at once. With no cookie
 * lvm2's udev rules see no DM_UDEV_* flags and run in full on the resume's `change` uevent, adding
 * `/dev/mapper/<name>` and the by-id links a moment later; whoever needs those names waits for that
 * uevent (uevent.ts), not for udev at large.
 */
import { controlNodeUnusable, native, SysError } from './native.js'

const CONTROL = '/dev/mapper/control'

/** `struct dm_ioctl` (dm-ioctl.h): field offsets and its size, which is where payloads start. */
const IOCTL = {
  version: 0,
  dataSize: 12,
  dataStart: 16,
  targetCount: 20,
  openCount: 24,
  flags: 28,
  eventNr: 32,
  dev: 40,
  name: 48,
  uuid: 176,
  size: 312,
} as const
/** DM_NAME_LEN and DM_UUID_LEN include the NUL. */
const NAME_LEN = 128
const UUID_LEN = 129
/** DM_MAX_TYPE_NAME, with its NUL. */
const TYPE_NAME_LEN = 16
/** `struct dm_target_spec`: sector_start, length, status, next, target_type[16]; parameters follow. */
const SPEC = { sectorStart: 0, length: 8, status: 16, next: 20, targetType: 24, size: 40 } as const
/** `struct dm_name_list`: dev, next, name; `struct dm_target_versions`: next, version[3], name. */
const NAME_LIST_NAME = 12
const TARGET_VERSIONS_NAME = 16
/** `struct dm_target_msg`: sector, then the message. */
const TARGET_MSG_MESSAGE = 8

/**
 * The interface version sent: major 4 is the only one; the kernel refuses a minor newer than its own
 * and answers with its version, so asking for 4.0.0 works on every kernel and the reply says what runs.
 */
const REQUEST_VERSION = [4, 0, 0] as const

/** DM_*_FLAG bits of dm_ioctl.flags. */
export const DM_FLAGS = {
  READONLY: 1 << 0,
  SUSPEND: 1 << 1,
  PERSISTENT_DEV: 1 << 3,
  STATUS_TABLE: 1 << 4,
  ACTIVE_PRESENT: 1 << 5,
  INACTIVE_PRESENT: 1 << 6,
  BUFFER_FULL: 1 << 8,
  SKIP_LOCKFS: 1 << 10,
  NOFLUSH: 1 << 11,
  QUERY_INACTIVE_TABLE: 1 << 12,
  UEVENT_GENERATED: 1 << 13,
  UUID: 1 << 14,
  DATA_OUT: 1 << 16,
  DEFERRED_REMOVE: 1 << 17,
} as const
/** dm_name_list flags (after the name, asked for with DM_UUID_FLAG): whether a uuid follows. */
const NAME_LIST_FLAG_HAS_UUID = 1
const NAME_LIST_FLAG_DOESNT_HAVE_UUID = 2

/**
 * First buffer for replies of unknown size (lists, tables, status), as libdm's; doubled each time the
 * kernel reports DM_BUFFER_FULL_FLAG, up to {@link MAX_REPLY_BYTES}.
 */
const FIRST_REPLY_BYTES = 16 * 1024
/** The addon refuses larger buffers; a reply that needs more than this is not one we can take. */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024

/** The header of a dm ioctl, request or reply. */
export interface DmIoctl {
  /** The interface version: what we asked for in a request, the kernel's in a reply. */
  version: [number, number, number]
  targetCount: number
  openCount: number
  flags: number
  /** The device's event counter (a udev cookie in requests that take one; we send none). */
  eventNr: number
  /** The device number as the kernel encodes it (new_encode_dev); see {@link decodeDev}. */
  dev: number
  name: string
  uuid: string
  /** The payload: data_start up to data_size (empty when data_size ends before data_start). */
  data: Buffer
}

/** One line of a table: `start length type params`, in 512-byte sectors. */
export interface DmTarget {
  sectorStart: number
  length: number
  /** The target type: `linear`, `zero`, `error`, `thin-pool`, `thin`… (at most 15 bytes). */
  type: string
  /** The table parameters (in a status reply: the target's status line). */
  params: string
}

/** A device of DM_LIST_DEVICES. */
export interface DmListedDevice {
  name: string
  major: number
  minor: number
  /** The event counter, from kernels that report uuids in the list (see {@link unpackNameList}). */
  eventNr?: number
  /** The uuid, when it has one and the kernel reports it. */
  uuid?: string
}

/** What DM_DEV_STATUS (and every device-level command) says about a device. */
export interface DmDeviceInfo {
  name: string
  uuid: string
  major: number
  minor: number
  openCount: number
  eventNr: number
  /** Lines in the live table (in the inactive one when it was asked for). */
  targetCount: number
  suspended: boolean
  readOnly: boolean
  /** Whether a live table is loaded, and whether one waits to be made live by a resume. */
  activeTable: boolean
  inactiveTable: boolean
}

/** A target type the kernel knows (DM_LIST_VERSIONS), e.g. `thin-pool` 1.23.0. */
export interface DmTargetVersion {
  name: string
  version: [number, number, number]
}

function align8(n: number): number {
  return (n + 7) & ~7
}

/** The string at `offset` up to its NUL (or up to `end`). */
function cString(buf: Buffer, offset: number, end = buf.length): string {
  const stop = Math.min(end, buf.length)
  const nul = buf.indexOf(0, offset)
  return buf.toString('utf8', offset, nul < 0 || nul > stop ? stop : nul)
}

function checkString(value: unknown, what: string, maxBytes: number): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`)
  if (value.includes('\0')) throw new RangeError(`${what} must not contain NUL`)
  if (Buffer.byteLength(value) > maxBytes) throw new RangeError(`${what} is longer than ${maxBytes} bytes: ${value}`)
}

/**
 * Throws a RangeError unless `name` is a name the kernel takes for a dm device: 1 to 127 bytes, no
 * `/` (it becomes /dev/mapper/<name>), and not `.`, `..` or `control` (Linux 6.x refuses those).
 */
export function checkDmName(name: unknown): asserts name is string {
  checkString(name, 'device-mapper name', NAME_LEN - 1)
  if (name === '' || name.includes('/') || name === '.' || name === '..' || name === 'control') {
    throw new RangeError(`not a device-mapper name: ${JSON.stringify(name)} (1-127 bytes, no '/', not '.', '..' or 'control')`)
  }
}

/** Throws a RangeError unless `uuid` fits dm's uuid field (at most 128 bytes). */
export function checkDmUuid(uuid: unknown): asserts uuid is string {
  checkString(uuid, 'device-mapper uuid', UUID_LEN - 1)
}

/** Major and minor of a device number as dm encodes it (the kernel's new_encode_dev). */
export function decodeDev(dev: number): { major: number; minor: number } {
  return { major: (dev >>> 8) & 0xfff, minor: (dev & 0xff) | ((dev >>> 12) & 0xfff00) }
}

export interface DmRequest {
  name?: string
  uuid?: string
  flags?: number
  eventNr?: number
  targetCount?: number
  /** What follows the header (at data_start). */
  payload?: Buffer
  /** The whole buffer's size, room for the reply included; at least the header and payload. */
  bytes?: number
}

/** Packs a dm_ioctl header and its payload into one buffer whose data_size is its length. */
export function packDmIoctl(req: DmRequest): Buffer {
  const payload = req.payload ?? Buffer.alloc(0)
  const size = Math.max(req.bytes ?? 0, IOCTL.size + payload.length)
  const buf = Buffer.alloc(size)
  for (let i = 0; i < 3; i++) buf.writeUInt32LE(REQUEST_VERSION[i]!, IOCTL.version + 4 * i)
  buf.writeUInt32LE(size, IOCTL.dataSize)
  buf.writeUInt32LE(IOCTL.size, IOCTL.dataStart)
  buf.writeUInt32LE(req.targetCount ?? 0, IOCTL.targetCount)
  buf.writeUInt32LE(req.flags ?? 0, IOCTL.flags)
  buf.writeUInt32LE(req.eventNr ?? 0, IOCTL.eventNr)
  if (req.name !== undefined) buf.write(req.name, IOCTL.name, NAME_LEN - 1)
  if (req.uuid !== undefined) buf.write(req.uuid, IOCTL.uuid, UUID_LEN - 1)
  payload.copy(buf, IOCTL.size)
  return buf
}

/** Unpacks a dm_ioctl reply. Throws a RangeError when the buffer cannot be one. */
export function unpackDmIoctl(buf: Buffer): DmIoctl {
  if (buf.length < IOCTL.size) throw new RangeError(`a dm_ioctl is ${IOCTL.size} bytes, got ${buf.length}`)
  const dataStart = buf.readUInt32LE(IOCTL.dataStart)
  const dataSize = buf.readUInt32LE(IOCTL.dataSize)
  if (dataSize > buf.length || dataStart > buf.length) throw new RangeError(`dm_ioctl data ${dataStart}..${dataSize} outside its ${buf.length} bytes`)
  return {
    version: [buf.readUInt32LE(IOCTL.version), buf.readUInt32LE(IOCTL.version + 4), buf.readUInt32LE(IOCTL.version + 8)],
    targetCount: buf.readUInt32LE(IOCTL.targetCount),
    openCount: buf.readInt32LE(IOCTL.openCount),
    flags: buf.readUInt32LE(IOCTL.flags),
    eventNr: buf.readUInt32LE(IOCTL.eventNr),
    // Encoded device numbers fit 32 bits (12-bit major, 20-bit minor).
    dev: Number(buf.readBigUInt64LE(IOCTL.dev)),
    name: cString(buf, IOCTL.name, IOCTL.name + NAME_LEN),
    uuid: cString(buf, IOCTL.uuid, IOCTL.uuid + UUID_LEN),
    // Replies without data set data_size to offsetof(struct dm_ioctl, data), before data_start.
    data: buf.subarray(dataStart, Math.max(dataStart, dataSize)),
  }
}

/** A reply's header as a device's facts. */
export function deviceInfoOf(reply: DmIoctl): DmDeviceInfo {
  return {
    name: reply.name,
    uuid: reply.uuid,
    ...decodeDev(reply.dev),
    openCount: reply.openCount,
    eventNr: reply.eventNr,
    targetCount: reply.targetCount,
    suspended: (reply.flags & DM_FLAGS.SUSPEND) !== 0,
    readOnly: (reply.flags & DM_FLAGS.READONLY) !== 0,
    activeTable: (reply.flags & DM_FLAGS.ACTIVE_PRESENT) !== 0,
    inactiveTable: (reply.flags & DM_FLAGS.INACTIVE_PRESENT) !== 0,
  }
}

/**
 * The payload of DM_TABLE_LOAD: one dm_target_spec per target, each followed by its parameters and
 * padded to 8 bytes, `next` counting from the start of this spec to the next one (in a load; replies
 * count from the first, see {@link unpackTargets}).
 */
export function packTargets(targets: readonly DmTarget[]): Buffer {
  const parts: Buffer[] = []
  for (const t of targets) {
    if (!Number.isSafeInteger(t.sectorStart) || t.sectorStart < 0) throw new RangeError(`target sectorStart must be a non-negative integer, got ${t.sectorStart}`)
    if (!Number.isSafeInteger(t.length) || t.length <= 0) throw new RangeError(`target length must be a positive integer, got ${t.length}`)
    checkString(t.type, 'target type', TYPE_NAME_LEN - 1)
    if (t.type === '') throw new RangeError('target type must not be empty')
    checkString(t.params, 'target params', MAX_REPLY_BYTES)
    const params = Buffer.from(t.params)
    const spec = Buffer.alloc(align8(SPEC.size + params.length + 1))
    spec.writeBigUInt64LE(BigInt(t.sectorStart), SPEC.sectorStart)
    spec.writeBigUInt64LE(BigInt(t.length), SPEC.length)
    spec.writeUInt32LE(spec.length, SPEC.next)
    spec.write(t.type, SPEC.targetType)
    params.copy(spec, SPEC.size)
    parts.push(spec)
  }
  return Buffer.concat(parts)
}

/**
 * The targets of a DM_TABLE_STATUS reply (`count` of them): parameters are the table's line with
 * DM_STATUS_TABLE_FLAG, the status line without. Each spec's `next` counts from the first spec.
 */
export function unpackTargets(data: Buffer, count: number): DmTarget[] {
  const out: DmTarget[] = []
  let at = 0
  for (let i = 0; i < count; i++) {
    if (at + SPEC.size > data.length) throw new RangeError(`dm table reply truncated: target ${i} of ${count} at ${at}, ${data.length} bytes`)
    out.push({
      sectorStart: Number(data.readBigUInt64LE(at + SPEC.sectorStart)),
      length: Number(data.readBigUInt64LE(at + SPEC.length)),
      type: cString(data, at + SPEC.targetType, at + SPEC.targetType + TYPE_NAME_LEN),
      params: cString(data, at + SPEC.size),
    })
    at = data.readUInt32LE(at + SPEC.next)
  }
  return out
}

/**
 * The devices of a DM_LIST_DEVICES reply asked for with DM_UUID_FLAG: records linked by `next` (from
 * each record's start, 0 on the last); after each name, aligned to 8, the event number, flags and,
 * when flagged, the uuid. A first record with dev 0 means no devices. Older kernels end a record
 * after the name, padded as if `name` started at 16 (sizeof the struct), so the room after the name
 * does not tell the formats apart; a kernel that knows the newer format marks every record HAS_UUID
 * or DOESNT_HAVE_UUID, and only then are the event number and uuid read.
 */
export function unpackNameList(data: Buffer): DmListedDevice[] {
  const out: DmListedDevice[] = []
  if (data.length < NAME_LIST_NAME || data.readBigUInt64LE(0) === 0n) return out
  for (let at = 0; ; ) {
    const next = data.readUInt32LE(at + 8)
    const end = next === 0 ? data.length : at + next
    const name = cString(data, at + NAME_LIST_NAME, end)
    const dev: DmListedDevice = { name, ...decodeDev(Number(data.readBigUInt64LE(at))) }
    const extra = align8(at + NAME_LIST_NAME + Buffer.byteLength(name) + 1)
    const flags = extra + 8 <= end ? data.readUInt32LE(extra + 4) : 0
    if ((flags & (NAME_LIST_FLAG_HAS_UUID | NAME_LIST_FLAG_DOESNT_HAVE_UUID)) !== 0) {
      dev.eventNr = data.readUInt32LE(extra)
      if ((flags & NAME_LIST_FLAG_HAS_UUID) !== 0) dev.uuid = cString(data, extra + 8, end)
    }
    out.push(dev)
    if (next === 0) return out
    if (end + NAME_LIST_NAME > data.length) throw new RangeError(`dm device list truncated at ${end} of ${data.length} bytes`)
    at = end
  }
}

/** The target types of a DM_LIST_VERSIONS reply: records linked by `next` (from each record, 0 on the last). */
export function unpackTargetVersions(data: Buffer): DmTargetVersion[] {
  const out: DmTargetVersion[] = []
  for (let at = 0; at + TARGET_VERSIONS_NAME <= data.length; ) {
    const next = data.readUInt32LE(at)
    out.push({
      name: cString(data, at + TARGET_VERSIONS_NAME, next === 0 ? data.length : at + next),
      version: [data.readUInt32LE(at + 4), data.readUInt32LE(at + 8), data.readUInt32LE(at + 12)],
    })
    if (next === 0) break
    at += next
  }
  return out
}

/** The payload of DM_TARGET_MSG: the sector (0 for thin pools) and the message with its NUL. */
export function packTargetMsg(sector: number, message: string): Buffer {
  if (!Number.isSafeInteger(sector) || sector < 0) throw new RangeError(`sector must be a non-negative integer, got ${sector}`)
  checkString(message, 'target message', MAX_REPLY_BYTES)
  if (message === '') throw new RangeError('target message must not be empty')
  const text = Buffer.from(message)
  const buf = Buffer.alloc(TARGET_MSG_MESSAGE + text.length + 1)
  buf.writeBigUInt64LE(BigInt(sector), 0)
  text.copy(buf, TARGET_MSG_MESSAGE)
  return buf
}

/** One dm command of the addon: a packed request in, the kernel's reply out. */
export type DmCall = (request: Buffer) => Promise<Buffer>

/**
 * Runs `call` with a buffer of `bytes`, then with twice as many while the kernel reports
 * DM_BUFFER_FULL_FLAG (the reply did not fit), up to {@link MAX_REPLY_BYTES}; a reply that never fits
 * rejects with a RangeError.
 */
export async function callWithRoom(call: DmCall, req: DmRequest, bytes = FIRST_REPLY_BYTES): Promise<DmIoctl> {
  for (let room = bytes; ; room *= 2) {
    const reply = unpackDmIoctl(await call(packDmIoctl({ ...req, bytes: room })))
    if ((reply.flags & DM_FLAGS.BUFFER_FULL) === 0) return reply
    if (room * 2 > MAX_REPLY_BYTES) throw new RangeError(`the kernel's reply to a dm ioctl for ${req.name ?? CONTROL} needs more than ${MAX_REPLY_BYTES} bytes`)
  }
}

/** Why device-mapper cannot be used here, or null when it can (as capabilities' loopUnavailable). */
export function dmUnavailable(): string | null {
  try {
    native()
  } catch (e) {
    return (e as Error).message
  }
  return controlNodeUnusable(CONTROL, 'device-mapper needs root and the dm_mod module')
}

/** The running kernel's dm interface version (DM_VERSION), e.g. [4, 47, 0]. */
export async function dmVersion(): Promise<[number, number, number]> {
  return unpackDmIoctl(await native().dmVersion(packDmIoctl({}))).version
}

/** Every dm device (DM_LIST_DEVICES), by name, with its uuid where it has one. */
export async function listDevices(): Promise<DmListedDevice[]> {
  const reply = await callWithRoom((b) => native().dmListDevices(b), { flags: DM_FLAGS.UUID })
  return unpackNameList(reply.data)
}

/** Every target type the kernel has loaded, with its version (DM_LIST_VERSIONS). */
export async function listTargets(): Promise<DmTargetVersion[]> {
  const reply = await callWithRoom((b) => native().dmListVersions(b), {})
  return unpackTargetVersions(reply.data)
}

/**
 * The device `name` (DM_DEV_STATUS), or null when there is none (the kernel's ENXIO). `inactive`
 * counts the targets of the table waiting for a resume instead of the live one.
 */
export async function deviceInfo(name: string, options: { inactive?: boolean } = {}): Promise<DmDeviceInfo | null> {
  checkDmName(name)
  try {
    return deviceInfoOf(unpackDmIoctl(await native().dmDevStatus(packDmIoctl({ name, flags: options.inactive === true ? DM_FLAGS.QUERY_INACTIVE_TABLE : 0 }))))
  } catch (e) {
    if (isNoSuchDevice(e)) return null
    throw e
  }
}

/** Whether `e` is the kernel saying that no dm device has the name asked for. */
export function isNoSuchDevice(e: unknown): boolean {
  return e instanceof SysError && e.code === 'ENXIO' && e.syscall.startsWith('ioctl(DM_')
}

/**
 * Creates the device `name` with no table (DM_DEV_CREATE); its node `/dev/dm-<minor>` appears with the
 * first table load (see the top of this file). SysError EBUSY when the name or uuid is taken.
 */
export async function createDevice(name: string, options: { uuid?: string } = {}): Promise<DmDeviceInfo> {
  checkDmName(name)
  if (options.uuid !== undefined) checkDmUuid(options.uuid)
  return deviceInfoOf(unpackDmIoctl(await native().dmDevCreate(packDmIoctl({ name, uuid: options.uuid }))))
}

/**
 * Loads `targets` as the inactive table of `name` (DM_TABLE_LOAD); a resume makes it live. Rejects with
 * SysError EINVAL when the kernel refuses the table (its reason is in the kernel log only), ENXIO when
 * there is no such device.
 */
export async function loadTable(name: string, targets: readonly DmTarget[], options: { readOnly?: boolean } = {}): Promise<DmDeviceInfo> {
  checkDmName(name)
  if (targets.length === 0) throw new RangeError('loadTable: a table needs at least one target')
  const req = { name, targetCount: targets.length, flags: options.readOnly === true ? DM_FLAGS.READONLY : 0, payload: packTargets(targets) }
  return deviceInfoOf(unpackDmIoctl(await native().dmTableLoad(packDmIoctl(req))))
}

/**
 * Suspends `name` (DM_DEV_SUSPEND with DM_SUSPEND_FLAG): waits for I/O in flight, then queues new I/O.
 * `noflush` keeps queued I/O (multipath, thin pools running out of space); `skipLockfs` does not freeze
 * a mounted filesystem first.
 */
export async function suspendDevice(name: string, options: { noflush?: boolean; skipLockfs?: boolean } = {}): Promise<DmDeviceInfo> {
  checkDmName(name)
  const flags = DM_FLAGS.SUSPEND | (options.noflush === true ? DM_FLAGS.NOFLUSH : 0) | (options.skipLockfs === true ? DM_FLAGS.SKIP_LOCKFS : 0)
  return deviceInfoOf(unpackDmIoctl(await native().dmDevSuspend(packDmIoctl({ name, flags }))))
}

/**
 * Resumes `name` (DM_DEV_SUSPEND without DM_SUSPEND_FLAG), making a loaded inactive table live first.
 * The kernel sends a `change` uevent (no udev cookie: see the top of this file).
 */
export async function resumeDevice(name: string): Promise<DmDeviceInfo> {
  checkDmName(name)
  return deviceInfoOf(unpackDmIoctl(await native().dmDevSuspend(packDmIoctl({ name }))))
}

/**
 * Removes `name` (DM_DEV_REMOVE). SysError EBUSY while it is open (mounted, held by another dm
 * device) unless `deferred`: then the kernel removes it at its last close. ENXIO when there is none.
 */
export async function removeDevice(name: string, options: { deferred?: boolean } = {}): Promise<void> {
  checkDmName(name)
  await native().dmDevRemove(packDmIoctl({ name, flags: options.deferred === true ? DM_FLAGS.DEFERRED_REMOVE : 0 }))
}

/**
 * Creates `name` with `targets` and makes them live (create, load, resume). When the load or the
 * resume fails, the half-made device is removed again and the first error rejects.
 */
export async function activateDevice(name: string, targets: readonly DmTarget[], options: { uuid?: string; readOnly?: boolean } = {}): Promise<DmDeviceInfo> {
  await createDevice(name, { uuid: options.uuid })
  try {
    await loadTable(name, targets, { readOnly: options.readOnly })
    return await resumeDevice(name)
  } catch (e) {
    await removeDevice(name).catch(() => {}) // the load's or resume's error is the one to report
    throw e
  }
}

async function tableStatus(name: string, flags: number): Promise<DmTarget[]> {
  checkDmName(name)
  const reply = await callWithRoom((b) => native().dmTableStatus(b), { name, flags })
  return unpackTargets(reply.data, reply.targetCount)
}

/** The live table of `name` (or the inactive one) as loaded (DM_TABLE_STATUS with DM_STATUS_TABLE_FLAG). */
export async function deviceTable(name: string, options: { inactive?: boolean } = {}): Promise<DmTarget[]> {
  return tableStatus(name, DM_FLAGS.STATUS_TABLE | (options.inactive === true ? DM_FLAGS.QUERY_INACTIVE_TABLE : 0))
}

/**
 * The status line of each target of `name` (DM_TABLE_STATUS). A thin pool (or cache) commits its
 * metadata first unless `noflush`: then its figures may lag a little, and the call does no I/O and
 * skips the thread pool (native.ts), which is what observing in the hot path wants.
 */
export async function deviceStatus(name: string, options: { noflush?: boolean } = {}): Promise<DmTarget[]> {
  return tableStatus(name, options.noflush === true ? DM_FLAGS.NOFLUSH : 0)
}

/**
 * Sends `message` to the target of `name` at `sector` (DM_TARGET_MSG), e.g. `create_thin 0` or
 * `delete 0` to a thin pool at sector 0. Resolves with the target's answer for messages that give one,
 * else null. A reply that did not fit is asked for again with more room (the message is sent again:
 * only messages with answers, which only report, can need that).
 */
export async function targetMessage(name: string, sector: number, message: string): Promise<string | null> {
  checkDmName(name)
  const reply = await callWithRoom((b) => native().dmTargetMsg(b), { name, payload: packTargetMsg(sector, message) }, IOCTL.size + 4096)
  return (reply.flags & DM_FLAGS.DATA_OUT) === 0 ? null : cString(reply.data, 0)
}

/** The node of a dm device that exists without udev once a table is loaded: `/dev/dm-<minor>` (devtmpfs). */
export function dmDevicePath(dev: { minor: number }): string {
  return `/dev/dm-${dev.minor}`
}
