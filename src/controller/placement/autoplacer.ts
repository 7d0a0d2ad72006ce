/**
 * The auto-placer: chooses the storage pools that a resource's new diskful replicas go to, with the
 * semantics of LINSTOR's Autoplacer (filter → score → select), as a pure function over plain data.
 *
 * - **Filter** drops nodes and pools that cannot take a replica (see {@link PlacementConstraint} for the
 *   checks, in the order they are reported).
 * - **Score** rates every remaining pool with LINSTOR's three weighted strategies, each normalised by its
 *   largest non-zero value: MaxFreeSpace (weight 1), MinReservedSpace (0) and MinRscCount (0.00001);
 *   minimising strategies count negatively.
 * - **Select** takes at most one pool per node and finds the combination with the best total score that
 *   honours replicas-on-same, (x-)replicas-on-different and LINSTOR's rules on mixing provider kinds
 *   (`./_select.ts` explains the search). Ties go to the combination that comes first in score order.
 *
 * Capacity rule (LINSTOR's estimate): a pool can take a replica of `sizeKib` when
 * `min(free × freeRatio, total × totalRatio − reserved) ≥ sizeKib`, both ratios defaulting to the pool's
 * oversubscription ratio (20 for thin kinds, 1 otherwise); a thin pool's estimate must also stay at or
 * above `MinThinFreeSpace` (10 % of its capacity by default). `reserved` is subtracted from the capacity
 * term, not from `free`, because the free space a satellite reports already excludes the volumes that
 * exist, while `total − reserved` also accounts for volumes assigned but not yet created.
 *
 * No I/O: the controller gathers the data (props already merged as it sees fit) and acts on the result.
 */

import type { LayerKind } from '../../common/layer-stack.js'
import { drbdSupportsMixing } from './_drbd-version.js'
import { selectBest, type SelectCandidate, type SelectDiffKey } from './_select.js'

/** A storage provider kind, as LINSTOR names it. */
export type ProviderKind =
  | 'DISKLESS'
  | 'LVM'
  | 'LVM_THIN'
  | 'ZFS'
  | 'ZFS_THIN'
  | 'FILE'
  | 'FILE_THIN'
  | 'SPDK'
  | 'REMOTE_SPDK'
  | 'EBS_TARGET'
  | 'EBS_INIT'
  | 'STORAGE_SPACES'
  | 'STORAGE_SPACES_THIN'
  | 'EXOS'
  | 'OPENFLEX_TARGET'

export type { LayerKind }

/** A node as the auto-placer sees it. */
export interface PlacementNode {
  /** Unique among the nodes passed, case-insensitively (as in the model); not checked here. */
  name: string
  /** Node properties (including `Aux/*`), already merged with controller-level ones if wanted. */
  props: Record<string, string>
  /** Layers the satellite reported; `null` = not reported yet, assume all. */
  supportedLayers: LayerKind[] | null
  /** Providers the satellite reported; `null` = not reported yet, assume all. */
  supportedProviders: ProviderKind[] | null
  /** Evicted (or evacuating) nodes never receive new replicas. */
  evicted?: boolean
  /** Number of resources on this node (MinRscCount strategy). */
  rscCount: number
  /**
   * DRBD kernel module version, e.g. `"9.2.8"`; only consulted when {@link PlacementRequest.allowStorPoolMixing}
   * is set (LINSTOR allows mixing LVM/LVM_THIN/ZFS only with DRBD 9.1.18–9.1.x or ≥ 9.2.7).
   */
  drbdVersion?: string | null
}

/** A storage pool as the auto-placer sees it. */
export interface PlacementPool {
  nodeName: string
  poolName: string
  providerKind: ProviderKind
  /**
   * Free space last reported by the satellite; `null` = unknown (never reported): not eligible unless
   * {@link PlacementRequest.allowUnknownCapacity}.
   */
  freeKib: number | null
  /** Total capacity last reported; `null` = unknown, as for `freeKib`. */
  totalKib: number | null
  /**
   * Sum of the sizes already assigned to volumes (and snapshots) in this pool, created or pending. Counts
   * against `totalKib` (see the capacity rule above) and feeds the MinReservedSpace strategy.
   */
  reservedKib: number
  /**
   * LINSTOR's `MaxOversubscriptionRatio` as resolved for this pool (pool → pool definition → controller).
   * Default 20 for thin kinds, 1 otherwise.
   */
  oversubscriptionRatio?: number
  /** `MaxFreeCapacityOversubscriptionRatio`; defaults to {@link oversubscriptionRatio}. */
  freeCapacityOversubscriptionRatio?: number
  /** `MaxTotalCapacityOversubscriptionRatio`; defaults to {@link oversubscriptionRatio}. */
  totalCapacityOversubscriptionRatio?: number
  /** A diskless pool (e.g. `DfltDisklessStorPool`); never used for a diskful replica. */
  disklessPool: boolean
}

/** Strategy weights; minimising strategies take a positive weight and count negatively (as LINSTOR). */
export interface PlacementWeights {
  maxFreeSpace?: number
  minReservedSpace?: number
  minRscCount?: number
}

/** LINSTOR's `Autoplacer/MinThinFreeSpace`: an absolute size or a percentage of the pool's capacity. */
export type MinThinFreeSpace = { kib: number } | { percent: number }

/** What to place. Field names follow LINSTOR's `AutoSelectFilter`. */
export interface PlacementRequest {
  /** Wanted total of diskful replicas, existing ones included. */
  placeCount: number
  /** When > 0, place this many more instead (takes precedence over `placeCount`, as in LINSTOR). */
  additionalPlaceCount?: number
  /**
   * Replicas the resource already has; leave out those being deleted or evicted. Diskful ones count
   * toward the place count, occupy their node and fix replicas-on-same/different values. Diskless ones
   * do not (as in LINSTOR): their node may be chosen for a diskful replica (the caller then toggles the
   * disk) and is never listed in `disklessOn`.
   */
  existing: { nodeName: string; poolName: string | null; diskless: boolean }[]
  /** Gross size needed per replica in KiB (sum over volumes). */
  sizeKib: number
  nodeNameList?: string[]
  storagePool?: string
  storagePoolList?: string[]
  storagePoolDisklessList?: string[]
  doNotPlaceWithRsc?: string[]
  /** JavaScript regular expression (LINSTOR: Java's), matched case-insensitively anywhere in the name. */
  doNotPlaceWithRscRegex?: string
  /**
   * Names of the resources on a node (case-insensitive); consulted only with a do-not-place-with
   * filter, for nodes that pass the cheaper checks. Should not include the resource being placed.
   */
  resourcesOnNode: (nodeName: string) => Iterable<string>
  /**
   * Optional reverse lookup: the nodes a resource is on. When given, do-not-place-with by name asks it
   * once per listed resource instead of reading every node's resources (50 resources on each of 1,000
   * nodes take longer to read than the rest of a placement). The regex still needs `resourcesOnNode`.
   */
  nodesWithRsc?: (rscName: string) => Iterable<string>
  /** `key` or `key=value` (keys verbatim, e.g. `Aux/zone`: the client adds `Aux/`, not this module). */
  replicasOnSame?: string[]
  /** `key` (no two replicas share a value) or `key=value` (that value is not used at all). */
  replicasOnDifferent?: string[]
  /** key → at most this many replicas share a value of key. */
  xReplicasOnDifferentMap?: Record<string, number>
  layerStack?: LayerKind[]
  providerList?: ProviderKind[]
  /** Also put a diskless replica on every other node that has a diskless pool. */
  disklessOnRemaining?: boolean
  /**
   * Blockyard extension, default false: a node with a diskless replica (in `existing`) is not chosen for
   * a diskful one. LINSTOR toggles the disk there; a caller that cannot leaves the node out instead.
   */
  disklessKeepsNode?: boolean
  /** Strategy weights; defaults {@link DFLT_WEIGHTS}. */
  weights?: PlacementWeights
  /** LINSTOR's `AllowMixingStoragePoolDriver` for this resource; default false. */
  allowStorPoolMixing?: boolean
  /** Minimum estimated free space of a thin pool; default {@link DFLT_MIN_THIN_FREE_SPACE}. */
  minThinFreeSpace?: MinThinFreeSpace
  /**
   * Blockyard extension, default false: let pools whose free space or capacity is unknown (`null`) pass
   * the capacity checks, scored as 0 KiB free. LINSTOR never places on them; a controller may want to
   * before its satellites first report (and warn).
   */
  allowUnknownCapacity?: boolean
}

/**
 * The rule a failed placement could not satisfy. The filter checks come first, in the order they run:
 * the first one after which fewer nodes remain than replicas are needed is reported. Then the selection
 * rules, added one at a time in the order listed.
 */
export type PlacementConstraint =
  // Filter, node checks.
  | 'place-count' // fewer nodes without a diskful replica of the resource than replicas wanted
  | 'evicted'
  | 'autoplace-target' // node property AutoplaceTarget=false
  | 'node-name-list'
  | 'replicas-on-same' // also: existing replicas disagree; in selection: no value shared by enough nodes
  | 'replicas-on-different' // also in selection
  | 'x-replicas-on-different' // also in selection
  | 'layer-stack'
  | 'do-not-place-with'
  | 'do-not-place-with-regex' // also: the regex does not compile
  // Filter, pool checks.
  | 'diskful-pool' // the node has no diskful pool at all
  | 'storage-pool'
  | 'provider-list'
  | 'provider-support'
  | 'free-space'
  | 'min-thin-free-space'
  // Selection only.
  | 'provider-mixing'

/** Where one replica goes. */
export interface PlacedReplica {
  nodeName: string
  poolName: string
}

/** The outcome of {@link autoplace}. */
export type PlacementResult =
  | {
      ok: true
      /** New diskful replicas, best score first; empty when the place count is already met. */
      selected: PlacedReplica[]
      /** New diskless replicas (only with `disklessOnRemaining`), in input node order. */
      disklessOn: PlacedReplica[]
    }
  | { ok: false; constraint: PlacementConstraint; message: string }

/** LINSTOR's default strategy weights. */
export const DFLT_WEIGHTS: Readonly<Required<PlacementWeights>> = Object.freeze({
  maxFreeSpace: 1,
  minReservedSpace: 0,
  minRscCount: 0.00001,
})

/** LINSTOR's default `MaxOversubscriptionRatio` for thin pools. */
export const DFLT_THIN_OVERSUBSCRIPTION_RATIO = 20

/** LINSTOR's default `Autoplacer/MinThinFreeSpace`. */
export const DFLT_MIN_THIN_FREE_SPACE: Readonly<MinThinFreeSpace> = Object.freeze({ percent: 10 })

/** The diskless pool preferred for `disklessOnRemaining`, as in LINSTOR. */
export const DFLT_DISKLESS_STOR_POOL = 'DfltDisklessStorPool'

/** Node property that, set to `false`, keeps the auto-placer off a node. */
export const AUTOPLACE_TARGET_PROP = 'AutoplaceTarget'

/** Per kind: thin provisioned (1) and/or without a backing device (2, never a home for a diskful replica). */
const KIND_FLAGS: Readonly<Record<ProviderKind, number>> = {
  DISKLESS: 2,
  LVM: 0,
  LVM_THIN: 1,
  ZFS: 0,
  ZFS_THIN: 1,
  FILE: 0,
  FILE_THIN: 1,
  SPDK: 0,
  REMOTE_SPDK: 0,
  EBS_TARGET: 0,
  EBS_INIT: 2,
  STORAGE_SPACES: 0,
  STORAGE_SPACES_THIN: 1,
  EXOS: 0,
  OPENFLEX_TARGET: 0,
}
const isThin = (k: ProviderKind): boolean => (KIND_FLAGS[k] & 1) !== 0
const hasNoBackingDevice = (k: ProviderKind): boolean => (KIND_FLAGS[k] & 2) !== 0

/**
 * Provider-kind families whose members may be combined in one resource without mixing enabled: the
 * maximal sets of pairwise-compatible kinds under LINSTOR's `DeviceProviderKind.isMixingAllowed`. Any
 * valid selection lies inside one family, so searching each family separately is exact. EXOS and
 * OPENFLEX_TARGET (gone from current LINSTOR) stay alone.
 */
const FAMILIES: readonly (readonly ProviderKind[])[] = [
  ['LVM', 'STORAGE_SPACES', 'STORAGE_SPACES_THIN'],
  ['LVM_THIN', 'STORAGE_SPACES', 'STORAGE_SPACES_THIN'],
  ['ZFS', 'ZFS_THIN', 'STORAGE_SPACES', 'STORAGE_SPACES_THIN'],
  ['FILE', 'FILE_THIN'],
  ['SPDK'],
  ['REMOTE_SPDK'],
  ['EBS_TARGET'],
  ['EXOS'],
  ['OPENFLEX_TARGET'],
]
/** With mixing allowed, these may also be combined, but only on nodes whose DRBD supports it. */
const MIXABLE: ReadonlySet<ProviderKind> = new Set(['LVM', 'LVM_THIN', 'ZFS', 'ZFS_THIN'])
const MIXED_FAMILY: readonly ProviderKind[] = [...MIXABLE, 'STORAGE_SPACES', 'STORAGE_SPACES_THIN']

/** Filter checks in evaluation (and reporting) order. */
const STAGES = [
  'place-count',
  'evicted',
  'autoplace-target',
  'node-name-list',
  'replicas-on-same',
  'replicas-on-different',
  'layer-stack',
  'do-not-place-with',
  'do-not-place-with-regex',
  'diskful-pool',
  'storage-pool',
  'provider-list',
  'provider-support',
  'free-space',
  'min-thin-free-space',
] as const
type Stage = (typeof STAGES)[number]
const ST = Object.fromEntries(STAGES.map((s, i) => [s, i])) as Record<Stage, number>
const PASS = STAGES.length

interface DiffKey {
  key: string
  max: number
  prohibited: Set<string>
  used: Map<string, number>
}

interface NodeInfo {
  node: PlacementNode
  idx: number
  /** Upper-cased name, computed only when needed (most calls never need it). */
  up: string | undefined
  /** Index of the first failed node check, or PASS. */
  stage: number
  pools: PlacementPool[]
  /** Index in {@link Cluster.slots} of the first of `pools`. */
  slot: number
  /** 0 none, 1 diskful replica of the resource (or a diskless one that keeps the node), 2 diskless. */
  replica: 0 | 1 | 2
  /** Chosen for a new diskful replica. */
  chosen: boolean
  /** Hosts a do-not-place-with resource (only when {@link PlacementRequest.nodesWithRsc} is used). */
  avoided: boolean
  /** Replicas-on-same group key and replicas-on-different values, computed on first use. */
  group: string | undefined
  diff: readonly (string | undefined)[] | undefined
}

/** A pool that passed the filter; also the selection's candidate for its node (see `solve`). */
interface Eligible extends SelectCandidate {
  pool: PlacementPool
  info: NodeInfo
  nodeIdx: number
  score: number
  /** Bit f set: provider-kind family f admits this pool. */
  families: number
  /** Upper-cased pool name, computed only when needed (ties in the ranking). */
  up: string | undefined
  /** Set before each selection: its replicas-on-same group and replicas-on-different values. */
  group: string
  diffValues: readonly (string | undefined)[]
}

/** The replicas-on-different values of a node when there are no diff keys. */
const NO_VALUES: readonly (string | undefined)[] = Object.freeze([])

/**
 * The nodes with their pools, as {@link prepare} groups them. The per-call fields of the NodeInfos and
 * Eligibles are reset by every placement, so that a {@link PlacementCluster} can reuse them.
 */
interface Cluster {
  infos: NodeInfo[]
  /** Exact name → node, built when a lookup first needs it (see {@link findNode}). */
  byName: Map<string, NodeInfo> | undefined
  /** One per grouped pool, created when the pool is first eligible. */
  slots: (Eligible | undefined)[]
}

interface Solved {
  score: number
  picks: Eligible[]
}

const upper = (s: string): string => s.toUpperCase()
const upperOf = (info: NodeInfo): string => (info.up ??= upper(info.node.name))
const poolUpperOf = (e: Eligible): string => (e.up ??= upper(e.pool.poolName))

/** Case-insensitive equality without allocating in the common cases (equal, or different lengths). */
function sameName(a: string, b: string): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    if (x > 0x7f || y > 0x7f) return upper(a) === upper(b) // leave Unicode case rules to the engine
    const lx = x | 0x20
    if (lx !== (y | 0x20) || lx < 0x61 || lx > 0x7a) return false
  }
  return true
}

/**
 * A case-insensitive name set that avoids upper-casing in the common cases: a short list is compared
 * name by name without allocating; a long one is hashed, upper-casing only names of a length some member
 * has (LINSTOR names are ASCII, so upper-casing keeps the length).
 */
class NameSet {
  readonly size: number
  private readonly names: readonly string[]
  private readonly exact: Set<string>
  private readonly uppers: Set<string>
  private readonly lengths: Set<number>
  constructor(names: readonly string[]) {
    this.names = names
    this.exact = new Set(names)
    this.uppers = new Set(names.map(upper))
    this.lengths = new Set(names.map((n) => n.length))
    this.size = this.exact.size
  }
  has(name: string): boolean {
    if (this.names.length <= 8) {
      for (const n of this.names) if (sameName(n, name)) return true
      return false
    }
    return this.exact.has(name) || (this.lengths.has(name.length) && this.uppers.has(upper(name)))
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
const quoteList = (xs: readonly string[]): string => xs.map((x) => `'${x}'`).join(', ')
const prop = (props: Record<string, string>, key: string): string | undefined =>
  Object.hasOwn(props, key) ? props[key] : undefined

/**
 * Chooses storage pools for a resource's new diskful replicas (and, on request, nodes for diskless ones).
 *
 * Pure and synchronous: reads its arguments, calls `req.resourcesOnNode` only for nodes that pass the
 * cheaper checks and only with a do-not-place-with filter, and returns a new object.
 *
 * Returns `{ ok: true }` with nothing selected when the place count is already met (LINSTOR's API
 * answers "place count too low" when it is exceeded; that is the caller's call). Returns `{ ok: false }`
 * naming the {@link PlacementConstraint} that could not be met and a message for the user.
 *
 * @throws RangeError on malformed numbers in the request (negative or fractional counts, non-finite
 *   sizes or weights, x-replicas counts below 1): programmer errors, caught before any work.
 */
export function autoplace(
  nodes: Iterable<PlacementNode>,
  pools: Iterable<PlacementPool>,
  req: PlacementRequest,
): PlacementResult {
  validate(req)
  return place(prepare(nodes, pools), req)
}

/**
 * Nodes and pools grouped once for many placements: `cluster.autoplace(req)` answers exactly as
 * `autoplace(nodes, pools, req)`, without grouping the pools again or allocating the per-node and
 * per-pool state of a placement afresh (at 1,000 nodes, most of what a placement allocates: the
 * controller places against nodes that seldom change, and garbage collection pauses set its tail).
 *
 * The nodes and pools are read on every call, so their fields may change in place between calls,
 * except those that group them: a node's `name`, a pool's `nodeName` and `poolName`; adding or removing
 * a node or pool also needs a new cluster. Not reentrant: `req.resourcesOnNode` and `req.nodesWithRsc`
 * must not place on the same cluster.
 */
export class PlacementCluster {
  readonly #cluster: Cluster
  constructor(nodes: Iterable<PlacementNode>, pools: Iterable<PlacementPool>) {
    this.#cluster = prepare(nodes, pools)
  }

  /** {@link autoplace} over this cluster's nodes and pools, with the same contract. */
  autoplace(req: PlacementRequest): PlacementResult {
    validate(req)
    for (const info of this.#cluster.infos) {
      info.stage = PASS
      info.replica = 0
      info.chosen = false
      info.avoided = false
      info.group = undefined
      info.diff = undefined
    }
    return place(this.#cluster, req)
  }
}

/** Groups the pools by node, in input order; a pool of an unknown node or a duplicate pool name is left out. */
function prepare(nodes: Iterable<PlacementNode>, pools: Iterable<PlacementPool>): Cluster {
  // Node names are unique (case-insensitively) in the model. This function trusts that rather than pay
  // for a map of all names on every call: at 1,000 nodes, building one costs a sizeable share of a
  // placement, and the pools normally arrive in node order anyway.
  const c: Cluster = { infos: [], byName: undefined, slots: [] }
  const infos = c.infos
  for (const node of nodes) {
    infos.push({
      node,
      idx: infos.length,
      up: undefined,
      stage: PASS,
      pools: [],
      slot: 0,
      replica: 0,
      chosen: false,
      avoided: false,
      group: undefined,
      diff: undefined,
    })
  }
  // Pools usually arrive grouped by node in node order: follow a cursor before asking the map.
  let cursor = 0
  for (const pool of pools) {
    let info: NodeInfo | undefined = infos[cursor]
    if (info === undefined || info.node.name !== pool.nodeName) {
      info = infos[cursor + 1]
      if (info === undefined || info.node.name !== pool.nodeName) info = findNode(c, pool.nodeName)
      if (info === undefined) continue // a pool of an unknown node cannot be judged
      cursor = info.idx
    }
    let dup = false
    for (const p of info.pools) if ((dup = sameName(p.poolName, pool.poolName))) break
    if (!dup) info.pools.push(pool)
  }
  let slot = 0
  for (const info of infos) {
    info.slot = slot
    slot += info.pools.length
  }
  c.slots.length = slot
  return c
}

/** The node named `name`: exact match first (by a map built on first use), else case-insensitive. */
function findNode(c: Cluster, name: string): NodeInfo | undefined {
  if (c.byName === undefined) {
    c.byName = new Map()
    for (const info of c.infos) if (!c.byName.has(info.node.name)) c.byName.set(info.node.name, info)
  }
  const hit = c.byName.get(name)
  if (hit !== undefined) return hit
  for (const info of c.infos) if (sameName(info.node.name, name)) return info
  return undefined
}

/** {@link autoplace} on prepared nodes and pools whose per-call state is fresh; `req` is validated. */
function place(c: Cluster, req: PlacementRequest): PlacementResult {
  const weights = { ...DFLT_WEIGHTS, ...definedOnly(req.weights) }
  const infos = c.infos

  // A linear scan beats building a map of all names for the usual handful of existing replicas.
  const existingNode = (name: string): NodeInfo | undefined =>
    req.existing.length > 8 ? findNode(c, name) : infos.find((i) => sameName(i.node.name, name))
  const existingDiskful = new Set<string>() // upper-cased names, including nodes we do not know
  const existingNodes: PlacementNode[] = []
  const existingKinds = new Set<ProviderKind>()
  for (const e of req.existing) {
    const info = existingNode(e.nodeName)
    if (e.diskless) {
      if (info !== undefined && info.replica === 0) info.replica = req.disklessKeepsNode === true ? 1 : 2
      continue
    }
    const u = upper(e.nodeName)
    if (existingDiskful.has(u)) continue
    existingDiskful.add(u)
    if (info === undefined) continue
    info.replica = 1
    existingNodes.push(info.node)
    const poolName = e.poolName
    const pool = poolName === null ? undefined : info.pools.find((p) => sameName(p.poolName, poolName))
    if (pool !== undefined && !hasNoBackingDevice(pool.providerKind) && !pool.disklessPool) {
      existingKinds.add(pool.providerKind)
    }
  }
  const existingCount = existingDiskful.size

  const needed =
    req.additionalPlaceCount !== undefined && req.additionalPlaceCount > 0
      ? req.additionalPlaceCount
      : Math.max(0, req.placeCount - existingCount)
  if (needed === 0) return { ok: true, selected: [], disklessOn: disklessOn(infos, req) }
  const wanted = describeWanted(needed, existingCount)

  // replicas-on-same: key → fixed value, or null while the first new replica may still choose it.
  const same = new Map<string, string | null>()
  for (const entry of req.replicasOnSame ?? []) {
    const eq = entry.indexOf('=')
    const key = eq === -1 ? entry : entry.slice(0, eq)
    const fixed = eq === -1 ? null : entry.slice(eq + 1)
    const seen = new Set<string>()
    for (const n of existingNodes) {
      const v = prop(n.props, key)
      if (v !== undefined) seen.add(v)
    }
    if (seen.size > 1) {
      return fail(
        'replicas-on-same',
        `The existing replicas have different values of '${key}' (${quoteList([...seen].sort())}): cannot decide ` +
          'which one the new replicas must share',
      )
    }
    const fromExisting = seen.size === 1 ? ([...seen][0] as string) : null
    // The key may be listed more than once; every fixed value it gets must agree.
    const wants = new Set([fixed, fromExisting, same.get(key) ?? null].filter((v): v is string => v !== null))
    if (wants.size > 1) {
      return fail(
        'replicas-on-same',
        `Replicas-on-same '${key}' cannot be both ${quoteList([...wants].sort())}` +
          (fromExisting !== null ? ` (the existing replicas use '${fromExisting}')` : ''),
      )
    }
    same.set(key, wants.size === 1 ? ([...wants][0] as string) : null)
  }
  const sameKeys = [...same.keys()]
  const sameEntries = [...same]

  // replicas-on-different and x-replicas-on-different: merged per key, as LINSTOR does.
  const diffByKey = new Map<string, DiffKey>()
  const xMap = req.xReplicasOnDifferentMap ?? {}
  const diffKey = (key: string): DiffKey => {
    let dk = diffByKey.get(key)
    if (dk === undefined) {
      dk = { key, max: Object.hasOwn(xMap, key) ? (xMap[key] as number) : 1, prohibited: new Set(), used: new Map() }
      diffByKey.set(key, dk)
    }
    return dk
  }
  for (const entry of req.replicasOnDifferent ?? []) {
    const eq = entry.indexOf('=')
    if (eq === -1) diffKey(entry)
    else diffKey(entry.slice(0, eq)).prohibited.add(entry.slice(eq + 1))
  }
  for (const key of Object.keys(xMap)) diffKey(key)
  const diffKeys = [...diffByKey.values()]
  for (const dk of diffKeys) {
    for (const n of existingNodes) {
      const v = prop(n.props, dk.key)
      if (v !== undefined) dk.used.set(v, (dk.used.get(v) ?? 0) + 1)
    }
  }
  const diffStage: PlacementConstraint = diffKeys.some((d) => d.max > 1) ? 'x-replicas-on-different' : 'replicas-on-different'

  let regex: RegExp | null = null
  if (req.doNotPlaceWithRscRegex !== undefined) {
    try {
      regex = new RegExp(req.doNotPlaceWithRscRegex, 'i')
    } catch (e) {
      return fail('do-not-place-with-regex', `Invalid do-not-place-with regex '${req.doNotPlaceWithRscRegex}': ${(e as Error).message}`)
    }
  }
  const avoid = new NameSet(req.doNotPlaceWithRsc ?? [])
  const nodeFilter = new NameSet(req.nodeNameList ?? [])
  const poolNames = [...(req.storagePool !== undefined ? [req.storagePool] : []), ...(req.storagePoolList ?? [])]
  const poolFilter = new NameSet(poolNames)
  const providerFilter = new Set(req.providerList ?? [])
  // A diskful NVMe replica is a target: the layers above NVMe run on the initiators only (as in LINSTOR).
  let layers = req.layerStack ?? []
  const nvme = layers.indexOf('NVME')
  if (nvme > 0) layers = layers.slice(nvme)
  const minThin = req.minThinFreeSpace ?? DFLT_MIN_THIN_FREE_SPACE
  const allowUnknown = req.allowUnknownCapacity === true

  const byReverseLookup = avoid.size > 0 && req.nodesWithRsc !== undefined
  if (byReverseLookup) {
    for (const rsc of req.doNotPlaceWithRsc ?? []) {
      for (const nodeName of (req.nodesWithRsc as (rscName: string) => Iterable<string>)(rsc)) {
        const info = findNode(c, nodeName)
        if (info !== undefined) info.avoided = true
      }
    }
  }

  // ---- 1. Filter. Each node gets the index of the first check it fails; then each of its pools.
  const drops = new Int32Array(PASS + 1)
  const eligible: Eligible[] = []
  const kindsPresent = new Set<ProviderKind>()
  for (let idx = 0; idx < infos.length; idx++) {
    const info = infos[idx] as NodeInfo
    info.stage = nodeStage(info)
    let survived = info.stage
    if (info.stage === PASS) {
      survived = info.pools.length === 0 ? ST['diskful-pool'] : 0
      for (let j = 0; j < info.pools.length; j++) {
        const pool = info.pools[j] as PlacementPool
        const s = poolStage(info.node, pool)
        if (s === PASS) {
          let e = c.slots[info.slot + j]
          if (e === undefined) c.slots[info.slot + j] = e = { pool, info, nodeIdx: idx, score: 0, families: 0, up: undefined, group: '', diffValues: NO_VALUES }
          else e.families = e.score = 0
          eligible.push(e)
          kindsPresent.add(pool.providerKind)
        }
        if (s > survived) survived = s
      }
    }
    drops[survived]!++
  }

  function nodeStage(info: NodeInfo): number {
    const n = info.node
    if (info.replica === 1) return ST['place-count']
    if (n.evicted === true) return ST.evicted
    if (prop(n.props, AUTOPLACE_TARGET_PROP)?.toLowerCase() === 'false') return ST['autoplace-target']
    if (nodeFilter.size > 0 && !nodeFilter.has(n.name)) return ST['node-name-list']
    // Indexed loops in what runs per node or pool: a for-of allocates an iterator, and a result per step,
    // until the function is optimised, which a function this size seldom is in a placement or two.
    for (let i = 0; i < sameEntries.length; i++) {
      const [key, fixed] = sameEntries[i] as [string, string | null]
      const v = prop(n.props, key)
      if (v === undefined || (fixed !== null && v !== fixed)) return ST['replicas-on-same']
    }
    for (let i = 0; i < diffKeys.length; i++) {
      const dk = diffKeys[i] as DiffKey
      const v = prop(n.props, dk.key)
      if (v !== undefined && (dk.prohibited.has(v) || (dk.used.get(v) ?? 0) >= dk.max)) return ST['replicas-on-different']
    }
    if (n.supportedLayers !== null) for (let i = 0; i < layers.length; i++) if (!n.supportedLayers.includes(layers[i] as LayerKind)) return ST['layer-stack']
    if (info.avoided) return ST['do-not-place-with']
    const scanNames = avoid.size > 0 && !byReverseLookup
    if (scanNames || regex !== null) {
      let hitRegex = false
      for (const rsc of req.resourcesOnNode(n.name)) {
        if (scanNames && avoid.has(rsc)) return ST['do-not-place-with']
        if (!hitRegex && regex !== null && regex.test(rsc)) hitRegex = true
      }
      if (hitRegex) return ST['do-not-place-with-regex']
    }
    return PASS
  }

  function poolStage(node: PlacementNode, pool: PlacementPool): number {
    const kind = pool.providerKind
    if (pool.disklessPool || hasNoBackingDevice(kind)) return ST['diskful-pool']
    if (poolFilter.size > 0 && !poolFilter.has(pool.poolName)) return ST['storage-pool']
    if (providerFilter.size > 0 && !providerFilter.has(kind)) return ST['provider-list']
    if (node.supportedProviders !== null && !node.supportedProviders.includes(kind)) return ST['provider-support']
    const thin = isThin(kind)
    const estimate = freeEstimateKib(pool, thin)
    if (estimate === null) return allowUnknown ? PASS : ST['free-space']
    if (estimate < req.sizeKib) return ST['free-space']
    if (thin) {
      const min = 'kib' in minThin ? minThin.kib : Math.ceil(((pool.totalKib as number) * minThin.percent) / 100)
      if (estimate < min) return ST['min-thin-free-space']
    }
    return PASS
  }

  let remaining = infos.length
  for (let s = 0; s < PASS; s++) {
    remaining -= drops[s] as number
    if (remaining < needed) {
      const stage = STAGES[s] as Stage
      const constraint: PlacementConstraint = stage === 'replicas-on-different' ? diffStage : stage
      return fail(constraint, `Not enough nodes: ${wanted}, ${remaining} ${describeStage(stage, remaining)}`)
    }
  }

  // ---- 2. Score, normalised per strategy by the largest non-zero value (StrategyHandler).
  let maxFree = 0
  let maxReserved = 0
  let maxRscCount = 0
  for (let i = 0; i < eligible.length; i++) {
    const e = eligible[i] as Eligible
    maxFree = Math.max(maxFree, e.pool.freeKib ?? 0)
    maxReserved = Math.max(maxReserved, e.pool.reservedKib)
    maxRscCount = Math.max(maxRscCount, e.info.node.rscCount)
  }
  const norm = (v: number, max: number): number => (max === 0 ? v : v / max)
  for (let i = 0; i < eligible.length; i++) {
    const e = eligible[i] as Eligible
    e.score =
      weights.maxFreeSpace * norm(e.pool.freeKib ?? 0, maxFree) -
      weights.minReservedSpace * norm(e.pool.reservedKib, maxReserved) -
      weights.minRscCount * norm(e.info.node.rscCount, maxRscCount)
  }

  // ---- 3. Select, once per provider-kind family the existing replicas allow.
  const mixingCapable = new Map<PlacementNode, boolean>()
  const capable = (n: PlacementNode): boolean => {
    let c = mixingCapable.get(n)
    if (c === undefined) mixingCapable.set(n, (c = drbdSupportsMixing(n.drbdVersion)))
    return c
  }
  interface Family {
    kinds: ReadonlySet<ProviderKind>
    /** Only for the mixed family: whether a pool of one of its kinds may join (DRBD version of its node). */
    admits?: (e: Eligible) => boolean
  }
  const families: Family[] = FAMILIES.map((kinds) => ({ kinds: new Set(kinds) }))
  // LINSTOR disables mixing for the whole resource when an existing replica's DRBD cannot do it.
  if (req.allowStorPoolMixing === true && existingNodes.every(capable)) {
    const set = new Set(MIXED_FAMILY)
    families.push({
      kinds: set,
      admits: (e) => set.has(e.pool.providerKind) && (!MIXABLE.has(e.pool.providerKind) || capable(e.info.node)),
    })
  }
  const usable = families.filter((f) => [...existingKinds].every((k) => f.kinds.has(k)))
  const candidateFamilies = usable.filter((f) => [...f.kinds].some((k) => kindsPresent.has(k)))
  // Family membership depends on the kind alone, except in the mixed family (DRBD version of the node).
  const kindMask = new Map<ProviderKind, number>()
  const perPool: [number, (e: Eligible) => boolean][] = []
  for (let f = 0; f < candidateFamilies.length; f++) {
    const fam = candidateFamilies[f] as Family
    if (fam.admits !== undefined) perPool.push([1 << f, fam.admits])
    else for (const k of fam.kinds) kindMask.set(k, (kindMask.get(k) ?? 0) | (1 << f))
  }
  for (let i = 0; i < eligible.length; i++) {
    const e = eligible[i] as Eligible
    e.families = kindMask.get(e.pool.providerKind) ?? 0
    for (let p = 0; p < perPool.length; p++) {
      const [bit, admits] = perPool[p] as [number, (e: Eligible) => boolean]
      if (admits(e)) e.families |= bit
    }
  }

  const seen = new Uint8Array(infos.length)
  /** The given (sorted) pools of family f, reduced to the best pool per node. */
  const familyCandidates = (f: number, sorted: readonly Eligible[]): Eligible[] => {
    seen.fill(0)
    const out: Eligible[] = []
    const bit = 1 << f
    for (let i = 0; i < sorted.length; i++) {
      const e = sorted[i] as Eligible
      if ((e.families & bit) === 0 || seen[e.nodeIdx] === 1) continue
      seen[e.nodeIdx] = 1
      out.push(e)
    }
    return out
  }
  // One key (the usual case) needs no encoding; several are encoded unambiguously.
  const groupOf = (info: NodeInfo): string =>
    (info.group ??=
      sameKeys.length === 0
        ? ''
        : sameKeys.length === 1
          ? (prop(info.node.props, sameKeys[0] as string) ?? '')
          : JSON.stringify(sameKeys.map((k) => prop(info.node.props, k) ?? null)))
  const diffOf = (info: NodeInfo): readonly (string | undefined)[] =>
    (info.diff ??= diffKeys.length === 0 ? NO_VALUES : diffKeys.map((dk) => prop(info.node.props, dk.key)))
  /**
   * Best selection among `sorted` (a score-ordered top segment of the eligible pools, or all of them),
   * with replicas-on-same if `useSame` and the first `keyCount` diff keys. With `firstOnly`, any valid
   * selection (a feasibility test; then the pools need not be sorted).
   */
  const solve = (sorted: readonly Eligible[], useSame: boolean, keyCount: number, firstOnly = false): Solved | null => {
    const keys = keyCount === diffKeys.length ? diffKeys : diffKeys.slice(0, keyCount)
    // Families whose best `needed` nodes cannot beat the best found are skipped; the likeliest go first.
    const runs: { cands: Eligible[]; bound: number }[] = []
    for (let f = 0; f < candidateFamilies.length; f++) {
      const cands = familyCandidates(f, sorted)
      if (cands.length < needed) continue
      let bound = 0
      for (let i = 0; i < needed; i++) bound += (cands[i] as Eligible).score
      runs.push({ cands, bound })
    }
    runs.sort((a, b) => b.bound - a.bound)
    let best: Solved | null = null
    for (const { cands, bound } of runs) {
      if (best !== null && !(bound > best.score)) break
      // The pools are the candidates: no object per candidate and search. diffValues may be longer than
      // `keys`: selectBest reads only the first keys.length entries.
      for (let i = 0; i < cands.length; i++) {
        const e = cands[i] as Eligible
        e.group = useSame ? groupOf(e.info) : ''
        e.diffValues = diffOf(e.info)
      }
      const r = selectBest(cands, keys, needed, best === null ? -Infinity : best.score, firstOnly)
      if (r !== null) best = { score: r.score, picks: r.picks.map((i) => cands[i] as Eligible) }
      if (firstOnly && best !== null) break
    }
    return best
  }

  // Sorting every eligible pool is the largest cost of a placement, and the answer nearly always comes
  // from the best few dozen. So search a top segment first and widen it only when a pool outside could
  // still be part of a better selection: any selection using one scores at most the best `needed − 1`
  // scores plus the best score outside (added in that order, so floating point cannot undercut it).
  // Without any solution in the first segment the request is likely unsatisfiable: a feasibility search
  // over the unsorted pools tells, so that only a satisfiable request pays for sorting them all.
  let solved: Solved | null = null
  let all: Eligible[] | null = null
  let seg = topSegment(eligible, Math.max(64, needed * 16))
  for (;;) {
    solved = solve(seg.sorted, true, diffKeys.length)
    if (seg.outsideMax === -Infinity) break
    if (solved !== null) {
      let bound = 0
      for (let i = 0; i < needed - 1; i++) bound += (seg.sorted[i] as Eligible).score
      bound += seg.outsideMax
      if (bound < solved.score) break
    } else if (all === null && solve(eligible, true, diffKeys.length, true) === null) {
      return explainSelectionFailure(eligible)
    }
    all ??= sortAll(eligible)
    seg = solved === null ? { sorted: all, outsideMax: -Infinity } : prefix(all, seg.sorted.length * 8)
  }
  if (solved === null) return explainSelectionFailure(seg.sorted)

  for (const e of solved.picks) e.info.chosen = true
  return {
    ok: true,
    selected: solved.picks.map((e) => ({ nodeName: e.info.node.name, poolName: e.pool.poolName })),
    disklessOn: disklessOn(infos, req),
  }

  /**
   * Finds which selection rule makes the request unsatisfiable by adding them back one at a time:
   * provider families and replicas-on-same only need counting; the diff keys need the (feasibility)
   * search. `pools` may be unsorted.
   */
  function explainSelectionFailure(pools: readonly Eligible[]): PlacementResult {
    const eligibleInfos = [...new Set(eligible.map((e) => e.nodeIdx))].map((i) => infos[i] as NodeInfo)
    const perFamily = candidateFamilies.map((_, f) => familyCandidates(f, pools))
    const most = Math.max(0, ...perFamily.map((c) => c.length))
    if (most < needed) {
      const kinds = [...kindsPresent].sort().join(', ')
      const ex = existingKinds.size > 0 ? `; the existing replicas use ${[...existingKinds].sort().join(', ')}` : ''
      return fail(
        'provider-mixing',
        `Not enough nodes: ${wanted}, ${eligibleInfos.length} ${eligibleInfos.length === 1 ? 'node is' : 'nodes are'} eligible ` +
          `(${kinds}) but at most ${most} of them have storage pools of provider kinds that may be combined in ` +
          `one resource${ex}` + (req.allowStorPoolMixing === true ? '' : ' (storage pool mixing is not allowed)'),
      )
    }
    if (sameKeys.length > 0) {
      let largest = 0
      let largestGroup = ''
      for (const cands of perFamily) {
        const sizes = new Map<string, number>()
        for (const e of cands) {
          const g = groupOf(e.info)
          const c = (sizes.get(g) ?? 0) + 1
          sizes.set(g, c)
          if (c > largest) [largest, largestGroup] = [c, g]
        }
      }
      if (largest < needed) {
        const groupValues = sameKeys.length === 1 ? [largestGroup] : (JSON.parse(largestGroup) as string[])
        const values = groupValues.map((v, i) => `${sameKeys[i]}=${v}`).join(', ')
        return fail(
          'replicas-on-same',
          `Not enough nodes: ${wanted}, but no value of ${quoteList(sameKeys)} is shared by that many eligible nodes ` +
            `(at most ${plural(largest, 'node')}, with ${values})`,
        )
      }
    }
    // Families and groups suffice, so the full search failed on a diff key: find the first that breaks it.
    if (diffKeys.length === 0) throw new Error('autoplace: selection failed although no selection rule forbids it')
    for (let k = 1; k < diffKeys.length; k++) {
      if (solve(pools, true, k, true) === null) return blameDiffKey(k - 1, eligibleInfos)
    }
    return blameDiffKey(diffKeys.length - 1, eligibleInfos)
  }

  function blameDiffKey(k: number, eligibleInfos: readonly NodeInfo[]): PlacementResult {
    const dk = diffKeys[k] as DiffKey
    const values = new Set<string>()
    let without = 0
    for (const info of eligibleInfos) {
      const v = prop(info.node.props, dk.key)
      if (v === undefined) without++
      else values.add(v)
    }
    const extra = without > 0 ? ` and ${plural(without, 'node')} without it` : ''
    const others = k > 0 || sameKeys.length > 0 ? ' together with the other replicas-on-same/different rules' : ''
    if (dk.max === 1) {
      return fail(
        'replicas-on-different',
        `Not enough nodes: ${wanted}, but the eligible nodes have only ${plural(values.size, 'distinct value')} ` +
          `of '${dk.key}' not used by other replicas${extra}${others}`,
      )
    }
    return fail(
      'x-replicas-on-different',
      `Not enough nodes: ${wanted}, but at most ${dk.max} replicas may share a value of '${dk.key}' and at most ` +
        `one value may be shared by fewer; the eligible nodes have ${plural(values.size, 'usable value')}${extra}${others}`,
    )
  }

  function describeStage(stage: Stage, count: number): string {
    const have = count === 1 ? 'node has' : 'nodes have'
    const are = count === 1 ? 'node is' : 'nodes are'
    const matching =
      poolNames.length === 0 ? '' : poolNames.length === 1 ? ` matching '${poolNames[0]}'` : ` matching one of ${quoteList(poolNames)}`
    switch (stage) {
      case 'place-count':
        return existingCount === 0 ? `${are} known` : `${are} without a replica of this resource`
      case 'evicted':
        return `${are} not evicted`
      case 'autoplace-target':
        return `${are} open to auto-placement (not ${AUTOPLACE_TARGET_PROP}=false)`
      case 'node-name-list':
        return `${are} in the node name list (${quoteList(req.nodeNameList ?? [])})`
      case 'replicas-on-same':
        return `${have} the replicas-on-same ${[...same].map(([k, v]) => (v === null ? `'${k}'` : `'${k}=${v}'`)).join(', ')}`
      case 'replicas-on-different':
        return `${have} values of ${quoteList(diffKeys.map((d) => d.key))} that other replicas leave free`
      case 'layer-stack':
        return `${count === 1 ? 'node supports' : 'nodes support'} the layers ${layers.join(', ')}`
      case 'do-not-place-with':
        return `${have} none of the resources ${quoteList(req.doNotPlaceWithRsc ?? [])}`
      case 'do-not-place-with-regex':
        return `${have} no resource matching /${req.doNotPlaceWithRscRegex}/i`
      case 'diskful-pool':
        return `${have} a diskful storage pool`
      case 'storage-pool':
        return `${have} a storage pool${matching}`
      case 'provider-list':
        return `${have} a storage pool${matching} of provider kind ${(req.providerList ?? []).join(', ')}`
      case 'provider-support':
        return `${have} a storage pool${matching} whose provider kind the node supports`
      case 'free-space':
        return `${have} a storage pool${matching} with ${req.sizeKib} KiB free`
      case 'min-thin-free-space':
        return `${have} a storage pool${matching} with ${req.sizeKib} KiB free that stays above its minimum thin free space`
    }
  }
}

/**
 * The best `want` eligible pools (more on ties at the cut), sorted best first with LINSTOR's tie order,
 * and the best score left outside (−∞ when nothing is).
 *
 * The cut comes from a quickselect over a Float64Array, linear and allocation-light; only the segment
 * is sorted with a comparator.
 */
function topSegment(eligible: readonly Eligible[], want: number): { sorted: Eligible[]; outsideMax: number } {
  if (want >= eligible.length) return { sorted: sortAll(eligible), outsideMax: -Infinity }
  const scores = new Float64Array(eligible.length)
  for (let i = 0; i < eligible.length; i++) scores[i] = (eligible[i] as Eligible).score
  const cut = kthLargest(scores, want - 1)
  const seg: Eligible[] = []
  let outsideMax = -Infinity
  for (let i = 0; i < eligible.length; i++) {
    const e = eligible[i] as Eligible
    if (e.score >= cut) seg.push(e)
    else if (e.score > outsideMax) outsideMax = e.score
  }
  seg.sort(byRank)
  return { sorted: seg, outsideMax }
}

/** The first `want` of the fully sorted pools (more on ties at the cut) and the best score after them. */
function prefix(all: readonly Eligible[], want: number): { sorted: Eligible[]; outsideMax: number } {
  if (want >= all.length) return { sorted: all.slice(), outsideMax: -Infinity }
  let end = want
  const last = (all[want - 1] as Eligible).score
  while (end < all.length && (all[end] as Eligible).score === last) end++
  return { sorted: all.slice(0, end), outsideMax: end < all.length ? (all[end] as Eligible).score : -Infinity }
}

/** Best score first; ties by node name, then pool name (LINSTOR's StorPool order). */
function byRank(a: Eligible, b: Eligible): number {
  if (a.score !== b.score) return b.score - a.score
  const na = upperOf(a.info)
  const nb = upperOf(b.info)
  if (na !== nb) return na < nb ? -1 : 1
  const pa = poolUpperOf(a)
  const pb = poolUpperOf(b)
  return pa < pb ? -1 : pa > pb ? 1 : 0
}

/**
 * All of `eligible` in {@link byRank} order. A comparator sort of a few thousand objects costs more than
 * the rest of a placement, so the scores are sorted natively in a Float64Array, each pool is dropped into
 * its score's run by binary search, and only runs of equal scores go through the comparator.
 */
function sortAll(eligible: readonly Eligible[]): Eligible[] {
  const m = eligible.length
  const keys = new Float64Array(m)
  for (let i = 0; i < m; i++) keys[i] = -(eligible[i] as Eligible).score
  keys.sort()
  const fill = new Int32Array(m)
  const out = new Array<Eligible>(m)
  for (let i = 0; i < m; i++) {
    const e = eligible[i] as Eligible
    const key = -e.score
    let lo = 0
    let hi = m
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((keys[mid] as number) < key) lo = mid + 1
      else hi = mid
    }
    out[lo + fill[lo]!++] = e
  }
  for (let i = 0; i < m; ) {
    let j = i + 1
    while (j < m && keys[j] === keys[i]) j++
    if (j - i > 1) {
      const run = out.slice(i, j).sort(byRank)
      for (let r = 0; r < run.length; r++) out[i + r] = run[r] as Eligible
    }
    i = j
  }
  return out
}

/** The k-th largest value (0 = the largest) of `a`, which is reordered (Hoare quickselect). */
function kthLargest(a: Float64Array, k: number): number {
  let lo = 0
  let hi = a.length - 1
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1] as number
    let i = lo
    let j = hi
    while (i <= j) {
      while ((a[i] as number) > pivot) i++
      while ((a[j] as number) < pivot) j--
      if (i <= j) {
        const t = a[i] as number
        a[i] = a[j] as number
        a[j] = t
        i++
        j--
      }
    }
    if (k <= j) hi = j
    else if (k >= i) lo = i
    else break
  }
  return a[k] as number
}

/**
 * LINSTOR's free-capacity estimate, used for the capacity check:
 *
 *   min(free × freeRatio, total × totalRatio − reserved)
 *
 * with both ratios defaulting to the pool's oversubscription ratio (20 for thin kinds, 1 otherwise).
 * `reserved` is subtracted from the capacity term, not from `free`: `free` comes from the satellite and
 * already reflects volumes that exist, while `total − reserved` also catches volumes assigned but not yet
 * created. On a thick pool this is min(free, total − reserved); a thin pool may promise up to ratio ×
 * its size in total, and ratio × its real free space right now. Unknown free or total → `null`.
 */
function freeEstimateKib(pool: PlacementPool, thin: boolean): number | null {
  if (pool.freeKib === null || pool.totalKib === null) return null
  const ratio = pool.oversubscriptionRatio ?? (thin ? DFLT_THIN_OVERSUBSCRIPTION_RATIO : 1)
  const freeRatio = pool.freeCapacityOversubscriptionRatio ?? ratio
  const totalRatio = pool.totalCapacityOversubscriptionRatio ?? ratio
  return Math.min(Math.floor(pool.freeKib * freeRatio), Math.floor(pool.totalKib * totalRatio) - pool.reservedKib)
}

/** Every non-evicted node without a replica and not chosen, with a diskless pool, gets a diskless one. */
function disklessOn(infos: readonly NodeInfo[], req: PlacementRequest): PlacedReplica[] {
  if (req.disklessOnRemaining !== true) return []
  const allowed = new NameSet(req.storagePoolDisklessList ?? [])
  const out: PlacedReplica[] = []
  for (const info of infos) {
    if (info.node.evicted === true || info.chosen || info.replica !== 0) continue
    let pick: string | null = null
    for (const pool of info.pools) {
      if (!(pool.disklessPool || pool.providerKind === 'DISKLESS')) continue
      if (allowed.size > 0 && !allowed.has(pool.poolName)) continue
      // Prefer LINSTOR's default diskless pool, then the first name in order, so the answer is stable.
      if (sameName(pool.poolName, DFLT_DISKLESS_STOR_POOL)) {
        pick = pool.poolName
        break
      }
      if (pick === null || upper(pool.poolName) < upper(pick)) pick = pool.poolName
    }
    if (pick !== null) out.push({ nodeName: info.node.name, poolName: pick })
  }
  return out
}

function describeWanted(needed: number, existing: number): string {
  return existing === 0
    ? `${plural(needed, 'replica')} requested`
    : `${needed} more ${needed === 1 ? 'replica' : 'replicas'} requested (${existing} already placed)`
}

function fail(constraint: PlacementConstraint, message: string): PlacementResult {
  return { ok: false, constraint, message }
}

function definedOnly(w: PlacementWeights | undefined): PlacementWeights {
  const out: PlacementWeights = {}
  if (w?.maxFreeSpace !== undefined) out.maxFreeSpace = w.maxFreeSpace
  if (w?.minReservedSpace !== undefined) out.minReservedSpace = w.minReservedSpace
  if (w?.minRscCount !== undefined) out.minRscCount = w.minRscCount
  return out
}

function validate(req: PlacementRequest): void {
  const count = (name: string, v: number | undefined, min: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) {
      throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`)
    }
  }
  if (typeof req.placeCount !== 'number') throw new RangeError(`placeCount must be an integer >= 0, got ${req.placeCount}`)
  count('placeCount', req.placeCount, 0)
  count('additionalPlaceCount', req.additionalPlaceCount, 0)
  if (!Number.isFinite(req.sizeKib) || req.sizeKib < 0) throw new RangeError(`sizeKib must be a finite number >= 0, got ${req.sizeKib}`)
  for (const [key, x] of Object.entries(req.xReplicasOnDifferentMap ?? {})) count(`xReplicasOnDifferentMap['${key}']`, x, 1)
  for (const [name, w] of Object.entries(req.weights ?? {})) {
    if (w !== undefined && !Number.isFinite(w)) throw new RangeError(`weights.${name} must be finite, got ${w}`)
  }
  const mts = req.minThinFreeSpace
  if (mts !== undefined) {
    const v = 'kib' in mts ? mts.kib : mts.percent
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`minThinFreeSpace must be finite and >= 0, got ${v}`)
  }
  if (typeof req.resourcesOnNode !== 'function') throw new TypeError('resourcesOnNode must be a function')
  if (req.nodesWithRsc !== undefined && typeof req.nodesWithRsc !== 'function') throw new TypeError('nodesWithRsc must be a function')
}
