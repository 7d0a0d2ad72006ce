/**
 * REST API metrics: requests by method, route template and status, and their latency. The labels stay
 * bounded whatever clients send: the route is the router's pattern (never the path), `unmatched` for a
 * path no route has (404, 405), and methods outside HTTP's usual ones count as `OTHER`.
 */
import type { Counter, CounterChild, Histogram, HistogramChild, MetricsRegistry } from './registry.js'

/** 0.1 ms (a GET served from memory) … 30 s (a create waiting 15 s per satellite, LINSTOR's wait). */
export const HTTP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
export const UNMATCHED_ROUTE = 'unmatched'

/** The series of one method on one route: its latency, and its counter per status (few per route). */
interface RouteSeries {
  duration: HistogramChild
  byStatus: Map<number, CounterChild>
}

export class HttpMetrics {
  private readonly requests: Counter
  private readonly duration: Histogram
  /** route → method → series: two Map lookups per request, no string built and nothing allocated. */
  private readonly series = new Map<string, Map<string, RouteSeries>>()

  constructor(registry: MetricsRegistry) {
    this.requests = registry.counter('blockyard_http_requests_total', 'REST requests answered, by method, route template and HTTP status.', ['method', 'route', 'code'])
    this.duration = registry.histogram('blockyard_http_request_duration_seconds',
      'Time from a REST request\'s arrival to its reply being handed to the socket (a streamed reply\'s transfer not included), by method and route template.',
      ['method', 'route'], HTTP_BUCKETS)
  }

  /** A request was answered (the HTTP server's `observe` hook). */
  readonly observe = (method: string, route: string | null, status: number, seconds: number): void => {
    const r = route ?? UNMATCHED_ROUTE
    const m = METHODS.has(method) ? method : 'OTHER'
    let byMethod = this.series.get(r)
    if (byMethod === undefined) this.series.set(r, (byMethod = new Map()))
    let s = byMethod.get(m)
    if (s === undefined) byMethod.set(m, (s = { duration: this.duration.child(m, r), byStatus: new Map() }))
    let c = s.byStatus.get(status)
    if (c === undefined) s.byStatus.set(status, (c = this.requests.child(m, r, String(status))))
    c.inc()
    s.duration.observe(seconds)
  }
}
