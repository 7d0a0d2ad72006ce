/**
 * Frames of the controller ↔ satellite protocol: plain messages (`messages.ts`) to flatbuffers bytes
 * and back. The only module that touches the generated code in `gen/`.
 *
 * A frame is one size-prefixed flatbuffer whose root is an `Envelope` (`schemas/envelope.fbs`):
 * `[uint32 size of the rest][uint32 root offset]["BYRD"]…`.
 *
 * `decode()` treats its input as hostile. Before anything else it checks the frame is at least 12
 * bytes, that the size prefix equals the frame's length exactly (so truncated or padded frames are
 * refused at once), the file identifier, the root offset, and the protocol version (field 0 of the
 * Envelope, frozen across versions). Every later read goes through `CheckedByteBuffer`, which
 * bounds-checks scalars, vtables, offsets, vectors and strings, validates UTF-8, and caps the total
 * work at a multiple of the frame size. Then the decoder checks what the types promise: required
 * strings present, a known message type, enum values known (0 is never valid), 64-bit sizes within
 * 2^53 − 1, challenges and proofs of their fixed length, prop keys unique and never `__proto__`,
 * percentages finite. Any failure is a `ProtocolError`; nothing else escapes (an unexpected exception
 * from the runtime is wrapped as `MALFORMED`).
 */
import { Builder, type Offset } from 'flatbuffers'
import { LAYER_KINDS } from '../common/layer-stack.js'
import { CheckedByteBuffer } from './_checked-byte-buffer.js'
import * as fb from './gen/index.js'
import {
  CHALLENGE_BYTES,
  FILE_IDENTIFIER,
  LINK_STATUSES,
  MESSAGE_TYPES,
  PROOF_BYTES,
  PROTOCOL_VERSION,
  PROVIDER_KINDS,
  RESOURCE_STATES,
  type CapacityReport,
  type DrbdConnectionObserved,
  type DrbdPeer,
  type DrbdPeerVolumeObserved,
  type DrbdResource,
  type Frame,
  type LayerSupport,
  type Message,
  type MessageType,
  type NodeCapabilities,
  type Props,
  type ProviderSupport,
  type ReportedError,
  type ResourceDesired,
  type ResourceObserved,
  type StorPoolCapacity,
  type StorPoolDesired,
  type VolumeDesired,
  type VolumeObserved,
} from './messages.js'
import { ProtocolError } from './protocol-error.js'

// ── enums: TypeScript names ↔ wire values, checked against the generated enums at load ────────────

interface EnumCodec<N extends string> {
  toWire(name: N, field: string): number
  fromWire(value: number, field: string): N
}

/**
 * Maps `names` to the generated enum's values by name. Throws at module load if the schema and
 * `messages.ts` disagree (a value missing on either side), so drift cannot reach the wire.
 */
function enumCodec<N extends string>(what: string, names: readonly N[], generated: object): EnumCodec<N> {
  const gen = generated as Record<string, unknown>
  const toWire = new Map<string, number>()
  const fromWire = new Map<number, N>()
  for (const name of names) {
    const v = gen[name]
    if (typeof v !== 'number' || v === 0) throw new Error(`schemas/*.fbs: ${what} has no value ${name}`)
    toWire.set(name, v)
    fromWire.set(v, name)
  }
  for (const [k, v] of Object.entries(gen)) {
    if (typeof v === 'number' && v !== 0 && !toWire.has(k)) throw new Error(`src/proto/messages.ts: ${what} lacks ${k}`)
  }
  return {
    toWire(name, field) {
      const v = toWire.get(name)
      if (v === undefined) throw new RangeError(`${field}: ${JSON.stringify(name)} is not a ${what}`)
      return v
    },
    fromWire(value, field) {
      const n = fromWire.get(value)
      if (n === undefined) throw new ProtocolError('INVALID_VALUE', `${field}: ${value} is not a ${what}`)
      return n
    },
  }
}

const LAYER_KIND = enumCodec('layer kind', LAYER_KINDS, fb.LayerKind)
const PROVIDER_KIND = enumCodec('provider kind', PROVIDER_KINDS, fb.ProviderKind)
const LINK_STATUS = enumCodec('link status', LINK_STATUSES, fb.LinkStatus)
const RESOURCE_STATE = enumCodec('resource state', RESOURCE_STATES, fb.ResourceState)
const MESSAGE_TYPE = enumCodec('message type', MESSAGE_TYPES, fb.Message)

// ── encoding ─────────────────────────────────────────────────────────────────────────────────────────

const MAX_UINT64 = 0xffff_ffff_ffff_ffffn
/** A builder kept between calls saves allocations; one grown past this is dropped after use. */
const KEEP_BUILDER_BYTES = 1 << 20
let shared = new Builder(1024)

function fail(field: string, what: string, value: unknown): never {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value)
  throw new RangeError(`${field} must be ${what}, got ${shown}`)
}

function uint(v: unknown, max: number, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(field, `an integer in 0..${max}`, v)
  return v
}
const u8 = (v: unknown, field: string): number => uint(v, 0xff, field)
const u16 = (v: unknown, field: string): number => uint(v, 0xffff, field)
const u32 = (v: unknown, field: string): number => uint(v, 0xffff_ffff, field)
/** A non-negative safe integer, as uint64. */
const u53 = (v: unknown, field: string): bigint => BigInt(uint(v, Number.MAX_SAFE_INTEGER, field))

function i32(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x8000_0000 || v > 0x7fff_ffff) fail(field, 'a 32-bit integer', v)
  return v
}

function u64(v: unknown, field: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > MAX_UINT64) fail(field, 'a bigint in 0..2^64-1', v)
  return v
}

function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') fail(field, 'a boolean', v)
  return v
}

function str(b: Builder, v: unknown, field: string): Offset {
  if (typeof v !== 'string') throw new TypeError(`${field} must be a string, got ${typeof v}`)
  return b.createString(v)
}

/** 0 (absent) for undefined. */
function optStr(b: Builder, v: unknown, field: string): Offset {
  return v === undefined ? 0 : str(b, v, field)
}

function list<T>(v: unknown, field: string): readonly T[] {
  if (!Array.isArray(v)) throw new TypeError(`${field} must be an array`)
  return v as T[]
}

function offsets(b: Builder, items: readonly Offset[]): Offset {
  b.startVector(4, items.length, 4)
  for (let i = items.length - 1; i >= 0; i--) b.addOffset(items[i]!)
  return b.endVector()
}

function strings(b: Builder, v: unknown, field: string): Offset {
  return offsets(b, list<unknown>(v, field).map((s, i) => str(b, s, `${field}[${i}]`)))
}

function fixedBytes(b: Builder, v: unknown, length: number, field: string): Offset {
  if (!(v instanceof Uint8Array) || v.length !== length) {
    throw new RangeError(`${field} must be a Uint8Array of ${length} bytes`)
  }
  return b.createByteVector(v)
}

function props(b: Builder, v: unknown, field: string): Offset {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${field} must be an object of strings`)
  const kvs: Offset[] = []
  for (const [key, value] of Object.entries(v)) {
    if (key === '__proto__') throw new RangeError(`${field}: the key __proto__ is refused`)
    const k = b.createString(key)
    const val = str(b, value, `${field}[${JSON.stringify(key)}]`)
    fb.KeyValue.startKeyValue(b)
    fb.KeyValue.addKey(b, k)
    fb.KeyValue.addValue(b, val)
    kvs.push(fb.KeyValue.endKeyValue(b))
  }
  return offsets(b, kvs)
}

/**
 * Adds an optional scalar field even when it equals 0. flatc 2.0.8 generates `add…` for fields
 * declared `= null` with the type's zero as the default to skip, so a present 0 would otherwise be
 * dropped and read back as absent.
 */
function addPresent(b: Builder, add: () => void): void {
  b.forceDefaults(true)
  try {
    add()
  } finally {
    b.forceDefaults(false)
  }
}

function encodeError(b: Builder, e: ReportedError, field: string): Offset {
  const message = str(b, e.message, `${field}.message`)
  const code = optStr(b, e.code, `${field}.code`)
  // An empty argv is sent as absent: "not a command".
  const command = e.command === undefined || list(e.command, `${field}.command`).length === 0 ? 0 : strings(b, e.command, `${field}.command`)
  const syscall = optStr(b, e.syscall, `${field}.syscall`)
  const details = optStr(b, e.details, `${field}.details`)
  const T = fb.ReportedError
  T.startReportedError(b)
  T.addMessage(b, message)
  if (code) T.addCode(b, code)
  if (command) T.addCommand(b, command)
  if (e.exitCode !== undefined) {
    const v = i32(e.exitCode, `${field}.exitCode`)
    addPresent(b, () => T.addExitCode(b, v))
  }
  if (syscall) T.addSyscall(b, syscall)
  if (e.errno !== undefined) {
    const v = i32(e.errno, `${field}.errno`)
    addPresent(b, () => T.addErrno(b, v))
  }
  T.addTerminal(b, bool(e.terminal, `${field}.terminal`))
  if (details) T.addDetails(b, details)
  return T.endReportedError(b)
}

function encodeErrors(b: Builder, v: unknown, field: string): Offset {
  return offsets(b, list<ReportedError>(v, field).map((e, i) => encodeError(b, e, `${field}[${i}]`)))
}

function encodeLayerSupport(b: Builder, s: LayerSupport, field: string): Offset {
  const version = optStr(b, s.version, `${field}.version`)
  const reason = optStr(b, s.reason, `${field}.reason`)
  const T = fb.LayerSupport
  T.startLayerSupport(b)
  T.addKind(b, LAYER_KIND.toWire(s.kind, `${field}.kind`))
  T.addSupported(b, bool(s.supported, `${field}.supported`))
  if (version) T.addVersion(b, version)
  if (reason) T.addReason(b, reason)
  return T.endLayerSupport(b)
}

function encodeProviderSupport(b: Builder, s: ProviderSupport, field: string): Offset {
  const version = optStr(b, s.version, `${field}.version`)
  const reason = optStr(b, s.reason, `${field}.reason`)
  const T = fb.ProviderSupport
  T.startProviderSupport(b)
  T.addKind(b, PROVIDER_KIND.toWire(s.kind, `${field}.kind`))
  T.addSupported(b, bool(s.supported, `${field}.supported`))
  if (version) T.addVersion(b, version)
  if (reason) T.addReason(b, reason)
  return T.endProviderSupport(b)
}

function encodeStorPool(b: Builder, p: StorPoolDesired, field: string): Offset {
  const name = str(b, p.name, `${field}.name`)
  const pp = props(b, p.props, `${field}.props`)
  const T = fb.StorPoolDesired
  T.startStorPoolDesired(b)
  T.addName(b, name)
  T.addProviderKind(b, PROVIDER_KIND.toWire(p.providerKind, `${field}.providerKind`))
  T.addProps(b, pp)
  T.addDeleted(b, bool(p.deleted, `${field}.deleted`))
  return T.endStorPoolDesired(b)
}

function encodeDrbdPeer(b: Builder, p: DrbdPeer, field: string): Offset {
  const nodeName = str(b, p.nodeName, `${field}.nodeName`)
  const address = str(b, p.address, `${field}.address`)
  const T = fb.DrbdPeer
  T.startDrbdPeer(b)
  T.addNodeName(b, nodeName)
  T.addNodeId(b, u8(p.nodeId, `${field}.nodeId`))
  T.addAddress(b, address)
  T.addPort(b, u16(p.port, `${field}.port`))
  T.addDiskless(b, bool(p.diskless, `${field}.diskless`))
  return T.endDrbdPeer(b)
}

function encodeDrbdResource(b: Builder, d: DrbdResource, field: string): Offset {
  const address = str(b, d.address, `${field}.address`)
  const secret = optStr(b, d.sharedSecret, `${field}.sharedSecret`)
  const peers = offsets(b, list<DrbdPeer>(d.peers, `${field}.peers`).map((p, i) => encodeDrbdPeer(b, p, `${field}.peers[${i}]`)))
  const T = fb.DrbdResource
  T.startDrbdResource(b)
  T.addNodeId(b, u8(d.nodeId, `${field}.nodeId`))
  T.addAddress(b, address)
  T.addPort(b, u16(d.port, `${field}.port`))
  T.addPeerSlots(b, u8(d.peerSlots, `${field}.peerSlots`))
  if (secret) T.addSharedSecret(b, secret)
  T.addPeers(b, peers)
  return T.endDrbdResource(b)
}

function encodeVolumeDesired(b: Builder, v: VolumeDesired, field: string): Offset {
  const pool = str(b, v.storPoolName, `${field}.storPoolName`)
  const poolProps = props(b, v.storPoolProps, `${field}.storPoolProps`)
  const vp = props(b, v.props, `${field}.props`)
  const T = fb.VolumeDesired
  T.startVolumeDesired(b)
  T.addNumber(b, u32(v.number, `${field}.number`))
  T.addNetSizeKib(b, u53(v.netSizeKib, `${field}.netSizeKib`))
  T.addGrossSizeKib(b, u53(v.grossSizeKib, `${field}.grossSizeKib`))
  T.addStorPoolName(b, pool)
  T.addProviderKind(b, PROVIDER_KIND.toWire(v.providerKind, `${field}.providerKind`))
  T.addStorPoolProps(b, poolProps)
  T.addProps(b, vp)
  if (v.drbdMinor !== undefined) {
    const minor = u32(v.drbdMinor, `${field}.drbdMinor`)
    addPresent(b, () => T.addDrbdMinor(b, minor))
  }
  if (v.newReplicasZeroed !== undefined) {
    if (v.newReplicasZeroed !== true) fail(`${field}.newReplicasZeroed`, 'true or absent', v.newReplicasZeroed)
    T.addNewReplicasZeroed(b, true)
  }
  return T.endVolumeDesired(b)
}

function encodeResourceDesired(b: Builder, r: ResourceDesired, field: string): Offset {
  const name = str(b, r.name, `${field}.name`)
  const layers = list<ResourceDesired['layers'][number]>(r.layers, `${field}.layers`).map((k, i) =>
    LAYER_KIND.toWire(k, `${field}.layers[${i}]`),
  )
  const layersVec = fb.ResourceDesired.createLayersVector(b, layers)
  const flags = strings(b, r.flags, `${field}.flags`)
  const rp = props(b, r.props, `${field}.props`)
  const vlms = offsets(b, list<VolumeDesired>(r.volumes, `${field}.volumes`).map((v, i) => encodeVolumeDesired(b, v, `${field}.volumes[${i}]`)))
  const drbd = r.drbd === undefined ? 0 : encodeDrbdResource(b, r.drbd, `${field}.drbd`)
  const T = fb.ResourceDesired
  T.startResourceDesired(b)
  T.addName(b, name)
  T.addGeneration(b, u64(r.generation, `${field}.generation`))
  T.addDeleted(b, bool(r.deleted, `${field}.deleted`))
  T.addLayers(b, layersVec)
  T.addFlags(b, flags)
  T.addProps(b, rp)
  T.addVolumes(b, vlms)
  if (drbd) T.addDrbd(b, drbd)
  return T.endResourceDesired(b)
}

function encodePeerVolume(b: Builder, p: DrbdPeerVolumeObserved, field: string): Offset {
  const peer = str(b, p.peerNodeName, `${field}.peerNodeName`)
  const repl = str(b, p.replicationState, `${field}.replicationState`)
  const disk = str(b, p.peerDiskState, `${field}.peerDiskState`)
  const T = fb.DrbdPeerVolumeObserved
  T.startDrbdPeerVolumeObserved(b)
  T.addPeerNodeName(b, peer)
  T.addReplicationState(b, repl)
  T.addPeerDiskState(b, disk)
  if (p.syncPercent !== undefined) {
    const pct = p.syncPercent
    if (typeof pct !== 'number' || !Number.isFinite(pct)) fail(`${field}.syncPercent`, 'a finite number', pct)
    addPresent(b, () => T.addSyncPercent(b, pct))
  }
  return T.endDrbdPeerVolumeObserved(b)
}

function encodeVolumeObserved(b: Builder, v: VolumeObserved, field: string): Offset {
  const device = optStr(b, v.devicePath, `${field}.devicePath`)
  const disk = optStr(b, v.diskState, `${field}.diskState`)
  const peers = offsets(b, list<DrbdPeerVolumeObserved>(v.peers, `${field}.peers`).map((p, i) => encodePeerVolume(b, p, `${field}.peers[${i}]`)))
  const errors = encodeErrors(b, v.errors, `${field}.errors`)
  const T = fb.VolumeObserved
  T.startVolumeObserved(b)
  T.addNumber(b, u32(v.number, `${field}.number`))
  if (device) T.addDevicePath(b, device)
  if (v.allocatedKib !== undefined) {
    const kib = u53(v.allocatedKib, `${field}.allocatedKib`)
    addPresent(b, () => T.addAllocatedKib(b, kib))
  }
  if (v.usableKib !== undefined) {
    const kib = u53(v.usableKib, `${field}.usableKib`)
    addPresent(b, () => T.addUsableKib(b, kib))
  }
  if (disk) T.addDiskState(b, disk)
  T.addPeers(b, peers)
  T.addErrors(b, errors)
  return T.endVolumeObserved(b)
}

function encodeConnection(b: Builder, c: DrbdConnectionObserved, field: string): Offset {
  const peer = str(b, c.peerNodeName, `${field}.peerNodeName`)
  const state = str(b, c.state, `${field}.state`)
  const T = fb.DrbdConnectionObserved
  T.startDrbdConnectionObserved(b)
  T.addPeerNodeName(b, peer)
  T.addState(b, state)
  return T.endDrbdConnectionObserved(b)
}

function encodeResourceObserved(b: Builder, r: ResourceObserved, field: string): Offset {
  const name = str(b, r.name, `${field}.name`)
  const vlms = offsets(b, list<VolumeObserved>(r.volumes, `${field}.volumes`).map((v, i) => encodeVolumeObserved(b, v, `${field}.volumes[${i}]`)))
  const conns = offsets(
    b,
    list<DrbdConnectionObserved>(r.connections, `${field}.connections`).map((c, i) => encodeConnection(b, c, `${field}.connections[${i}]`)),
  )
  const errors = encodeErrors(b, r.errors, `${field}.errors`)
  const T = fb.ResourceObserved
  T.startResourceObserved(b)
  T.addName(b, name)
  T.addGeneration(b, u64(r.generation, `${field}.generation`))
  T.addState(b, RESOURCE_STATE.toWire(r.state, `${field}.state`))
  T.addInUse(b, bool(r.inUse, `${field}.inUse`))
  T.addVolumes(b, vlms)
  T.addConnections(b, conns)
  T.addErrors(b, errors)
  if (r.mayPromote !== undefined) {
    const v = bool(r.mayPromote, `${field}.mayPromote`)
    addPresent(b, () => T.addMayPromote(b, v))
  }
  if (r.promotionScore !== undefined) {
    const v = i32(r.promotionScore, `${field}.promotionScore`)
    addPresent(b, () => T.addPromotionScore(b, v))
  }
  return T.endResourceObserved(b)
}

function encodeCapacity(b: Builder, c: StorPoolCapacity, field: string): Offset {
  const name = str(b, c.name, `${field}.name`)
  const errors = encodeErrors(b, c.errors, `${field}.errors`)
  const T = fb.StorPoolCapacity
  T.startStorPoolCapacity(b)
  T.addName(b, name)
  if (c.freeKib !== undefined) {
    const kib = u53(c.freeKib, `${field}.freeKib`)
    addPresent(b, () => T.addFreeKib(b, kib))
  }
  if (c.totalKib !== undefined) {
    const kib = u53(c.totalKib, `${field}.totalKib`)
    addPresent(b, () => T.addTotalKib(b, kib))
  }
  T.addErrors(b, errors)
  return T.endStorPoolCapacity(b)
}

function encodeNodeCapabilities(b: Builder, m: NodeCapabilities): Offset {
  const f = 'NodeCapabilities'
  const hostname = str(b, m.hostname, `${f}.hostname`)
  const osName = str(b, m.osName, `${f}.osName`)
  const osRelease = str(b, m.osRelease, `${f}.osRelease`)
  const osDistribution = str(b, m.osDistribution, `${f}.osDistribution`)
  const layers = offsets(
    b,
    list<LayerSupport>(m.layers, `${f}.layers`).map((s, i) => encodeLayerSupport(b, s, `${f}.layers[${i}]`)),
  )
  const providers = offsets(
    b,
    list<ProviderSupport>(m.providers, `${f}.providers`).map((s, i) => encodeProviderSupport(b, s, `${f}.providers[${i}]`)),
  )
  const T = fb.NodeCapabilities
  T.startNodeCapabilities(b)
  T.addHostname(b, hostname)
  T.addOsName(b, osName)
  T.addOsRelease(b, osRelease)
  T.addOsDistribution(b, osDistribution)
  T.addLayers(b, layers)
  T.addProviders(b, providers)
  return T.endNodeCapabilities(b)
}

/** Builds the union member; returns its offset. */
function encodeMessage(b: Builder, m: Message): Offset {
  switch (m.type) {
    case 'Hello': {
      const name = str(b, m.nodeName, 'Hello.nodeName')
      const version = str(b, m.blockyardVersion, 'Hello.blockyardVersion')
      const challenge = fixedBytes(b, m.challenge, CHALLENGE_BYTES, 'Hello.challenge')
      const T = fb.Hello
      T.startHello(b)
      T.addNodeName(b, name)
      T.addProtocolVersion(b, u32(m.protocolVersion, 'Hello.protocolVersion'))
      T.addBlockyardVersion(b, version)
      T.addChallenge(b, challenge)
      return T.endHello(b)
    }
    case 'ControllerAuth': {
      const challenge = fixedBytes(b, m.challenge, CHALLENGE_BYTES, 'ControllerAuth.challenge')
      const proof = fixedBytes(b, m.proof, PROOF_BYTES, 'ControllerAuth.proof')
      const version = str(b, m.blockyardVersion, 'ControllerAuth.blockyardVersion')
      return fb.ControllerAuth.createControllerAuth(b, challenge, proof, version)
    }
    case 'SatelliteAuth':
      return fb.SatelliteAuth.createSatelliteAuth(b, fixedBytes(b, m.proof, PROOF_BYTES, 'SatelliteAuth.proof'))
    case 'LinkResult': {
      const message = str(b, m.message, 'LinkResult.message')
      return fb.LinkResult.createLinkResult(b, LINK_STATUS.toWire(m.status, 'LinkResult.status'), message)
    }
    case 'Ping':
      return fb.Ping.createPing(b, u53(m.sentAtUs, 'Ping.sentAtUs'))
    case 'Pong':
      return fb.Pong.createPong(b, u53(m.pingSentAtUs, 'Pong.pingSentAtUs'), u53(m.sentAtUs, 'Pong.sentAtUs'))
    case 'NodeCapabilities':
      return encodeNodeCapabilities(b, m)
    case 'FullSync': {
      const f = 'FullSync'
      const nodeName = str(b, m.nodeName, `${f}.nodeName`)
      const nodeProps = props(b, m.nodeProps, `${f}.nodeProps`)
      const pools = offsets(b, list<StorPoolDesired>(m.storPools, `${f}.storPools`).map((p, i) => encodeStorPool(b, p, `${f}.storPools[${i}]`)))
      const rscs = offsets(
        b,
        list<ResourceDesired>(m.resources, `${f}.resources`).map((r, i) => encodeResourceDesired(b, r, `${f}.resources[${i}]`)),
      )
      const T = fb.FullSync
      T.startFullSync(b)
      T.addSyncId(b, u53(m.syncId, `${f}.syncId`))
      T.addNodeName(b, nodeName)
      T.addNodeProps(b, nodeProps)
      T.addStorPools(b, pools)
      T.addResources(b, rscs)
      return T.endFullSync(b)
    }
    case 'FullSyncApplied':
      return fb.FullSyncApplied.createFullSyncApplied(b, u53(m.syncId, 'FullSyncApplied.syncId'))
    case 'ResourceDesired':
      return encodeResourceDesired(b, m, 'ResourceDesired')
    case 'StorPoolDesired':
      return encodeStorPool(b, m, 'StorPoolDesired')
    case 'ResourceObserved':
      return encodeResourceObserved(b, m, 'ResourceObserved')
    case 'CapacityReport': {
      const pools = offsets(
        b,
        list<StorPoolCapacity>(m.storPools, 'CapacityReport.storPools').map((c, i) => encodeCapacity(b, c, `CapacityReport.storPools[${i}]`)),
      )
      return fb.CapacityReport.createCapacityReport(b, pools)
    }
  }
}

/** Options of `encode()`. */
export interface EncodeOptions {
  /** Protocol version to put in the envelope. Only for tests that play a peer of another version. */
  protocolVersion?: number
}

/**
 * Encodes one frame. Throws `TypeError`/`RangeError` on a malformed message (a programming error:
 * wrong types, numbers out of range, unknown enum names, challenges/proofs not 32 bytes, a
 * `__proto__` prop key); nothing partial is returned. The result owns its memory.
 */
export function encode(frame: Frame, options: EncodeOptions = {}): Uint8Array {
  if (frame === null || typeof frame !== 'object' || frame.msg === null || typeof frame.msg !== 'object') {
    throw new TypeError('encode: frame must be { seq, msg }')
  }
  const seq = u53(frame.seq, 'seq')
  const version = u32(options.protocolVersion ?? PROTOCOL_VERSION, 'protocolVersion')
  const type = MESSAGE_TYPE.toWire(frame.msg.type, 'msg.type')
  const b = shared
  b.clear()
  const msg = encodeMessage(b, frame.msg)
  const E = fb.Envelope
  E.startEnvelope(b)
  addPresent(b, () => E.addProtocolVersion(b, version)) // frozen field: always written, even 0
  E.addSeq(b, seq)
  E.addMessageType(b, type)
  E.addMessage(b, msg)
  E.finishSizePrefixedEnvelopeBuffer(b, E.endEnvelope(b))
  const out = b.asUint8Array().slice()
  if (out.length > KEEP_BUILDER_BYTES) shared = new Builder(1024)
  return out
}

// ── decoding ─────────────────────────────────────────────────────────────────────────────────────────

const HEADER_BYTES = 12 // size prefix, root offset, file identifier
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

function missing(field: string): never {
  throw new ProtocolError('MALFORMED', `${field} is missing`)
}

function need<T>(v: T | null, field: string): T {
  return v === null ? missing(field) : v
}

function safe(v: bigint, field: string): number {
  if (v > MAX_SAFE) throw new ProtocolError('INVALID_VALUE', `${field}: ${v} exceeds 2^53 - 1`)
  return Number(v)
}

/** Reads `n` items once each (`n` comes from a checked vector length). */
function items<T>(n: number, get: (i: number) => T): T[] {
  const out = new Array<T>(n)
  for (let i = 0; i < n; i++) out[i] = get(i)
  return out
}

function readBytes(v: Uint8Array | null, length: number, field: string): Uint8Array {
  if (v === null) missing(field)
  if (v.length !== length) throw new ProtocolError('INVALID_VALUE', `${field} has ${v.length} bytes, expected ${length}`)
  return v.slice()
}

function readProps(n: number, get: (i: number) => fb.KeyValue | null, field: string): Props {
  const out: Props = {}
  for (let i = 0; i < n; i++) {
    const kv = need(get(i), `${field}[${i}]`)
    const key = need(kv.key(), `${field}[${i}].key`)
    const value = need(kv.value(), `${field}[${i}].value`)
    if (key === '__proto__') throw new ProtocolError('INVALID_VALUE', `${field}: the key __proto__ is refused`)
    if (Object.hasOwn(out, key)) throw new ProtocolError('MALFORMED', `${field}: duplicate key ${JSON.stringify(key)}`)
    out[key] = value
  }
  return out
}

function readError(e: fb.ReportedError, field: string): ReportedError {
  const out: ReportedError = { message: need(e.message(), `${field}.message`), terminal: false }
  const code = e.code()
  if (code !== null) out.code = code
  const n = e.commandLength()
  if (n > 0) out.command = items(n, (i) => need(e.command(i), `${field}.command[${i}]`))
  const exitCode = e.exitCode()
  if (exitCode !== null) out.exitCode = exitCode
  const syscall = e.syscall()
  if (syscall !== null) out.syscall = syscall
  const errno = e.errno()
  if (errno !== null) out.errno = errno
  out.terminal = e.terminal()
  const details = e.details()
  if (details !== null) out.details = details
  return out
}

function readErrors(n: number, get: (i: number) => fb.ReportedError | null, field: string): ReportedError[] {
  return items(n, (i) => readError(need(get(i), `${field}[${i}]`), `${field}[${i}]`))
}

function readSupport<K extends string>(
  s: fb.LayerSupport | fb.ProviderSupport,
  kinds: EnumCodec<K>,
  field: string,
): { kind: K; supported: boolean; version?: string; reason?: string } {
  const out: { kind: K; supported: boolean; version?: string; reason?: string } = {
    kind: kinds.fromWire(s.kind(), `${field}.kind`),
    supported: s.supported(),
  }
  const version = s.version()
  if (version !== null) out.version = version
  const reason = s.reason()
  if (reason !== null) out.reason = reason
  return out
}

function readStorPool(p: fb.StorPoolDesired, field: string): StorPoolDesired {
  return {
    name: need(p.name(), `${field}.name`),
    providerKind: PROVIDER_KIND.fromWire(p.providerKind(), `${field}.providerKind`),
    props: readProps(p.propsLength(), (i) => p.props(i), `${field}.props`),
    deleted: p.deleted(),
  }
}

function readDrbdResource(d: fb.DrbdResource, field: string): DrbdResource {
  const out: DrbdResource = {
    nodeId: d.nodeId(),
    address: need(d.address(), `${field}.address`),
    port: d.port(),
    peerSlots: d.peerSlots(),
    peers: [],
  }
  const secret = d.sharedSecret()
  if (secret !== null) out.sharedSecret = secret
  out.peers = items(d.peersLength(), (i) => {
    const f = `${field}.peers[${i}]`
    const p = need(d.peers(i), f)
    return {
      nodeName: need(p.nodeName(), `${f}.nodeName`),
      nodeId: p.nodeId(),
      address: need(p.address(), `${f}.address`),
      port: p.port(),
      diskless: p.diskless(),
    }
  })
  return out
}

function readVolumeDesired(v: fb.VolumeDesired, field: string): VolumeDesired {
  const out: VolumeDesired = {
    number: v.number(),
    netSizeKib: safe(v.netSizeKib(), `${field}.netSizeKib`),
    grossSizeKib: safe(v.grossSizeKib(), `${field}.grossSizeKib`),
    storPoolName: need(v.storPoolName(), `${field}.storPoolName`),
    providerKind: PROVIDER_KIND.fromWire(v.providerKind(), `${field}.providerKind`),
    storPoolProps: readProps(v.storPoolPropsLength(), (i) => v.storPoolProps(i), `${field}.storPoolProps`),
    props: readProps(v.propsLength(), (i) => v.props(i), `${field}.props`),
  }
  const minor = v.drbdMinor()
  if (minor !== null) out.drbdMinor = minor
  if (v.newReplicasZeroed()) out.newReplicasZeroed = true
  return out
}

function readResourceDesired(r: fb.ResourceDesired, field: string): ResourceDesired {
  const name = need(r.name(), `${field}.name`)
  const generation = r.generation()
  const deleted = r.deleted()
  const layerBytes = r.layersArray() ?? new Uint8Array(0)
  const layers = Array.from(layerBytes, (k, i) => LAYER_KIND.fromWire(k, `${field}.layers[${i}]`))
  const flags = items(r.flagsLength(), (i) => need(r.flags(i), `${field}.flags[${i}]`))
  const props = readProps(r.propsLength(), (i) => r.props(i), `${field}.props`)
  const volumes = items(r.volumesLength(), (i) => readVolumeDesired(need(r.volumes(i), `${field}.volumes[${i}]`), `${field}.volumes[${i}]`))
  const out: ResourceDesired = { name, generation, deleted, layers, flags, props, volumes }
  const drbd = r.drbd()
  if (drbd !== null) out.drbd = readDrbdResource(drbd, `${field}.drbd`)
  return out
}

function readVolumeObserved(v: fb.VolumeObserved, field: string): VolumeObserved {
  const out: VolumeObserved = { number: v.number(), peers: [], errors: [] }
  const device = v.devicePath()
  if (device !== null) out.devicePath = device
  const allocated = v.allocatedKib()
  if (allocated !== null) out.allocatedKib = safe(allocated, `${field}.allocatedKib`)
  const usable = v.usableKib()
  if (usable !== null) out.usableKib = safe(usable, `${field}.usableKib`)
  const disk = v.diskState()
  if (disk !== null) out.diskState = disk
  out.peers = items(v.peersLength(), (i) => {
    const f = `${field}.peers[${i}]`
    const p = need(v.peers(i), f)
    const peer: DrbdPeerVolumeObserved = {
      peerNodeName: need(p.peerNodeName(), `${f}.peerNodeName`),
      replicationState: need(p.replicationState(), `${f}.replicationState`),
      peerDiskState: need(p.peerDiskState(), `${f}.peerDiskState`),
    }
    const pct = p.syncPercent()
    if (pct !== null) {
      if (!Number.isFinite(pct)) throw new ProtocolError('INVALID_VALUE', `${f}.syncPercent: ${pct} is not a finite number`)
      peer.syncPercent = pct
    }
    return peer
  })
  out.errors = readErrors(v.errorsLength(), (i) => v.errors(i), `${field}.errors`)
  return out
}

function readResourceObserved(r: fb.ResourceObserved, field: string): ResourceObserved {
  const out: ResourceObserved = {
    name: need(r.name(), `${field}.name`),
    generation: r.generation(),
    state: RESOURCE_STATE.fromWire(r.state(), `${field}.state`),
    inUse: r.inUse(),
    volumes: items(r.volumesLength(), (i) => readVolumeObserved(need(r.volumes(i), `${field}.volumes[${i}]`), `${field}.volumes[${i}]`)),
    connections: items(r.connectionsLength(), (i) => {
      const f = `${field}.connections[${i}]`
      const c = need(r.connections(i), f)
      return { peerNodeName: need(c.peerNodeName(), `${f}.peerNodeName`), state: need(c.state(), `${f}.state`) }
    }),
    errors: readErrors(r.errorsLength(), (i) => r.errors(i), `${field}.errors`),
  }
  const mayPromote = r.mayPromote()
  if (mayPromote !== null) out.mayPromote = mayPromote
  const score = r.promotionScore()
  if (score !== null) out.promotionScore = score
  return out
}

function readCapacity(c: fb.StorPoolCapacity, field: string): StorPoolCapacity {
  const out: StorPoolCapacity = { name: need(c.name(), `${field}.name`), errors: [] }
  const free = c.freeKib()
  if (free !== null) out.freeKib = safe(free, `${field}.freeKib`)
  const total = c.totalKib()
  if (total !== null) out.totalKib = safe(total, `${field}.totalKib`)
  out.errors = readErrors(c.errorsLength(), (i) => c.errors(i), `${field}.errors`)
  return out
}

/** Reads the union member of type `type` from the envelope. */
function readMessage(env: fb.Envelope, type: MessageType): Message {
  const member = <T>(t: T): T => need(env.message(t) as T | null, `${type} body`)
  switch (type) {
    case 'Hello': {
      const m = member(new fb.Hello())
      const nodeName = need(m.nodeName(), 'Hello.nodeName')
      const protocolVersion = m.protocolVersion()
      if (protocolVersion !== PROTOCOL_VERSION) {
        throw new ProtocolError(
          'INVALID_VALUE',
          `Hello.protocolVersion is ${protocolVersion} but the envelope says ${PROTOCOL_VERSION}`,
        )
      }
      const blockyardVersion = need(m.blockyardVersion(), 'Hello.blockyardVersion')
      const challenge = readBytes(m.challengeArray(), CHALLENGE_BYTES, 'Hello.challenge')
      return { type, nodeName, protocolVersion, blockyardVersion, challenge }
    }
    case 'ControllerAuth': {
      const m = member(new fb.ControllerAuth())
      return {
        type,
        challenge: readBytes(m.challengeArray(), CHALLENGE_BYTES, 'ControllerAuth.challenge'),
        proof: readBytes(m.proofArray(), PROOF_BYTES, 'ControllerAuth.proof'),
        blockyardVersion: need(m.blockyardVersion(), 'ControllerAuth.blockyardVersion'),
      }
    }
    case 'SatelliteAuth': {
      const m = member(new fb.SatelliteAuth())
      return { type, proof: readBytes(m.proofArray(), PROOF_BYTES, 'SatelliteAuth.proof') }
    }
    case 'LinkResult': {
      const m = member(new fb.LinkResult())
      return { type, status: LINK_STATUS.fromWire(m.status(), 'LinkResult.status'), message: need(m.message(), 'LinkResult.message') }
    }
    case 'Ping': {
      const m = member(new fb.Ping())
      return { type, sentAtUs: safe(m.sentAtUs(), 'Ping.sentAtUs') }
    }
    case 'Pong': {
      const m = member(new fb.Pong())
      return { type, pingSentAtUs: safe(m.pingSentAtUs(), 'Pong.pingSentAtUs'), sentAtUs: safe(m.sentAtUs(), 'Pong.sentAtUs') }
    }
    case 'NodeCapabilities': {
      const m = member(new fb.NodeCapabilities())
      const f = 'NodeCapabilities'
      return {
        type,
        hostname: need(m.hostname(), `${f}.hostname`),
        osName: need(m.osName(), `${f}.osName`),
        osRelease: need(m.osRelease(), `${f}.osRelease`),
        osDistribution: need(m.osDistribution(), `${f}.osDistribution`),
        layers: items(m.layersLength(), (i) => readSupport(need(m.layers(i), `${f}.layers[${i}]`), LAYER_KIND, `${f}.layers[${i}]`)),
        providers: items(m.providersLength(), (i) =>
          readSupport(need(m.providers(i), `${f}.providers[${i}]`), PROVIDER_KIND, `${f}.providers[${i}]`),
        ),
      }
    }
    case 'FullSync': {
      const m = member(new fb.FullSync())
      const f = 'FullSync'
      return {
        type,
        syncId: safe(m.syncId(), `${f}.syncId`),
        nodeName: need(m.nodeName(), `${f}.nodeName`),
        nodeProps: readProps(m.nodePropsLength(), (i) => m.nodeProps(i), `${f}.nodeProps`),
        storPools: items(m.storPoolsLength(), (i) => readStorPool(need(m.storPools(i), `${f}.storPools[${i}]`), `${f}.storPools[${i}]`)),
        resources: items(m.resourcesLength(), (i) =>
          readResourceDesired(need(m.resources(i), `${f}.resources[${i}]`), `${f}.resources[${i}]`),
        ),
      }
    }
    case 'FullSyncApplied':
      return { type, syncId: safe(member(new fb.FullSyncApplied()).syncId(), 'FullSyncApplied.syncId') }
    case 'ResourceDesired':
      return { type, ...readResourceDesired(member(new fb.ResourceDesired()), type) }
    case 'StorPoolDesired':
      return { type, ...readStorPool(member(new fb.StorPoolDesired()), type) }
    case 'ResourceObserved':
      return { type, ...readResourceObserved(member(new fb.ResourceObserved()), type) }
    case 'CapacityReport': {
      const m = member(new fb.CapacityReport())
      return {
        type,
        storPools: items(m.storPoolsLength(), (i) =>
          readCapacity(need(m.storPools(i), `CapacityReport.storPools[${i}]`), `CapacityReport.storPools[${i}]`),
        ),
      } satisfies CapacityReport
    }
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join(' ')
}

function decodeChecked(bytes: Uint8Array): Frame {
  if (bytes.length < HEADER_BYTES) {
    throw new ProtocolError('TRUNCATED', `frame of ${bytes.length} bytes is shorter than the ${HEADER_BYTES}-byte header`)
  }
  const bb = new CheckedByteBuffer(bytes)
  const size = bb.readUint32(0)
  if (size !== bytes.length - 4) {
    throw new ProtocolError(
      size > bytes.length - 4 ? 'TRUNCATED' : 'MALFORMED',
      `frame of ${bytes.length} bytes says it holds ${size} + 4`,
    )
  }
  const ident = bytes.subarray(8, 12)
  if (String.fromCharCode(...ident) !== FILE_IDENTIFIER) {
    throw new ProtocolError('BAD_IDENTIFIER', `not a Blockyard frame: file identifier is [${hex(ident)}], expected "${FILE_IDENTIFIER}"`)
  }
  const root = 4 + bb.readUint32(4)
  if (root < HEADER_BYTES || root + 4 > bytes.length) {
    throw new ProtocolError('OUT_OF_BOUNDS', `root offset ${root} lies outside the ${bytes.length}-byte frame`)
  }
  const env = new fb.Envelope().__init(root, bb)
  const version = env.protocolVersion()
  if (version !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      'VERSION_MISMATCH',
      `peer speaks protocol version ${version}, this Blockyard speaks ${PROTOCOL_VERSION}: run the same Blockyard version on controller and satellites`,
      version,
    )
  }
  const seq = safe(env.seq(), 'Envelope.seq')
  const tag = env.messageType()
  if (tag === fb.Message.NONE) throw new ProtocolError('UNKNOWN_MESSAGE', 'the envelope carries no message')
  let type: MessageType
  try {
    type = MESSAGE_TYPE.fromWire(tag, 'Envelope.message')
  } catch {
    throw new ProtocolError('UNKNOWN_MESSAGE', `message type ${tag} is unknown to protocol version ${PROTOCOL_VERSION}`)
  }
  return { seq, msg: readMessage(env, type) }
}

/**
 * Decodes one frame received from a peer. Throws `ProtocolError` — and only that — for anything that
 * is not a valid frame of this protocol version (see the module comment for what is checked);
 * `TypeError` if `bytes` is not bytes at all (a programming error). The result shares no memory with
 * `bytes`.
 */
export function decode(bytes: Uint8Array | ArrayBuffer): Frame {
  const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes
  if (!(view instanceof Uint8Array)) throw new TypeError('decode: bytes must be a Uint8Array or an ArrayBuffer')
  try {
    return decodeChecked(view)
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError('MALFORMED', `undecodable frame: ${err instanceof Error ? err.message : String(err)}`, undefined, {
      cause: err,
    })
  }
}
