/**
 * One read of a provider's state per scope (an LVM volume group, a ZFS dataset) shared by everyone who
 * asks at once: the pool check, observation and space of a pass follow each other in promise callbacks,
 * and many resources are looked at in parallel. A read is shared while it runs and until the end of the
 * event-loop turn it finished in, unless a change of its scope finished since it started (then it may
 * predate the change, and a new read is made).
 */
interface InFlight<T> {
  /** Changes of the scope finished when it started. */
  seq: number
  read: Promise<T>
}

export class SharedRead<T> {
  readonly #inFlight = new Map<string, InFlight<T>>()
  /** Changes finished per scope. */
  readonly #changes = new Map<string, number>()

  constructor(private readonly run: (scope: string) => Promise<T>) {}

  /** The read of `scope` that serves now, or a new one (always a new one when `fresh`). */
  get(scope: string, { fresh = false } = {}): Promise<T> {
    const seq = this.#changes.get(scope) ?? 0
    const running = this.#inFlight.get(scope)
    if (!fresh && running !== undefined && running.seq === seq) return running.read
    const entry: InFlight<T> = { seq, read: this.run(scope) }
    this.#inFlight.set(scope, entry)
    const done = (): void => {
      setImmediate(() => {
        if (this.#inFlight.get(scope) === entry) this.#inFlight.delete(scope)
      })
    }
    entry.read.then(done, done)
    return entry.read
  }

  /** A change of `scope` finished (or failed, having perhaps changed something): later reads are new. */
  changed(scope: string): void {
    this.#changes.set(scope, (this.#changes.get(scope) ?? 0) + 1)
  }
}
