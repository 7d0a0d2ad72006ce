/** GET /health: liveness and readiness for load balancers and orchestrators. */
import type { Core } from '../core.js'
import type { Router } from '../http/router.js'

export function registerHealthApi(r: Router, core: Core): void {
  r.get('/health', () => {
    // Ready when the database answers; a locked or closed database is "not ready" (503).
    try {
      core.store.db.prepare('SELECT 1').get()
      return { status: 200, body: { status: 'ok', nodes: core.model.nodes.size, resource_definitions: core.model.rscDfns.size } }
    } catch (e) {
      return { status: 503, body: { status: 'unavailable', reason: (e as Error).message } }
    }
  })
}
