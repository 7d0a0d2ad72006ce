/**
 * The three number allocators the controller needs for DRBD, on top of {@link NumberPool}:
 * - TCP ports, one pool per node (LINSTOR 1.27+ allocates DRBD ports per node), default 7000–7999;
 * - minor numbers, one pool for the cluster, default 1000–49999;
 * - node ids, one pool per resource definition, 0–31.
 *
 * Names are case-insensitive, as every LINSTOR object name: pools are keyed by the upper-cased name.
 * Pools of a key are created on first use and dropped when they hold nothing, so deleted nodes and
 * resources leave no state behind and memory follows the number of live owners.
 */
import { NumberPool, type NumberRange } from './number-pool.js'

/** LINSTOR's default DRBD TCP port range per node (`Node.DEFAULT_TCP_PORT_MIN/MAX`). */
export const DEFAULT_TCP_PORT_RANGE: NumberRange = Object.freeze({ min: 7000, max: 7999 })
/** LINSTOR's default DRBD minor range (`MinorNrAutoRange` default). */
export const DEFAULT_MINOR_NR_RANGE: NumberRange = Object.freeze({ min: 1000, max: 49999 })
/** DRBD 9 node ids (`NodeId.NODE_ID_MIN/MAX`). */
export const NODE_ID_RANGE: NumberRange = Object.freeze({ min: 0, max: 31 })

/** Valid TCP ports; a `TcpPortAutoRange` must stay within. */
export const TCP_PORT_LIMITS: NumberRange = Object.freeze({ min: 1, max: 65535 })
/** Valid DRBD minors (`MinorNumber.MINOR_NR_MIN/MAX`: 20 bits). */
export const MINOR_NR_LIMITS: NumberRange = Object.freeze({ min: 0, max: (1 << 20) - 1 })

/** {@link PoolExhaustedError.kind} values, one per LINSTOR `FAIL_POOL_EXHAUSTED_*` code. */
export const POOL_KIND = Object.freeze({
  TCP_PORT: 'TCP_PORT',
  MINOR_NR: 'MINOR_NR',
  NODE_ID: 'NODE_ID',
} as const)

function keyOf(what: string, name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`${what} must be a non-empty string`)
  }
  return name.toUpperCase()
}

/**
 * Pools keyed by a case-insensitive name, created lazily with the key's range and dropped when empty.
 * Folder-private: the public classes below give each use its own vocabulary.
 */
class KeyedPools {
  readonly #pools = new Map<string, NumberPool>()
  readonly what: string
  readonly kind: string
  readonly limits: NumberRange
  readonly rangeOf: (key: string) => NumberRange

  constructor(what: string, kind: string, limits: NumberRange, rangeOf: (key: string) => NumberRange) {
    this.what = what
    this.kind = kind
    this.limits = limits
    this.rangeOf = rangeOf
  }

  get(key: string): NumberPool | undefined {
    return this.#pools.get(key)
  }

  getOrCreate(key: string, displayName: string): NumberPool {
    let pool = this.#pools.get(key)
    if (pool === undefined) {
      const r = this.rangeOf(key)
      pool = new NumberPool(r.min, r.max, {
        kind: this.kind,
        name: `${this.what} pool of '${displayName}'`,
        limits: this.limits,
      })
      this.#pools.set(key, pool)
    }
    return pool
  }

  /** Frees `n` under `key` and drops the pool when it becomes empty. */
  free(key: string, n: number): boolean {
    const pool = this.#pools.get(key)
    if (pool === undefined) return false
    const freed = pool.free(n)
    if (pool.size === 0) this.#pools.delete(key)
    return freed
  }

  delete(key: string): void {
    this.#pools.delete(key)
  }

  /** Re-applies ranges, e.g. after a range property changed. */
  refresh(filter: (key: string) => boolean): void {
    for (const [key, pool] of this.#pools) {
      if (!filter(key)) continue
      const r = this.rangeOf(key)
      if (r.min !== pool.min || r.max !== pool.max) pool.setRange(r.min, r.max)
    }
  }

  entries(): IterableIterator<[string, NumberPool]> {
    return this.#pools.entries()
  }
}

function checkRange(what: string, range: NumberRange, limits: NumberRange): NumberRange {
  const { min, max } = range
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max)) {
    throw new RangeError(`${what} range bounds must be integers, got ${min}–${max}`)
  }
  if (min > max) throw new RangeError(`${what} range ${min}–${max} is empty (min > max)`)
  if (min < limits.min || max > limits.max) {
    throw new RangeError(`${what} range ${min}–${max} leaves the allowed ${limits.min}–${limits.max}`)
  }
  return Object.freeze({ min, max })
}

/**
 * DRBD TCP ports, one pool per node. The range comes from the node's own `TcpPortAutoRange` when set,
 * otherwise from the controller's (LINSTOR reads node props before controller props).
 */
export class TcpPortAllocator {
  #defaultRange: NumberRange
  readonly #nodeRanges = new Map<string, NumberRange>()
  readonly #pools: KeyedPools

  /** @param range the controller-wide range; defaults to {@link DEFAULT_TCP_PORT_RANGE} */
  constructor(range: NumberRange = DEFAULT_TCP_PORT_RANGE) {
    this.#defaultRange = checkRange('TCP port', range, TCP_PORT_LIMITS)
    this.#pools = new KeyedPools(
      'TCP port',
      POOL_KIND.TCP_PORT,
      TCP_PORT_LIMITS,
      (key) => this.#nodeRanges.get(key) ?? this.#defaultRange,
    )
  }

  /** The controller-wide range. */
  get range(): NumberRange {
    return this.#defaultRange
  }

  /** Changes the controller-wide range; nodes with their own range keep it. Owned ports stay owned. */
  setRange(range: NumberRange): void {
    this.#defaultRange = checkRange('TCP port', range, TCP_PORT_LIMITS)
    this.#pools.refresh((key) => !this.#nodeRanges.has(key))
  }

  /** The range that applies to `nodeName`. */
  rangeOf(nodeName: string): NumberRange {
    return this.#nodeRanges.get(keyOf('nodeName', nodeName)) ?? this.#defaultRange
  }

  /** Sets (or, with `undefined`, removes) the node's own range. Owned ports stay owned. */
  setNodeRange(nodeName: string, range: NumberRange | undefined): void {
    const key = keyOf('nodeName', nodeName)
    if (range === undefined) this.#nodeRanges.delete(key)
    else this.#nodeRanges.set(key, checkRange('TCP port', range, TCP_PORT_LIMITS))
    this.#pools.refresh((k) => k === key)
  }

  /**
   * Allocates a port on `nodeName`: `preferred` if in range and free there, else the lowest free.
   * @throws PoolExhaustedError (kind `TCP_PORT`) when the node's range is used up
   */
  allocate(nodeName: string, preferred?: number): number {
    return this.#pools.getOrCreate(keyOf('nodeName', nodeName), nodeName).allocate(preferred)
  }

  /**
   * Marks `port` used on `nodeName` (loading from the database, or a port the user chose).
   * @throws NumberInUseError when the port is already used on that node
   */
  reserve(nodeName: string, port: number): void {
    this.#pools.getOrCreate(keyOf('nodeName', nodeName), nodeName).reserve(port)
  }

  /** Releases `port` on `nodeName`; returns whether it was allocated. */
  free(nodeName: string, port: number): boolean {
    return this.#pools.free(keyOf('nodeName', nodeName), port)
  }

  /** Whether `port` is used on `nodeName`. */
  isAllocated(nodeName: string, port: number): boolean {
    return this.#pools.get(keyOf('nodeName', nodeName))?.isAllocated(port) ?? false
  }

  /** How many ports are used on `nodeName`. */
  allocatedCount(nodeName: string): number {
    return this.#pools.get(keyOf('nodeName', nodeName))?.size ?? 0
  }

  /** Forgets a deleted node: its ports and its own range. */
  deleteNode(nodeName: string): void {
    const key = keyOf('nodeName', nodeName)
    this.#pools.delete(key)
    this.#nodeRanges.delete(key)
  }

  /** The used ports per node (upper-cased node name → ascending ports); nodes without ports are absent. */
  snapshot(): Map<string, number[]> {
    const out = new Map<string, number[]>()
    for (const [key, pool] of this.#pools.entries()) out.set(key, [...pool.values()])
    return out
  }
}

/** DRBD minor numbers, one pool for the whole cluster (`MinorNrAutoRange`). */
export class MinorNrAllocator {
  readonly #pool: NumberPool

  /** @param range defaults to {@link DEFAULT_MINOR_NR_RANGE} */
  constructor(range: NumberRange = DEFAULT_MINOR_NR_RANGE) {
    const r = checkRange('minor number', range, MINOR_NR_LIMITS)
    this.#pool = new NumberPool(r.min, r.max, {
      kind: POOL_KIND.MINOR_NR,
      name: 'Minor number pool',
      limits: MINOR_NR_LIMITS,
    })
  }

  /** The current range. */
  get range(): NumberRange {
    return { min: this.#pool.min, max: this.#pool.max }
  }

  /** Changes the range. Owned minors stay owned. */
  setRange(range: NumberRange): void {
    const r = checkRange('minor number', range, MINOR_NR_LIMITS)
    this.#pool.setRange(r.min, r.max)
  }

  /**
   * Allocates a minor: `preferred` if in range and free, else the lowest free.
   * @throws PoolExhaustedError (kind `MINOR_NR`) when the range is used up
   */
  allocate(preferred?: number): number {
    return this.#pool.allocate(preferred)
  }

  /** Marks `minor` used. @throws NumberInUseError when it already is */
  reserve(minor: number): void {
    this.#pool.reserve(minor)
  }

  /** Releases `minor`; returns whether it was allocated. */
  free(minor: number): boolean {
    return this.#pool.free(minor)
  }

  /** Whether `minor` is used. */
  isAllocated(minor: number): boolean {
    return this.#pool.isAllocated(minor)
  }

  /** How many minors are used. */
  get size(): number {
    return this.#pool.size
  }

  /** The used minors, ascending. */
  snapshot(): number[] {
    return [...this.#pool.values()]
  }
}

/**
 * DRBD node ids, one pool of 0–31 per resource definition: each resource of a definition gets an id
 * unique among its peers.
 */
export class NodeIdAllocator {
  readonly #pools = new KeyedPools('Node id', POOL_KIND.NODE_ID, NODE_ID_RANGE, () => NODE_ID_RANGE)

  /**
   * Allocates a node id for a new resource of `rscName`: `preferred` if free, else the lowest free.
   * @throws PoolExhaustedError (kind `NODE_ID`) when all 32 ids of the resource are used
   */
  allocate(rscName: string, preferred?: number): number {
    return this.#pools.getOrCreate(keyOf('rscName', rscName), rscName).allocate(preferred)
  }

  /**
   * Marks `nodeId` used in `rscName`.
   * @throws NumberInUseError when it already is; RangeError when it is not in 0–31
   */
  reserve(rscName: string, nodeId: number): void {
    this.#pools.getOrCreate(keyOf('rscName', rscName), rscName).reserve(nodeId)
  }

  /** Releases `nodeId` in `rscName`; returns whether it was allocated. */
  free(rscName: string, nodeId: number): boolean {
    return this.#pools.free(keyOf('rscName', rscName), nodeId)
  }

  /** Whether `nodeId` is used in `rscName`. */
  isAllocated(rscName: string, nodeId: number): boolean {
    return this.#pools.get(keyOf('rscName', rscName))?.isAllocated(nodeId) ?? false
  }

  /** Forgets a deleted resource definition. */
  deleteResourceDefinition(rscName: string): void {
    this.#pools.delete(keyOf('rscName', rscName))
  }

  /** The used node ids per resource definition (upper-cased name → ascending ids). */
  snapshot(): Map<string, number[]> {
    const out = new Map<string, number[]>()
    for (const [key, pool] of this.#pools.entries()) out.set(key, [...pool.values()])
    return out
  }
}
