/**
 * GET /v1/x-blockyard/nodes/{node}/link: the state of a node's satellite link with its reason (LINSTOR's
 * node view has no field for why a node is offline, and its shapes are not ours to extend).
 */
import { nameKey } from '../../common/names.js'
import type { Core } from '../core.js'
import type { Router } from '../http/router.js'
import { ok } from './_reply.js'
import { requireNode } from './nodes.js'

export function registerNodeLinkApi(r: Router, core: Core): void {
  r.get('/v1/x-blockyard/nodes/{node}/link', (req) => {
    const m = core.model
    const n = requireNode(m, req.params['node']!)
    const rt = m.runtime.nodes.get(nameKey(n.name))
    const ni = n.netInterfaces.find((x) => x.isActive)
    const out: Record<string, unknown> = { node_name: n.name, connection_status: rt?.connectionStatus ?? 'OFFLINE' }
    if (rt?.reason !== undefined) out['reason'] = rt.reason
    if (rt?.since !== undefined) out['since'] = new Date(rt.since).toISOString()
    if (ni !== undefined && ni.satellitePort !== null) out['satellite_address'] = `${ni.address.includes(':') ? `[${ni.address}]` : ni.address}:${ni.satellitePort}`
    if (rt?.satelliteVersion !== undefined) out['satellite_version'] = rt.satelliteVersion
    return ok(out)
  }, { obj: 'NODE' })
}
