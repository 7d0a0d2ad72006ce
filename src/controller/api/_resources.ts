/**
 * Resources as the API modules create, delete and show them: storage pool choice, DRBD numbers,
 * volumes, the two-phase delete, and LINSTOR's JSON shapes. Shared by resources, auto-place, spawn and
 * the resource-definition delete, so there is one place for each rule (the layer stack is
 * _layer-stack.ts's).
 */
import { randomUUID } from 'node:crypto'
import { ApiError, rcEntry, WARN, type ApiCallRc } from '../../common/errors.js'
import type { Obj, Op } from '../../common/api-codes.js'
import type { LayerKind } from '../../common/layer-stack.js'
import { stringifyJson } from '../../common/json.js'
import { nameKey } from '../../common/names.js'
import type { Tx } from '../db/tx.js'
import { DFLT_DISKLESS_STOR_POOL, DFLT_STOR_POOL, type Model } from '../model/model.js'
import { allocatedKib, DISKLESS_FLAGS, isDiskless } from '../model/pool-usage.js'
import { resolveProp } from '../model/props.js'
import type { Props, Resource, RscDfn, RuntimeResource, RuntimeVolume, StorPool, Volume } from '../model/types.js'

// Defined with the pool usage the Model keeps (which needs them); exported here with the other resource rules.
export { allocatedKib, DISKLESS_FLAGS, isDiskless }
export const isDeleting = (r: { flags: readonly string[] }): boolean => r.flags.includes('DELETE')

/** `flags` with `flag` added once. */
export function withFlag(flags: readonly string[], flag: string): string[] {
  return flags.includes(flag) ? [...flags] : [...flags, flag]
}

/**
 * Whether a node's satellite can confirm a change now. The two-phase delete waits only for those: a
 * node that is away cannot confirm, and its satellite converges on the desired state when it connects.
 */
export function satelliteConnected(m: Model, nodeName: string): boolean {
  return m.runtime.nodes.get(nameKey(nodeName))?.connectionStatus === 'ONLINE'
}

/** LINSTOR's WARN_NOT_CONNECTED for every node of `rscs` whose satellite is not online. */
export function notConnectedWarnings(m: Model, rscs: readonly Resource[], op: Op, objKind: Obj): ApiCallRc[] {
  const nodes = [...new Set(rscs.map((x) => x.nodeName))].sort((a, b) => nameKey(a).localeCompare(nameKey(b)))
  return nodes
    .filter((n) => !satelliteConnected(m, n))
    .map((n) => rcEntry(WARN.NOT_CONNECTED, `No active connection to satellite '${n}'`, op, objKind, {
      details: 'The controller stored the changes; the satellite receives them as soon as it is connected.',
    }))
}

/** Property chain for a resource on a node: resource → definition → group → node → controller. */
export function rscPropsChain(m: Model, rd: RscDfn, nodeName: string, rscProps?: Props): (Props | undefined)[] {
  return [rscProps, rd.props, m.getRscGrp(rd.rscGrpName)?.props, m.getNode(nodeName)?.props, m.ctrlProps]
}

/**
 * Sum of gross sizes per storage pool (`NODE\0POOL`), over every resource with its definition (the
 * Model keeps it current: reading it is O(1)). Read only.
 */
export function poolUsageKib(m: Model): ReadonlyMap<string, number> {
  return m.poolUsage.kib
}

export interface NewResource {
  nodeName: string
  /** Storage pool for every volume; resolved from StorPoolName props (or the default) when absent. */
  poolName?: string
  diskless?: boolean
  props?: Props
  flags?: string[]
  layerStack: LayerKind[]
  drbdNodeId?: number
  drbdTcpPort?: number
}

/**
 * Create a resource of `rd` on a node, with a volume per volume definition, allocating what DRBD needs.
 * Validates first (node, pool, duplicates, provider), then changes the model; throws ApiError.
 */
export function createResource(tx: Tx, m: Model, rd: RscDfn, spec: NewResource): Resource {
  const node = m.getNode(spec.nodeName)
  if (node === undefined) throw new ApiError('ERR_NOT_FOUND_NODE', { node: spec.nodeName })
  if (rd.flags.includes('DELETE')) throw new ApiError('ERR_RSC_STATE', { problem: `Resource definition '${rd.name}' is being deleted` }, { correction: 'Wait until it is gone, or use another name.' })
  const existing = m.getResource(rd.name, node.name)
  if (existing !== undefined) throw new ApiError('ERR_EXISTS_RSC', { rsc: rd.name, node: node.name })
  const diskless = spec.diskless === true || (spec.flags ?? []).some((f) => DISKLESS_FLAGS.includes(f))
  const chain = rscPropsChain(m, rd, node.name, spec.props)
  const poolName = spec.poolName
    ?? (diskless ? resolveProp('StorPoolNameDiskless', chain) ?? DFLT_DISKLESS_STOR_POOL : resolveProp('StorPoolName', chain) ?? DFLT_STOR_POOL)
  const pool = m.getStorPool(node.name, poolName)
  if (pool === undefined) {
    throw new ApiError('ERR_NOT_FOUND_STOR_POOL', { pool: poolName, node: node.name }, {
      correction: `Create storage pool '${poolName}' on node '${node.name}', or name another pool with the property StorPoolName.`,
    })
  }
  checkPoolKind(pool, diskless, node.name)
  const rt = m.runtime.nodes.get(nameKey(node.name))
  for (const layer of spec.layerStack) {
    if (rt?.supportedLayers != null && !rt.supportedLayers.includes(layer)) {
      throw new ApiError('ERR_STLT_LAYER', { node: node.name, layer, supported: rt.supportedLayers.join(', ') })
    }
  }
  if (rt?.supportedProviders != null && !rt.supportedProviders.includes(pool.providerKind)) {
    throw new ApiError('ERR_STLT_PROVIDER', { node: node.name, provider: pool.providerKind, supported: rt.supportedProviders.join(', ') })
  }
  if (!diskless) checkFreeSpace(m, rd, pool, spec.layerStack)

  const drbd = spec.layerStack.includes('DRBD')
  const flags = [...new Set([...(spec.flags ?? []), ...(diskless ? [drbd ? 'DRBD_DISKLESS' : 'DISKLESS'] : [])])]
  const r: Resource = {
    rscName: rd.name,
    nodeName: node.name,
    props: { ...(spec.props ?? {}) },
    flags,
    layerStack: spec.layerStack,
    drbdNodeId: drbd ? m.allocNodeId(rd.name, spec.drbdNodeId) : null,
    drbdTcpPort: drbd ? m.allocTcpPort(node.name, spec.drbdTcpPort ?? rd.drbd?.port ?? undefined) : null,
    volumes: [],
    createTimestamp: Date.now(),
    uuid: randomUUID(),
  }
  if (spec.drbdNodeId !== undefined && r.drbdNodeId !== spec.drbdNodeId) {
    throw new ApiError('ERR_REQ_FIELD', { field: 'drbd_node_id', problem: `node id ${spec.drbdNodeId} is already used in resource '${rd.name}'` })
  }
  for (const vd of rd.vlmDfns) {
    if (vd.flags.includes('DELETE')) continue
    if (drbd && vd.minor === null) {
      vd.minor = m.allocMinor()
      m.putRscDfn(tx, rd)
    }
    r.volumes.push(newVolume(vd.vlmNr, pool.name))
  }
  // The first placement fixes the definition's stack (LINSTOR does the same).
  if (rd.layerStack.length === 0) {
    rd.layerStack = spec.layerStack
    m.putRscDfn(tx, rd)
  }
  m.putResource(tx, r)
  return r
}

export function newVolume(vlmNr: number, storPoolName: string): Volume {
  return { vlmNr, storPoolName, props: {}, flags: [], uuid: randomUUID() }
}

function checkPoolKind(pool: StorPool, diskless: boolean, nodeName: string): void {
  if (diskless && pool.providerKind !== 'DISKLESS') {
    throw new ApiError('ERR_RSC_STATE', { problem: `A diskless resource needs a DISKLESS storage pool; '${pool.name}' on node '${nodeName}' is ${pool.providerKind}` }, { correction: `Use '${DFLT_DISKLESS_STOR_POOL}' or another DISKLESS pool.` })
  }
  if (!diskless && pool.providerKind === 'DISKLESS') {
    throw new ApiError('ERR_RSC_STATE', { problem: `Storage pool '${pool.name}' on node '${nodeName}' is DISKLESS and cannot hold a diskful resource` }, { correction: "Name a diskful pool with StorPoolName, or create the resource with the flag 'DRBD_DISKLESS'." })
  }
}

const THIN = new Set(['LVM_THIN', 'ZFS_THIN', 'FILE_THIN'])

/** Thick pools whose free space is known must hold the new volumes; thin pools are oversubscribed. */
function checkFreeSpace(m: Model, rd: RscDfn, pool: StorPool, stack: readonly LayerKind[]): void {
  if (THIN.has(pool.providerKind)) return
  const free = m.runtime.storPools.get(nameKey(pool.nodeName) + '\0' + nameKey(pool.name))?.freeCapacityKib
  if (free === null || free === undefined) return
  const need = rd.vlmDfns.reduce((s, vd) => s + allocatedKib(rd, stack, vd.sizeKib, vd.flags.includes('GROSS_SIZE')), 0)
  if (need > free) throw new ApiError('ERR_NOT_ENOUGH_SPACE', { pool: pool.name, node: pool.nodeName, need, free })
}

/**
 * LINSTOR's two-phase delete: a resource whose satellite is connected is flagged DELETE (with its
 * volumes) and removed when the satellite confirms it is gone. A node that is not connected cannot
 * confirm: the resource leaves the desired state at once, and the satellite removes the device when it
 * next connects (its full sync no longer contains it), so nothing waits in DELETING for a node that is
 * away. A definition flagged DELETE goes with its last resource. Returns true when the resource is gone.
 */
export function deleteResource(tx: Tx, m: Model, r: Resource): boolean {
  if (satelliteConnected(m, r.nodeName)) {
    if (!isDeleting(r)) {
      r.flags = withFlag(r.flags, 'DELETE')
      for (const v of r.volumes) v.flags = withFlag(v.flags, 'DELETE')
      m.putResource(tx, r)
    }
    return false
  }
  m.deleteResource(tx, r)
  const rd = m.getRscDfn(r.rscName)
  if (rd !== undefined && isDeleting(rd) && [...m.resourcesOf(rd.name)].length === 0) m.deleteRscDfn(tx, rd)
  return true
}

// ---------------------------------------------------------------------------------------------------
// JSON (LINSTOR's Resource / ResourceWithVolumes / Volume shapes; unknown runtime values are omitted,
// never null: LINSTOR's Python client crashes on nulls). The view of every resource builds these 30,000
// times at scale (bench/controller-scale.ts): optional fields are added one by one rather than filtered
// out of a literal, and what satellites reported is looked up once per volume.

export function volumeJson(m: Model, rd: RscDfn | undefined, r: Resource, v: Volume): Record<string, unknown> {
  return volumeJsonOf(m, rd, r, v, m.runtime.volumes.get(runtimeKeyPrefix(r) + v.vlmNr))
}

/** The start of the model.runtime.volumes keys of `r`'s volumes (the volume number follows). */
export const runtimeKeyPrefix = (r: Resource): string => `${nameKey(r.rscName)}\0${nameKey(r.nodeName)}\0`

/** What the satellite of `r`'s node reported of its DRBD state (model.runtime.resources). */
export const runtimeResourceOf = (m: Model, r: Resource): RuntimeResource | undefined =>
  m.runtime.resources.get(`${nameKey(r.rscName)}\0${nameKey(r.nodeName)}`)

function minorOf(rd: RscDfn | undefined, vlmNr: number): number | null {
  if (rd === undefined) return null
  for (const vd of rd.vlmDfns) if (vd.vlmNr === vlmNr) return vd.minor
  return null
}

function volumeJsonOf(m: Model, rd: RscDfn | undefined, r: Resource, v: Volume, rt: RuntimeVolume | undefined): Record<string, unknown> {
  const pool = m.getStorPool(r.nodeName, v.storPoolName)
  const minor = minorOf(rd, v.vlmNr)
  const out: Record<string, unknown> = {
    volume_number: v.vlmNr,
    storage_pool_name: v.storPoolName,
    provider_kind: pool?.providerKind ?? 'DISKLESS',
    props: v.props,
    flags: v.flags,
    state: volumeState(rt),
    layer_data_list: r.layerStack.map((layer) => ({ type: layer, data: volumeLayerData(layer, v, minor, rt) })),
    uuid: v.uuid,
    reports: rt === undefined ? [] : rt.reports.map((x) => ({ ret_code: -4611686018427387904n | 998n, message: x.message, ...(x.cause !== undefined ? { cause: x.cause } : {}), ...(x.details !== undefined ? { details: x.details } : {}) })),
  }
  if (rt?.devicePath != null) out['device_path'] = rt.devicePath
  if (rt?.allocatedSizeKib != null) out['allocated_size_kib'] = rt.allocatedSizeKib
  if (rt?.usableSizeKib != null) out['usable_size_kib'] = rt.usableSizeKib
  return out
}

/**
 * DRBD connection states past the handshake. DRBD 9 says Connected and keeps resyncs in the replication
 * state; DRBD 8.4 has one state for both, so its connection reads SyncTarget, PausedSyncS … while a
 * resync runs over it.
 */
const LIVE_CONNECTION = new Set([
  'Connected', 'StartingSyncS', 'StartingSyncT', 'WFBitMapS', 'WFBitMapT', 'WFSyncUUID', 'SyncSource', 'SyncTarget',
  'VerifyS', 'VerifyT', 'PausedSyncS', 'PausedSyncT', 'Ahead', 'Behind',
])

/** Whether a DRBD connection in `state` (as satellites report it) is up: LINSTOR's `connected`. */
export const drbdConnected = (state: string): boolean => LIVE_CONNECTION.has(state)

/**
 * LINSTOR's VolumeState: the disk state as its clients show it, and the replication state towards each
 * peer with the resync's progress while one runs. LINSTOR shows a volume being resynced from a peer as
 * `SyncTarget(42.00%)` in place of its disk state (Inconsistent), which is what its `resource list`
 * prints; the DRBD layer data keeps DRBD's own disk state.
 */
function volumeState(rt: RuntimeVolume | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (rt === undefined) return out
  const target = rt.peers.find((p) => p.replicationState === 'SyncTarget' && p.syncPercent !== null)
  if (target !== undefined) out['disk_state'] = `SyncTarget(${target.syncPercent!.toFixed(2)}%)`
  else if (rt.diskState !== null) out['disk_state'] = rt.diskState
  if (rt.peers.length > 0) {
    const states: Record<string, unknown> = {}
    for (const p of rt.peers) {
      states[p.peerNodeName] = p.syncPercent === null ? { replication_state: p.replicationState } : { replication_state: p.replicationState, done_percentage: p.syncPercent }
    }
    out['replication_states'] = states
  }
  return out
}

function volumeLayerData(layer: LayerKind, v: Volume, minor: number | null, rt: RuntimeVolume | undefined): Record<string, unknown> {
  if (layer === 'DRBD') {
    const dfn: Record<string, unknown> = { resource_name_suffix: '', volume_number: v.vlmNr }
    if (minor !== null) dfn['minor_number'] = minor
    const out: Record<string, unknown> = { drbd_volume_definition: dfn }
    if (minor !== null) out['device_path'] = `/dev/drbd${minor}`
    out['meta_disk'] = 'internal'
    if (rt?.diskState != null) out['disk_state'] = rt.diskState
    return out
  }
  const out: Record<string, unknown> = { volume_number: v.vlmNr }
  if (layer === 'STORAGE' && rt !== undefined) {
    if (rt.devicePath != null) out['device_path'] = rt.devicePath
    if (rt.allocatedSizeKib != null) out['allocated_size_kib'] = rt.allocatedSizeKib
    if (rt.usableSizeKib != null) out['usable_size_kib'] = rt.usableSizeKib
    if (rt.diskState != null) out['disk_state'] = rt.diskState
  }
  return out
}

const LAYER_FIELD: Record<LayerKind, string> = { DRBD: 'drbd', LUKS: 'luks', NVME: 'nvme', WRITECACHE: 'writecache', CACHE: 'cache', BCACHE: 'bcache', STORAGE: 'storage' }

/**
 * LINSTOR's `layer_object`: the stack as nested objects, top first; `rts[i]` is what was reported of
 * volume i, `rtRsc` of the resource's DRBD state.
 */
function layerObject(rd: RscDfn | undefined, r: Resource, rts: (RuntimeVolume | undefined)[], rtRsc: RuntimeResource | undefined, depth = 0): Record<string, unknown> {
  const layer = r.layerStack[depth] ?? 'STORAGE'
  const below = depth + 1 < r.layerStack.length ? [layerObject(rd, r, rts, rtRsc, depth + 1)] : []
  const out: Record<string, unknown> = { children: below, resource_name_suffix: '', type: layer }
  if (layer === 'DRBD') {
    const d = rd?.drbd
    const peerSlots = d?.peerSlots ?? 7
    const alStripes = d?.alStripes ?? 1
    const alSize = d?.alStripeSizeKib ?? 32
    const dfn: Record<string, unknown> = { resource_name_suffix: '', peer_slots: peerSlots, al_stripes: alStripes, al_stripe_size_kib: alSize }
    if (d?.port != null) dfn['port'] = d.port
    dfn['transport_type'] = d?.transportType ?? 'IP'
    dfn['secret'] = d?.secret ?? ''
    dfn['down'] = false
    const drbd: Record<string, unknown> = { drbd_resource_definition: dfn }
    if (r.drbdNodeId !== null) drbd['node_id'] = r.drbdNodeId
    drbd['tcp_ports'] = r.drbdTcpPort !== null ? [r.drbdTcpPort] : []
    drbd['peer_slots'] = peerSlots
    drbd['al_stripes'] = alStripes
    drbd['al_size'] = alSize
    drbd['flags'] = []
    drbd['drbd_volumes'] = r.volumes.map((v, i) => volumeLayerData('DRBD', v, minorOf(rd, v.vlmNr), rts[i]))
    // LINSTOR's DrbdConnection: whether it is up, and DRBD's state as the message.
    const connections: Record<string, unknown> = {}
    for (const c of rtRsc?.connections ?? []) connections[c.peerNodeName] = { connected: drbdConnected(c.state), message: c.state }
    drbd['connections'] = connections
    if (rtRsc?.promotionScore != null) drbd['promotion_score'] = rtRsc.promotionScore
    if (rtRsc?.mayPromote != null) drbd['may_promote'] = rtRsc.mayPromote
    out['drbd'] = drbd
  } else if (layer === 'STORAGE') {
    out['storage'] = { storage_volumes: r.volumes.map((v, i) => volumeLayerData('STORAGE', v, null, rts[i])) }
  } else {
    out[LAYER_FIELD[layer]] = { [`${LAYER_FIELD[layer]}_volumes`]: r.volumes.map((v) => ({ volume_number: v.vlmNr })) }
  }
  return out
}

/**
 * LINSTOR's order of resources in lists: by resource name, then node name (`localeCompare`, as the
 * lists have always been sorted).
 */
export function compareResources(a: Resource, b: Resource): number {
  return a.rscName.localeCompare(b.rscName) || a.nodeName.localeCompare(b.nodeName)
}

/** Per model: every resource in {@link compareResources} order, and the text of each resource's JSON. */
interface JsonCache {
  /** `Model.lastChange.resourceSet` when `sorted` was built. */
  sortedAt: number
  sorted: Resource[]
  texts: WeakMap<Resource, { stamp: number; text: string }>
}
const jsonCaches = new WeakMap<Model, JsonCache>()

function jsonCacheOf(m: Model): JsonCache {
  let c = jsonCaches.get(m)
  if (c === undefined) jsonCaches.set(m, (c = { sortedAt: -1, sorted: [], texts: new WeakMap() }))
  return c
}

/**
 * Every resource of the model in {@link compareResources} order. Cached until a resource is added,
 * removed or replaced (names never change): sorting 30,000 resources per request is wasted work. Read
 * only; the array is shared by later calls.
 */
export function allResourcesSorted(m: Model): readonly Resource[] {
  const c = jsonCacheOf(m)
  if (c.sortedAt !== m.lastChange.resourceSet) {
    c.sorted = [...m.allResources()].sort(compareResources)
    c.sortedAt = m.lastChange.resourceSet
  }
  return c.sorted
}

/**
 * The JSON text of `resourceJson(m, r, true)`, byte for byte. Kept per resource until the model's
 * `resourceStamp` says something it depends on changed: the resources view at 30,000 resources spent
 * ~400 ms per request building and serialising objects that had not changed. A resource the model does
 * not hold is serialised afresh every time.
 */
export function resourceJsonText(m: Model, r: Resource): string {
  const stamp = m.resourceStamp(r)
  if (stamp === 0) return stringifyJson(resourceJson(m, r, true))
  const texts = jsonCacheOf(m).texts
  const hit = texts.get(r)
  if (hit !== undefined && hit.stamp === stamp) return hit.text
  const text = flat(stringifyJson(resourceJson(m, r, true)))
  texts.set(r, { stamp, text })
  return text
}

/**
 * `s`, joined now. V8's JSON.stringify returns a rope of pieces that is joined into one string only when
 * it is first read whole (as when a reply is encoded): for a text kept for long that is better done at
 * once, while the pieces are still young garbage. Kept as ropes, the texts of 30,000 resources cost ~40 MB
 * more resident memory (bench/controller-scale.ts). Reading a string as a number is what joins it here.
 */
function flat(s: string): string {
  Number(s)
  return s
}

/** A resource as LINSTOR shows it; with its volumes for the view and the per-definition list. */
export function resourceJson(m: Model, r: Resource, withVolumes: boolean): Record<string, unknown> {
  const rd = m.getRscDfn(r.rscName)
  const prefix = runtimeKeyPrefix(r)
  const rts = r.volumes.map((v) => m.runtime.volumes.get(prefix + v.vlmNr))
  const rtRsc = runtimeResourceOf(m, r)
  const out: Record<string, unknown> = {
    name: r.rscName,
    node_name: r.nodeName,
    props: r.props,
    flags: r.flags,
    layer_object: layerObject(rd, r, rts, rtRsc),
  }
  // LINSTOR's ResourceState: in_use where DRBD tells it; left out while unknown (its clients read it with a default).
  if (rtRsc !== undefined) out['state'] = { in_use: rtRsc.inUse }
  out['uuid'] = r.uuid
  out['create_timestamp'] = r.createTimestamp
  if (withVolumes) out['volumes'] = r.volumes.map((v, i) => volumeJsonOf(m, rd, r, v, rts[i]))
  return out
}
