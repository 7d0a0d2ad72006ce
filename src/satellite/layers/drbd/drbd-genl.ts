/**
 * DRBD's generic netlink family (`drbd`) for the state of resources, devices (volumes), connections
 * and peer devices — what `drbdsetup status` and `drbdsetup events2` print — without running either.
 * Learnt from LINBIT's headers (drbd-headers: linux/drbd_genl.h, drbd_genl_api.h, drbd.h; the 8.4
 * versions in Linux's include/linux/) and drbd-utils' drbdsetup (v9/ and v84/), whose names and
 * sums this reproduces.
 *
 * Both flavours speak the same "events2" protocol: dumps DRBD_ADM_GET_RESOURCES, _DEVICES,
 * _CONNECTIONS and _PEER_DEVICES, DRBD_ADM_GET_INITIAL_STATE, and the `events` multicast group's
 * DRBD_*_STATE notifications (in Linux's DRBD 8.4 since 4.6). They differ in the numbers of some
 * states: DRBD 9 added D_DETACHING to the disk states and renumbered the connection states, while
 * 8.4 keeps one `drbd_conns` enum for connection and replication; drbdsetup-84 prints 8.4's states
 * with DRBD 9's names where 9 has one (WFConnection is "Connecting", WFReportParams "Connected",
 * Connected "Established"). The family's version tells the flavour (GENL_MAGIC_VERSION 1 is 8.4, 2 is
 * 9). DRBD_ADM_GET_STATUS, 8.4's older per-minor dump, is decoded too, for kernels without events2.
 *
 * The messages' attributes: every top-level attribute is a nested "struct" (DRBD_NLA_*), whose
 * fields are numbered per struct (T_*); DRBD marks mandatory fields with bit 14
 * (DRBD_GENLA_F_MANDATORY, masked off as NLA_TYPE_MASK does), and its flags are u8 0/1 attributes.
 */
import { logger } from '../../../common/log.js'
import {
  attr,
  attrMap,
  decodeGenl,
  encodeGenlRequest,
  NLM_F,
  NetlinkFormatError,
  read,
  type GenlConnection,
  type GenlFamily,
  type GenlMessage,
  type NetlinkMessage,
  type NlAttr,
} from '../../sys/genl.js'

const log = logger('drbd.genl')

/** The family's name and its multicast group. */
export const DRBD_FAMILY = 'drbd'
export const DRBD_EVENTS_GROUP = 'events'
/** struct drbd_genlmsghdr: minor u32, flags (requests) / ret_code (replies) u32. */
export const DRBD_GENLMSGHDR_SIZE = 8
/** drbd_genlmsghdr.minor for requests about no single minor. */
export const DRBD_MINOR_ANY = 0xffffffff

/** genlmsghdr.cmd: requests (DRBD_ADM_*) and notifications, one number space. */
export const DRBD_CMD = {
  /** 8.4's old broadcast, with a STATE_INFO (drbdsetup's `events`): not decoded. */
  EVENT: 1,
  GET_STATUS: 2,
  GET_RESOURCES: 30,
  GET_DEVICES: 31,
  GET_CONNECTIONS: 32,
  GET_PEER_DEVICES: 33,
  RESOURCE_STATE: 34,
  DEVICE_STATE: 35,
  CONNECTION_STATE: 36,
  PEER_DEVICE_STATE: 37,
  GET_INITIAL_STATE: 38,
  HELPER: 40,
  INITIAL_STATE_DONE: 41,
  PATH_STATE: 48,
} as const

/** Top-level attributes (DRBD_NLA_*). */
export const DRBD_NLA = {
  CFG_REPLY: 1,
  CFG_CONTEXT: 2,
  STATE_INFO: 8,
  RESOURCE_INFO: 15,
  DEVICE_INFO: 16,
  CONNECTION_INFO: 17,
  PEER_DEVICE_INFO: 18,
  RESOURCE_STATISTICS: 19,
  DEVICE_STATISTICS: 20,
  CONNECTION_STATISTICS: 21,
  PEER_DEVICE_STATISTICS: 22,
  NOTIFICATION_HEADER: 23,
  HELPER: 24,
} as const

/** Fields of each struct used here (T_*). Those marked 9 are absent from 8.4's messages. */
export const T = {
  context: { volume: 1, resourceName: 2, myAddr: 3, peerAddr: 4, /** 9 */ connName: 5, /** 9 */ peerNodeId: 6 },
  resourceInfo: { role: 1, susp: 2, suspNod: 3, suspFen: 4, /** 9 */ suspQuorum: 5, /** 9 */ failIo: 6 },
  deviceInfo: { diskState: 1, /** 9 */ intentionalDiskless: 2, /** 9 */ hasQuorum: 3, /** 9 */ isOpen: 5 },
  connectionInfo: { connectionState: 1, role: 2 },
  peerDeviceInfo: { replState: 1, diskState: 2, suspUser: 3, suspPeer: 4, suspDependency: 5, /** 9 */ intentionalDiskless: 6, /** 9 */ suspMaxParallel: 7 },
  deviceStatistics: { size: 1 },
  connectionStatistics: { congested: 1 },
  peerDeviceStatistics: { outOfSync: 5, resyncFailed: 6, /** 9 */ rsTotal: 10, /** 9 */ ovLeft: 14, /** 9 */ uuidFlags: 24 },
  notificationHeader: { type: 1 },
  helper: { name: 1, status: 2 },
  stateInfo: { currentState: 2, capacity: 3, bitsOos: 10, bitsRsTotal: 11, bitsRsFailed: 12 },
} as const

/** enum drbd_notification_type, and the flag of notifications that more of one change follow. */
export const NOTIFY = { EXISTS: 0, CREATE: 1, CHANGE: 2, DESTROY: 3, CALL: 4, RESPONSE: 5, RENAME: 6 } as const
export const NOTIFY_CONTINUES = 0x8000
/** peer_dev_uuid_flags: the peer's data is not changing under it (drbd_protocol.h). */
export const UUID_FLAG_STABLE = 1n << 5n

/** Which DRBD the kernel runs. */
export type DrbdFlavor = '8.4' | '9'

/** The flavour from the family's version (GENL_MAGIC_VERSION: 1 in 8.4, 2 in DRBD 9). */
export function drbdFlavor(family: GenlFamily): DrbdFlavor {
  return family.version >= 2 ? '9' : '8.4'
}

const ROLE_NAMES = ['Unknown', 'Primary', 'Secondary']
const DISK_NAMES: Record<DrbdFlavor, string[]> = {
  '8.4': ['Diskless', 'Attaching', 'Failed', 'Negotiating', 'Inconsistent', 'Outdated', 'DUnknown', 'Consistent', 'UpToDate'],
  '9': ['Diskless', 'Attaching', 'Detaching', 'Failed', 'Negotiating', 'Inconsistent', 'Outdated', 'DUnknown', 'Consistent', 'UpToDate'],
}
// The states below C_CONNECTED / L_OFF, shared by both flavours' numbering.
const CONN_LOW = ['StandAlone', 'Disconnecting', 'Unconnected', 'Timeout', 'BrokenPipe', 'NetworkFailure', 'ProtocolError', 'TearDown']
// From 11 on the numbers and names of both flavours agree (8.4's C_STARTING_SYNC_S is 9's L_STARTING_SYNC_S).
const SYNC_NAMES = ['StartingSyncS', 'StartingSyncT', 'WFBitMapS', 'WFBitMapT', 'WFSyncUUID', 'SyncSource', 'SyncTarget', 'VerifyS', 'VerifyT', 'PausedSyncS', 'PausedSyncT', 'Ahead', 'Behind']
const CONN_NAMES: Record<DrbdFlavor, string[]> = {
  // drbdsetup-84's drbd_conn_str9: WFConnection and WFReportParams under DRBD 9's names.
  '8.4': [...CONN_LOW, 'Connecting', 'Connected', 'Connected', ...SYNC_NAMES],
  '9': [...CONN_LOW, 'Connecting', 'Connected'],
}
const REPL_NAMES: Record<DrbdFlavor, string[]> = {
  // drbdsetup-84's drbd_repl_str9: WFReportParams is "Off", Connected "Established"; the rest 8.4's names.
  '8.4': [...CONN_LOW, 'WFConnection', 'Off', 'Established', ...SYNC_NAMES],
  // DRBD 9's replication states start at L_OFF (9); below it are connection states.
  '9': [...Array<string>(9).fill('?'), 'Off', 'Established', ...SYNC_NAMES],
}
/** Replication states SyncSource…PausedSyncT (16…21 in both flavours), where drbdsetup shows `done`. */
const SYNC_FIRST = 16
const SYNC_LAST = 21
const VERIFY_S = 18
const VERIFY_T = 19

function enumName(names: string[], n: number): string {
  const name = names[n]
  return name === undefined || name === '?' ? `?${n}` : name
}

export const roleName = (n: number): string => enumName(ROLE_NAMES, n)
export const diskStateName = (flavor: DrbdFlavor, n: number): string => enumName(DISK_NAMES[flavor], n)
export const connectionStateName = (flavor: DrbdFlavor, n: number): string => enumName(CONN_NAMES[flavor], n)
export const replicationStateName = (flavor: DrbdFlavor, n: number): string => enumName(REPL_NAMES[flavor], n)

// 8.4's own names of its drbd_conns (drbd_conn_str), as /proc/drbd prints them (`cs:`).
const CONN_NAMES_84_RAW = [...CONN_LOW, 'WFConnection', 'WFReportParams', 'Connected', ...SYNC_NAMES]

/** Which object a message is about (DRBD_NLA_CFG_CONTEXT). */
export interface DrbdContext {
  resource: string
  /** Volume number; null when the message is about no volume. */
  volume: number | null
  /** DRBD 9's peer node id; null for 8.4 (one peer per resource) and messages about no peer. */
  peerNodeId: number | null
  /** DRBD 9's connection name; null where absent. */
  connectionName: string | null
}

export interface DrbdResourceState {
  role: string
  /** Why I/O is suspended: `user`, `no-data`, `fencing`, `quorum`; empty when it is not. */
  suspended: string[]
  /** DRBD 9: I/O fails (a forced secondary still held open). */
  failIo: boolean
}

export interface DrbdDeviceState {
  minor: number
  diskState: string
  /** DEVICE_STATISTICS dev_size, in sectors; null when the message had no statistics. */
  sizeSectors: bigint | null
  /** DRBD 9's quorum; true on 8.4, which has none. */
  hasQuorum: boolean
  /** DRBD 9's diskless client (`client:yes`); false on 8.4. */
  intentionalDiskless: boolean
}

export interface DrbdConnectionState {
  connectionState: string
  peerRole: string
  congested: boolean
}

export interface DrbdPeerDeviceState {
  minor: number
  replicationState: string
  peerDiskState: string
  /** Why resync is paused: `user`, `peer`, `dependency`, `max-parallel`; empty when it is not. */
  resyncSuspended: string[]
  /** PEER_DEVICE_STATISTICS: sectors out of sync, resync totals (9), UUID flags (9); null if absent. */
  outOfSyncSectors: bigint | null
  resyncFailedSectors: bigint | null
  resyncTotalSectors: bigint | null
  verifyLeftSectors: bigint | null
  uuidFlags: bigint | null
  /** Whether replication is SyncSource…PausedSyncT: drbdsetup shows `done` then. */
  syncing: boolean
  /** Raw state numbers, for the promotion sums. */
  replicationStateNumber: number
  peerDiskStateNumber: number
}

/** One decoded message: a dump reply or a notification. */
export type DrbdObject =
  | { kind: 'resource'; context: DrbdContext; state: DrbdResourceState }
  | { kind: 'device'; context: DrbdContext; state: DrbdDeviceState }
  | { kind: 'connection'; context: DrbdContext; state: DrbdConnectionState }
  | { kind: 'peer-device'; context: DrbdContext; state: DrbdPeerDeviceState }

/** What a notification says happened to its object (`exists` for dumps and the initial state). */
export type DrbdAction = 'exists' | 'create' | 'change' | 'destroy'

export type DrbdMessage =
  | (DrbdObject & { action: Exclude<DrbdAction, 'destroy'>; /** More changes of the same state change follow. */ continues: boolean })
  /** The kernel sends a destroyed object's context only, without its state. */
  | { kind: DrbdObject['kind']; context: DrbdContext; action: 'destroy'; continues: boolean }
  | { kind: 'initial-state-done' }
  | { kind: 'helper'; context: DrbdContext; name: string; status: number | null; action: 'call' | 'response' }
  | { kind: 'other'; cmd: number }

function nested(attrs: Map<number, NlAttr>, type: number): Map<number, NlAttr> | undefined {
  const a = attrs.get(type)
  return a === undefined ? undefined : read.nested(a)
}

function u32Of(m: Map<number, NlAttr> | undefined, field: number): number | null {
  const a = m?.get(field)
  return a === undefined ? null : read.u32(a)
}

function u64Of(m: Map<number, NlAttr> | undefined, field: number): bigint | null {
  const a = m?.get(field)
  return a === undefined ? null : read.u64(a)
}

/** A u8 flag field: set when present and non-zero. */
function flagOf(m: Map<number, NlAttr> | undefined, field: number): boolean {
  const a = m?.get(field)
  return a !== undefined && read.u8(a) !== 0
}

/** A struct's field that drbdsetup treats as required for the message to mean anything. */
function required(m: Map<number, NlAttr> | undefined, what: string, field: number): number {
  const v = u32Of(m, field)
  if (v === null) throw new NetlinkFormatError(`DRBD message without ${what}`)
  return v
}

function decodeContext(attrs: Map<number, NlAttr>): DrbdContext {
  const ctx = nested(attrs, DRBD_NLA.CFG_CONTEXT)
  const name = ctx?.get(T.context.resourceName)
  const volume = u32Of(ctx, T.context.volume)
  const connName = ctx?.get(T.context.connName)
  return {
    resource: name === undefined ? '' : read.string(name),
    // drbdsetup's "no volume" is ctx_volume -1U (the kernel leaves it out, or sends ~0).
    volume: volume === null || volume === 0xffffffff ? null : volume,
    peerNodeId: u32Of(ctx, T.context.peerNodeId),
    connectionName: connName === undefined ? null : read.string(connName),
  }
}

function listOf(flags: [boolean, string][]): string[] {
  return flags.filter(([on]) => on).map(([, name]) => name)
}

/**
 * The object of a dump reply or state notification, or null for other commands. Throws
 * NetlinkFormatError when an object's info struct is missing.
 */
export function decodeDrbdObject(flavor: DrbdFlavor, m: GenlMessage): DrbdObject | null {
  const attrs = attrMap(m.attrs)
  const context = decodeContext(attrs)
  const minor = m.header.length >= 4 ? m.header.readUInt32LE(0) : DRBD_MINOR_ANY
  switch (m.cmd) {
    case DRBD_CMD.GET_RESOURCES:
    case DRBD_CMD.RESOURCE_STATE: {
      const info = nested(attrs, DRBD_NLA.RESOURCE_INFO)
      return {
        kind: 'resource',
        context,
        state: {
          role: roleName(required(info, 'res_role', T.resourceInfo.role)),
          suspended: listOf([
            [flagOf(info, T.resourceInfo.susp), 'user'],
            [flagOf(info, T.resourceInfo.suspNod), 'no-data'],
            [flagOf(info, T.resourceInfo.suspFen), 'fencing'],
            [flagOf(info, T.resourceInfo.suspQuorum), 'quorum'],
          ]),
          failIo: flagOf(info, T.resourceInfo.failIo),
        },
      }
    }
    case DRBD_CMD.GET_DEVICES:
    case DRBD_CMD.DEVICE_STATE: {
      const info = nested(attrs, DRBD_NLA.DEVICE_INFO)
      const stats = nested(attrs, DRBD_NLA.DEVICE_STATISTICS)
      return {
        kind: 'device',
        context,
        state: {
          minor,
          diskState: diskStateName(flavor, required(info, 'dev_disk_state', T.deviceInfo.diskState)),
          sizeSectors: u64Of(stats, T.deviceStatistics.size),
          hasQuorum: flavor === '8.4' || flagOf(info, T.deviceInfo.hasQuorum),
          intentionalDiskless: flagOf(info, T.deviceInfo.intentionalDiskless),
        },
      }
    }
    case DRBD_CMD.GET_CONNECTIONS:
    case DRBD_CMD.CONNECTION_STATE: {
      const info = nested(attrs, DRBD_NLA.CONNECTION_INFO)
      const stats = nested(attrs, DRBD_NLA.CONNECTION_STATISTICS)
      return {
        kind: 'connection',
        context,
        state: {
          connectionState: connectionStateName(flavor, required(info, 'conn_connection_state', T.connectionInfo.connectionState)),
          peerRole: roleName(required(info, 'conn_role', T.connectionInfo.role)),
          congested: flagOf(stats, T.connectionStatistics.congested),
        },
      }
    }
    case DRBD_CMD.GET_PEER_DEVICES:
    case DRBD_CMD.PEER_DEVICE_STATE: {
      const info = nested(attrs, DRBD_NLA.PEER_DEVICE_INFO)
      const stats = nested(attrs, DRBD_NLA.PEER_DEVICE_STATISTICS)
      const repl = required(info, 'peer_repl_state', T.peerDeviceInfo.replState)
      const disk = required(info, 'peer_disk_state', T.peerDeviceInfo.diskState)
      return {
        kind: 'peer-device',
        context,
        state: {
          minor,
          replicationState: replicationStateName(flavor, repl),
          peerDiskState: diskStateName(flavor, disk),
          resyncSuspended: listOf([
            [(u32Of(info, T.peerDeviceInfo.suspUser) ?? 0) !== 0, 'user'],
            [(u32Of(info, T.peerDeviceInfo.suspPeer) ?? 0) !== 0, 'peer'],
            [(u32Of(info, T.peerDeviceInfo.suspDependency) ?? 0) !== 0, 'dependency'],
            [(u32Of(info, T.peerDeviceInfo.suspMaxParallel) ?? 0) !== 0, 'max-parallel'],
          ]),
          outOfSyncSectors: u64Of(stats, T.peerDeviceStatistics.outOfSync),
          resyncFailedSectors: u64Of(stats, T.peerDeviceStatistics.resyncFailed),
          resyncTotalSectors: u64Of(stats, T.peerDeviceStatistics.rsTotal),
          verifyLeftSectors: u64Of(stats, T.peerDeviceStatistics.ovLeft),
          uuidFlags: u64Of(stats, T.peerDeviceStatistics.uuidFlags),
          syncing: repl >= SYNC_FIRST && repl <= SYNC_LAST,
          replicationStateNumber: repl,
          peerDiskStateNumber: disk,
        },
      }
    }
    default:
      return null
  }
}

const OBJECT_OF_CMD: Record<number, DrbdObject['kind']> = {
  [DRBD_CMD.GET_RESOURCES]: 'resource',
  [DRBD_CMD.RESOURCE_STATE]: 'resource',
  [DRBD_CMD.GET_DEVICES]: 'device',
  [DRBD_CMD.DEVICE_STATE]: 'device',
  [DRBD_CMD.GET_CONNECTIONS]: 'connection',
  [DRBD_CMD.CONNECTION_STATE]: 'connection',
  [DRBD_CMD.GET_PEER_DEVICES]: 'peer-device',
  [DRBD_CMD.PEER_DEVICE_STATE]: 'peer-device',
}

const ACTIONS: Record<number, DrbdAction> = { [NOTIFY.EXISTS]: 'exists', [NOTIFY.CREATE]: 'create', [NOTIFY.CHANGE]: 'change', [NOTIFY.DESTROY]: 'destroy' }

/** Decodes one message of the `drbd` family (a dump reply or an `events` notification). */
export function decodeDrbdMessage(flavor: DrbdFlavor, m: NetlinkMessage): DrbdMessage {
  const g = decodeGenl(m, DRBD_GENLMSGHDR_SIZE)
  if (g.cmd === DRBD_CMD.INITIAL_STATE_DONE) return { kind: 'initial-state-done' }
  const attrs = attrMap(g.attrs)
  const type = u32Of(nested(attrs, DRBD_NLA.NOTIFICATION_HEADER), T.notificationHeader.type)
  if (g.cmd === DRBD_CMD.HELPER) {
    const h = nested(attrs, DRBD_NLA.HELPER)
    const name = h?.get(T.helper.name)
    return {
      kind: 'helper',
      context: decodeContext(attrs),
      name: name === undefined ? '' : read.string(name),
      status: u32Of(h, T.helper.status),
      action: ((type ?? 0) & ~NOTIFY_CONTINUES) === NOTIFY.RESPONSE ? 'response' : 'call',
    }
  }
  const kind = OBJECT_OF_CMD[g.cmd]
  // Dump replies have no notification header: they report what exists.
  const action = type === null ? 'exists' : ACTIONS[type & ~NOTIFY_CONTINUES]
  if (kind === undefined || action === undefined) return { kind: 'other', cmd: g.cmd }
  const continues = type !== null && (type & NOTIFY_CONTINUES) !== 0
  if (action === 'destroy') return { kind, context: decodeContext(attrs), action, continues }
  return { ...decodeDrbdObject(flavor, g)!, action, continues }
}

/**
 * One minor as 8.4's DRBD_ADM_GET_STATUS reports it: `union drbd_state` (current_state) with the
 * names /proc/drbd prints (`ro:`, `cs:`, `ds:`), and the resync progress from the bitmap counters.
 */
export interface DrbdLegacyStatus {
  minor: number
  resource: string
  volume: number | null
  role: string
  peerRole: string
  /** 8.4's own name (WFConnection, SyncTarget…), not DRBD 9's. */
  connectionState: string
  diskState: string
  peerDiskState: string
  /** I/O suspended, and resync paused by user / peer / dependency (`r-p---` in /proc/drbd). */
  suspended: boolean
  resyncPaused: { user: boolean; peer: boolean; dependency: boolean }
  /**
   * Resync done in tenths of a percent while a resync runs (bits_rs_total set), as drbdsetup-84's
   * `events` computes its sync-progress lines; null otherwise.
   */
  syncedPerMille: number | null
}

/**
 * Decodes a DRBD_ADM_GET_STATUS reply (8.4). `union drbd_state` is a little-endian bit field: role
 * 2 bits, peer 2, conn 5, disk 4, pdsk 4, susp 1, aftr_isp 1, peer_isp 1, user_isp 1 (drbd.h).
 */
export function decodeLegacyStatus(m: NetlinkMessage): DrbdLegacyStatus {
  const g = decodeGenl(m, DRBD_GENLMSGHDR_SIZE)
  if (g.cmd !== DRBD_CMD.GET_STATUS) throw new NetlinkFormatError(`not a DRBD_ADM_GET_STATUS reply (cmd ${g.cmd})`)
  const attrs = attrMap(g.attrs)
  const context = decodeContext(attrs)
  const info = nested(attrs, DRBD_NLA.STATE_INFO)
  const state = required(info, 'current_state', T.stateInfo.currentState)
  const bits = (shift: number, width: number): number => (state >>> shift) & ((1 << width) - 1)
  const oos = u64Of(info, T.stateInfo.bitsOos)
  const rsTotal = u64Of(info, T.stateInfo.bitsRsTotal)
  const rsFailed = u64Of(info, T.stateInfo.bitsRsFailed) ?? 0n
  let syncedPerMille: number | null = null
  if (rsTotal !== null && rsTotal !== 0n && oos !== null) {
    // drbdsetup-84 scales both counts down first, so that the product fits 64 bits.
    const shift = rsTotal >= 1n << 32n ? 16n : 10n
    const left = (oos - rsFailed) >> shift
    const total = 1n + (rsTotal >> shift)
    syncedPerMille = Number(1000n - (left * 1000n) / total)
  }
  return {
    minor: g.header.readUInt32LE(0),
    resource: context.resource,
    volume: context.volume,
    role: roleName(bits(0, 2)),
    peerRole: roleName(bits(2, 2)),
    connectionState: enumName(CONN_NAMES_84_RAW, bits(4, 5)),
    diskState: diskStateName('8.4', bits(9, 4)),
    peerDiskState: diskStateName('8.4', bits(13, 4)),
    suspended: bits(17, 1) !== 0,
    resyncPaused: { dependency: bits(18, 1) !== 0, peer: bits(19, 1) !== 0, user: bits(20, 1) !== 0 },
    syncedPerMille,
  }
}

/** A dump request of `cmd` over every resource, or over `resource` alone. */
export function encodeDrbdDump(family: GenlFamily, cmd: number, seq: number, resource?: string): Buffer {
  const header = Buffer.alloc(DRBD_GENLMSGHDR_SIZE)
  header.writeUInt32LE(DRBD_MINOR_ANY, 0)
  return encodeGenlRequest({
    family: family.id,
    cmd,
    version: family.version,
    flags: NLM_F.REQUEST | NLM_F.DUMP,
    seq,
    header,
    // DRBD's policies predate strict nesting: drbdsetup's contexts carry no NLA_F_NESTED.
    attrs: resource === undefined ? [] : [attr.nested(DRBD_NLA.CFG_CONTEXT, [attr.string(T.context.resourceName, resource)], false)],
  })
}

/** One peer device: its state and the percentage drbdsetup prints as `done`. */
export interface DrbdPeerDeviceStatus extends DrbdPeerDeviceState {
  volume: number
  /** Resync (or verify) done, 0…100, as drbdsetup computes it; null when not syncing or unknown. */
  donePercent: number | null
}

export interface DrbdConnectionStatus extends DrbdConnectionState {
  peerNodeId: number | null
  connectionName: string | null
  peerDevices: DrbdPeerDeviceStatus[]
}

export interface DrbdResourceStatus extends DrbdResourceState {
  name: string
  devices: (DrbdDeviceState & { volume: number })[]
  connections: DrbdConnectionStatus[]
  /**
   * Whether this node may become Primary, and DRBD 9's promotion score, as drbdsetup events2 computes
   * them (the kernel does not send them); on 8.4 (no such fields) may-promote as an operator reads
   * its state (mayPromote84), and no score.
   */
  mayPromote: boolean
  promotionScore: number | null
}

/**
 * The state of every DRBD resource, built from dump replies and kept current by notifications:
 * `apply()` each decoded message (a `destroy` removes its object). Objects are keyed by resource,
 * volume and peer, as drbdsetup keys them.
 */
export class DrbdState {
  readonly #resources = new Map<string, DrbdResourceState>()
  readonly #devices = new Map<string, Map<number, DrbdDeviceState>>()
  readonly #connections = new Map<string, Map<string, { context: DrbdContext; state: DrbdConnectionState }>>()
  readonly #peerDevices = new Map<string, Map<string, { context: DrbdContext; state: DrbdPeerDeviceState }>>()

  constructor(readonly flavor: DrbdFlavor) {}

  /** Applies one message; returns the resource it concerned, or null (nothing to requeue). */
  apply(m: DrbdMessage): string | null {
    if (m.kind !== 'resource' && m.kind !== 'device' && m.kind !== 'connection' && m.kind !== 'peer-device') return null
    const rsc = m.context.resource
    const peerKey = `${m.context.peerNodeId ?? ''}`
    if (m.action === 'destroy') {
      switch (m.kind) {
        case 'resource':
          this.#resources.delete(rsc)
          this.#devices.delete(rsc)
          this.#connections.delete(rsc)
          this.#peerDevices.delete(rsc)
          break
        case 'device':
          setIn(this.#devices, rsc, m.context.volume ?? 0, undefined)
          break
        case 'connection':
          setIn(this.#connections, rsc, peerKey, undefined)
          for (const k of [...(this.#peerDevices.get(rsc)?.keys() ?? [])]) if (k.startsWith(`${peerKey}/`)) this.#peerDevices.get(rsc)?.delete(k)
          break
        case 'peer-device':
          setIn(this.#peerDevices, rsc, `${peerKey}/${m.context.volume ?? 0}`, undefined)
          break
      }
      return rsc
    }
    switch (m.kind) {
      case 'resource':
        this.#resources.set(rsc, m.state)
        break
      case 'device':
        setIn(this.#devices, rsc, m.context.volume ?? 0, m.state)
        break
      case 'connection':
        setIn(this.#connections, rsc, peerKey, { context: m.context, state: m.state })
        break
      case 'peer-device':
        setIn(this.#peerDevices, rsc, `${peerKey}/${m.context.volume ?? 0}`, { context: m.context, state: m.state })
        break
    }
    return rsc
  }

  /** Every resource's status, by name. */
  resources(): Map<string, DrbdResourceStatus> {
    const out = new Map<string, DrbdResourceStatus>()
    for (const name of [...this.#resources.keys()].sort()) {
      const status = this.resource(name)
      if (status !== null) out.set(name, status)
    }
    return out
  }

  /** One resource's status; null when DRBD does not know it. */
  resource(name: string): DrbdResourceStatus | null {
    const res = this.#resources.get(name)
    if (res === undefined) return null
    const devices = [...(this.#devices.get(name) ?? new Map<number, DrbdDeviceState>())]
      .sort(([a], [b]) => a - b)
      .map(([volume, d]) => ({ ...d, volume }))
    const peerDevices = [...(this.#peerDevices.get(name)?.values() ?? [])]
    const connections = [...(this.#connections.get(name)?.values() ?? [])]
      .sort((a, b) => (a.context.peerNodeId ?? 0) - (b.context.peerNodeId ?? 0))
      .map(({ context, state }) => ({
        ...state,
        peerNodeId: context.peerNodeId,
        connectionName: context.connectionName,
        peerDevices: peerDevices
          .filter((p) => p.context.peerNodeId === context.peerNodeId)
          .map(({ context: pc, state: ps }) => {
            const volume = pc.volume ?? 0
            const device = devices.find((d) => d.volume === volume)
            return { ...ps, volume, donePercent: donePercent(this.flavor, ps, device?.sizeSectors ?? null) }
          })
          .sort((a, b) => a.volume - b.volume),
      }))
    const promotion = this.flavor === '9' ? promotionInfo(res, devices, connections) : { mayPromote: mayPromote84(res, devices, connections), promotionScore: null }
    return { name, ...res, devices, connections, ...promotion }
  }
}

/** Sets (or with `undefined`, deletes) one object of a resource. */
function setIn<K, V>(map: Map<string, Map<K, V>>, rsc: string, key: K, value: V | undefined): void {
  let inner = map.get(rsc)
  if (value === undefined) {
    inner?.delete(key)
    return
  }
  if (inner === undefined) map.set(rsc, (inner = new Map()))
  inner.set(key, value)
}

/**
 * drbdsetup's `done:` of a peer device. DRBD 9 (v9/drbdsetup.c): from the resync counters when the
 * kernel sent them (rs_total neither 0 nor ~0), (rs_total - to go) / rs_total, where what is to go
 * is the verify's ov_left or else out-of-sync less failed; else, while syncing, 1 - oos / size.
 * 8.4 (v84/drbdsetup.c): 1 - out-of-sync / device size while SyncSource…PausedSyncT.
 */
export function donePercent(flavor: DrbdFlavor, p: DrbdPeerDeviceState, sizeSectors: bigint | null): number | null {
  const NONE = 0xffffffffffffffffn
  const total = p.resyncTotalSectors
  if (flavor === '9' && total !== null && total !== 0n && total !== NONE) {
    const toGo = p.verifyLeftSectors !== null && p.verifyLeftSectors !== 0n ? p.verifyLeftSectors : (p.outOfSyncSectors ?? 0n) - (p.resyncFailedSectors ?? 0n)
    return (100 * Number(total - toGo)) / Number(total)
  }
  const verifying = p.replicationStateNumber === VERIFY_S || p.replicationStateNumber === VERIFY_T
  if (!p.syncing || (flavor === '9' && verifying) || p.outOfSyncSectors === null || sizeSectors === null || sizeSectors === 0n) return null
  return 100 * (1 - Number(p.outOfSyncSectors) / Number(sizeSectors))
}

const D_UP_TO_DATE_9 = 9
const D_CONSISTENT_9 = 8
const D_INCONSISTENT_9 = 5

/**
 * DRBD 9's may_promote and promotion_score, as drbd-utils' v9/drbdsetup_events2.c computes them
 * (the kernel stopped sending a score: drbd-headers e970369): promotable when no node is Primary,
 * every volume has quorum and an UpToDate replica that is stable (here, or a peer with
 * UUID_FLAG_STABLE), and I/O does not fail. The score ranks nodes: 10000 when every local volume
 * has a disk, plus 100 per UpToDate local volume, plus the fewest UpToDate replicas of any volume.
 */
function promotionInfo(
  res: DrbdResourceState,
  devices: (DrbdDeviceState & { volume: number })[],
  connections: DrbdConnectionStatus[],
): { mayPromote: boolean; promotionScore: number } {
  const none = { mayPromote: false, promotionScore: 0 }
  if (devices.length === 0 || res.failIo) return none
  let upToDate = 0
  let allHaveDisk = true
  let minReplicas = -1
  let allStable = true
  for (const d of devices) {
    if (!d.hasQuorum) return none
    const local = d.diskState === DISK_NAMES['9'][D_UP_TO_DATE_9]
    const peers = connections.flatMap((c) => c.peerDevices.filter((p) => p.volume === d.volume && p.peerDiskStateNumber === D_UP_TO_DATE_9))
    const replicas = (local ? 1 : 0) + peers.length
    const stable = local || peers.some((p) => p.uuidFlags !== null && (p.uuidFlags & UUID_FLAG_STABLE) !== 0n)
    if (local) upToDate++
    else if (d.diskState !== DISK_NAMES['9'][D_CONSISTENT_9] && d.diskState !== DISK_NAMES['9'][D_INCONSISTENT_9]) allHaveDisk = false
    if (minReplicas === -1 || replicas < minReplicas) minReplicas = replicas
    if (!stable) allStable = false
  }
  if (minReplicas <= 0) return none
  const primary = res.role === 'Primary' || connections.some((c) => c.peerRole === 'Primary')
  return {
    mayPromote: !primary && allStable,
    promotionScore: (allHaveDisk ? 10000 : 0) + Math.min(upToDate, 99) * 100 + Math.min(minReplicas, 99),
  }
}

/**
 * Whether a DRBD 8.4 node could become Primary now, as an operator reads its state: it is not
 * Primary, no connected peer is (8.4 has one Primary unless allow-two-primaries), and each volume
 * has good data to serve: its disk UpToDate, or diskless with a connected UpToDate peer.
 */
export function mayPromote84(
  res: DrbdResourceState,
  devices: (DrbdDeviceState & { volume: number })[],
  connections: DrbdConnectionStatus[],
): boolean {
  if (devices.length === 0 || res.role === 'Primary' || connections.some((c) => c.peerRole === 'Primary')) return false
  return devices.every(
    (d) =>
      d.diskState === 'UpToDate' ||
      (d.diskState === 'Diskless' && connections.some((c) => c.connectionState === 'Connected' && c.peerDevices.some((p) => p.volume === d.volume && p.peerDiskState === 'UpToDate'))),
  )
}

/** The dumps that make up a full status, in drbdsetup's order. */
const STATUS_DUMPS = [DRBD_CMD.GET_RESOURCES, DRBD_CMD.GET_DEVICES, DRBD_CMD.GET_CONNECTIONS, DRBD_CMD.GET_PEER_DEVICES]

/**
 * DRBD over generic netlink: the family resolved once, full status by dumps, and the `events`
 * group's notifications decoded. The connection is the caller's (one socket can serve both: replies
 * and notifications are told apart by port).
 */
export class DrbdGenl {
  private constructor(
    readonly connection: GenlConnection,
    readonly family: GenlFamily,
    readonly flavor: DrbdFlavor,
  ) {}

  /** Resolves the `drbd` family; SysError ENOENT when the drbd module is not loaded. */
  static async open(connection: GenlConnection): Promise<DrbdGenl> {
    const family = await connection.family(DRBD_FAMILY)
    return new DrbdGenl(connection, family, drbdFlavor(family))
  }

  /** The replies of one dump request (all resources, or `resource`). */
  dumpRaw(cmd: number, resource?: string): Promise<NetlinkMessage[]> {
    return this.connection.dump((seq) => encodeDrbdDump(this.family, cmd, seq, resource), resource === undefined ? 'drbd' : `drbd resource ${resource}`)
  }

  /** The status of every resource (or only `resource`), read by the four dumps. */
  async status(resource?: string): Promise<DrbdState> {
    const state = new DrbdState(this.flavor)
    for (const cmd of STATUS_DUMPS) {
      for (const m of await this.dumpRaw(cmd, resource)) state.apply(decodeDrbdMessage(this.flavor, m))
    }
    return state
  }

  /**
   * Joins the `events` group and calls `listener` with each decoded notification of the family;
   * messages of other families and malformed ones are not passed on. Returns a function that stops
   * listening (the group stays joined until the connection closes).
   */
  subscribe(listener: (m: DrbdMessage) => void): () => void {
    const group = this.family.groups.get(DRBD_EVENTS_GROUP)
    if (group === undefined) throw new NetlinkFormatError(`the ${DRBD_FAMILY} family has no ${DRBD_EVENTS_GROUP} group`)
    this.connection.join(group)
    const onNotification = (m: NetlinkMessage): void => {
      if (m.type !== this.family.id) return
      let decoded: DrbdMessage
      try {
        decoded = decodeDrbdMessage(this.flavor, m)
      } catch (e) {
        if (!(e instanceof NetlinkFormatError)) throw e
        log.warn('dropped a malformed DRBD notification', { error: e.message })
        return
      }
      listener(decoded)
    }
    this.connection.on('notification', onNotification)
    return () => {
      this.connection.off('notification', onNotification)
    }
  }
}
