/**
 * The one poller of the tests and the VM harness: waits for a state reached over time (a report, a
 * device, a node coming online). It imports nothing, so the VM harness can use it without loading the
 * project's native addon.
 */

/** Polls `fn` every `everyMs` until it returns something truthy, and returns that; throws naming `what` after `timeoutMs`. */
export async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number, everyMs: number): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v as NonNullable<T>
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
