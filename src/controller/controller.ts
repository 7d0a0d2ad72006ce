/** The controller: store + model + satellite links + REST, started and stopped as one. */
import { logger } from '../common/log.js'
import type { HostPort } from '../common/config.js'
import { DEFAULT_EVENT_HISTORY_MIB, DEFAULT_EVENT_MAX_BUFFER_MIB } from './config.js'
import { Core } from './core.js'
import { Store } from './db/store.js'
import { ensureDefaults } from './defaults.js'
import { EventHub } from './events/hub.js'
import { registerApis } from './api/index.js'
import { ControllerMetrics } from './metrics/controller-metrics.js'
import { Router } from './http/router.js'
import { startHttp } from './http/server.js'
import { EventsWs } from './ws/events.js'
import { SseStreams } from './http/sse.js'
import type { LinkTimings } from './satellites/link.js'
import { Satellites } from './satellites/satellites.js'

const log = logger('controller')

export interface ControllerOptions {
  restListen: HostPort
  dbPath: string
  maxBodyBytes: number
  /** The cluster secret shared with the satellites; created when missing. */
  clusterSecretFile: string
  /** How long a REST call waits for each satellite to apply its change, ms. */
  satelliteTimeoutMs: number
  /** MiB of recent events kept for resuming event clients (default 64). */
  eventHistoryMib?: number
  /** The same budget in bytes, over eventHistoryMib (tests use a tiny one). */
  eventHistoryBytes?: number
  /** MiB an event subscriber may leave unread before it is closed as slow (default 16). */
  eventMaxBufferMib?: number
  /** The same limit in bytes, over eventMaxBufferMib (tests use a small one). */
  eventMaxBufferBytes?: number
  /** The satellite links' clock (tests shorten it); DEFAULT_LINK_TIMINGS otherwise. */
  linkTimings?: Partial<LinkTimings>
}

export interface RunningController {
  readonly core: Core
  readonly satellites: Satellites
  /** Prometheus metrics (GET /metrics); `metrics.registry` is where other modules register theirs. */
  readonly metrics: ControllerMetrics
  /** Every committed change and satellite report as cluster events (events/hub.ts). */
  readonly events: EventHub
  /** LINSTOR's SSE routes /v1/events/nodes and /v1/events/drbd/promotion (http/sse.ts). */
  readonly sse: SseStreams
  /** Bound REST port (differs from the option when it was 0). */
  readonly port: number
  readonly url: string
  stop(): Promise<void>
}

export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const t0 = performance.now()
  const store = new Store(opts.dbPath)
  const core = new Core(store)
  const metrics = new ControllerMetrics(core)
  store.onFatal = (err) => {
    log.error('database write failed, stopping: the database holds the last committed state', { error: err.message })
    process.exitCode = 1
    setImmediate(() => process.exit(1))
  }
  // Before anything commits, so that every unit from now on yields its events.
  const events = new EventHub(store, () => core.model, { historyBytes: opts.eventHistoryBytes ?? (opts.eventHistoryMib ?? DEFAULT_EVENT_HISTORY_MIB) * 1024 * 1024 })
  await ensureDefaults(core)
  const satellites = new Satellites(core, { clusterSecretFile: opts.clusterSecretFile, timeoutMs: opts.satelliteTimeoutMs, ...(opts.linkTimings !== undefined ? { linkTimings: opts.linkTimings } : {}) })
  metrics.followSatellites(satellites)
  const router = new Router()
  registerApis(router, core, metrics.registry)
  const http = await startHttp(router, { host: opts.restListen.host, port: opts.restListen.port, maxBodyBytes: opts.maxBodyBytes, observe: metrics.http.observe })
  const eventsWs = new EventsWs(http.app, events, { maxBufferBytes: opts.eventMaxBufferBytes ?? (opts.eventMaxBufferMib ?? DEFAULT_EVENT_MAX_BUFFER_MIB) * 1024 * 1024 })
  eventsWs.registerMetrics(metrics.registry)
  const sse = new SseStreams(http.app, events, () => core.model)
  sse.registerMetrics(metrics.registry)
  const host = opts.restListen.host.includes(':') ? `[${opts.restListen.host}]` : opts.restListen.host
  const url = `http://${host}:${http.port}`
  log.info('controller ready', { rest: url, db: opts.dbPath, startupMs: Math.round(performance.now() - t0), nodes: core.model.nodes.size, resourceDefinitions: core.model.rscDfns.size })
  return {
    core, satellites, metrics, events, sse, port: http.port, url,
    stop: async () => {
      eventsWs.close()
      sse.close()
      http.close()
      // Commit what is queued while the satellite links still follow commits (tombstones, pushes).
      store.flush()
      satellites.stop()
      store.close()
      events.close()
    },
  }
}
