// The work queue: dedup, one worker per key, keys in parallel, backoff, terminal errors, requeue.
import t from 'tap'
import { TerminalError } from '../../../../src/satellite/reconcile/errors.js'
import { WorkQueue, type ReconcileResult } from '../../../../src/satellite/reconcile/queue.js'

/** A promise with its resolve, to hold a pass open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((r) => (open = r))
  return { promise, open }
}
const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms))

t.test('a key enqueued many times while waiting runs once, in arrival order', async (t) => {
  const busy = gate()
  const runs: string[] = []
  const q = new WorkQueue(async (k) => {
    runs.push(k)
    if (k === 'a') await busy.promise
    return { done: true }
  }, { concurrency: 1 })
  q.enqueue('a')
  for (let i = 0; i < 5; i++) q.enqueue('b')
  q.enqueue('c')
  q.enqueue('b')
  t.equal(q.size, 3, 'a running, b and c waiting once each')
  busy.open()
  await q.idle()
  t.same(runs, ['a', 'b', 'c'])
})

t.test('one worker per key; a key enqueued during its pass runs again after it', async (t) => {
  let running = 0
  let maxRunning = 0
  let passes = 0
  const g = gate()
  const q = new WorkQueue(async () => {
    running++
    maxRunning = Math.max(maxRunning, running)
    passes++
    if (passes === 1) await g.promise
    running--
    return { done: true }
  })
  q.enqueue('r')
  await tick()
  q.enqueue('r')
  q.enqueue('r')
  await tick()
  t.equal(passes, 1, 'no second pass while the first runs')
  g.open()
  await q.idle()
  t.equal(passes, 2, 'one more pass for the input that came during the first')
  t.equal(maxRunning, 1, 'never two passes of one key at once')
})

t.test('different keys run in parallel, up to the concurrency', async (t) => {
  let running = 0
  let maxRunning = 0
  const g = gate()
  const q = new WorkQueue(async () => {
    running++
    maxRunning = Math.max(maxRunning, running)
    await g.promise
    running--
    return { done: true }
  }, { concurrency: 4 })
  for (let i = 0; i < 10; i++) q.enqueue(`r${i}`)
  await tick()
  t.equal(running, 4, 'four at once')
  g.open()
  await q.idle()
  t.equal(maxRunning, 4)
  t.throws(() => new WorkQueue(async () => ({ done: true }), { concurrency: 0 }), RangeError)
  t.throws(() => new WorkQueue(async () => ({ done: true }), { baseBackoffMs: 10, maxBackoffMs: 5 }), RangeError)
})

t.test('errors are retried with growing backoff; success resets the count', async (t) => {
  const times: number[] = []
  const delays: Array<number | undefined> = []
  let fails = 3
  const q = new WorkQueue(async () => {
    times.push(performance.now())
    if (fails-- > 0) throw new Error('EBUSY-ish')
    return { done: true }
  }, { baseBackoffMs: 20, maxBackoffMs: 1000, onError: (_k, _e, ms) => delays.push(ms) })
  q.enqueue('r')
  while (times.length < 4) await tick(5)
  await q.idle()
  t.equal(times.length, 4, 'three failures, then success')
  t.equal(delays.length, 3)
  // Jitter keeps each delay within 50–100 % of 20, 40, 80 ms.
  const steps = [20, 40, 80]
  delays.forEach((d, i) => t.ok(d! >= steps[i]! / 2 && d! <= steps[i]!, `delay ${i} = ${d} within its step ${steps[i]}`))
  for (let i = 1; i < times.length; i++) t.ok(times[i]! - times[i - 1]! >= delays[i - 1]! - 2, 'waited at least the delay')
  t.equal(q.failures('r'), 0, 'count reset by success')
})

t.test('backoff is capped', async (t) => {
  const delays: number[] = []
  let n = 0
  const q = new WorkQueue(async () => {
    if (++n <= 6) throw new Error('x')
    return { done: true }
  }, { baseBackoffMs: 1, maxBackoffMs: 4, onError: (_k, _e, ms) => delays.push(ms!) })
  q.enqueue('r')
  while (n <= 6) await tick(5)
  await q.idle()
  t.ok(delays.every((d) => d <= 4), `all delays ≤ 4 ms: ${delays.join(' ')}`)
})

t.test('a terminal error is reported and not retried; new input tries again', async (t) => {
  let passes = 0
  const terminal: Array<number | undefined> = []
  const q = new WorkQueue(async () => {
    passes++
    throw new TerminalError('pool directory missing')
  }, { baseBackoffMs: 1, onError: (_k, e, ms) => { if (e instanceof TerminalError) terminal.push(ms) } })
  q.enqueue('r')
  await q.idle()
  await tick(30)
  t.equal(passes, 1, 'not retried')
  t.same(terminal, [undefined], 'reported with no retry')
  t.equal(q.size, 0)
  q.enqueue('r')
  await q.idle()
  t.equal(passes, 2, 'new input runs it again')
})

t.test('an errno retrying cannot fix counts as terminal', async (t) => {
  let passes = 0
  const q = new WorkQueue(async () => {
    passes++
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
  }, { baseBackoffMs: 1 })
  q.enqueue('r')
  await q.idle()
  await tick(20)
  t.equal(passes, 1)
})

t.test('requeueAfterMs runs the key again later; new input cancels the wait', async (t) => {
  const results: ReconcileResult[] = [{ requeueAfterMs: 10_000 }, { requeueAfterMs: 15 }, { done: true }]
  let passes = 0
  const q = new WorkQueue(async () => results[passes++]!)
  q.enqueue('r')
  await q.idle()
  t.equal(passes, 1)
  t.equal(q.size, 1, 'waiting on its timer')
  q.enqueue('r') // new input: no 10 s wait
  await q.idle()
  t.equal(passes, 2)
  await tick(40)
  await q.idle()
  t.equal(passes, 3, 'the 15 ms requeue ran')
  t.equal(q.size, 0)
})

t.test('new input during a failing pass skips the backoff', async (t) => {
  let passes = 0
  const g = gate()
  const q = new WorkQueue(async () => {
    passes++
    if (passes === 1) {
      await g.promise
      throw new Error('fails')
    }
    return { done: true }
  }, { baseBackoffMs: 60_000, maxBackoffMs: 60_000 })
  q.enqueue('r')
  await tick()
  q.enqueue('r')
  g.open()
  await tick(10)
  await q.idle()
  t.equal(passes, 2, 'ran again at once, not after a minute')
})

t.test('close waits for running passes and drops the rest', async (t) => {
  const g = gate()
  let passes = 0
  const q = new WorkQueue(async () => {
    passes++
    await g.promise
    throw new Error('retry me')
  }, { concurrency: 1, baseBackoffMs: 1 })
  q.enqueue('a')
  q.enqueue('b')
  await tick()
  const closing = q.close()
  g.open()
  await closing
  await tick(20)
  t.equal(passes, 1, 'b never started, a not retried')
  q.enqueue('c')
  await tick(5)
  t.equal(passes, 1, 'a closed queue takes nothing')
})
