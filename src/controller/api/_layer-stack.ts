/**
 * The layer stack new resources of a definition get (LINSTOR's CtrlLayerStackHelper): what the user
 * asked for, the definition's, its group's, or a default from what the nodes can run.
 */
import type { LayerKind } from '../../common/layer-stack.js'
import { nameKey } from '../../common/names.js'
import type { Model } from '../model/model.js'
import type { RscDfn } from '../model/types.js'

/**
 * The layer stack for new resources of a definition: the definition's own if set, else its group's
 * select filter's, else DRBD,STORAGE when every given node may run DRBD (a node that has not reported
 * its layers yet is assumed to) and STORAGE otherwise.
 */
export function resolveLayerStack(m: Model, rd: RscDfn, nodeNames: string[], requested?: LayerKind[]): LayerKind[] {
  if (requested !== undefined && requested.length > 0) return requested
  if (rd.layerStack.length > 0) return rd.layerStack
  const fromGroup = m.getRscGrp(rd.rscGrpName)?.selectFilter.layer_stack
  if (fromGroup !== undefined && fromGroup.length > 0) return fromGroup.map((l) => l.toUpperCase() as LayerKind)
  const drbdEverywhere = nodeNames.every((n) => {
    const layers = m.runtime.nodes.get(nameKey(n))?.supportedLayers
    return layers === null || layers === undefined || layers.includes('DRBD')
  })
  return drbdEverywhere ? ['DRBD', 'STORAGE'] : ['STORAGE']
}
