import t from 'tap'
import {
  MAX_POOL_WIDTH,
  NumberInUseError,
  NumberPool,
  PoolExhaustedError,
} from '../../../../src/controller/alloc/number-pool.js'
import { rng } from '../../../helpers/rng.js'

/** Whether `fn` throws an instance of `cls` (cheap enough for a hot loop, unlike t.throws). */
function throwsA(fn: () => unknown, cls: new (...args: never[]) => Error): boolean {
  try {
    fn()
    return false
  } catch (e) {
    return e instanceof cls
  }
}

t.test('hands out the lowest free number in order', async (t) => {
  const p = new NumberPool(7000, 7004)
  t.same([p.allocate(), p.allocate(), p.allocate()], [7000, 7001, 7002])
  t.equal(p.size, 3)
  t.equal(p.freeCount, 2)
  t.equal(p.capacity, 5)
  t.ok(p.free(7001))
  t.equal(p.allocate(), 7001, 'a freed number is reused before higher ones')
  t.equal(p.allocate(), 7003)
})

t.test('preferred number', async (t) => {
  const p = new NumberPool(10, 20)
  t.equal(p.allocate(15), 15, 'free and in range: taken')
  t.equal(p.allocate(15), 10, 'taken: falls back to the lowest free')
  t.equal(p.allocate(99), 11, 'out of range: falls back to the lowest free')
  t.equal(p.allocate(9), 12)
  t.throws(() => p.allocate(1.5), RangeError)
  t.throws(() => p.allocate('3' as unknown as number), TypeError)
})

t.test('exhaustion is a typed error with the range', async (t) => {
  const p = new NumberPool(0, 2, { kind: 'NODE_ID', name: "Node id pool of 'r1'" })
  p.allocate()
  p.allocate()
  p.allocate()
  const err = t.throws(() => p.allocate()) as PoolExhaustedError
  t.ok(err instanceof PoolExhaustedError)
  t.match(err, {
    code: 'ERR_ALLOC_POOL_EXHAUSTED',
    name: 'PoolExhaustedError',
    kind: 'NODE_ID',
    poolName: "Node id pool of 'r1'",
    min: 0,
    max: 2,
  })
  t.match(err.message, /Node id pool of 'r1' is exhausted: all numbers in 0–2 are in use/)
  t.match(err.correction, /widen the range \(0–2\)/)
  t.throws(() => p.allocate(1), PoolExhaustedError, 'a taken preferred number does not help')
  p.free(1)
  t.equal(p.allocate(), 1)
})

t.test('reserve', async (t) => {
  const p = new NumberPool(100, 199, { limits: { min: 1, max: 65535 } })
  p.reserve(100)
  p.reserve(150)
  t.equal(p.allocate(), 101)
  const err = t.throws(() => p.reserve(150)) as NumberInUseError
  t.ok(err instanceof NumberInUseError)
  t.match(err, { code: 'ERR_ALLOC_NUMBER_IN_USE', number: 150 })
  p.reserve(5000)
  t.ok(p.isAllocated(5000), 'a number outside the range may be reserved (range changed since)')
  t.equal(p.size, 4)
  t.equal(p.freeCount, 97, 'numbers outside the range do not use the range up')
  t.throws(() => p.reserve(5000), NumberInUseError)
  t.throws(() => p.reserve(0), RangeError, 'outside the limits')
  t.throws(() => p.reserve(65536), RangeError)
  t.throws(() => p.reserve(NaN), RangeError)
  t.throws(() => p.reserve(null as unknown as number), TypeError)
})

t.test('free', async (t) => {
  const p = new NumberPool(0, 9)
  t.equal(p.free(3), false, 'freeing a free number is a no-op')
  p.reserve(3)
  t.equal(p.free(3), true)
  t.equal(p.free(3), false, 'repeatable')
  t.equal(p.free(42), false)
  t.notOk(p.isAllocated(3))
  t.throws(() => p.free(0.5), RangeError)
  t.throws(() => p.isAllocated(undefined as unknown as number), TypeError)
  t.notOk(p.isAllocated(-7))
})

t.test('range change keeps owned numbers allocated', async (t) => {
  const p = new NumberPool(1000, 1009)
  for (let i = 0; i < 10; i++) p.allocate()
  p.setRange(1005, 1014)
  t.equal(p.min, 1005)
  t.equal(p.max, 1014)
  t.equal(p.size, 10)
  t.equal(p.freeCount, 5)
  t.ok(p.isAllocated(1000), 'below the new range: still allocated')
  t.same([p.allocate(), p.allocate()], [1010, 1011])
  t.ok(p.free(1000))
  t.notOk(p.isAllocated(1000))
  t.equal(p.allocate(1000), 1012, 'a number outside the range is never handed out')
  t.same([...p.values()], [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012])
  p.setRange(1000, 1002)
  t.equal(p.freeCount, 1)
  t.equal(p.allocate(), 1000)
  t.throws(() => p.allocate(), PoolExhaustedError)
  t.same([...p.values()].length, 13)
})

t.test('values() is ascending with numbers on both sides of the range', async (t) => {
  const p = new NumberPool(50, 60)
  for (const n of [70, 5, 55, 60, 50, 40, 80]) p.reserve(n)
  t.same([...p.values()], [5, 40, 50, 55, 60, 70, 80])
})

t.test('argument checks', async (t) => {
  t.throws(() => new NumberPool(5, 4), { name: 'RangeError', message: /empty/ })
  t.throws(() => new NumberPool(0, 10, { limits: { min: 1, max: 65535 } }), /leaves the allowed 1–65535/)
  t.throws(() => new NumberPool(0, MAX_POOL_WIDTH), /wider than/)
  t.doesNotThrow(() => new NumberPool(0, MAX_POOL_WIDTH - 1))
  t.throws(() => new NumberPool(0, 1.5), RangeError)
  t.throws(() => new NumberPool('0' as unknown as number, 1), TypeError)
  t.throws(() => new NumberPool(0, 1, { limits: { min: 2, max: 1 } }), RangeError)
  const p = new NumberPool(0, 10)
  t.throws(() => p.setRange(3, 2), RangeError)
  t.equal(p.min, 0, 'a rejected range leaves the pool as it was')
})

t.test('edge widths around word (32) and summary (1024) boundaries', async (t) => {
  for (const width of [1, 31, 32, 33, 1023, 1024, 1025, 2049]) {
    const p = new NumberPool(-3, -3 + width - 1, { limits: { min: -10, max: 10_000 } })
    const got: number[] = []
    for (let i = 0; i < width; i++) got.push(p.allocate())
    t.same(got, Array.from({ length: width }, (_, i) => i - 3), `width ${width}: all numbers in order`)
    t.throws(() => p.allocate(), PoolExhaustedError, `width ${width}: exhausted`)
    t.equal(p.freeCount, 0)
    const last = -3 + width - 1
    p.free(last)
    t.equal(p.allocate(), last, `width ${width}: last number comes back`)
  }
})

t.test('matches a naive model under random operations and range changes', async (t) => {
  const next = rng(42)
  const pick = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1))
  const limits = { min: 0, max: 5000 }
  let min = 100
  let max = 2200
  const p = new NumberPool(min, max, { limits })
  const model = new Set<number>()
  const lowestFree = (preferred?: number): number | undefined => {
    if (preferred !== undefined && preferred >= min && preferred <= max && !model.has(preferred)) return preferred
    for (let n = min; n <= max; n++) if (!model.has(n)) return n
    return undefined
  }
  let mismatches = 0
  for (let i = 0; i < 20_000; i++) {
    const op = next()
    if (op < 0.45) {
      const preferred = next() < 0.3 ? pick(0, 2500) : undefined
      const want = lowestFree(preferred)
      if (want === undefined) {
        if (!throwsA(() => p.allocate(preferred), PoolExhaustedError)) mismatches++
      } else {
        if (p.allocate(preferred) !== want) mismatches++
        model.add(want)
      }
    } else if (op < 0.85) {
      const n = pick(0, 2500)
      if (p.free(n) !== model.delete(n)) mismatches++
    } else if (op < 0.97) {
      const n = pick(0, 2500)
      if (model.has(n)) {
        if (!throwsA(() => p.reserve(n), NumberInUseError)) mismatches++
      } else {
        p.reserve(n)
        model.add(n)
      }
    } else {
      min = pick(0, 1500)
      max = pick(min, 2500)
      p.setRange(min, max)
    }
    if (p.size !== model.size) mismatches++
  }
  t.equal(mismatches, 0, 'every answer matches the model')
  t.same([...p.values()], [...model].sort((a, b) => a - b), 'same allocated set at the end')
  let inRange = 0
  for (const n of model) if (n >= min && n <= max) inRange++
  t.equal(p.freeCount, max - min + 1 - inRange)
})

t.test('49,000 numbers: fill, churn and refill stay fast', async (t) => {
  const p = new NumberPool(1000, 49999)
  const next = rng(7)
  const start = process.hrtime.bigint()
  for (let i = 0; i < 49_000; i++) p.allocate()
  t.throws(() => p.allocate(), PoolExhaustedError)
  // Churn on a full pool: the freed number is always the one handed out next.
  let ok = true
  for (let i = 0; i < 200_000; i++) {
    const n = 1000 + Math.floor(next() * 49_000)
    p.free(n)
    if (p.allocate() !== n) ok = false
  }
  t.ok(ok, 'the single free number is found each time')
  // Churn with many holes: the answer is always the lowest.
  for (let n = 1000; n < 50000; n += 2) p.free(n)
  for (let i = 0; i < 100_000; i++) {
    const n = p.allocate()
    p.free(n)
    if (n !== 1000) ok = false
  }
  t.ok(ok)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  // An O(range) scan per call would take tens of seconds here; the bound is loose against slow CI.
  t.ok(ms < 3000, `took ${ms.toFixed(0)} ms`)
})
