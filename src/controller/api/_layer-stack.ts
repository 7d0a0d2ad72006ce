/**
 * The layer stack new resources of a definition get (LINSTOR's CtrlLayerStackHelper): what the user
 * asked for, the definition's, its group's, or a default from what the nodes can run.
 */
import type { LayerKind } from '../../common/layer-stack.js'
import { nameKey } from '../../common/names.js'
import type { Model } from '../model/model.js'
import type { RscDfn } from '../model/types.js'
import { DRBD84_REPLICAS } from '../placement/drbd84.js'
import { isDrbd84 } from '../placement/_drbd-version.js'

/** The nodes a call places replicas of a definition on, and how many diskful replicas it will have then. */
export interface StackTarget {
  nodeNames: readonly string[]
  diskful: number
}

/**
 * The layer stack for new resources of a definition: the definition's own if set, else its group's
 * select filter's, else DRBD,STORAGE when DRBD can run the placement, STORAGE otherwise (as LINSTOR when a
 * node lacks DRBD). DRBD can run it when every node of `target` may run DRBD (a node that has not
 * reported its layers yet is assumed to) and either none runs DRBD 8.4 or the definition ends up with
 * exactly the two diskful replicas 8.4 replicates: one replica alone, or three, on 8.4 get plain storage
 * rather than a DRBD resource the satellite cannot bring up.
 */
export function resolveLayerStack(m: Model, rd: RscDfn, target: StackTarget, requested?: LayerKind[]): LayerKind[] {
  if (requested !== undefined && requested.length > 0) return requested
  if (rd.layerStack.length > 0) return rd.layerStack
  const fromGroup = m.getRscGrp(rd.rscGrpName)?.selectFilter.layer_stack
  if (fromGroup !== undefined && fromGroup.length > 0) return fromGroup.map((l) => l.toUpperCase() as LayerKind)
  let drbd84 = false
  for (const n of target.nodeNames) {
    const rt = m.runtime.nodes.get(nameKey(n))
    const layers = rt?.supportedLayers
    if (layers != null && !layers.includes('DRBD')) return ['STORAGE']
    if (isDrbd84(rt?.drbdVersion)) drbd84 = true
  }
  return !drbd84 || target.diskful === DRBD84_REPLICAS ? ['DRBD', 'STORAGE'] : ['STORAGE']
}
