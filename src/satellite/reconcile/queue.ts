/**
 * The reconcile work queue (STYLE.md §4, after controller-runtime's workqueue): events only enqueue a
 * key; a key waiting is queued once however often it is enqueued; one worker per key at a time, many
 * keys in parallel (up to `concurrency`); a key enqueued while its worker runs is run again right after.
 * A thrown error is retried with exponential backoff; a {@link TerminalError} is not retried.
 */
import { isTerminal } from './errors.js'

/** What one reconcile pass asks for next (controller-runtime's Result). */
export type ReconcileResult = { done: true } | { requeueAfterMs: number }

export type Reconciler = (key: string) => Promise<ReconcileResult>

export interface WorkQueueOptions {
  /** Keys reconciled at the same time (default 32). */
  concurrency?: number
  /** First retry delay after an error, ms (default 100); doubles per consecutive failure. */
  baseBackoffMs?: number
  /** Longest retry delay, ms (default 30 000). */
  maxBackoffMs?: number
  /** Called when a pass threw; `retryInMs` is undefined for a terminal error (no retry). */
  onError?: (key: string, err: unknown, retryInMs: number | undefined) => void
}

export class WorkQueue {
  readonly #reconcile: Reconciler
  readonly #concurrency: number
  readonly #baseMs: number
  readonly #maxMs: number
  readonly #onError: WorkQueueOptions['onError']
  /** Keys waiting for a worker, in arrival order (a Set keeps one entry per key). */
  readonly #waiting = new Set<string>()
  readonly #running = new Set<string>()
  /** Keys enqueued while their worker ran: run again when it finishes. */
  readonly #dirty = new Set<string>()
  /** Retry timers (backoff or requeueAfterMs). */
  readonly #timers = new Map<string, NodeJS.Timeout>()
  /** Consecutive failures per key. */
  readonly #failures = new Map<string, number>()
  #idleWaiters: Array<() => void> = []
  #closed = false

  constructor(reconcile: Reconciler, options: WorkQueueOptions = {}) {
    this.#reconcile = reconcile
    this.#concurrency = options.concurrency ?? 32
    this.#baseMs = options.baseBackoffMs ?? 100
    this.#maxMs = options.maxBackoffMs ?? 30_000
    this.#onError = options.onError
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) throw new RangeError(`WorkQueue: concurrency must be a positive integer, got ${this.#concurrency}`)
    if (!(this.#baseMs > 0) || !(this.#maxMs >= this.#baseMs)) throw new RangeError('WorkQueue: need 0 < baseBackoffMs <= maxBackoffMs')
  }

  /**
   * Asks for a pass over `key`: now if a worker is free, after the running pass of the same key, or
   * in order behind others. New input cancels a pending retry timer: the key runs as soon as it can.
   */
  enqueue(key: string): void {
    if (this.#closed) return
    const timer = this.#timers.get(key)
    if (timer !== undefined) {
      clearTimeout(timer)
      this.#timers.delete(key)
    }
    if (this.#running.has(key)) {
      this.#dirty.add(key)
      return
    }
    this.#waiting.add(key)
    this.#pump()
  }

  /** Consecutive failures of `key` so far (0 after a successful pass). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0
  }

  /** Keys waiting, running or waiting for a retry timer. */
  get size(): number {
    const all = new Set([...this.#waiting, ...this.#running, ...this.#timers.keys()])
    return all.size
  }

  /** Resolves when no key is waiting or running (pending retry timers do not count). */
  idle(): Promise<void> {
    if (this.#waiting.size === 0 && this.#running.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Stops: no new passes start, retry timers are dropped; resolves when running passes finished. */
  async close(): Promise<void> {
    this.#closed = true
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
    this.#waiting.clear()
    this.#dirty.clear()
    await this.idle()
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.#concurrency) {
      const next = this.#waiting.values().next()
      if (next.done === true) break
      const key = next.value
      this.#waiting.delete(key)
      this.#running.add(key)
      void this.#run(key)
    }
    if (this.#waiting.size === 0 && this.#running.size === 0) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of waiters) w()
    }
  }

  async #run(key: string): Promise<void> {
    let retryInMs: number | undefined
    try {
      const result = await this.#reconcile(key)
      this.#failures.delete(key)
      if ('requeueAfterMs' in result) retryInMs = Math.max(0, result.requeueAfterMs)
    } catch (err) {
      if (isTerminal(err)) {
        this.#failures.delete(key)
        this.#onError?.(key, err, undefined)
      } else {
        const n = (this.#failures.get(key) ?? 0) + 1
        this.#failures.set(key, n)
        retryInMs = this.#backoff(n)
        this.#onError?.(key, err, retryInMs)
      }
    } finally {
      this.#running.delete(key)
    }
    if (this.#dirty.delete(key)) {
      // New input arrived during the pass: it supersedes any retry delay.
      this.#waiting.add(key)
    } else if (retryInMs !== undefined && !this.#closed) {
      const timer = setTimeout(() => {
        this.#timers.delete(key)
        this.enqueue(key)
      }, retryInMs)
      timer.unref?.()
      this.#timers.set(key, timer)
    }
    this.#pump()
  }

  /** Exponential backoff with jitter (50–100 % of the step), so failing keys do not retry in lockstep. */
  #backoff(failures: number): number {
    const step = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(failures - 1, 30))
    return Math.round(step * (0.5 + Math.random() / 2))
  }
}
