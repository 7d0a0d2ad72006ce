/**
 * One reconcile pass over one resource (STYLE.md §4): read its desired state, observe the node fresh,
 * compute the steps with the pure diff, apply them in order, observe again, and report what is there
 * with the generation worked towards. Errors are reported too, then rethrown for the queue: a
 * TerminalError (or an errno retrying cannot fix) makes the resource FAILED until its desired state
 * changes; anything else is retried with backoff.
 */
import { logger } from '../../common/log.js'
import type { ReportedError, ResourceDesired, ResourceObserved, ResourceState, StorPoolDesired, VolumeObserved } from '../../proto/messages.js'
import { drbdObservation, type DrbdLayer, type DrbdObservation } from '../layers/drbd/drbd-layer.js'
import type { StorageLayer, StorageObservation } from '../layers/storage/storage-layer.js'
import type { VolumeFacts } from '../providers/provider.js'
import type { DesiredStore } from '../desired-store.js'
import { diff, type Step } from './diff.js'
import { isTerminal, TerminalError, toReportedError } from './errors.js'
import type { ReconcileResult } from './queue.js'

const log = logger('satellite.reconcile')

/**
 * While a resync runs, a resource is looked at again this often, ms: DRBD sends no event as the
 * percentage moves, and reports should carry it.
 */
export const SYNC_REFRESH_MS = 2000

/** Layer stacks this satellite can build: DRBD over storage where DRBD works here. */
const STORAGE_ONLY = ['STORAGE']
const DRBD_STACK = ['DRBD', 'STORAGE']

export interface EngineOptions {
  store: DesiredStore
  storage: StorageLayer
  /** The DRBD layer; absent where DRBD does not work (stacks with DRBD are refused). */
  drbd?: DrbdLayer
  /** Sends a resource's observed state to the controller (dropped while no controller is linked). */
  report: (observed: ResourceObserved) => void
  /** Called after a pass that changed storage (pool capacities moved). */
  onStorageChanged?: () => void
}

export class ReconcileEngine {
  readonly #o: EngineOptions
  /**
   * Per key of a resource whose last pass succeeded while it resynced: the desired state it worked
   * towards and the storage it found. The passes that follow while the resync runs (the refresh
   * timer's, DRBD's events') take that storage as it is, with no LVM command, as long as desired
   * state is the same object (a new desired state, a failed pass or the resync's end drop it).
   */
  readonly #syncing = new Map<string, { rsc: ResourceDesired; storage: StorageObservation }>()

  constructor(options: EngineOptions) {
    this.#o = options
  }

  /** The queue's reconciler: one pass over resource `key` (an upper-cased name). */
  async reconcile(key: string): Promise<ReconcileResult> {
    const syncing = this.#syncing.get(key)
    this.#syncing.delete(key)
    const rsc = this.#o.store.resources.get(key)
    // Not (or no longer) desired state's concern: whatever exists of it is left alone.
    if (rsc === undefined) return { done: true }
    const pools: StorPoolDesired[] = [...this.#o.store.pools.values()]
    let before: VolumeFacts[] = []
    let applied = 0
    const drbd = this.#drbdOf(rsc)
    try {
      this.#checkStack(rsc)
      const seen = syncing?.rsc === rsc ? syncing.storage : await this.#o.storage.observe(rsc, pools)
      before = seen.actual
      const plan = diff({ deleted: rsc.deleted, volumes: seen.desired }, seen.actual)
      if (plan.refusals.length > 0) {
        throw new VolumeErrors(plan.refusals.map((r) => ({ number: r.number, error: new TerminalError(r.message) })))
      }
      // DRBD holds the backing devices: it goes down before they are taken away, and comes up once
      // they exist (volumes dropped from a replicated resource leave DRBD before their storage goes).
      // (A delete's desired state keeps the layers: a resource that never had DRBD costs no DRBD query.)
      if (rsc.deleted && rsc.layers[0] === 'DRBD') await this.#o.drbd?.down(rsc.name)
      const takeDown = (s: Step): boolean => drbd !== undefined && (s.op === 'detach' || s.op === 'remove')
      for (const step of plan.steps.filter((s) => !takeDown(s))) {
        await this.#apply(rsc, step)
        applied++
      }
      let replicated: DrbdObservation | undefined
      if (drbd !== undefined) {
        const created = new Set(plan.steps.filter((s) => s.op === 'create').map((s) => s.number))
        const exposed = applied === 0 ? seen : await this.#o.storage.observe(rsc, pools, seen.locations)
        replicated = await drbd.up(rsc, exposed.actual, created)
      }
      for (const step of plan.steps.filter(takeDown)) {
        await this.#apply(rsc, step)
        applied++
      }
      const after = plan.steps.length === 0 ? seen : await this.#o.storage.observe(rsc, pools, seen.locations)
      const rest = diff({ deleted: rsc.deleted, volumes: after.desired }, after.actual)
      if (rest.steps.length > 0 || rest.refusals.length > 0) {
        const what = rest.steps.map((s) => `${s.op} volume ${s.number}`).join(', ')
        throw new Error(`the node still differs from desired state after applying ${plan.steps.length} step(s): ${what}`)
      }
      const state: ResourceState = rsc.deleted ? 'GONE' : 'READY'
      this.#o.report(await this.#observed(rsc, state, after.actual, [], [], replicated))
      if (rsc.deleted) this.#o.store.forgetIfSame(key, rsc)
      if (replicated?.syncing !== true) return { done: true }
      this.#syncing.set(key, { rsc, storage: after })
      return { requeueAfterMs: SYNC_REFRESH_MS }
    } catch (err) {
      await this.#reportFailure(rsc, err, before, drbd)
      throw err instanceof VolumeErrors && err.all.every((e) => isTerminal(e.error)) ? new TerminalError(err.message, { cause: err }) : err
    } finally {
      if (applied > 0) this.#o.onStorageChanged?.()
    }
  }

  async #apply(rsc: ResourceDesired, step: Step): Promise<void> {
    try {
      await this.#o.storage.apply(step)
      log.debug('applied', { rsc: rsc.name, generation: rsc.generation, op: step.op, volume: step.number, path: step.path })
    } catch (e) {
      throw new VolumeErrors([{ number: step.number, error: e }])
    }
  }

  /** The DRBD layer when `rsc` is replicated and not being deleted. */
  #drbdOf(rsc: ResourceDesired): DrbdLayer | undefined {
    return !rsc.deleted && rsc.layers[0] === 'DRBD' ? this.#o.drbd : undefined
  }

  #checkStack(rsc: ResourceDesired): void {
    if (rsc.deleted) return // taking down what exists needs no particular stack
    const stacks = this.#o.drbd !== undefined ? [DRBD_STACK, STORAGE_ONLY] : [STORAGE_ONLY]
    if (!stacks.some((s) => s.length === rsc.layers.length && s.every((k, i) => rsc.layers[i] === k))) {
      throw new TerminalError(`layer stack ${rsc.layers.join(',') || '(empty)'} is not supported by this satellite: it builds ${stacks.map((s) => s.join(',')).join(' or ')} only`)
    }
  }

  async #reportFailure(rsc: ResourceDesired, err: unknown, before: VolumeFacts[], drbd: DrbdLayer | undefined): Promise<void> {
    const terminal = err instanceof VolumeErrors ? err.all.every((e) => isTerminal(e.error)) : isTerminal(err)
    const state: ResourceState = terminal ? 'FAILED' : rsc.deleted ? 'DELETING' : before.length === 0 ? 'CREATING' : 'UPDATING'
    const rscErrors: ReportedError[] = err instanceof VolumeErrors ? [] : [toReportedError(err)]
    const vlmErrors = err instanceof VolumeErrors ? err.all.map((e) => ({ number: e.number, error: { ...toReportedError(e.error), terminal } })) : []
    let found = before
    let replicated: DrbdObservation | undefined
    try {
      found = (await this.#o.storage.observe(rsc, [...this.#o.store.pools.values()])).actual
      // DRBD's state unknown: the report still names the DRBD device, never the storage's.
      replicated = drbd === undefined ? undefined : await drbd.observe(rsc).catch(() => drbdObservation(rsc, null))
    } catch {
      // The failure itself is what observing trips over: report what was seen before.
    }
    const level = terminal ? 'warn' : 'info'
    log[level](`${rsc.name}: pass failed${terminal ? ' (terminal: not retried until its desired state changes)' : ', will retry'}`, {
      generation: rsc.generation,
      error: err instanceof Error ? err.message : String(err),
    })
    this.#o.report(await this.#observed(rsc, state, found, rscErrors, vlmErrors, replicated))
  }

  /**
   * The report: desired volumes (or, when deleting, what is left) with what was found of each; for a
   * replicated resource the DRBD device, its disk state and size, its peers, Primary as in use, and
   * whether it may become Primary.
   */
  async #observed(
    rsc: ResourceDesired,
    state: ResourceState,
    found: readonly VolumeFacts[],
    errors: ReportedError[],
    vlmErrors: Array<{ number: number; error: ReportedError }>,
    replicated?: DrbdObservation,
  ): Promise<ResourceObserved> {
    const byNumber = new Map<number, VolumeFacts>()
    for (const v of found) byNumber.set(v.number, v)
    const numbers = new Set<number>(rsc.deleted ? [] : rsc.volumes.map((v) => v.number))
    if (rsc.deleted || state !== 'READY') for (const v of found) numbers.add(v.number)
    for (const e of vlmErrors) numbers.add(e.number)
    const diskless = new Set(rsc.volumes.filter((v) => v.providerKind === 'DISKLESS').map((v) => v.number))
    const volumes: VolumeObserved[] = [...numbers].sort((a, b) => a - b).map((number) => {
      const v = byNumber.get(number)
      const own = vlmErrors.filter((e) => e.number === number).map((e) => e.error)
      const out: VolumeObserved = { number, peers: [], errors: own }
      if (v?.device !== undefined) out.devicePath = v.device
      if (v !== undefined) out.allocatedKib = v.allocatedKib
      if (v?.deviceSizeKib !== undefined) out.usableKib = v.deviceSizeKib
      if (!rsc.deleted && diskless.has(number)) out.diskState = 'Diskless'
      else if (own.length > 0 && state === 'FAILED') out.diskState = 'Failed'
      else if (v?.device !== undefined && v.deviceSizeKib === v.sizeKib) out.diskState = 'UpToDate'
      const r = replicated?.volumes.get(number)
      if (r !== undefined) {
        out.devicePath = r.devicePath
        delete out.usableKib
        if (r.usableKib !== undefined) out.usableKib = r.usableKib
        if (out.diskState !== 'Failed') {
          delete out.diskState
          if (r.diskState !== undefined) out.diskState = r.diskState
        }
        out.peers = r.peers
      }
      return out
    })
    if (replicated !== undefined) {
      const out: ResourceObserved = { name: rsc.name, generation: rsc.generation, state, inUse: replicated.primary, volumes, connections: replicated.connections, errors }
      if (replicated.mayPromote !== undefined) out.mayPromote = replicated.mayPromote
      if (replicated.promotionScore !== undefined) out.promotionScore = replicated.promotionScore
      return out
    }
    let inUse = false
    try {
      inUse = await this.#o.storage.inUse(found)
    } catch (e) {
      errors.push(toReportedError(e))
    }
    return { name: rsc.name, generation: rsc.generation, state, inUse, volumes, connections: [], errors }
  }
}

/** Errors of single volumes: reported on the volume they belong to. */
class VolumeErrors extends Error {
  constructor(readonly all: Array<{ number: number; error: unknown }>) {
    super(all.map((e) => `volume ${e.number}: ${e.error instanceof Error ? e.error.message : String(e.error)}`).join('; '))
  }
}
