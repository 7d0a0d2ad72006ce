/**
 * An allocator of integers from an inclusive range whose bounds may change at runtime, as LINSTOR's
 * `TcpPortAutoRange` / `MinorNrAutoRange` properties can. LINSTOR hands out the lowest free number; so
 * does this pool, in amortised constant time, using a two-level bitset.
 */

/** An inclusive integer range. */
export interface NumberRange {
  readonly min: number
  readonly max: number
}

/** Options of a {@link NumberPool}. */
export interface NumberPoolOptions {
  /** Human-readable name used in error messages, e.g. `"TCP port pool of node 'alpha'"`. */
  readonly name?: string
  /**
   * What the numbers are, carried by {@link PoolExhaustedError} so the API can answer with LINSTOR's
   * matching code (e.g. `TCP_PORT` → `FAIL_POOL_EXHAUSTED_TCP_PORT`). Defaults to `NUMBER`.
   */
  readonly kind?: string
  /**
   * Hard bounds no range and no reserved number may leave (e.g. 1–65535 for TCP ports). Defaults to
   * 0 … 2^31−1.
   */
  readonly limits?: NumberRange
}

/**
 * Largest range width a pool accepts. The bitset costs width/8 bytes, so this caps a pool at 2 MiB and
 * turns a mistaken range (e.g. `0–2^31`) into a clear error instead of a huge allocation. LINSTOR's
 * widest pool (DRBD minors, 2^20 numbers) fits comfortably.
 */
export const MAX_POOL_WIDTH = 1 << 24

const DEFAULT_LIMITS: NumberRange = { min: 0, max: 0x7fffffff }
const FULL = 0xffffffff

/** Thrown by {@link NumberPool.allocate} when every number of the current range is in use. */
export class PoolExhaustedError extends Error {
  readonly code = 'ERR_ALLOC_POOL_EXHAUSTED'
  override readonly name = 'PoolExhaustedError'
  constructor(
    /** The pool's {@link NumberPoolOptions.kind}. */
    readonly kind: string,
    /** The pool's {@link NumberPoolOptions.name}. */
    readonly poolName: string,
    readonly min: number,
    readonly max: number,
  ) {
    super(`${poolName} is exhausted: all numbers in ${min}–${max} are in use`)
  }

  /** What an operator can do about it, in the words of LINSTOR's `correction` field. */
  get correction(): string {
    return `Free numbers by deleting objects that hold them, or widen the range (${this.min}–${this.max}).`
  }
}

/** Thrown by {@link NumberPool.reserve} when the number is already allocated. */
export class NumberInUseError extends Error {
  readonly code = 'ERR_ALLOC_NUMBER_IN_USE'
  override readonly name = 'NumberInUseError'
  constructor(
    readonly kind: string,
    readonly poolName: string,
    readonly number: number,
  ) {
    super(`${poolName}: ${number} is already in use`)
  }
}

function checkInteger(what: string, n: unknown): asserts n is number {
  if (typeof n !== 'number') throw new TypeError(`${what} must be a number, got ${typeof n}`)
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} must be an integer, got ${n}`)
}

/** Index (0–31) of the lowest clear bit of a 32-bit word that is not all ones. */
function lowestClearBit(word: number): number {
  const inv = ~word
  return 31 - Math.clz32(inv & -inv)
}

/**
 * A set of allocated integers with allocation of the lowest free number of an inclusive range.
 *
 * Numbers inside the current range live in a bitset (`words`), with a second level (`fullWords`, one bit
 * per word, set when the word is full) so finding a free word skips 1024 numbers per step; a hint
 * remembers the lowest second-level word that may have room, so sequential allocation and
 * free-then-allocate are O(1). Numbers outside the range (reserved from the database after the range
 * changed) are kept in a plain set: they stay allocated until freed but are never handed out.
 */
export class NumberPool {
  readonly kind: string
  readonly name: string
  readonly limits: NumberRange
  #min = 0
  #max = -1
  #words = new Uint32Array(0)
  #fullWords = new Uint32Array(0)
  /** Lowest index into #fullWords that may have a non-full word; everything before is full. */
  #hint = 0
  /** Allocated numbers inside [#min, #max]. */
  #inRange = 0
  /** Allocated numbers outside [#min, #max]. */
  #outside = new Set<number>()

  /**
   * @param min lowest number of the range (inclusive)
   * @param max highest number of the range (inclusive)
   * @throws RangeError when the range is empty, wider than {@link MAX_POOL_WIDTH} or outside the limits
   */
  constructor(min: number, max: number, options: NumberPoolOptions = {}) {
    this.kind = options.kind ?? 'NUMBER'
    this.name = options.name ?? 'number pool'
    const limits = options.limits ?? DEFAULT_LIMITS
    checkInteger('limits.min', limits.min)
    checkInteger('limits.max', limits.max)
    if (limits.min > limits.max) throw new RangeError(`limits ${limits.min}–${limits.max} are empty`)
    this.limits = { min: limits.min, max: limits.max }
    this.setRange(min, max)
  }

  /** Lowest number of the current range. */
  get min(): number {
    return this.#min
  }

  /** Highest number of the current range. */
  get max(): number {
    return this.#max
  }

  /** How many numbers the current range holds. */
  get capacity(): number {
    return this.#max - this.#min + 1
  }

  /** How many numbers are allocated, inside the range or not. */
  get size(): number {
    return this.#inRange + this.#outside.size
  }

  /** How many numbers of the current range are free. */
  get freeCount(): number {
    return this.capacity - this.#inRange
  }

  /**
   * Changes the range. Allocated numbers stay allocated wherever they fall; those outside the new range
   * are never handed out again once freed. Costs O(old width + new width); ranges change rarely.
   *
   * @throws RangeError when the range is empty, wider than {@link MAX_POOL_WIDTH} or outside the limits
   */
  setRange(min: number, max: number): void {
    checkInteger('min', min)
    checkInteger('max', max)
    if (min > max) throw new RangeError(`${this.name}: range ${min}–${max} is empty (min > max)`)
    if (min < this.limits.min || max > this.limits.max) {
      throw new RangeError(
        `${this.name}: range ${min}–${max} leaves the allowed ${this.limits.min}–${this.limits.max}`,
      )
    }
    if (max - min + 1 > MAX_POOL_WIDTH) {
      throw new RangeError(`${this.name}: range ${min}–${max} is wider than ${MAX_POOL_WIDTH} numbers`)
    }
    const allocated = [...this.values()]
    this.#min = min
    this.#max = max
    const width = max - min + 1
    const nWords = Math.ceil(width / 32)
    const nFull = Math.ceil(nWords / 32)
    this.#words = new Uint32Array(nWords)
    this.#fullWords = new Uint32Array(nFull)
    // Bits past the end of the range are set so that "word is full" and "summary word is full" need no
    // special case for the last, partial word; #inRange counts real numbers only.
    const tailBits = width % 32
    if (tailBits !== 0) this.#words[nWords - 1] = ~((1 << tailBits) - 1) >>> 0
    const tailWords = nWords % 32
    if (tailWords !== 0) this.#fullWords[nFull - 1] = ~((1 << tailWords) - 1) >>> 0
    this.#inRange = 0
    this.#outside = new Set()
    this.#hint = 0
    for (const n of allocated) {
      if (n >= min && n <= max) this.#set(n - min)
      else this.#outside.add(n)
    }
  }

  /**
   * Allocates and returns a number of the current range: `preferred` when it is in range and free,
   * otherwise the lowest free one.
   *
   * @throws PoolExhaustedError when no number of the range is free
   * @throws TypeError / RangeError when `preferred` is given but not an integer
   */
  allocate(preferred?: number): number {
    if (preferred !== undefined) {
      checkInteger('preferred', preferred)
      if (preferred >= this.#min && preferred <= this.#max && !this.#test(preferred - this.#min)) {
        this.#set(preferred - this.#min)
        return preferred
      }
    }
    if (this.#inRange === this.capacity) {
      throw new PoolExhaustedError(this.kind, this.name, this.#min, this.#max)
    }
    const full = this.#fullWords
    let s = this.#hint
    // Terminates: #inRange < capacity guarantees a non-full word, and the hint never passes one.
    while (full[s] === FULL) s++
    this.#hint = s
    const w = s * 32 + lowestClearBit(full[s]!)
    const offset = w * 32 + lowestClearBit(this.#words[w]!)
    this.#set(offset)
    return this.#min + offset
  }

  /**
   * Marks `n` allocated, e.g. when loading owners from the database or when a user asks for a specific
   * number. `n` may lie outside the current range (the range may have changed since it was handed out)
   * but not outside the limits.
   *
   * @throws NumberInUseError when `n` is already allocated
   * @throws RangeError when `n` is not an integer within the limits
   */
  reserve(n: number): void {
    checkInteger('number', n)
    if (n < this.limits.min || n > this.limits.max) {
      throw new RangeError(`${this.name}: ${n} is outside ${this.limits.min}–${this.limits.max}`)
    }
    if (this.isAllocated(n)) throw new NumberInUseError(this.kind, this.name, n)
    if (n >= this.#min && n <= this.#max) this.#set(n - this.#min)
    else this.#outside.add(n)
  }

  /**
   * Returns `n` to the pool. Freeing a number that is not allocated does nothing, so deletes may be
   * repeated.
   *
   * @returns whether `n` was allocated
   */
  free(n: number): boolean {
    checkInteger('number', n)
    if (n >= this.#min && n <= this.#max) {
      const offset = n - this.#min
      if (!this.#test(offset)) return false
      this.#clear(offset)
      return true
    }
    return this.#outside.delete(n)
  }

  /** Whether `n` is allocated (inside the range or not). */
  isAllocated(n: number): boolean {
    checkInteger('number', n)
    if (n >= this.#min && n <= this.#max) return this.#test(n - this.#min)
    return this.#outside.has(n)
  }

  /** The allocated numbers in ascending order. */
  *values(): IterableIterator<number> {
    const outside = [...this.#outside].sort((a, b) => a - b)
    let i = 0
    while (i < outside.length && outside[i]! < this.#min) yield outside[i++]!
    const words = this.#words
    const width = this.capacity
    for (let w = 0; w < words.length; w++) {
      let word = words[w]!
      if (word === 0) continue
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word)
        const offset = w * 32 + bit
        if (offset >= width) break // tail padding
        yield this.#min + offset
        word &= word - 1
      }
    }
    while (i < outside.length) yield outside[i++]!
  }

  #test(offset: number): boolean {
    return (this.#words[offset >>> 5]! & (1 << (offset & 31))) !== 0
  }

  #set(offset: number): void {
    const w = offset >>> 5
    const word = (this.#words[w]! | (1 << (offset & 31))) >>> 0
    this.#words[w] = word
    this.#inRange++
    if (word === FULL) this.#fullWords[w >>> 5]! |= 1 << (w & 31)
  }

  #clear(offset: number): void {
    const w = offset >>> 5
    this.#words[w]! &= ~(1 << (offset & 31))
    this.#inRange--
    const s = w >>> 5
    this.#fullWords[s]! &= ~(1 << (w & 31))
    if (s < this.#hint) this.#hint = s
  }
}
