/**
 * The controller's metrics, put together on one registry (registry.ts documents the registration API
 * other modules use): the model and the store read at scrape time (_model.ts), the process (_process.ts),
 * REST requests (_http.ts, fed by the HTTP server's `observe` hook) and satellite apply durations
 * (_satellites.ts, fed by the satellite sync and report intake). GET /metrics serves `registry.expose()`.
 */
import type { Core } from '../core.js'
import type { Satellites } from '../satellites/satellites.js'
import { HttpMetrics } from './_http.js'
import { registerModelMetrics } from './_model.js'
import { registerProcessMetrics } from './_process.js'
import { ApplyTimer } from './_satellites.js'
import { MetricsRegistry } from './registry.js'

export class ControllerMetrics {
  readonly registry = new MetricsRegistry()
  readonly http = new HttpMetrics(this.registry)
  private readonly apply: ApplyTimer

  constructor(core: Core) {
    registerModelMetrics(this.registry, core)
    registerProcessMetrics(this.registry)
    this.apply = new ApplyTimer(this.registry, core)
  }

  /** Time the satellites' work: call once the controller's satellite links exist. */
  followSatellites(satellites: Satellites): void {
    this.apply.attach(satellites)
  }
}
