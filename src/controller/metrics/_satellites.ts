/**
 * How long satellites take to apply desired state: from the moment the controller hands a resource's
 * desired state (with its generation) to a live link, to the satellite's first report at that generation
 * or later that is final: READY, GONE or FAILED. O(1) per push and per report: one entry per resource
 * and node in flight, no label per resource.
 *
 * Not timed: full syncs (a reconnecting satellite re-applies everything; its time says little about one
 * change), and a push whose link went down before the report (the report then follows a full sync).
 */
import { nameKey } from '../../common/names.js'
import type { ResourceDesired, ResourceState } from '../../proto/messages.js'
import type { Core } from '../core.js'
import type { Satellites } from '../satellites/satellites.js'
import type { Histogram, MetricsRegistry } from './registry.js'

/** 1 ms (a satellite on loopback with nothing to do) … 2 min (LVM in a slow VM, a DRBD resync start). */
export const APPLY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120]

const FINAL: ReadonlySet<ResourceState> = new Set<ResourceState>(['READY', 'GONE', 'FAILED'])

interface InFlight {
  generation: number
  /** performance.now() at the push, for the duration */
  at: number
  /** Date.now() at the push, to compare with the link's status change time */
  wall: number
}

export class ApplyTimer {
  private readonly histogram: Histogram
  /** nodeKey → rscKey → the last push not yet applied */
  private readonly inFlight = new Map<string, Map<string, InFlight>>()

  constructor(registry: MetricsRegistry, private readonly core: Core) {
    this.histogram = registry.histogram('blockyard_satellite_apply_duration_seconds',
      'Time from the controller sending a resource\'s desired state to a satellite to the satellite reporting it applied, by node and result (READY, GONE, FAILED).',
      ['node', 'result'], APPLY_BUCKETS)
    // Series and entries of nodes that are gone go at the next scrape.
    registry.beforeScrape(() => {
      const nodes = this.core.model.nodes
      for (const nk of this.inFlight.keys()) if (!nodes.has(nk)) this.inFlight.delete(nk)
      const names = new Set([...nodes.values()].map((n) => n.name))
      this.histogram.retain(([node]) => names.has(node!))
    })
  }

  /** Follow the satellites' pushes and reports. */
  attach(satellites: Satellites): void {
    satellites.sync.onSent = (nodeKey, d) => this.sent(nodeKey, d)
    satellites.observed.onReport = (nodeKey, rscKey, generation, state) => this.reported(nodeKey, rscKey, generation, state)
  }

  sent(nodeKey: string, d: ResourceDesired): void {
    let byRsc = this.inFlight.get(nodeKey)
    if (byRsc === undefined) this.inFlight.set(nodeKey, (byRsc = new Map()))
    // Generations are revisions, far below 2^53. A newer push restarts the clock: it is what the satellite applies.
    byRsc.set(nameKey(d.name), { generation: Number(d.generation), at: performance.now(), wall: Date.now() })
  }

  reported(nodeKey: string, rscKey: string, generation: number, state: ResourceState): void {
    if (!FINAL.has(state)) return
    const byRsc = this.inFlight.get(nodeKey)
    const p = byRsc?.get(rscKey)
    if (p === undefined || generation < p.generation) return
    byRsc!.delete(rscKey)
    const m = this.core.model
    const node = m.nodes.get(nodeKey)
    const since = m.runtime.nodes.get(nodeKey)?.since
    if (node === undefined || (since !== undefined && since > p.wall)) return // the link changed since the push
    this.histogram.child(node.name, state).observe((performance.now() - p.at) / 1000)
  }
}
