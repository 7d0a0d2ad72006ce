/**
 * One link per satellite node (DESIGN.md §2.3): created for every Satellite or Combined node with an
 * active net interface that has a satellite port, redialled when that address changes, stopped when the
 * node goes. Link status goes into `model.runtime.nodes` (what GET /v1/nodes shows), with its reason.
 */
import { logger } from '../../common/log.js'
import type { FullSync, Hello, Message } from '../../proto/messages.js'
import type { Core } from '../core.js'
import type { Node, RuntimeNode } from '../model/types.js'
import { SatelliteLink, type LinkStatus, type LinkTarget, type LinkTimings } from './link.js'

const log = logger('satellites')

/** What the manager hands on from its links. */
export interface LinkManagerEvents {
  /** A node's satellite authenticated: its full sync. */
  accepted(node: Node, hello: Hello): FullSync
  /** A satellite's report (observed state, capacities, capabilities). */
  message(nodeKey: string, msg: Message): void
  /** A node's link status changed. */
  status(nodeKey: string, status: LinkStatus): void
}

export class LinkManager {
  /** nodeKey → link */
  private readonly links = new Map<string, SatelliteLink>()
  private stopped = false

  constructor(
    private readonly core: Core,
    private readonly secret: string,
    private readonly events: LinkManagerEvents,
    private readonly timings: Partial<LinkTimings> = {},
  ) {}

  /** The link of a node, if it has one. */
  link(nodeKey: string): SatelliteLink | undefined {
    return this.links.get(nodeKey)
  }

  /** Whether the node's satellite is online: authenticated, synced, answering pings. */
  isOnline(nodeKey: string): boolean {
    return this.links.get(nodeKey)?.online === true
  }

  /** Send on the node's link if it is accepted; false otherwise. */
  send(nodeKey: string, msg: Message): boolean {
    return this.links.get(nodeKey)?.send(msg) ?? false
  }

  /** Bring the links of `nodeKeys` (all nodes when absent) in line with the model. */
  follow(nodeKeys?: Iterable<string>): void {
    if (this.stopped) return
    const m = this.core.model
    for (const nk of nodeKeys ?? [...m.nodes.keys(), ...this.links.keys()]) {
      const node = m.nodes.get(nk)
      const target = node === undefined ? null : targetOf(node)
      const link = this.links.get(nk)
      if (node === undefined || target === null) {
        if (link !== undefined) {
          link.stop()
          this.links.delete(nk)
          log.info('satellite link closed', { node: link.nodeName, reason: node === undefined ? 'node deleted' : 'no satellite address' })
        }
        if (node !== undefined) this.setStatus(nk, link?.status ?? 'OFFLINE', 'OFFLINE', noTargetReason(node))
        continue
      }
      if (link !== undefined) {
        link.retarget(target)
        continue
      }
      const created = new SatelliteLink(node.name, target, this.secret, {
        status: (status, reason, previous) => this.setStatus(nk, previous, status, reason),
        accepted: (hello) => this.accepted(nk, hello),
        message: (msg) => this.events.message(nk, msg),
      }, this.timings)
      this.links.set(nk, created)
      created.start()
    }
  }

  /** Stop every link. */
  stop(): void {
    this.stopped = true
    for (const link of this.links.values()) link.stop()
    this.links.clear()
  }

  private accepted(nk: string, hello: Hello): FullSync {
    const node = this.core.model.nodes.get(nk)!
    const rt = this.core.model.runtime.nodes.get(nk)
    if (rt !== undefined) this.core.model.setRuntimeNode(nk, { ...rt, satelliteVersion: hello.blockyardVersion })
    return this.events.accepted(node, hello)
  }

  /**
   * Record a link status in the runtime model. Only changes are written: a status set by something
   * else (a test standing in for a satellite) is not overwritten by a link that merely stays offline.
   */
  private setStatus(nk: string, previous: LinkStatus, status: LinkStatus, reason: string | undefined): void {
    const m = this.core.model
    if (!m.nodes.has(nk)) return
    const rt = m.runtime.nodes.get(nk)
    if (rt === undefined) {
      m.setRuntimeNode(nk, withReason({ connectionStatus: status, since: Date.now(), supportedLayers: null, supportedProviders: null }, reason))
    } else if (previous !== status) {
      m.setRuntimeNode(nk, withReason({ ...rt, connectionStatus: status, since: Date.now() }, reason))
    } else if (rt.connectionStatus === status) {
      if (rt.reason !== reason) m.setRuntimeNode(nk, withReason({ ...rt }, reason))
    } else return
    if (previous === 'ONLINE' && status !== 'ONLINE') m.forgetReportedState(nk)
    if (previous !== status) this.events.status(nk, status)
  }
}

function withReason(rt: RuntimeNode, reason: string | undefined): RuntimeNode {
  if (reason === undefined) delete rt.reason
  else rt.reason = reason
  return rt
}

/** The address the controller dials for a node, or null when it has none it can dial. */
function targetOf(n: Node): LinkTarget | null {
  if (n.type !== 'Satellite' && n.type !== 'Combined') return null
  const ni = n.netInterfaces.find((x) => x.isActive)
  if (ni === undefined || ni.satellitePort === null || ni.satelliteEncryptionType !== 'PLAIN') return null
  return { host: ni.address, port: ni.satellitePort }
}

function noTargetReason(n: Node): string {
  if (n.type !== 'Satellite' && n.type !== 'Combined') return `a ${n.type} node has no satellite`
  const ni = n.netInterfaces.find((x) => x.isActive)
  if (ni === undefined || ni.satellitePort === null) return 'no active net interface with a satellite port'
  return `satellite encryption ${ni.satelliteEncryptionType} is not supported yet; use PLAIN`
}
