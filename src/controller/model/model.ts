/**
 * The whole controller state in memory (DESIGN.md §2.2): maps keyed by upper-cased name, plus the
 * indexes the API needs (resources by node). Every change goes through a `put*`/`delete*` method with the
 * API call's Tx, so memory, indexes and the rows to write can never drift apart. Loading from the store
 * uses the same methods with no Tx. What satellites report goes through the `setRuntime*`/`deleteRuntime*`
 * methods. Both keep the change stamps that caches of derived data rely on (see `resourceStamp`).
 */
import { ApiError } from '../../common/errors.js'
import { nameKey } from '../../common/names.js'
import { MinorNrAllocator, NodeIdAllocator, TcpPortAllocator } from '../alloc/allocators.js'
import { PoolExhaustedError } from '../alloc/number-pool.js'
import { minorRange, tcpPortRange, tcpPortRangeOf } from './ctrl-props.js'
import { PoolUsage } from './pool-usage.js'
import type { Observed, Tx } from '../db/tx.js'
import type { Rows } from '../db/store.js'
import type {
  KeyValueStore, Node, Props, Resource, RscDfn, RscGrp, RuntimeNode, RuntimeResource, RuntimeStorPool, RuntimeVolume,
  SnapshotDfn, StorPool, StorPoolDfn, VlmDfn,
} from './types.js'

export const DFLT_STOR_POOL = 'DfltStorPool'
export const DFLT_DISKLESS_STOR_POOL = 'DfltDisklessStorPool'
export const DFLT_RSC_GRP = 'DfltRscGrp'

/** The runtime state as the model exposes it: read only (see {@link Model.runtime}). */
export interface RuntimeState {
  readonly nodes: ReadonlyMap<string, Readonly<RuntimeNode>>
  /** `${nodeKey}\0${poolKey}` */
  readonly storPools: ReadonlyMap<string, Readonly<RuntimeStorPool>>
  /** `${rscKey}\0${nodeKey}` */
  readonly resources: ReadonlyMap<string, Readonly<RuntimeResource>>
  /** `${rscKey}\0${nodeKey}\0${vlmNr}` */
  readonly volumes: ReadonlyMap<string, Readonly<RuntimeVolume>>
}

export class Model {
  ctrlProps: Props = {}
  readonly nodes = new Map<string, Node>()
  readonly storPoolDfns = new Map<string, StorPoolDfn>()
  /** nodeKey → poolKey → pool */
  readonly storPools = new Map<string, Map<string, StorPool>>()
  readonly rscGrps = new Map<string, RscGrp>()
  readonly rscDfns = new Map<string, RscDfn>()
  /** rscKey → nodeKey → resource */
  readonly resources = new Map<string, Map<string, Resource>>()
  /** nodeKey → rscKey → resource (index of the above) */
  readonly resourcesByNode = new Map<string, Map<string, Resource>>()
  /** rscKey → snapKey → snapshot definition */
  readonly snapshotDfns = new Map<string, Map<string, SnapshotDfn>>()
  readonly kvs = new Map<string, KeyValueStore>()

  /**
   * DRBD number allocators. Their state is derived: every number is owned by an object (a volume
   * definition's minor, a resource's TCP port and node id), so they are rebuilt from the objects at
   * load and can never hold a number without its owner. Allocation goes through `alloc*` below (which
   * marks the model so a failed API call is rolled back); release happens in the delete methods.
   */
  readonly alloc = { tcpPorts: new TcpPortAllocator(), minors: new MinorNrAllocator(), nodeIds: new NodeIdAllocator() }
  /** Set when an allocator changed since `clearAllocMark()`: Core rolls back such a failed call. */
  allocTouched = false
  /**
   * Space reserved per storage pool by the resources in it; derived like the allocators, kept current by
   * the resource and definition methods below (auto-placement reads it on every call).
   */
  readonly poolUsage = new PoolUsage()

  private readonly rt = {
    nodes: new Map<string, Readonly<RuntimeNode>>(),
    storPools: new Map<string, Readonly<RuntimeStorPool>>(),
    resources: new Map<string, Readonly<RuntimeResource>>(),
    volumes: new Map<string, Readonly<RuntimeVolume>>(),
  }
  /**
   * What satellites report; never persisted. Read only: it changes through `setRuntime*`/`deleteRuntime*`,
   * which keep the change stamps (a direct write would leave caches stale, so the types refuse it).
   */
  readonly runtime: RuntimeState = this.rt
  /**
   * Told of every change to the runtime state (keys upper-cased), so that Core can give it a cluster
   * revision for the events stream. Null while a model is being rebuilt.
   */
  onRuntimeChange: ((o: Observed) => void) | null = null

  // Change stamps. The clock ticks on every change, and each stamp is the clock value at the last change of
  // what it covers: caches of derived data (the resources' JSON text, the placer's inputs) compare them with
  // the clock value they were built at instead of recomputing per request. At 30,000 resources the view
  // spent ~400 ms rebuilding and serialising unchanged resources, and each placement rebuilt ~3,000
  // objects (bench/controller-scale.ts).
  private clock = 0
  private readonly rscStamps = new WeakMap<Resource, number>()
  private readonly nodeStamps = new Map<string, number>()
  private readonly changedAt = { resourceSet: 0, node: 0, shared: 0 }

  /** Rebuild from the store's rows; O(objects). */
  static fromRows(rows: Rows): Model {
    const m = new Model()
    m.setCtrlProps(null, rows.ctrlProps)
    for (const o of rows.objects.node) m.putNode(null, o)
    for (const o of rows.objects.storPoolDfn) m.putStorPoolDfn(null, o)
    for (const o of rows.objects.storPool) m.putStorPool(null, o)
    for (const o of rows.objects.rscGrp) m.putRscGrp(null, o)
    for (const o of rows.objects.rscDfn) m.putRscDfn(null, o)
    for (const o of rows.objects.resource) m.putResource(null, o)
    for (const o of rows.objects.snapshotDfn) m.putSnapshotDfn(null, o)
    for (const o of rows.objects.kvs) m.putKvs(null, o)
    for (const rd of m.rscDfns.values()) for (const vd of rd.vlmDfns) if (vd.minor !== null) m.alloc.minors.reserve(vd.minor)
    for (const r of m.allResources()) {
      if (r.drbdTcpPort !== null) m.alloc.tcpPorts.reserve(r.nodeName, r.drbdTcpPort)
      if (r.drbdNodeId !== null) m.alloc.nodeIds.reserve(r.rscName, r.drbdNodeId)
    }
    m.allocTouched = false
    return m
  }

  /**
   * When anything a resource's JSON depends on last changed: the resource, its definition, the storage
   * pools of its node, what satellites reported of it and its volumes. Positive for a resource in the model, 0 for
   * an object the model does not hold (which nothing should cache).
   */
  resourceStamp(r: Resource): number {
    return this.rscStamps.get(r) ?? 0
  }

  /**
   * When anything the placer reads of a node last changed: the node, its storage pools, and what its
   * satellite reported of itself and of its pools (not its resources, which change with every placement).
   * 0 for a node the model does not hold.
   */
  nodeStamp(nodeKey: string): number {
    return this.nodeStamps.get(nodeKey) ?? 0
  }

  /**
   * Clock values of the last change of: the set of resources (one added, removed or replaced by another
   * object: what a cached order of all resources depends on); any node's {@link nodeStamp}, a node's removal
   * included; what all nodes share (controller properties, storage pool definitions).
   */
  get lastChange(): Readonly<{ resourceSet: number; node: number; shared: number }> {
    return this.changedAt
  }

  private touchResource(r: Resource): void {
    this.rscStamps.set(r, ++this.clock)
  }
  private touchResourcesOf(rscKey: string): void {
    const byNode = this.resources.get(rscKey)
    if (byNode !== undefined) for (const r of byNode.values()) this.touchResource(r)
  }
  private touchNode(nodeKey: string): void {
    const t = ++this.clock
    this.nodeStamps.set(nodeKey, t)
    this.changedAt.node = t
  }
  private touchShared(): void {
    this.changedAt.shared = ++this.clock
  }

  setCtrlProps(tx: Tx | null, props: Props): void {
    this.touchShared()
    this.ctrlProps = props
    this.alloc.tcpPorts.setRange(tcpPortRange(props))
    this.alloc.minors.setRange(minorRange(props))
    tx?.putCtrlProps(props)
  }

  // Allocation of DRBD numbers: exhaustion becomes the LINSTOR error for it.
  allocMinor(preferred?: number): number {
    this.allocTouched = true
    try {
      return this.alloc.minors.allocate(preferred)
    } catch (e) {
      if (e instanceof PoolExhaustedError) throw new ApiError('ERR_POOL_EXHAUSTED_MINOR', { range: `${e.min}-${e.max}` })
      throw e
    }
  }
  allocTcpPort(nodeName: string, preferred?: number): number {
    this.allocTouched = true
    try {
      return this.alloc.tcpPorts.allocate(nodeName, preferred)
    } catch (e) {
      if (e instanceof PoolExhaustedError) throw new ApiError('ERR_POOL_EXHAUSTED_TCP_PORT', { node: nodeName, range: `${e.min}-${e.max}` })
      throw e
    }
  }
  allocNodeId(rscName: string, preferred?: number): number {
    this.allocTouched = true
    try {
      return this.alloc.nodeIds.allocate(rscName, preferred)
    } catch (e) {
      if (e instanceof PoolExhaustedError) throw new ApiError('ERR_POOL_EXHAUSTED_NODE_ID', { rsc: rscName, max: e.max - e.min + 1 })
      throw e
    }
  }
  /** Release what a volume definition holds (its minor), when it is removed from its definition. */
  releaseVlmDfn(vd: VlmDfn): void {
    if (vd.minor !== null) {
      this.allocTouched = true
      this.alloc.minors.free(vd.minor)
    }
  }

  // Nodes
  getNode(name: string): Node | undefined {
    return this.nodes.get(nameKey(name))
  }
  putNode(tx: Tx | null, node: Node): void {
    const nk = nameKey(node.name)
    this.nodes.set(nk, node)
    this.touchNode(nk)
    // A node's own TcpPortAutoRange overrides the controller's (LINSTOR resolves node, then controller).
    this.alloc.tcpPorts.setNodeRange(node.name, tcpPortRangeOf(node.props))
    tx?.put('node', node)
  }
  deleteNode(tx: Tx | null, node: Node): void {
    const k = nameKey(node.name)
    this.nodes.delete(k)
    this.rt.nodes.delete(k)
    this.nodeStamps.delete(k)
    this.changedAt.node = ++this.clock
    this.alloc.tcpPorts.deleteNode(node.name)
    tx?.del('node', node)
  }

  // Storage pool definitions and pools
  getStorPoolDfn(name: string): StorPoolDfn | undefined {
    return this.storPoolDfns.get(nameKey(name))
  }
  putStorPoolDfn(tx: Tx | null, spd: StorPoolDfn): void {
    this.storPoolDfns.set(nameKey(spd.name), spd)
    this.touchShared()
    tx?.put('storPoolDfn', spd)
  }
  deleteStorPoolDfn(tx: Tx | null, spd: StorPoolDfn): void {
    this.storPoolDfns.delete(nameKey(spd.name))
    this.touchShared()
    tx?.del('storPoolDfn', spd)
  }
  getStorPool(nodeName: string, poolName: string): StorPool | undefined {
    return this.storPools.get(nameKey(nodeName))?.get(nameKey(poolName))
  }
  storPoolsOfNode(nodeName: string): Iterable<StorPool> {
    return this.storPools.get(nameKey(nodeName))?.values() ?? []
  }
  *allStorPools(): Iterable<StorPool> {
    for (const m of this.storPools.values()) yield* m.values()
  }
  putStorPool(tx: Tx | null, sp: StorPool): void {
    const nk = nameKey(sp.nodeName)
    let m = this.storPools.get(nk)
    if (m === undefined) this.storPools.set(nk, (m = new Map()))
    const pk = nameKey(sp.name)
    m.set(pk, sp)
    this.touchStorPool(nk, pk)
    tx?.put('storPool', sp)
  }
  deleteStorPool(tx: Tx | null, sp: StorPool): void {
    const nk = nameKey(sp.nodeName)
    const m = this.storPools.get(nk)
    const pk = nameKey(sp.name)
    m?.delete(pk)
    if (m?.size === 0) this.storPools.delete(nk)
    this.rt.storPools.delete(nk + '\0' + pk)
    this.touchStorPool(nk, pk)
    tx?.del('storPool', sp)
  }
  /** A pool changed: its node's placement data, and the JSON of the node's resources with a volume in it (provider kind). */
  private touchStorPool(nodeKey: string, poolKey: string): void {
    this.touchNode(nodeKey)
    const rscs = this.resourcesByNode.get(nodeKey)
    if (rscs === undefined) return
    for (const r of rscs.values()) if (r.volumes.some((v) => nameKey(v.storPoolName) === poolKey)) this.touchResource(r)
  }

  // Resource groups
  getRscGrp(name: string): RscGrp | undefined {
    return this.rscGrps.get(nameKey(name))
  }
  putRscGrp(tx: Tx | null, rg: RscGrp): void {
    this.rscGrps.set(nameKey(rg.name), rg)
    tx?.put('rscGrp', rg)
  }
  deleteRscGrp(tx: Tx | null, rg: RscGrp): void {
    this.rscGrps.delete(nameKey(rg.name))
    tx?.del('rscGrp', rg)
  }

  // Resource definitions (with their volume definitions)
  getRscDfn(name: string): RscDfn | undefined {
    return this.rscDfns.get(nameKey(name))
  }
  putRscDfn(tx: Tx | null, rd: RscDfn): void {
    const rk = nameKey(rd.name)
    this.rscDfns.set(rk, rd)
    this.touchResourcesOf(rk)
    // Sizes, flags or DRBD settings of its volumes may have changed: what its resources reserve with them.
    for (const r of this.resourcesOf(rd.name)) this.poolUsage.set(r, rd)
    tx?.put('rscDfn', rd)
  }
  deleteRscDfn(tx: Tx | null, rd: RscDfn): void {
    const rk = nameKey(rd.name)
    this.rscDfns.delete(rk)
    this.touchResourcesOf(rk)
    for (const r of this.resourcesOf(rd.name)) this.poolUsage.set(r, undefined)
    for (const vd of rd.vlmDfns) this.releaseVlmDfn(vd)
    this.alloc.nodeIds.deleteResourceDefinition(rd.name)
    tx?.del('rscDfn', rd)
  }

  // Resources (with their volumes)
  getResource(rscName: string, nodeName: string): Resource | undefined {
    return this.resources.get(nameKey(rscName))?.get(nameKey(nodeName))
  }
  resourcesOf(rscName: string): Iterable<Resource> {
    return this.resources.get(nameKey(rscName))?.values() ?? []
  }
  resourcesOnNode(nodeName: string): Iterable<Resource> {
    return this.resourcesByNode.get(nameKey(nodeName))?.values() ?? []
  }
  *allResources(): Iterable<Resource> {
    for (const m of this.resources.values()) yield* m.values()
  }
  putResource(tx: Tx | null, r: Resource): void {
    const rk = nameKey(r.rscName)
    const nk = nameKey(r.nodeName)
    let byRsc = this.resources.get(rk)
    if (byRsc === undefined) this.resources.set(rk, (byRsc = new Map()))
    const added = byRsc.get(nk) !== r
    byRsc.set(nk, r)
    this.touchResource(r)
    if (added) this.changedAt.resourceSet = this.clock
    let byNode = this.resourcesByNode.get(nk)
    if (byNode === undefined) this.resourcesByNode.set(nk, (byNode = new Map()))
    byNode.set(rk, r)
    this.poolUsage.set(r, this.rscDfns.get(rk))
    tx?.put('resource', r)
  }
  deleteResource(tx: Tx | null, r: Resource): void {
    const rk = nameKey(r.rscName)
    const nk = nameKey(r.nodeName)
    const byRsc = this.resources.get(rk)
    byRsc?.delete(nk)
    if (byRsc?.size === 0) this.resources.delete(rk)
    const byNode = this.resourcesByNode.get(nk)
    byNode?.delete(rk)
    if (byNode?.size === 0) this.resourcesByNode.delete(nk)
    for (const v of r.volumes) this.rt.volumes.delete(`${rk}\0${nk}\0${v.vlmNr}`)
    this.rt.resources.delete(`${rk}\0${nk}`)
    this.rscStamps.delete(r)
    this.changedAt.resourceSet = ++this.clock
    this.poolUsage.remove(r)
    if (r.drbdTcpPort !== null || r.drbdNodeId !== null) this.allocTouched = true
    if (r.drbdTcpPort !== null) this.alloc.tcpPorts.free(r.nodeName, r.drbdTcpPort)
    if (r.drbdNodeId !== null) this.alloc.nodeIds.free(r.rscName, r.drbdNodeId)
    tx?.del('resource', r)
  }

  // What satellites report. The object passed is the model's from then on: replace it, never change it in place.
  /** Record a node's runtime state (its link, what its satellite reported of the node). */
  setRuntimeNode(nodeName: string, rt: RuntimeNode): void {
    const nk = nameKey(nodeName)
    this.rt.nodes.set(nk, rt)
    this.touchNode(nk)
    this.onRuntimeChange?.({ kind: 'node', node: nk })
  }
  deleteRuntimeNode(nodeName: string): void {
    const nk = nameKey(nodeName)
    if (!this.rt.nodes.delete(nk)) return
    this.touchNode(nk)
    this.onRuntimeChange?.({ kind: 'node', node: nk })
  }
  /** Record what a satellite reported of a storage pool (capacities, problems). */
  setRuntimeStorPool(nodeName: string, poolName: string, rt: RuntimeStorPool): void {
    const nk = nameKey(nodeName)
    const pk = nameKey(poolName)
    this.rt.storPools.set(nk + '\0' + pk, rt)
    this.touchNode(nk)
    this.onRuntimeChange?.({ kind: 'storPool', node: nk, pool: pk })
  }
  deleteRuntimeStorPool(nodeName: string, poolName: string): void {
    const nk = nameKey(nodeName)
    const pk = nameKey(poolName)
    if (!this.rt.storPools.delete(nk + '\0' + pk)) return
    this.touchNode(nk)
    this.onRuntimeChange?.({ kind: 'storPool', node: nk, pool: pk })
  }
  /** Record what a satellite reported of a resource's DRBD state (role, connections, may-promote). */
  setRuntimeResource(rscName: string, nodeName: string, rt: RuntimeResource): void {
    const rk = nameKey(rscName)
    const nk = nameKey(nodeName)
    this.rt.resources.set(`${rk}\0${nk}`, rt)
    this.touchRuntime(rk, nk)
    this.onRuntimeChange?.({ kind: 'resource', rsc: rk, node: nk })
  }
  deleteRuntimeResource(rscName: string, nodeName: string): void {
    const rk = nameKey(rscName)
    const nk = nameKey(nodeName)
    if (!this.rt.resources.delete(`${rk}\0${nk}`)) return
    this.touchRuntime(rk, nk)
    this.onRuntimeChange?.({ kind: 'resource', rsc: rk, node: nk })
  }
  /** Record what a satellite reported of a volume (device, sizes, disk state, peers, problems). */
  setRuntimeVolume(rscName: string, nodeName: string, vlmNr: number, rt: RuntimeVolume): void {
    const rk = nameKey(rscName)
    const nk = nameKey(nodeName)
    this.rt.volumes.set(`${rk}\0${nk}\0${vlmNr}`, rt)
    this.touchRuntime(rk, nk)
    this.onRuntimeChange?.({ kind: 'volume', rsc: rk, node: nk, vlmNr })
  }
  deleteRuntimeVolume(rscName: string, nodeName: string, vlmNr: number): void {
    const rk = nameKey(rscName)
    const nk = nameKey(nodeName)
    if (!this.rt.volumes.delete(`${rk}\0${nk}\0${vlmNr}`)) return
    this.touchRuntime(rk, nk)
    this.onRuntimeChange?.({ kind: 'volume', rsc: rk, node: nk, vlmNr })
  }
  /**
   * A node's satellite is no longer connected: what it reported of its resources' state (DRBD role,
   * connections, disk and replication states) is no longer known, and shows as unknown until it
   * reports again, as LINSTOR shows a node that is away. What is fixed on the node (device paths,
   * sizes) and the reported problems stay.
   */
  forgetReportedState(nodeName: string): void {
    const nk = nameKey(nodeName)
    for (const r of this.resourcesOnNode(nodeName)) {
      this.deleteRuntimeResource(r.rscName, r.nodeName)
      for (const v of r.volumes) {
        const rt = this.rt.volumes.get(`${nameKey(r.rscName)}\0${nk}\0${v.vlmNr}`)
        if (rt !== undefined && (rt.diskState !== null || rt.peers.length > 0)) this.setRuntimeVolume(r.rscName, r.nodeName, v.vlmNr, { ...rt, diskState: null, peers: [] })
      }
    }
  }
  /** Runtime state of a resource or its volumes changed: its JSON. */
  private touchRuntime(rscKey: string, nodeKey: string): void {
    const r = this.resources.get(rscKey)?.get(nodeKey)
    if (r !== undefined) this.touchResource(r)
  }
  /**
   * Take over everything in `from` (another model's runtime state): a model rebuilt from the database
   * keeps what satellites reported (Core's rollback).
   */
  adoptRuntime(from: RuntimeState): void {
    for (const [nk, v] of from.nodes) this.setRuntimeNode(nk, v)
    for (const [k, v] of from.storPools) {
      const [nk, pk] = k.split('\0') as [string, string]
      this.setRuntimeStorPool(nk, pk, v)
    }
    for (const [k, v] of from.resources) {
      const [rk, nk] = k.split('\0') as [string, string]
      this.setRuntimeResource(rk, nk, v)
    }
    for (const [k, v] of from.volumes) {
      const [rk, nk, nr] = k.split('\0') as [string, string, string]
      this.setRuntimeVolume(rk, nk, Number(nr), v)
    }
  }

  // Snapshot definitions (with their snapshots)
  getSnapshotDfn(rscName: string, snapName: string): SnapshotDfn | undefined {
    return this.snapshotDfns.get(nameKey(rscName))?.get(nameKey(snapName))
  }
  snapshotDfnsOf(rscName: string): Iterable<SnapshotDfn> {
    return this.snapshotDfns.get(nameKey(rscName))?.values() ?? []
  }
  *allSnapshotDfns(): Iterable<SnapshotDfn> {
    for (const m of this.snapshotDfns.values()) yield* m.values()
  }
  putSnapshotDfn(tx: Tx | null, s: SnapshotDfn): void {
    const rk = nameKey(s.rscName)
    let m = this.snapshotDfns.get(rk)
    if (m === undefined) this.snapshotDfns.set(rk, (m = new Map()))
    m.set(nameKey(s.name), s)
    tx?.put('snapshotDfn', s)
  }
  deleteSnapshotDfn(tx: Tx | null, s: SnapshotDfn): void {
    const rk = nameKey(s.rscName)
    const m = this.snapshotDfns.get(rk)
    m?.delete(nameKey(s.name))
    if (m?.size === 0) this.snapshotDfns.delete(rk)
    tx?.del('snapshotDfn', s)
  }

  // Key-value stores
  getKvs(name: string): KeyValueStore | undefined {
    return this.kvs.get(nameKey(name))
  }
  putKvs(tx: Tx | null, kv: KeyValueStore): void {
    this.kvs.set(nameKey(kv.name), kv)
    tx?.put('kvs', kv)
  }
  deleteKvs(tx: Tx | null, kv: KeyValueStore): void {
    this.kvs.delete(nameKey(kv.name))
    tx?.del('kvs', kv)
  }
}
