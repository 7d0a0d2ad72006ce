/**
 * DRBD 8.4's limits, decided on the controller before anything is written. A DRBD 8.4 resource
 * replicates between exactly two diskful nodes and has no diskless clients: the satellite renders
 * nothing else (src/satellite/layers/drbd/res-file.ts), so a call that would give a resource on an 8.4
 * node a third replica, a diskless one or a lone one is refused with what to do instead, rather than
 * accepted and left FAILED on the node. LINSTOR has no such rule: it does not run on 8.4 at all.
 */
import { ApiError } from '../../common/errors.js'
import type { LayerKind } from '../../common/layer-stack.js'
import { nameKey } from '../../common/names.js'
import { isDeleting, isDiskless } from '../api/_resources.js'
import type { Model } from '../model/model.js'
import type { RscDfn } from '../model/types.js'
import { isDrbd84 } from './_drbd-version.js'

/** The diskful replicas of a DRBD 8.4 resource: exactly this many. */
export const DRBD84_REPLICAS = 2

/** A replica a call is about to create. */
export interface NewReplica {
  nodeName: string
  diskless: boolean
  layerStack: readonly LayerKind[]
}

/**
 * Refuses a call that adds `adds` to `rd` when the definition's DRBD replicas (those not being deleted,
 * and the new ones) include a node whose satellite reported DRBD 8.4, unless they end up exactly two
 * diskful and none diskless. A node whose version is not known yet is assumed capable, as for its
 * layers. Replicas being deleted do not count: deleting one, then adding its replacement, is how a
 * replica moves on 8.4 (the satellite leaves a deleted peer out of the remaining one's configuration).
 *
 * @throws ApiError ERR_RSC_STATE (409) naming the 8.4 nodes and what to do
 */
export function checkDrbd84(m: Model, rd: RscDfn, adds: readonly NewReplica[]): void {
  const added = adds.filter((a) => a.layerStack.includes('DRBD'))
  if (added.length === 0) return
  const replicas = [
    ...[...m.resourcesOf(rd.name)].filter((r) => !isDeleting(r) && r.layerStack.includes('DRBD')).map((r) => ({ nodeName: r.nodeName, diskless: isDiskless(r) })),
    ...added,
  ]
  const on84: string[] = []
  for (const r of replicas) {
    const version = m.runtime.nodes.get(nameKey(r.nodeName))?.drbdVersion
    if (isDrbd84(version)) on84.push(`'${r.nodeName}' (${version!})`)
  }
  if (on84.length === 0) return
  const nodes = `${on84.length === 1 ? 'node' : 'nodes'} ${on84.join(', ')} ${on84.length === 1 ? 'runs' : 'run'} DRBD 8.4`
  const diskless = replicas.filter((r) => r.diskless).map((r) => `'${r.nodeName}'`)
  const diskful = replicas.length - diskless.length
  const upgrade = `DRBD 9 on every node of the resource lifts this. To move a replica while on DRBD 8.4, delete one first, then add the new one: the data stays on the remaining replica and is synced to the new one.`
  if (diskless.length > 0) {
    throw new ApiError('ERR_RSC_STATE', { problem: `Resource '${rd.name}' cannot have a diskless replica (${diskless.join(', ')}): ${nodes}, which has no diskless clients` }, { correction: upgrade })
  }
  if (diskful > DRBD84_REPLICAS) {
    throw new ApiError('ERR_RSC_STATE', { problem: `Resource '${rd.name}' cannot have ${diskful} replicas: ${nodes}, which replicates between exactly ${DRBD84_REPLICAS} nodes` }, { correction: upgrade })
  }
  if (diskful < DRBD84_REPLICAS) {
    throw new ApiError('ERR_RSC_STATE', { problem: `Resource '${rd.name}' would have a single DRBD replica: ${nodes}, whose resources are made of exactly ${DRBD84_REPLICAS} replicas created together` }, {
      correction: `Create both replicas in one call (auto-place with place_count ${DRBD84_REPLICAS}, or POST /v1/resource-definitions/${rd.name}/resources with both nodes in the list), or use the layer list STORAGE for a volume without replication.`,
    })
  }
}
