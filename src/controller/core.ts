/**
 * What every API module works with: the model, the store, and `mutate`, the one way to change state.
 * `mutate` runs the change synchronously against memory while recording it in a Tx, then waits for the
 * group commit; the caller replies after that (DESIGN.md §2.2).
 *
 * What satellites report changes the model's runtime state directly (it is never stored); Core gathers
 * those changes of one event-loop turn into a unit of their own and commits it too, so each gets a
 * cluster revision and reaches the events stream in order with the committed changes.
 */
import { ApiError } from '../common/errors.js'
import { logger } from '../common/log.js'
import { Tx, type Observed } from './db/tx.js'
import type { Store } from './db/store.js'
import { Model } from './model/model.js'
import type { SatelliteWaits } from './satellites/wait.js'

const log = logger('core')

export class Core {
  private current: Model
  /**
   * How REST calls wait for satellites to apply what they committed (satellites/wait.ts); null when the
   * controller runs without satellite links.
   */
  satelliteWaits: SatelliteWaits | null = null
  /** The unit gathering this turn's runtime changes, until the store writes it. */
  private observing: Tx | null = null

  constructor(readonly store: Store) {
    this.current = Model.fromRows(store.loadAll())
    this.current.onRuntimeChange = (o) => this.observed(o)
  }

  get model(): Model {
    return this.current
  }

  /**
   * Run `fn` as one API call's change and resolve once it is durable. Handlers validate before they
   * change anything, so an ApiError normally leaves nothing to undo; if something was changed anyway (a
   * bug, or an unexpected exception) memory is rebuilt from the database, which never saw the change.
   */
  async mutate<T>(fn: (tx: Tx, model: Model) => T): Promise<T> {
    const tx = new Tx()
    let result: T
    this.current.allocTouched = false
    try {
      result = fn(tx, this.current)
    } catch (e) {
      if (!(e instanceof ApiError) || tx.size > 0 || this.current.allocTouched) this.rollback(e)
      throw e
    }
    await this.store.commit(tx)
    return result
  }

  /** Forget uncommitted changes of the failed call: flush other queued units, then reload. */
  private rollback(cause: unknown): void {
    log.warn('API call failed after changing state; reloading the model from the database', {
      error: cause instanceof Error ? cause.message : String(cause),
    })
    const runtime = this.current.runtime
    this.store.flush()
    this.current = Model.fromRows(this.store.loadAll())
    // What satellites reported is not in the database; keep it (no news: no events).
    this.current.adoptRuntime(runtime)
    this.current.onRuntimeChange = (o) => this.observed(o)
  }

  private observed(o: Observed): void {
    if (this.observing === null || this.observing.sealed) {
      const tx = new Tx()
      tx.observe(o)
      this.observing = tx
      // Runtime state is not stored: a failed commit has nothing to undo here (the store stops the
      // controller), and nobody waits for this unit.
      this.store.commit(tx).catch(() => undefined)
      return
    }
    this.observing.observe(o)
  }
}
