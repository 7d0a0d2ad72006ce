/**
 * Auto-placement against the model: gathers nodes and pools (with what satellites reported and what is
 * already allocated in each pool), merges the select filters (request over resource group), runs the
 * pure autoplacer and turns a failure into LINSTOR's FAIL_NOT_ENOUGH_NODES with the constraint named.
 */
import { ApiError } from '../../common/errors.js'
import type { LayerKind } from '../../common/layer-stack.js'
import { nameKey } from '../../common/names.js'
import { WEIGHT_KEYS } from '../model/ctrl-props.js'
import type { Model } from '../model/model.js'
import { resolveProp } from '../model/props.js'
import type { AutoSelectFilter, ProviderKind, RscDfn } from '../model/types.js'
import { allocatedKib, isDeleting, isDiskless, poolUsageKib } from '../api/_resources.js'
import { autoplace, type PlacedReplica, type PlacementNode, type PlacementPool, type PlacementRequest } from './autoplacer.js'


export interface Placement {
  selected: PlacedReplica[]
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

export function placeResource(m: Model, rd: RscDfn, filter: AutoSelectFilter, layerStack: LayerKind[]): Placement {
  // This runs for every node and pool on every placement (1,000 nodes, 3,000 pools: bench/controller-scale.ts),
  // so it works with the model's map keys, which are name keys already, and resolves the pool definitions'
  // oversubscription ratio once per definition rather than once per pool.
  const usage = poolUsageKib(m)
  const nodes: PlacementNode[] = []
  for (const [nk, n] of m.nodes) {
    const rt = m.runtime.nodes.get(nk)
    nodes.push({
      name: n.name,
      props: n.props,
      supportedLayers: rt?.supportedLayers ?? null,
      supportedProviders: (rt?.supportedProviders ?? null) as PlacementNode['supportedProviders'],
      evicted: n.flags.includes('EVICTED') || n.flags.includes('EVACUATE') || n.flags.includes('DELETE'),
      rscCount: m.resourcesByNode.get(nk)?.size ?? 0,
    })
  }
  const dfnRatio = new Map<string, string | undefined>()
  const pools: PlacementPool[] = []
  for (const [nk, byPool] of m.storPools) {
    for (const [pk, sp] of byPool) {
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
        reservedKib: usage.get(key) ?? 0,
        disklessPool: sp.providerKind === 'DISKLESS',
      }
      if (Number.isFinite(ratio) && ratio > 0) pool.oversubscriptionRatio = ratio
      pools.push(pool)
    }
  }
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

  const result = autoplace(nodes, pools, req)
  if (!result.ok) throw new ApiError('ERR_PLACEMENT_FAILED', { reason: result.message, constraint: result.constraint })
  const unknown = result.selected.filter((p) => {
    const rt = m.runtime.storPools.get(nameKey(p.nodeName) + '\0' + nameKey(p.poolName))
    return rt?.freeCapacityKib == null
  })
  return { selected: result.selected, disklessOn: result.disklessOn, unknownCapacity: unknown }
}
