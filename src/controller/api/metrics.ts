/** GET /metrics: every controller metric in Prometheus' text format (metrics/registry.ts). */
import type { Router } from '../http/router.js'
import type { MetricsRegistry } from '../metrics/registry.js'

/** Prometheus' text exposition format, version 0.0.4. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export function registerMetricsApi(r: Router, registry: MetricsRegistry): void {
  r.get('/metrics', () => ({ status: 200, body: registry.expose(), headers: { 'Content-Type': METRICS_CONTENT_TYPE } }))
}
