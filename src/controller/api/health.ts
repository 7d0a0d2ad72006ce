/**
 * Liveness and readiness for load balancers and orchestrators (Kubernetes' livenessProbe and
 * readinessProbe):
 * - `GET /health` (liveness): 200 while the database answers a query, 503 when it does not (closed,
 *   locked, gone). The process is alive and holds its database.
 * - `GET /health/ready` (readiness): 200 when the controller can take API calls: the REST server is
 *   serving (it answers), start-up is done (routes exist only after the defaults are committed), and the
 *   store accepts commits: its database is open, writable, and its write lock can be taken. 503
 *   otherwise, with the failed check. The body counts nodes by connection status, but a satellite that
 *   is offline never makes the controller unready: the controller is what serves the API, and an
 *   offline node is a state the API reports, not a reason to take the controller out of service.
 */
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

  r.get('/health/ready', () => {
    const problem = storeProblem(core)
    const body = { status: problem === null ? 'ok' : 'unavailable', ...(problem !== null ? { reason: problem } : {}), revision: core.store.revision, nodes: nodeCounts(core) }
    return { status: problem === null ? 200 : 503, body }
  })
}

/** Why the store cannot take a commit now, or null when it can. */
function storeProblem(core: Core): string | null {
  const db = core.store.db
  if (!db.open) return 'the database is closed'
  if (db.readonly) return 'the database is read-only'
  // The store commits synchronously within one event-loop turn: a transaction open between turns was
  // left behind, and every later group commit would land inside it, never durable.
  if (db.inTransaction) return 'a database transaction was left open'
  // Taking the write lock and letting go proves a commit would get it (writable, not locked by anyone).
  try {
    db.exec('BEGIN IMMEDIATE')
    db.exec('ROLLBACK')
    return null
  } catch (e) {
    return `the database does not accept writes: ${(e as Error).message}`
  }
}

/** Nodes in total, ONLINE, and not ONLINE (any other connection status: offline, refused, connecting). */
function nodeCounts(core: Core): { total: number; online: number; offline: number } {
  const m = core.model
  let online = 0
  for (const nk of m.nodes.keys()) if (m.runtime.nodes.get(nk)?.connectionStatus === 'ONLINE') online++
  return { total: m.nodes.size, online, offline: m.nodes.size - online }
}
