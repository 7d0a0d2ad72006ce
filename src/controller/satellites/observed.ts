/**
 * What satellites report, taken into the model (DESIGN.md §2.4): node capabilities and pool capacities
 * into `model.runtime` (placement and GET /v1/nodes, /v1/view/storage-pools read them), resources'
 * volumes (device path, sizes, disk state, DRBD peers, errors) into `model.runtime.volumes` and their
 * DRBD state (role, connections, may-promote) into `model.runtime.resources` (the resource views, the
 * events), each only when it changed, so that a satellite repeating itself makes no events;
 * and the end of two-phase deletes: a resource flagged DELETE whose satellite reports it GONE at the
 * generation that deleted it is removed, with its definition or node when they are flagged DELETE and
 * it was their last resource; volumes flagged DELETE go when their satellite reports the resource
 * READY without them.
 */
import { logger } from '../../common/log.js'
import { nameKey } from '../../common/names.js'
import type { CapacityReport, Message, NodeCapabilities, ReportedError, ResourceObserved, ResourceState } from '../../proto/messages.js'
import { runtimeKeyPrefix, runtimeResourceOf } from '../api/_resources.js'
import { purgeRscDfn } from '../api/resource-definitions.js'
import { purgeVlmDfn } from '../api/volume-definitions.js'
import type { Core } from '../core.js'
import type { Resource, RuntimeResource, RuntimeVolume } from '../model/types.js'
import { pairKey, type DesiredSync } from './sync.js'
import { unusableReason, type Observation, type SatelliteWaits } from './wait.js'

const log = logger('satellites')

const isDeleting = (x: { flags: readonly string[] }): boolean => x.flags.includes('DELETE')

/** A reported error as LINSTOR shows one: what failed, the syscall or command behind it, the details. */
export function describeReportedError(e: ReportedError): { message: string; cause?: string; details?: string } {
  const out: { message: string; cause?: string; details?: string } = { message: e.message }
  const causes: string[] = []
  if (e.syscall !== undefined) {
    const code = e.code !== undefined ? `: ${e.code}` : ''
    causes.push(`${e.syscall} failed${code}${e.errno !== undefined ? ` (errno ${e.errno})` : ''}`)
  } else if (e.command !== undefined && e.command.length > 0) {
    const ran = `command '${e.command.join(' ')}'`
    causes.push(e.exitCode !== undefined ? `${ran} exited with status ${e.exitCode}` : `${ran} failed${e.code !== undefined ? `: ${e.code}` : ''}`)
  } else if (e.code !== undefined) causes.push(e.code)
  if (causes.length > 0) out.cause = causes.join('; ')
  if (e.details !== undefined && e.details !== '') out.details = e.details
  return out
}

export class ObservedIntake {
  /** pair key → the satellite's last report on that resource */
  private readonly observations = new Map<string, Observation>()
  /** Resources whose removal (after GONE) or volume removal (after READY) is being committed. */
  private readonly removing = new Set<string>()
  /** Told of every resource report (metrics time how long the satellite took to apply). */
  onReport: ((nodeKey: string, rscKey: string, generation: number, state: ResourceState) => void) | null = null

  constructor(private readonly core: Core, private readonly sync: DesiredSync, private readonly waits: SatelliteWaits) {}

  /** The satellite's last report on a resource of its node. */
  observation(nodeKey: string, rscKey: string): Observation | undefined {
    return this.observations.get(pairKey(nodeKey, rscKey))
  }

  /** A report from the satellite of `nodeKey`. */
  handle(nodeKey: string, msg: Message): void {
    if (!this.core.model.nodes.has(nodeKey)) return
    switch (msg.type) {
      case 'ResourceObserved':
        return this.resourceObserved(nodeKey, msg)
      case 'CapacityReport':
        return this.capacity(nodeKey, msg)
      case 'NodeCapabilities':
        return this.capabilities(nodeKey, msg)
      default:
        return undefined
    }
  }

  /** A resource left the model: its reports go. */
  forget(nodeKey: string, rscKey: string): void {
    this.observations.delete(pairKey(nodeKey, rscKey))
  }

  /** A node left the model. */
  forgetNode(nodeKey: string): void {
    const prefix = nodeKey + '\0'
    for (const k of this.observations.keys()) if (k.startsWith(prefix)) this.observations.delete(k)
  }

  private capabilities(nodeKey: string, msg: NodeCapabilities): void {
    const m = this.core.model
    const rt = m.runtime.nodes.get(nodeKey)
    if (rt === undefined) return
    m.setRuntimeNode(nodeKey, {
      ...rt,
      supportedLayers: msg.layers.filter((l) => l.supported).map((l) => l.kind),
      supportedProviders: msg.providers.filter((p) => p.supported).map((p) => p.kind),
      drbdVersion: msg.layers.find((l) => l.kind === 'DRBD' && l.supported)?.version ?? null,
      unsupportedLayers: Object.fromEntries(msg.layers.filter((l) => !l.supported).map((l) => [l.kind, [l.reason ?? 'not supported']])),
      unsupportedProviders: Object.fromEntries(msg.providers.filter((p) => !p.supported).map((p) => [p.kind, [p.reason ?? 'not supported']])),
    })
  }

  private capacity(nodeKey: string, msg: CapacityReport): void {
    const m = this.core.model
    for (const c of msg.storPools) {
      const sp = m.getStorPool(nodeKey, c.name)
      if (sp === undefined) continue
      m.setRuntimeStorPool(nodeKey, sp.name, {
        freeCapacityKib: c.freeKib ?? null,
        totalCapacityKib: c.totalKib ?? null,
        reports: c.errors.map((e) => {
          const d = describeReportedError(e)
          return d.cause === undefined ? { message: d.message } : { message: d.message, cause: d.cause }
        }),
      })
    }
  }

  private resourceObserved(nodeKey: string, rep: ResourceObserved): void {
    const m = this.core.model
    const rscKey = nameKey(rep.name)
    const pk = pairKey(nodeKey, rscKey)
    // Generations are revisions, far below 2^53.
    const generation = Number(rep.generation)
    const r = m.getResource(rscKey, nodeKey)
    // An INACTIVE resource is not meant to serve I/O: READY is all it waits for.
    const servesIo = r !== undefined && r.layerStack.includes('DRBD') && !r.flags.includes('INACTIVE')
    this.observations.set(pk, {
      generation,
      state: rep.state,
      errors: [...rep.errors, ...rep.volumes.flatMap((v) => v.errors)],
      unusable: servesIo ? unusableReason(r.volumes.map((v) => v.vlmNr), rep) : null,
    })
    this.onReport?.(nodeKey, rscKey, generation, rep.state)
    if (r !== undefined && rep.state !== 'GONE') this.updateRuntime(r, rep)
    const current = generation >= this.sync.generationOf(nodeKey, rscKey)
    if (rep.state === 'GONE') {
      this.sync.clearTombstone(nodeKey, rscKey, generation)
      if (r !== undefined && isDeleting(r) && current) this.removeResource(r)
    } else if (rep.state === 'READY' && r !== undefined && current && !isDeleting(r) && r.volumes.some(isDeleting)) {
      this.removeVolumes(r)
    }
    this.waits.poke(nodeKey, rscKey)
  }

  /**
   * The report into the runtime model: the resource's DRBD state (for a resource with DRBD) and its
   * volumes; errors of the resource itself show on every volume. What is unchanged is left alone.
   */
  private updateRuntime(r: Resource, rep: ResourceObserved): void {
    const m = this.core.model
    if (r.layerStack.includes('DRBD')) {
      const rt: RuntimeResource = {
        inUse: rep.inUse,
        connections: rep.connections.map((c) => ({ peerNodeName: c.peerNodeName, state: c.state })),
        mayPromote: rep.mayPromote ?? null,
        promotionScore: rep.promotionScore ?? null,
      }
      if (!same(runtimeResourceOf(m, r), rt)) m.setRuntimeResource(r.rscName, r.nodeName, rt)
    }
    const rscReports = rep.errors.map(describeReportedError)
    for (const v of r.volumes) {
      const vo = rep.volumes.find((x) => x.number === v.vlmNr)
      const reports = [...rscReports, ...(vo?.errors ?? []).map(describeReportedError)]
      if (vo === undefined && reports.length === 0) {
        m.deleteRuntimeVolume(r.rscName, r.nodeName, v.vlmNr)
        continue
      }
      const rt: RuntimeVolume = {
        devicePath: vo?.devicePath ?? null,
        allocatedSizeKib: vo?.allocatedKib ?? null,
        usableSizeKib: vo?.usableKib ?? null,
        diskState: vo?.diskState ?? (rep.state === 'FAILED' ? 'Failed' : null),
        peers: (vo?.peers ?? []).map((p) => ({ peerNodeName: p.peerNodeName, replicationState: p.replicationState, peerDiskState: p.peerDiskState, syncPercent: p.syncPercent ?? null })),
        reports,
      }
      if (!same(m.runtime.volumes.get(runtimeKeyPrefix(r) + v.vlmNr), rt)) m.setRuntimeVolume(r.rscName, r.nodeName, v.vlmNr, rt)
    }
  }

  /** The satellite confirmed a delete: remove the resource, and what was only waiting for it. */
  private removeResource(r: Resource): void {
    const nodeKey = nameKey(r.nodeName)
    const rscKey = nameKey(r.rscName)
    const pk = pairKey(nodeKey, rscKey)
    if (this.removing.has(pk)) return
    this.removing.add(pk)
    let confirmed: Resource | undefined
    this.core.mutate((tx, m) => {
      const x = m.getResource(rscKey, nodeKey)
      if (x === undefined || !isDeleting(x)) return
      confirmed = x
      this.sync.confirmGone(x)
      m.deleteResource(tx, x)
      const rd = m.getRscDfn(x.rscName)
      if (rd !== undefined && isDeleting(rd) && empty(m.resourcesOf(rd.name))) purgeRscDfn(tx, m, rd)
      const node = m.getNode(x.nodeName)
      if (node !== undefined && isDeleting(node) && empty(m.resourcesOnNode(node.name))) {
        for (const sp of [...m.storPoolsOfNode(node.name)]) m.deleteStorPool(tx, sp)
        m.deleteNode(tx, node)
      }
    }).then(() => {
      if (confirmed !== undefined) log.debug('resource deleted by its satellite', { rsc: confirmed.rscName, node: confirmed.nodeName })
    }, (e: unknown) => {
      if (confirmed !== undefined) this.sync.unconfirmGone(confirmed)
      log.error('cannot remove a resource its satellite deleted', { rsc: r.rscName, node: r.nodeName, error: e instanceof Error ? e.message : String(e) })
    }).finally(() => {
      this.removing.delete(pk)
      this.waits.poke(nodeKey, rscKey)
    })
  }

  /** The satellite applied a state without the volumes flagged DELETE: remove them, and their definitions with the last. */
  private removeVolumes(r: Resource): void {
    const nodeKey = nameKey(r.nodeName)
    const rscKey = nameKey(r.rscName)
    const pk = pairKey(nodeKey, rscKey)
    if (this.removing.has(pk)) return
    this.removing.add(pk)
    this.core.mutate((tx, m) => {
      const x = m.getResource(rscKey, nodeKey)
      if (x === undefined || isDeleting(x)) return
      const gone = x.volumes.filter(isDeleting)
      if (gone.length === 0) return
      x.volumes = x.volumes.filter((v) => !isDeleting(v))
      m.putResource(tx, x)
      const rd = m.getRscDfn(x.rscName)
      if (rd === undefined) return
      for (const v of gone) {
        const vd = rd.vlmDfns.find((y) => y.vlmNr === v.vlmNr)
        const stillUsed = [...m.resourcesOf(rd.name)].some((y) => y.volumes.some((w) => w.vlmNr === v.vlmNr))
        if (vd !== undefined && isDeleting(vd) && !stillUsed) purgeVlmDfn(tx, m, rd, vd)
      }
    }).catch((e: unknown) => {
      log.error('cannot remove volumes their satellite deleted', { rsc: r.rscName, node: r.nodeName, error: e instanceof Error ? e.message : String(e) })
    }).finally(() => this.removing.delete(pk))
  }
}

/**
 * Whether a runtime record equals the one the model holds. Both are built field by field in the same
 * order from plain data (strings, numbers, booleans, arrays), so their JSON texts compare them.
 */
function same(held: object | undefined, next: object): boolean {
  return held !== undefined && JSON.stringify(held) === JSON.stringify(next)
}

function empty(it: Iterable<unknown>): boolean {
  for (const _ of it) return false
  return true
}
