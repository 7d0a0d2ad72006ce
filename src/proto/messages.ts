/**
 * The controller ↔ satellite protocol as plain TypeScript data (DESIGN.md §2.3–2.4). These types are
 * what the rest of Blockyard handles: `codec.ts` turns them into flatbuffers frames and back, and no
 * other module touches the generated classes in `gen/`. Field meanings are documented once, in
 * `schemas/*.fbs`; the names here are their camelCase.
 *
 * Conventions: sizes are KiB as numbers (safe integers); generations are bigint (uint64 on the wire);
 * optional fields are absent (never `undefined`-valued) when the wire has nothing; lists are always
 * present, possibly empty; byte strings are `Uint8Array`s that own their memory (copied out of the
 * frame, so a receive buffer may be reused).
 */
import type { LayerKind } from '../common/layer-stack.js'

export type { LayerKind }

/**
 * Version of this protocol. Bumped on any change to `schemas/*.fbs` other than appending an optional
 * field that older peers may ignore; peers with different versions refuse each other (the decoder
 * throws `ProtocolError` with reason `VERSION_MISMATCH`).
 */
export const PROTOCOL_VERSION = 1

/** The flatbuffers file identifier of every frame (`schemas/envelope.fbs`). */
export const FILE_IDENTIFIER = 'BYRD'

/** Length of a link challenge (nonce), bytes. */
export const CHALLENGE_BYTES = 32

/** Length of a link proof (HMAC-SHA256), bytes. */
export const PROOF_BYTES = 32

/**
 * WebSocket close codes (private-use range 4000–4999) for what cannot be said in a frame: a peer of
 * another protocol version cannot decode ours, so version mismatches (and undecodable frames) are
 * reported in the close frame, with a text reason, before the link is closed.
 */
export const LINK_CLOSE = Object.freeze({
  /** A frame could not be decoded, or came out of order. */
  PROTOCOL_ERROR: 4000,
  /** The peer speaks another protocol version (the reason names both). */
  VERSION_MISMATCH: 4001,
  /** The peers do not share the cluster secret. */
  AUTHENTICATION_FAILED: 4002,
  /** The satellite already has a controller. */
  CONTROLLER_ALREADY_CONNECTED: 4003,
  /** The satellite is not the node the controller dialled. */
  NODE_NAME_MISMATCH: 4004,
} as const)

/** Storage providers (LINSTOR's DeviceProviderKind, those Blockyard implements). */
export type ProviderKind = 'DISKLESS' | 'LVM' | 'LVM_THIN' | 'ZFS' | 'ZFS_THIN' | 'FILE' | 'FILE_THIN'
export const PROVIDER_KINDS: readonly ProviderKind[] = ['DISKLESS', 'LVM', 'LVM_THIN', 'ZFS', 'ZFS_THIN', 'FILE', 'FILE_THIN']

/** Outcome of the link set-up (`LinkResult`). */
export type LinkStatus =
  | 'ACCEPTED'
  | 'VERSION_MISMATCH'
  | 'AUTHENTICATION_FAILED'
  | 'CONTROLLER_ALREADY_CONNECTED'
  | 'NODE_NAME_MISMATCH'
  | 'PROTOCOL_ERROR'
export const LINK_STATUSES: readonly LinkStatus[] = [
  'ACCEPTED',
  'VERSION_MISMATCH',
  'AUTHENTICATION_FAILED',
  'CONTROLLER_ALREADY_CONNECTED',
  'NODE_NAME_MISMATCH',
  'PROTOCOL_ERROR',
]

/** Where a resource on a node stands (`ResourceObserved.state`). */
export type ResourceState = 'CREATING' | 'UPDATING' | 'READY' | 'DELETING' | 'GONE' | 'FAILED'
export const RESOURCE_STATES: readonly ResourceState[] = ['CREATING', 'UPDATING', 'READY', 'DELETING', 'GONE', 'FAILED']

/** LINSTOR props: keys unique, values strings. Decoded props are plain objects with own keys only. */
export type Props = Record<string, string>

export interface ReportedError {
  message: string
  code?: string
  /** argv of the failed command. */
  command?: string[]
  exitCode?: number
  syscall?: string
  errno?: number
  terminal: boolean
  details?: string
}

// ── link set-up and liveness (schemas/link.fbs) ─────────────────────────────────────────────────────

/** satellite → controller, first frame. */
export interface Hello {
  type: 'Hello'
  nodeName: string
  protocolVersion: number
  blockyardVersion: string
  /** `CHALLENGE_BYTES` random bytes. */
  challenge: Uint8Array
}

/** controller → satellite: controller challenge and proof (`link-proof.ts`). */
export interface ControllerAuth {
  type: 'ControllerAuth'
  challenge: Uint8Array
  proof: Uint8Array
  blockyardVersion: string
}

/** satellite → controller: satellite proof. */
export interface SatelliteAuth {
  type: 'SatelliteAuth'
  proof: Uint8Array
}

/** Either direction: link accepted or refused (then closed). */
export interface LinkResult {
  type: 'LinkResult'
  status: LinkStatus
  message: string
}

/** Either direction. Timestamps are microseconds since the Unix epoch. */
export interface Ping {
  type: 'Ping'
  sentAtUs: number
}

export interface Pong {
  type: 'Pong'
  pingSentAtUs: number
  sentAtUs: number
}

export interface LayerSupport {
  kind: LayerKind
  supported: boolean
  version?: string
  reason?: string
}

export interface ProviderSupport {
  kind: ProviderKind
  supported: boolean
  version?: string
  reason?: string
}

/** satellite → controller: what the node can do. */
export interface NodeCapabilities {
  type: 'NodeCapabilities'
  hostname: string
  osName: string
  osRelease: string
  osDistribution: string
  layers: LayerSupport[]
  providers: ProviderSupport[]
}

// ── desired state, controller → satellite (schemas/state.fbs) ───────────────────────────────────────

export interface StorPoolDesired {
  name: string
  providerKind: ProviderKind
  props: Props
  deleted: boolean
}

export interface DrbdPeer {
  nodeName: string
  nodeId: number
  address: string
  port: number
  diskless: boolean
}

export interface DrbdResource {
  nodeId: number
  address: string
  port: number
  peerSlots: number
  sharedSecret?: string
  peers: DrbdPeer[]
}

export interface VolumeDesired {
  number: number
  netSizeKib: number
  grossSizeKib: number
  storPoolName: string
  providerKind: ProviderKind
  storPoolProps: Props
  props: Props
  drbdMinor?: number
  /** DRBD: every diskful replica of the volume is in a pool whose new volumes read as zeros; absent: not so. */
  newReplicasZeroed?: true
}

export interface ResourceDesired {
  name: string
  /** uint64: compare generations as bigints. */
  generation: bigint
  deleted: boolean
  /** Top-down, ending with STORAGE. */
  layers: LayerKind[]
  flags: string[]
  props: Props
  volumes: VolumeDesired[]
  drbd?: DrbdResource
}

/** controller → satellite after the link is accepted: everything the node needs. */
export interface FullSync {
  type: 'FullSync'
  syncId: number
  nodeName: string
  nodeProps: Props
  storPools: StorPoolDesired[]
  resources: ResourceDesired[]
}

/** satellite → controller: the full sync `syncId` is stored. */
export interface FullSyncApplied {
  type: 'FullSyncApplied'
  syncId: number
}

// ── observed state, satellite → controller (schemas/state.fbs) ──────────────────────────────────────

export interface DrbdConnectionObserved {
  peerNodeName: string
  state: string
}

export interface DrbdPeerVolumeObserved {
  peerNodeName: string
  replicationState: string
  peerDiskState: string
  syncPercent?: number
}

export interface VolumeObserved {
  number: number
  devicePath?: string
  allocatedKib?: number
  usableKib?: number
  diskState?: string
  peers: DrbdPeerVolumeObserved[]
  errors: ReportedError[]
}

export interface ResourceObserved {
  name: string
  /** The generation this report is about (uint64). */
  generation: bigint
  state: ResourceState
  inUse: boolean
  volumes: VolumeObserved[]
  connections: DrbdConnectionObserved[]
  errors: ReportedError[]
  /** DRBD: whether this node could become Primary now; absent without DRBD or when unknown. */
  mayPromote?: boolean
  /** DRBD 9's promotion score; absent where DRBD gives none. */
  promotionScore?: number
}

export interface StorPoolCapacity {
  name: string
  freeKib?: number
  totalKib?: number
  errors: ReportedError[]
}

/** satellite → controller: capacities of the node's pools. */
export interface CapacityReport {
  type: 'CapacityReport'
  storPools: StorPoolCapacity[]
}

// ── the union ───────────────────────────────────────────────────────────────────────────────────────

/** Every message that crosses the link, discriminated by `type` (the union member's name). */
export type Message =
  | Hello
  | ControllerAuth
  | SatelliteAuth
  | LinkResult
  | Ping
  | Pong
  | NodeCapabilities
  | FullSync
  | FullSyncApplied
  | ({ type: 'ResourceDesired' } & ResourceDesired)
  | ({ type: 'StorPoolDesired' } & StorPoolDesired)
  | ({ type: 'ResourceObserved' } & ResourceObserved)
  | CapacityReport

export type MessageType = Message['type']

/** Every message type, in wire-tag order (tag = index + 1). */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'Hello',
  'ControllerAuth',
  'SatelliteAuth',
  'LinkResult',
  'Ping',
  'Pong',
  'NodeCapabilities',
  'FullSync',
  'FullSyncApplied',
  'ResourceDesired',
  'StorPoolDesired',
  'ResourceObserved',
  'CapacityReport',
]

/** What travels in one WebSocket message: a sequence number and a message. */
export interface Frame {
  /** Per link and direction: 1 for the first frame, +1 per frame (the link checks it). */
  seq: number
  msg: Message
}
