/**
 * The controller's side of its satellites, put together: the cluster secret, one link per node
 * (manager.ts, link.ts), desired state sent with generations and tombstones (sync.ts), reports taken in
 * (observed.ts), and REST calls waiting for them (wait.ts). It follows the model through the store's
 * commit listener: every committed change reaches the links, the satellites and the waits from there.
 */
import type { Core } from '../core.js'
import type { Committed } from '../db/store.js'
import { loadClusterSecret } from './cluster-secret.js'
import type { LinkTimings } from './link.js'
import { LinkManager } from './manager.js'
import { ObservedIntake } from './observed.js'
import { DesiredSync } from './sync.js'
import { SatelliteWaits } from './wait.js'

export interface SatellitesOptions {
  /** The cluster secret's file; created when missing. */
  clusterSecretFile: string
  /** How long a REST call waits for each node's satellite, ms (LINSTOR: 15 s). */
  timeoutMs: number
  /** The links' clock; tests shorten it. */
  linkTimings?: Partial<LinkTimings>
}

export class Satellites {
  readonly links: LinkManager
  readonly sync: DesiredSync
  readonly observed: ObservedIntake
  readonly waits: SatelliteWaits
  private readonly unsubscribe: () => void

  /** Loads (or creates) the cluster secret and starts dialling every satellite node of the model. */
  constructor(private readonly core: Core, opts: SatellitesOptions) {
    const secret = loadClusterSecret(opts.clusterSecretFile)
    this.links = new LinkManager(core, secret, {
      accepted: (node) => this.sync.fullSync(node),
      message: (nodeKey, msg) => this.observed.handle(nodeKey, msg),
      status: (nodeKey) => this.waits.pokeNode(nodeKey),
    }, opts.linkTimings)
    this.sync = new DesiredSync(core, this.links)
    this.waits = new SatelliteWaits({
      isOnline: (nodeKey) => this.links.isOnline(nodeKey),
      generationOf: (nodeKey, rscKey) => this.sync.generationOf(nodeKey, rscKey),
      observation: (nodeKey, rscKey) => this.observed.observation(nodeKey, rscKey),
      present: (nodeKey, rscKey) => core.model.getResource(rscKey, nodeKey) !== undefined,
    }, opts.timeoutMs)
    this.observed = new ObservedIntake(core, this.sync, this.waits)
    this.unsubscribe = core.store.onCommit({
      inTransaction: (group) => this.sync.inTransaction(group),
      committed: (group) => this.committed(group),
    })
    core.satelliteWaits = this.waits
    this.links.follow()
  }

  /** Stop every link; waiting REST calls end with a warning. */
  stop(): void {
    this.unsubscribe()
    if (this.core.satelliteWaits === this.waits) this.core.satelliteWaits = null
    this.waits.stop()
    this.links.stop()
  }

  private committed(group: readonly Committed[]): void {
    const nodes = new Set<string>()
    const removed: [string, string][] = []
    for (const c of group) {
      for (const op of c.tx.changes()) {
        if (op.kind === 'node') nodes.add(op.key[0]!)
        else if (op.kind === 'resource' && op.value === null) removed.push([op.key[1]!, op.key[0]!])
      }
    }
    const m = this.core.model
    // Links first, so that a node's new address is dialled; then what changed goes out.
    if (nodes.size > 0) this.links.follow(nodes)
    this.sync.committed(group)
    for (const nk of nodes) if (!m.nodes.has(nk)) this.observed.forgetNode(nk)
    for (const [nk, rk] of removed) {
      if (m.getResource(rk, nk) === undefined) this.observed.forget(nk, rk)
      this.waits.poke(nk, rk)
    }
  }
}
