/**
 * The whole controller state in memory (DESIGN.md §2.2): maps keyed by upper-cased name, plus the
 * indexes the API needs (resources by node). Every change goes through a `put*`/`delete*` method with the
 * API call's Tx, so memory, indexes and the rows to write can never drift apart. Loading from the store
 * uses the same methods with no Tx.
 */
import { ApiError } from '../../common/errors.js'
import { nameKey } from '../../common/names.js'
import { MinorNrAllocator, NodeIdAllocator, TcpPortAllocator } from '../alloc/allocators.js'
import { PoolExhaustedError } from '../alloc/number-pool.js'
import { minorRange, tcpPortRange, tcpPortRangeOf } from './ctrl-props.js'
import { PoolUsage } from './pool-usage.js'
import type { Tx } from '../db/tx.js'
import type { Rows } from '../db/store.js'
import type {
  KeyValueStore, Node, Props, Resource, RscDfn, RscGrp, RuntimeNode, RuntimeStorPool, RuntimeVolume,
  SnapshotDfn, StorPool, StorPoolDfn, VlmDfn,
} from './types.js'

export const DFLT_STOR_POOL = 'DfltStorPool'
export const DFLT_DISKLESS_STOR_POOL = 'DfltDisklessStorPool'
export const DFLT_RSC_GRP = 'DfltRscGrp'

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

  /** What satellites report; never persisted. Keyed like the objects they describe. */
  readonly runtime = {
    nodes: new Map<string, RuntimeNode>(),
    /** `${nodeKey}\0${poolKey}` */
    storPools: new Map<string, RuntimeStorPool>(),
    /** `${rscKey}\0${nodeKey}\0${vlmNr}` */
    volumes: new Map<string, RuntimeVolume>(),
  }

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

  setCtrlProps(tx: Tx | null, props: Props): void {
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
    this.nodes.set(nameKey(node.name), node)
    // A node's own TcpPortAutoRange overrides the controller's (LINSTOR resolves node, then controller).
    this.alloc.tcpPorts.setNodeRange(node.name, tcpPortRangeOf(node.props))
    tx?.put('node', node)
  }
  deleteNode(tx: Tx | null, node: Node): void {
    const k = nameKey(node.name)
    this.nodes.delete(k)
    this.runtime.nodes.delete(k)
    this.alloc.tcpPorts.deleteNode(node.name)
    tx?.del('node', node)
  }

  // Storage pool definitions and pools
  getStorPoolDfn(name: string): StorPoolDfn | undefined {
    return this.storPoolDfns.get(nameKey(name))
  }
  putStorPoolDfn(tx: Tx | null, spd: StorPoolDfn): void {
    this.storPoolDfns.set(nameKey(spd.name), spd)
    tx?.put('storPoolDfn', spd)
  }
  deleteStorPoolDfn(tx: Tx | null, spd: StorPoolDfn): void {
    this.storPoolDfns.delete(nameKey(spd.name))
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
    m.set(nameKey(sp.name), sp)
    tx?.put('storPool', sp)
  }
  deleteStorPool(tx: Tx | null, sp: StorPool): void {
    const nk = nameKey(sp.nodeName)
    const m = this.storPools.get(nk)
    m?.delete(nameKey(sp.name))
    if (m?.size === 0) this.storPools.delete(nk)
    this.runtime.storPools.delete(nk + '\0' + nameKey(sp.name))
    tx?.del('storPool', sp)
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
    this.rscDfns.set(nameKey(rd.name), rd)
    // Sizes, flags or DRBD settings of its volumes may have changed: what its resources reserve with them.
    for (const r of this.resourcesOf(rd.name)) this.poolUsage.set(r, rd)
    tx?.put('rscDfn', rd)
  }
  deleteRscDfn(tx: Tx | null, rd: RscDfn): void {
    this.rscDfns.delete(nameKey(rd.name))
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
    byRsc.set(nk, r)
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
    for (const v of r.volumes) this.runtime.volumes.delete(`${rk}\0${nk}\0${v.vlmNr}`)
    this.poolUsage.remove(r)
    if (r.drbdTcpPort !== null || r.drbdNodeId !== null) this.allocTouched = true
    if (r.drbdTcpPort !== null) this.alloc.tcpPorts.free(r.nodeName, r.drbdTcpPort)
    if (r.drbdNodeId !== null) this.alloc.nodeIds.free(r.rscName, r.drbdNodeId)
    tx?.del('resource', r)
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
