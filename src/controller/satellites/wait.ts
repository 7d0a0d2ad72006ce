/**
 * REST calls that create or delete resources answer once the satellites have done it (LINSTOR waits
 * the same way, up to 15 s per node): after the commit, each resource on a node whose satellite is
 * online is waited for until its satellite reports the commit's generation READY (create) or the
 * resource is gone (delete), or FAILED. A created resource with DRBD must also be usable, as LINSTOR's
 * "resource ready" means: READY only says DRBD is configured, and a new replica cannot serve I/O until
 * it is UpToDate or reaches an UpToDate peer. The reply then gets, per resource: a success entry; an ERROR
 * entry naming the node and the cause (the change stays committed and the resource shows the failure;
 * the HTTP status becomes 500 as LINSTOR's); a WARN on timeout, or when the satellite went away
 * meanwhile. Nodes whose satellite is not online are not waited for (the call already warns).
 */
import { MASK } from '../../common/api-codes.js'
import type { Op } from '../../common/api-codes.js'
import { ApiError, rcEntry, SUCCESS, WARN, type ApiCallRc } from '../../common/errors.js'
import { nameKey } from '../../common/names.js'
import type { ReportedError, ResourceObserved, ResourceState } from '../../proto/messages.js'
import { drbdConnected } from '../api/_resources.js'
import type { Core } from '../core.js'
import type { Reply } from '../http/router.js'
import { describeReportedError } from './observed.js'

/** What a resource on a node is waited for: READY after a create, gone after a delete. */
export type WaitGoal = 'READY' | 'GONE'

export interface WaitTarget {
  rscName: string
  nodeName: string
  goal: WaitGoal
}

/** The last report of a satellite about one resource. */
export interface Observation {
  generation: number
  state: ResourceState
  /** The report's errors, the resource's own and its volumes'. */
  errors: ReportedError[]
  /** Why the resource cannot serve I/O yet ({@link unusableReason}); null when it can, or has no DRBD. */
  unusable: string | null
}

/**
 * Why a DRBD resource whose volumes are `vlmNrs` cannot serve I/O on its node, from its satellite's
 * report; null when every volume can. A volume can when its disk is UpToDate, or when DRBD can read
 * through a connected peer whose disk is UpToDate: Diskless, Inconsistent (resyncing as SyncTarget),
 * Outdated (about to resync) all can then.
 */
export function unusableReason(vlmNrs: readonly number[], rep: Pick<ResourceObserved, 'volumes' | 'connections'>): string | null {
  const connected = new Set(rep.connections.filter((c) => drbdConnected(c.state)).map((c) => c.peerNodeName))
  const problems: string[] = []
  for (const nr of vlmNrs) {
    const v = rep.volumes.find((x) => x.number === nr)
    if (v === undefined || v.diskState === undefined) {
      problems.push(`volume ${nr} has no disk state yet`)
      continue
    }
    if (v.diskState === 'UpToDate') continue
    if (v.peers.some((p) => p.peerDiskState === 'UpToDate' && connected.has(p.peerNodeName))) continue
    problems.push(`volume ${nr} ${v.diskState}, no UpToDate peer connected`)
  }
  return problems.length === 0 ? null : problems.join('; ')
}

/** Where waits read the state they wait for. */
export interface WaitSources {
  isOnline(nodeKey: string): boolean
  /** The generation the satellite must reach for the change just committed. */
  generationOf(nodeKey: string, rscKey: string): number
  observation(nodeKey: string, rscKey: string): Observation | undefined
  /** Whether the resource is in the model. */
  present(nodeKey: string, rscKey: string): boolean
}

interface Pending {
  target: WaitTarget
  nodeKey: string
  rscKey: string
  generation: number
  settle(rcs: ApiCallRc[]): void
}

/** LINSTOR's "did not become ready" warning: MASK_WARN with the resource object and no code. */
const NOT_READY = MASK.WARN

export class SatelliteWaits {
  /** pair key → waits on it */
  private readonly pending = new Map<string, Set<Pending>>()

  constructor(private readonly sources: WaitSources, readonly timeoutMs: number) {}

  /**
   * Wait for `targets` (after the commit that changed them) and return the reply entries it gives:
   * none for targets whose satellite is not online now. The entries are about resources (LINSTOR's
   * object bits RSC), created or deleted as their goal says.
   */
  wait(targets: readonly WaitTarget[]): Promise<ApiCallRc[]> {
    const waits: Promise<ApiCallRc[]>[] = []
    const open = new Set<Pending>()
    let timer: NodeJS.Timeout | null = null
    for (const target of targets) {
      const nodeKey = nameKey(target.nodeName)
      if (!this.sources.isOnline(nodeKey)) continue
      const rscKey = nameKey(target.rscName)
      waits.push(new Promise<ApiCallRc[]>((resolve) => {
        const p: Pending = {
          target, nodeKey, rscKey,
          generation: this.sources.generationOf(nodeKey, rscKey),
          settle: (rcs) => {
            if (!open.delete(p)) return
            this.pending.get(pk)?.delete(p)
            if (this.pending.get(pk)?.size === 0) this.pending.delete(pk)
            if (open.size === 0 && timer !== null) clearTimeout(timer)
            resolve(rcs)
          },
        }
        const pk = nodeKey + '\0' + rscKey
        open.add(p)
        let set = this.pending.get(pk)
        if (set === undefined) this.pending.set(pk, (set = new Set()))
        set.add(p)
      }))
    }
    if (open.size === 0) return Promise.resolve([])
    for (const p of [...open]) this.check(p)
    if (open.size > 0) {
      timer = setTimeout(() => {
        for (const p of [...open]) p.settle([this.timeoutRc(p)])
      }, this.timeoutMs)
    }
    return Promise.all(waits).then((lists) => lists.flat())
  }

  /** Something changed about a resource on a node (a report, a commit): re-check its waits. */
  poke(nodeKey: string, rscKey: string): void {
    const set = this.pending.get(nodeKey + '\0' + rscKey)
    if (set !== undefined) for (const p of [...set]) this.check(p)
  }

  /** A node's link changed status: re-check every wait on it. */
  pokeNode(nodeKey: string): void {
    for (const set of [...this.pending.values()]) for (const p of [...set]) if (p.nodeKey === nodeKey) this.check(p)
  }

  /** Controller stop: every wait ends with a warning. */
  stop(): void {
    for (const set of [...this.pending.values()]) for (const p of [...set]) p.settle([notConnected(p)])
  }

  /** Settle `p` if its outcome is known. */
  private check(p: Pending): void {
    const { nodeKey, rscKey, target } = p
    const op = opOf(p)
    if (!this.sources.isOnline(nodeKey)) return p.settle([notConnected(p)])
    const present = this.sources.present(nodeKey, rscKey)
    const obs = this.sources.observation(nodeKey, rscKey)
    const reached = obs !== undefined && obs.generation >= p.generation
    if (target.goal === 'GONE') {
      if (!present) return p.settle([rcEntry(SUCCESS.DELETED, `Resource '${target.rscName}' on node '${target.nodeName}' deleted by its satellite.`, op, 'RSC', refs(target))])
      if (reached && obs.state === 'FAILED') return p.settle(failedRcs(p, obs, op))
      return undefined
    }
    // Deleted meanwhile by another call: nothing to report about it here.
    if (!present) return p.settle([])
    if (reached && obs.state === 'READY' && obs.unusable === null) return p.settle([rcEntry(SUCCESS.CREATED, `Resource '${target.rscName}' on '${target.nodeName}' ready`, op, 'RSC', refs(target))])
    if (reached && obs.state === 'FAILED') return p.settle(failedRcs(p, obs, op))
    return undefined
  }

  private timeoutRc(p: Pending): ApiCallRc {
    const { target } = p
    const op = opOf(p)
    const within = `${Math.round(this.timeoutMs / 100) / 10} s`
    const last = this.sources.observation(p.nodeKey, p.rscKey)
    const reached = last !== undefined && last.generation >= p.generation ? last : undefined
    let message: string
    if (target.goal === 'GONE') message = `Resource '${target.rscName}' was not deleted on node '${target.nodeName}' within ${within}; it stays marked for deletion until its satellite confirms.`
    else if (reached?.state === 'READY' && reached.unusable !== null) message = `Resource '${target.rscName}' on node '${target.nodeName}' is deployed but not usable yet after ${within}: ${reached.unusable}.`
    else message = `Resource '${target.rscName}' did not become ready on node '${target.nodeName}' within ${within}, check the satellite for errors.`
    const extra: Omit<ApiCallRc, 'ret_code' | 'message'> = refs(target)
    // What the satellite is retrying, if it said: usually the reason it is late.
    const err = reached?.errors[0]
    if (err !== undefined) {
      const d = describeReportedError(err)
      extra.cause = d.cause === undefined ? d.message : `${d.message}: ${d.cause}`
    }
    return rcEntry(NOT_READY, message, op, 'RSC', extra)
  }
}

function refs(t: WaitTarget): { obj_refs: Record<string, string> } {
  return { obj_refs: { RscDfn: t.rscName, Node: t.nodeName } }
}

const opOf = (p: Pending): Op => (p.target.goal === 'READY' ? 'CRT' : 'DEL')

function notConnected(p: Pending): ApiCallRc {
  return rcEntry(WARN.NOT_CONNECTED, `No active connection to satellite '${p.target.nodeName}': it went away before it confirmed resource '${p.target.rscName}'.`, opOf(p), 'RSC', {
    ...refs(p.target),
    details: 'The change is stored; the satellite applies it when it connects again.',
  })
}

function failedRcs(p: Pending, obs: Observation, op: Op): ApiCallRc[] {
  const { target } = p
  const what = target.goal === 'READY' ? 'Deploying' : 'Deleting'
  const errors = obs.errors.length > 0 ? obs.errors : [{ message: 'the satellite gave no reason', terminal: true }]
  return errors.map((e) => {
    const d = describeReportedError(e)
    const options: { objRefs: Record<string, string>; cause?: string; details?: string } = { objRefs: refs(target).obj_refs }
    if (d.cause !== undefined) options.cause = d.cause
    if (d.details !== undefined) options.details = d.details
    return new ApiError('ERR_STLT_RSC_FAILED', { node: target.nodeName, rsc: target.rscName, what, problem: d.message }, options).toRc(op, 'RSC')
  })
}

/**
 * Wait for the satellites of `targets` after a commit, through the controller's satellite links; no
 * entries when the controller runs without them.
 */
export function awaitSatellites(core: Core, targets: readonly WaitTarget[]): Promise<ApiCallRc[]> {
  return core.satelliteWaits?.wait(targets) ?? Promise.resolve([])
}

/** `reply` with the entries of a wait appended; an ERROR among them makes it a 500, as in LINSTOR. */
export function withSatelliteOutcome(reply: Reply, rcs: readonly ApiCallRc[]): Reply {
  if (rcs.length === 0) return reply
  const failed = rcs.some((x) => (BigInt.asUintN(64, x.ret_code) & MASK.BITS_TYPE) === MASK.ERROR)
  return { ...reply, status: failed ? 500 : reply.status, body: [...(reply.body as ApiCallRc[]), ...rcs] }
}
