/**
 * Metrics read from the model and the store at scrape time: nothing is counted on the API's path.
 * Resources and volumes are counted in one pass per scrape (`beforeScrape`), O(resources + volumes):
 * about a millisecond at 30,000 resources, once per scrape interval.
 */
import { nameKey } from '../../common/names.js'
import type { Core } from '../core.js'
import type { Model } from '../model/model.js'
import { runtimeKeyPrefix } from '../api/_resources.js'
import { NODE_TYPES, type Resource, type RuntimeNode, type RuntimeVolume } from '../model/types.js'
import type { MetricsRegistry, Sample } from './registry.js'

type ConnectionStatus = RuntimeNode['connectionStatus']
/** Every connection status the model has; the check below fails to compile when one is added there. */
export const CONNECTION_STATES = [
  'ONLINE', 'OFFLINE', 'CONNECTED', 'VERSION_MISMATCH', 'AUTHENTICATION_ERROR', 'FULL_SYNC_FAILED',
  'HOSTNAME_MISMATCH', 'OTHER_CONTROLLER', 'NO_STLT_CONN', 'UNKNOWN',
] as const satisfies readonly ConnectionStatus[]
type Missing = Exclude<ConnectionStatus, (typeof CONNECTION_STATES)[number]>
const allStates: [Missing] extends [never] ? true : Missing = true
void allStates

/**
 * A resource's state, in the words of the CLI's `resource list`: DELETING (flagged for deletion, waiting
 * for its satellite), INACTIVE, Failed (a volume whose satellite reports its disk Failed or an error),
 * Unknown (a volume no satellite has reported yet), Ok (every volume reported, no error).
 */
export const RESOURCE_STATES = ['Ok', 'Unknown', 'Failed', 'DELETING', 'INACTIVE'] as const
export type ResourceState = (typeof RESOURCE_STATES)[number]

/** A volume no satellite has reported a disk state for. */
export const UNKNOWN_DISK_STATE = 'Unknown'

/** The state of `r`, whose volumes' runtime states are `rts` (in the order of r.volumes). */
export function resourceState(r: Resource, rts: readonly (RuntimeVolume | undefined)[]): ResourceState {
  if (r.flags.includes('DELETE') || r.flags.includes('DRBD_DELETE')) return 'DELETING'
  if (r.flags.includes('INACTIVE')) return 'INACTIVE'
  let unknown = false
  for (const rt of rts) {
    if (rt === undefined) unknown = true
    else if (rt.diskState === 'Failed' || rt.reports.length > 0) return 'Failed'
  }
  return unknown ? 'Unknown' : 'Ok'
}

export function registerModelMetrics(registry: MetricsRegistry, core: Core): void {
  const model = (): Model => core.model

  registry.gauge('blockyard_nodes', 'Nodes by type (as GET /v1/nodes shows it).', ['type'], () => {
    const counts = new Map<string, number>(NODE_TYPES.map((t) => [t, 0]))
    for (const n of model().nodes.values()) counts.set(n.type, (counts.get(n.type) ?? 0) + 1)
    return [...counts].map(([t, c]): Sample => [[t.toUpperCase()], c])
  })

  registry.gauge('blockyard_node_connection_state',
    'A node\'s satellite connection status: 1 for the status it has, 0 for the others (a node the controller has not dialled yet is OFFLINE, as GET /v1/nodes shows it).',
    ['node', 'state'], function* () {
      const m = model()
      for (const [nk, n] of m.nodes) {
        const status = m.runtime.nodes.get(nk)?.connectionStatus ?? 'OFFLINE'
        for (const s of CONNECTION_STATES) yield [[n.name, s], s === status ? 1 : 0]
      }
    })

  const poolLabels = ['node', 'pool', 'provider']
  /** Every pool with what its satellite reported, if anything. */
  function* pools(value: (rt: { freeCapacityKib: number | null; totalCapacityKib: number | null; reports: readonly unknown[] } | undefined) => number | null): Iterable<Sample> {
    const m = model()
    for (const sp of m.allStorPools()) {
      const v = value(m.runtime.storPools.get(`${nameKey(sp.nodeName)}\0${nameKey(sp.name)}`))
      if (v !== null) yield [[sp.nodeName, sp.name, sp.providerKind], v]
    }
  }
  const bytes = (kib: number | null | undefined): number | null => (kib == null ? null : kib * 1024)
  registry.gauge('blockyard_storage_pool_capacity_bytes', 'A storage pool\'s total capacity as its satellite last reported it; absent while unknown.',
    poolLabels, () => pools((rt) => bytes(rt?.totalCapacityKib)))
  registry.gauge('blockyard_storage_pool_free_bytes', 'A storage pool\'s free space as its satellite last reported it; absent while unknown.',
    poolLabels, () => pools((rt) => bytes(rt?.freeCapacityKib)))
  registry.gauge('blockyard_storage_pool_errors', 'Problems the satellite reported with the storage pool (0: none, or no report yet).',
    poolLabels, () => pools((rt) => rt?.reports.length ?? 0))

  registry.gauge('blockyard_resource_definitions', 'Resource definitions.', [], () => model().rscDfns.size)
  registry.gauge('blockyard_volume_definitions', 'Volume definitions, over all resource definitions.', [], () => {
    let n = 0
    for (const rd of model().rscDfns.values()) n += rd.vlmDfns.length
    return n
  })

  // Resources and volumes: one pass per scrape feeds both gauges.
  let rscStates = new Map<string, number>()
  let diskStates = new Map<string, number>()
  registry.beforeScrape(() => {
    const m = model()
    rscStates = new Map(RESOURCE_STATES.map((s) => [s, 0]))
    diskStates = new Map([[UNKNOWN_DISK_STATE, 0]])
    for (const r of m.allResources()) {
      const prefix = runtimeKeyPrefix(r)
      const rts = r.volumes.map((v) => m.runtime.volumes.get(prefix + v.vlmNr))
      const s = resourceState(r, rts)
      rscStates.set(s, rscStates.get(s)! + 1)
      for (const rt of rts) {
        const d = rt?.diskState ?? UNKNOWN_DISK_STATE
        diskStates.set(d, (diskStates.get(d) ?? 0) + 1)
      }
    }
  })
  registry.gauge('blockyard_resources',
    'Resources by state: Ok, Unknown (a volume not reported by its satellite yet), Failed (a volume Failed or with an error), DELETING (waiting for its satellite to confirm), INACTIVE.',
    ['state'], () => [...rscStates].map(([s, c]): Sample => [[s], c]))
  registry.gauge('blockyard_volumes', 'Volumes of resources by the disk state their satellite reported (Unknown: none reported).',
    ['disk_state'], () => [...diskStates].map(([s, c]): Sample => [[s], c]))

  const store = core.store
  registry.collected('counter', 'blockyard_store_commits_total', 'SQLite transactions committed (group commits: one per event-loop turn with changes).', [], () => store.stats.commits)
  registry.collected('counter', 'blockyard_store_units_total', 'API calls committed (units of the group commits).', [], () => store.stats.units)
  registry.gauge('blockyard_cluster_revision', 'The cluster revision of the last committed API call.', [], () => store.revision)
}
