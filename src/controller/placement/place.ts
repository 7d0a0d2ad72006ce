/**
 * Auto-placement against the model: gathers nodes and pools (with what satellites reported and what is
 * already allocated in each pool), merges the select filters (request over resource group), runs the
 * pure autoplacer and turns a failure into LINSTOR's FAIL_NOT_ENOUGH_NODES with the constraint named.
 */
import { ApiError } from '../../common/errors.js'
import type { LayerKind } from '../../common/layer-stack.js'
import { nameKey } from '../../common/names.js'
import { WEIGHT_KEYS } from '../model/ctrl-props.js'
import { DFLT_DISKLESS_STOR_POOL, type Model } from '../model/model.js'
import { resolveProp } from '../model/props.js'
import type { AutoSelectFilter, ProviderKind, RscDfn } from '../model/types.js'
import { allocatedKib, isDeleting, isDiskless, poolUsageKib } from '../api/_resources.js'
import { isTieBreaker } from './drbd-auto.js'
import { PlacementCluster, type PlacedReplica, type PlacementNode, type PlacementPool, type PlacementRequest } from './autoplacer.js'


export interface Placement {
  selected: PlacedReplica[]
  /** With `diskless_on_remaining`: the nodes for diskless replicas, a tiebreaker's among them (to be taken over). */
  disklessOn: PlacedReplica[]
  /** Pools chosen whose capacity no satellite has reported yet (worth a warning). */
  unknownCapacity: PlacedReplica[]
}

/**
 * The one select-filter merge, LINSTOR's (AutoSelectFilterPojo.merge for a placement: the request over the
 * resource group; AutoSelectorConfig.applyChanges for a group modify: the change over the stored filter):
 * every field `over` sets replaces `base`'s, the others stay. An empty list, map or regex means "no
 * constraint" and removes the field (LINSTOR's client sends `[]` for `--replicas-on-same=` or `-s ''`).
 * `place_count` and `additional_place_count` are independent fields, as in LINSTOR: a positive additional
 * count takes precedence at placement, and the group's place count stays the target otherwise.
 */
export function mergeFilters(base: AutoSelectFilter, over: AutoSelectFilter): AutoSelectFilter {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over) as [string, unknown][]) {
    if (v === undefined || v === null) continue
    const empty = v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)
    if (empty) delete out[k]
    else out[k] = v
  }
  return out as AutoSelectFilter
}

const OVERSUBSCRIPTION = 'MaxOversubscriptionRatio'

/** LINSTOR's default place count when neither request nor group says. */
export const DEFAULT_PLACE_COUNT = 2

/**
 * The placer's view of the nodes and pools, kept per model: rebuilding it on every placement (~4,000
 * objects at 1,000 nodes, bench/controller-scale.ts) made placements allocate enough for GC pauses to
 * dominate their tail. A node's entry (the node and its pools) is refreshed when its `nodeStamp` changes,
 * every entry when what all nodes share changes (the oversubscription ratio inherits from the pool
 * definitions and the controller). A refresh that keeps the node's pools (a satellite's report, a
 * property) updates the objects in place and keeps the PlacementCluster; adding, removing or renaming a
 * node or pool builds a new one. The resource count of each node and the space reserved in each pool
 * change with every placement: they are refreshed in place on each call, from the model's indexes.
 */
interface Inputs {
  /** `Model.lastChange` values the inputs were built at. */
  shared: number
  node: number
  /** nodeKey → the node (absent for a key that only has pools) and its pools. */
  entries: Map<string, NodeEntry>
  nodes: PlacementNode[]
  /** The model's key of each of `nodes`. */
  nodeKeys: string[]
  /** The keys of the model's pool maps, in their order. */
  poolNodeKeys: string[]
  pools: PlacementPool[]
  /** The PoolUsage key of each of `pools`. */
  poolKeys: string[]
  /** `nodes` and `pools` grouped for the placer. */
  cluster: PlacementCluster
}
interface NodeEntry {
  stamp: number
  node: PlacementNode | undefined
  pools: { pool: PlacementPool; usageKey: string }[]
}
const inputsByModel = new WeakMap<Model, Inputs>()

/** Nodes in the model's order, pools in the order of its pool maps: the placer breaks ties by input order. */
function placementInputs(m: Model): Inputs {
  const changed = m.lastChange
  let c = inputsByModel.get(m)
  if (c === undefined || c.shared !== changed.shared) {
    c = { shared: changed.shared, node: -1, entries: new Map(), nodes: [], nodeKeys: [], poolNodeKeys: [], pools: [], poolKeys: [], cluster: new PlacementCluster([], []) }
    inputsByModel.set(m, c)
  }
  if (c.node !== changed.node) {
    const old = c.entries
    const entries = new Map<string, NodeEntry>()
    const dfnRatio = new Map<string, string | undefined>()
    let reshaped = false
    const entryOf = (nk: string): NodeEntry => {
      let e = entries.get(nk)
      if (e !== undefined) return e
      const stamp = m.nodeStamp(nk)
      e = old.get(nk)
      if (e === undefined || e.stamp !== stamp) {
        const fresh = nodeEntry(m, nk, stamp, dfnRatio)
        if (e === undefined || !refreshInPlace(e, fresh)) {
          e = fresh
          reshaped = true
        }
      }
      entries.set(nk, e)
      return e
    }
    const nodeKeys: string[] = []
    for (const nk of m.nodes.keys()) {
      entryOf(nk)
      nodeKeys.push(nk)
    }
    const poolNodeKeys: string[] = []
    for (const nk of m.storPools.keys()) {
      entryOf(nk)
      poolNodeKeys.push(nk)
    }
    c.node = changed.node
    c.entries = entries
    if (reshaped || !sameKeys(nodeKeys, c.nodeKeys) || !sameKeys(poolNodeKeys, c.poolNodeKeys)) {
      const nodes = nodeKeys.map((nk) => entries.get(nk)!.node!)
      const pools: PlacementPool[] = []
      const poolKeys: string[] = []
      for (const nk of poolNodeKeys) {
        for (const p of entries.get(nk)!.pools) {
          pools.push(p.pool)
          poolKeys.push(p.usageKey)
        }
      }
      c.nodes = nodes
      c.nodeKeys = nodeKeys
      c.poolNodeKeys = poolNodeKeys
      c.pools = pools
      c.poolKeys = poolKeys
      c.cluster = new PlacementCluster(nodes, pools)
    }
  }
  for (let i = 0; i < c.nodes.length; i++) c.nodes[i]!.rscCount = m.resourcesByNode.get(c.nodeKeys[i]!)?.size ?? 0
  const usage = poolUsageKib(m)
  for (let i = 0; i < c.pools.length; i++) c.pools[i]!.reservedKib = usage.get(c.poolKeys[i]!) ?? 0
  return c
}

const sameKeys = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((k, i) => k === b[i])

/**
 * Copies `fresh` into the objects of `old` when both hold the same node and pools by name, which is
 * what groups them in a PlacementCluster (which may then be kept); false when they differ.
 */
function refreshInPlace(old: NodeEntry, fresh: NodeEntry): boolean {
  if (old.node?.name !== fresh.node?.name || old.pools.length !== fresh.pools.length) return false
  for (let i = 0; i < old.pools.length; i++) {
    const [o, f] = [old.pools[i]!.pool, fresh.pools[i]!.pool]
    if (o.poolName !== f.poolName || o.nodeName !== f.nodeName) return false
  }
  if (old.node !== undefined) Object.assign(old.node, fresh.node)
  for (let i = 0; i < old.pools.length; i++) {
    const o = old.pools[i]!.pool
    delete o.oversubscriptionRatio
    Object.assign(o, fresh.pools[i]!.pool)
  }
  old.stamp = fresh.stamp
  return true
}

/** A node and its pools as the placer sees them; `dfnRatio` caches the ratio each pool definition passes on. */
function nodeEntry(m: Model, nk: string, stamp: number, dfnRatio: Map<string, string | undefined>): NodeEntry {
  const n = m.nodes.get(nk)
  let node: PlacementNode | undefined
  if (n !== undefined) {
    const rt = m.runtime.nodes.get(nk)
    node = {
      name: n.name,
      props: n.props,
      supportedLayers: rt?.supportedLayers ?? null,
      supportedProviders: (rt?.supportedProviders ?? null) as PlacementNode['supportedProviders'],
      drbdVersion: rt?.drbdVersion ?? null,
      evicted: n.flags.includes('EVICTED') || n.flags.includes('EVACUATE') || n.flags.includes('DELETE'),
      rscCount: 0,
    }
  }
  const pools: NodeEntry['pools'] = []
  for (const [pk, sp] of m.storPools.get(nk) ?? []) {
    const key = nk + '\0' + pk
    const rt = m.runtime.storPools.get(key)
    let inherited = dfnRatio.get(pk)
    if (inherited === undefined && !dfnRatio.has(pk)) {
      inherited = resolveProp(OVERSUBSCRIPTION, [m.storPoolDfns.get(pk)?.props, m.ctrlProps])
      dfnRatio.set(pk, inherited)
    }
    const ratio = Number(resolveProp(OVERSUBSCRIPTION, [sp.props]) ?? inherited)
    const pool: PlacementPool = {
      nodeName: sp.nodeName,
      poolName: sp.name,
      providerKind: sp.providerKind,
      freeKib: rt?.freeCapacityKib ?? null,
      totalKib: rt?.totalCapacityKib ?? null,
      reservedKib: 0,
      disklessPool: sp.providerKind === 'DISKLESS',
    }
    if (Number.isFinite(ratio) && ratio > 0) pool.oversubscriptionRatio = ratio
    pools.push({ pool, usageKey: key })
  }
  return { stamp, node, pools }
}

export function placeResource(m: Model, rd: RscDfn, filter: AutoSelectFilter, layerStack: LayerKind[]): Placement {
  const { cluster } = placementInputs(m)
  const existing = [...m.resourcesOf(rd.name)].filter((r) => !isDeleting(r)).map((r) => ({
    nodeName: r.nodeName, poolName: r.volumes[0]?.storPoolName ?? null, diskless: isDiskless(r),
  }))
  const sizeKib = rd.vlmDfns.reduce((s, vd) => s + allocatedKib(rd, layerStack, vd.sizeKib, vd.flags.includes('GROSS_SIZE')), 0)
  const weight = (key: string): number | undefined => {
    const v = m.ctrlProps[key]
    return v === undefined ? undefined : Number(v)
  }
  const req: PlacementRequest = {
    placeCount: filter.place_count ?? DEFAULT_PLACE_COUNT,
    existing,
    // createResource cannot turn a diskless resource diskful (LINSTOR's toggle-disk): keep those nodes out.
    disklessKeepsNode: true,
    sizeKib,
    nodesWithRsc: (rsc) => [...m.resourcesOf(rsc)].map((r) => r.nodeName),
    resourcesOnNode: (node) => [...(m.resourcesByNode.get(nameKey(node))?.values() ?? [])].filter((r) => nameKey(r.rscName) !== nameKey(rd.name)).map((r) => r.rscName),
    layerStack,
    allowUnknownCapacity: true,
    weights: { maxFreeSpace: weight(WEIGHT_KEYS.maxFreeSpace), minReservedSpace: weight(WEIGHT_KEYS.minReservedSpace), minRscCount: weight(WEIGHT_KEYS.minRscCount) },
  }
  if (filter.additional_place_count !== undefined) req.additionalPlaceCount = filter.additional_place_count
  if (filter.node_name_list !== undefined) req.nodeNameList = filter.node_name_list
  if (filter.storage_pool !== undefined) req.storagePool = filter.storage_pool
  if (filter.storage_pool_list !== undefined && filter.storage_pool_list.length > 0) req.storagePoolList = filter.storage_pool_list
  if (filter.storage_pool_diskless_list !== undefined) req.storagePoolDisklessList = filter.storage_pool_diskless_list
  if (filter.not_place_with_rsc !== undefined) req.doNotPlaceWithRsc = filter.not_place_with_rsc
  if (filter.not_place_with_rsc_regex !== undefined) req.doNotPlaceWithRscRegex = filter.not_place_with_rsc_regex
  if (filter.replicas_on_same !== undefined) req.replicasOnSame = filter.replicas_on_same
  if (filter.replicas_on_different !== undefined) req.replicasOnDifferent = filter.replicas_on_different
  if (filter.x_replicas_on_different_map !== undefined) req.xReplicasOnDifferentMap = filter.x_replicas_on_different_map
  if (filter.provider_list !== undefined) req.providerList = filter.provider_list as ProviderKind[]
  if (filter.diskless_on_remaining !== undefined) req.disklessOnRemaining = filter.diskless_on_remaining

  const result = cluster.autoplace(req)
  if (!result.ok) throw new ApiError('ERR_PLACEMENT_FAILED', { reason: result.message, constraint: result.constraint })
  const unknown = result.selected.filter((p) => {
    const rt = m.runtime.storPools.get(nameKey(p.nodeName) + '\0' + nameKey(p.poolName))
    return rt?.freeCapacityKib == null
  })
  // LINSTOR's diskless-on-remaining deploys on a tiebreaker's node too, which makes it the user's resource.
  const disklessOn = [...result.disklessOn]
  if (req.disklessOnRemaining === true) {
    for (const r of m.resourcesOf(rd.name)) if (isTieBreaker(r) && !isDeleting(r)) disklessOn.push({ nodeName: r.nodeName, poolName: r.volumes[0]?.storPoolName ?? DFLT_DISKLESS_STOR_POOL })
  }
  return { selected: result.selected, disklessOn, unknownCapacity: unknown }
}
