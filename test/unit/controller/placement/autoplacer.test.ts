import t from 'tap'
import {
  autoplace,
  DFLT_WEIGHTS,
  PlacementCluster,
  type LayerKind,
  type PlacementConstraint,
  type PlacementNode,
  type PlacementPool,
  type PlacementRequest,
  type PlacementResult,
  type ProviderKind,
} from '../../../../src/controller/placement/autoplacer.js'
import { selectBest } from '../../../../src/controller/placement/_select.js'
import { rng } from '../../../helpers/rng.js'

// ---------------------------------------------------------------------------------------------------------
// Cluster builder: terse specs so each table row shows only what the case is about.

const GiB = 1024 * 1024

/** [poolName, kind, freeKib, totalKib (default 10× free or 100 GiB), extra fields]. */
type PoolSpec = [string, ProviderKind, number | null, (number | null)?, Partial<PlacementPool>?]

interface NodeSpec {
  name: string
  /** Default: one LVM_THIN pool 'pool1' with `free` KiB free. */
  pools?: PoolSpec[]
  free?: number
  props?: Record<string, string>
  layers?: LayerKind[] | null
  providers?: ProviderKind[] | null
  evicted?: boolean
  rscCount?: number
  rscs?: string[]
  drbd?: string
}

function build(specs: NodeSpec[]): { nodes: PlacementNode[]; pools: PlacementPool[]; rscs: Map<string, string[]> } {
  const nodes: PlacementNode[] = []
  const pools: PlacementPool[] = []
  const rscs = new Map<string, string[]>()
  for (const s of specs) {
    nodes.push({
      name: s.name,
      props: s.props ?? {},
      supportedLayers: s.layers === undefined ? null : s.layers,
      supportedProviders: s.providers === undefined ? null : s.providers,
      evicted: s.evicted ?? false,
      rscCount: s.rscCount ?? 0,
      drbdVersion: s.drbd ?? null,
    })
    rscs.set(s.name.toUpperCase(), s.rscs ?? [])
    const specPools: PoolSpec[] = s.pools ?? [['pool1', 'LVM_THIN', s.free ?? 10 * GiB]]
    for (const [poolName, kind, free, total, extra] of specPools) {
      pools.push({
        nodeName: s.name,
        poolName,
        providerKind: kind,
        freeKib: free,
        totalKib: total === undefined ? (free === null ? 100 * GiB : Math.max(free * 10, 100 * GiB)) : total,
        reservedKib: 0,
        disklessPool: kind === 'DISKLESS',
        ...extra,
      })
    }
  }
  return { nodes, pools, rscs }
}

type Req = Partial<PlacementRequest>

function place(specs: NodeSpec[], req: Req): PlacementResult {
  const { nodes, pools, rscs } = build(specs)
  return autoplace(nodes, pools, {
    placeCount: 2,
    existing: [],
    sizeKib: 1024,
    resourcesOnNode: (n) => rscs.get(n.toUpperCase()) ?? [],
    ...req,
  })
}

/** Expected outcome: the chosen `node:pool` in order (or a set when `unordered`), or a failure. */
interface Expect {
  sel?: string[]
  unordered?: boolean
  diskless?: string[]
  fail?: PlacementConstraint
  msg?: RegExp
}

interface Case {
  name: string
  nodes: NodeSpec[]
  req: Req
  expect: Expect
}

/** The type of `t` inside a subtest. */
type TestT = Parameters<Parameters<typeof t.test>[0]>[0]

function check(tt: TestT, c: Case): void {
  const r = place(c.nodes, c.req)
  const e = c.expect
  if (e.fail !== undefined) {
    tt.equal(r.ok, false, 'fails')
    if (!r.ok) {
      tt.equal(r.constraint, e.fail, 'constraint')
      if (e.msg !== undefined) tt.match(r.message, e.msg, 'message')
    }
    return
  }
  tt.equal(r.ok, true, r.ok ? 'succeeds' : `succeeds (got ${r.constraint}: ${r.message})`)
  if (!r.ok) return
  const got = r.selected.map((s) => `${s.nodeName}:${s.poolName}`)
  if (e.sel !== undefined) tt.same(e.unordered === true ? [...got].sort() : got, e.unordered === true ? [...e.sel].sort() : e.sel, 'selected')
  if (e.diskless !== undefined) tt.same(r.disklessOn.map((s) => `${s.nodeName}:${s.poolName}`), e.diskless, 'disklessOn')
}

function table(name: string, cases: Case[]): void {
  t.test(name, async (tt) => {
    for (const c of cases) tt.test(c.name, async (t2) => check(t2, c))
  })
}

/** n nodes named prefix1…prefixN with free space descending from `top` GiB by 1 GiB per node. */
function ladder(n: number, prefix = 'n', top = 100, extra: (i: number) => Partial<NodeSpec> = () => ({})): NodeSpec[] {
  return Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i + 1}`, free: (top - i) * GiB, ...extra(i) }))
}

// ---------------------------------------------------------------------------------------------------------

table('place count, counting existing replicas', [
  { name: 'places the wanted count on the emptiest nodes', nodes: ladder(4), req: { placeCount: 3 }, expect: { sel: ['n1:pool1', 'n2:pool1', 'n3:pool1'] } },
  {
    name: 'already satisfied: ok, nothing new',
    nodes: ladder(4),
    req: { placeCount: 2, existing: [{ nodeName: 'n3', poolName: 'pool1', diskless: false }, { nodeName: 'n4', poolName: 'pool1', diskless: false }] },
    expect: { sel: [] },
  },
  {
    name: 'more than satisfied: ok, nothing new (the API layer decides about "too low")',
    nodes: ladder(4),
    req: { placeCount: 1, existing: [{ nodeName: 'n3', poolName: 'pool1', diskless: false }, { nodeName: 'n4', poolName: 'pool1', diskless: false }] },
    expect: { sel: [] },
  },
  {
    name: 'places only the missing replicas, never on a node that has one',
    nodes: ladder(4),
    req: { placeCount: 3, existing: [{ nodeName: 'N1', poolName: 'pool1', diskless: false }] },
    expect: { sel: ['n2:pool1', 'n3:pool1'] },
  },
  {
    name: 'additionalPlaceCount wins over placeCount',
    nodes: ladder(5),
    req: { placeCount: 2, additionalPlaceCount: 2, existing: [{ nodeName: 'n1', poolName: 'pool1', diskless: false }, { nodeName: 'n2', poolName: 'pool1', diskless: false }] },
    expect: { sel: ['n3:pool1', 'n4:pool1'] },
  },
  {
    name: 'additionalPlaceCount 0 falls back to placeCount',
    nodes: ladder(5),
    req: { placeCount: 3, additionalPlaceCount: 0, existing: [{ nodeName: 'n1', poolName: 'pool1', diskless: false }] },
    expect: { sel: ['n2:pool1', 'n3:pool1'] },
  },
  {
    name: 'a diskless replica does not count and its node may become diskful',
    nodes: ladder(4),
    req: { placeCount: 2, existing: [{ nodeName: 'n1', poolName: 'DfltDisklessStorPool', diskless: true }] },
    expect: { sel: ['n1:pool1', 'n2:pool1'] },
  },
  {
    name: 'duplicate existing entries count once',
    nodes: ladder(4),
    req: { placeCount: 2, existing: [{ nodeName: 'n1', poolName: 'pool1', diskless: false }, { nodeName: 'N1', poolName: 'pool1', diskless: false }] },
    expect: { sel: ['n2:pool1'] },
  },
  { name: 'placeCount 0: nothing to do', nodes: ladder(2), req: { placeCount: 0 }, expect: { sel: [] } },
  {
    name: 'too few nodes without a replica',
    nodes: ladder(3),
    req: { placeCount: 4, existing: [{ nodeName: 'n1', poolName: 'pool1', diskless: false }] },
    expect: { fail: 'place-count', msg: /^Not enough nodes: 3 more replicas requested \(1 already placed\), 2 nodes are without a replica of this resource$/ },
  },
])

table('node name list', [
  { name: 'restricts to the listed nodes, case-insensitively', nodes: ladder(4), req: { nodeNameList: ['N3', 'n4'] }, expect: { sel: ['n3:pool1', 'n4:pool1'] } },
  { name: 'too few listed nodes', nodes: ladder(4), req: { placeCount: 3, nodeNameList: ['n3', 'n4', 'ghost'] }, expect: { fail: 'node-name-list', msg: /2 nodes are in the node name list/ } },
  { name: 'empty list means no restriction', nodes: ladder(3), req: { nodeNameList: [] }, expect: { sel: ['n1:pool1', 'n2:pool1'] } },
  {
    name: 'a long list (hashed lookups), case-insensitive',
    nodes: ladder(12),
    req: { nodeNameList: ['X1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'N10', 'n11', 'nn', 'N9'] },
    expect: { sel: ['n9:pool1', 'n10:pool1'] },
  },
])

const twoPools = (i: number): Partial<NodeSpec> => ({
  pools: [
    ['pool1', 'LVM_THIN', (50 - i) * GiB],
    ['Pool2', 'LVM_THIN', (90 - i) * GiB],
  ],
})

table('storage pool and storage pool list', [
  { name: 'without a filter the best pool of each node is used', nodes: ladder(3, 'n', 0, twoPools), req: {}, expect: { sel: ['n1:Pool2', 'n2:Pool2'] } },
  { name: 'storagePool, case-insensitive', nodes: ladder(3, 'n', 0, twoPools), req: { storagePool: 'POOL1' }, expect: { sel: ['n1:pool1', 'n2:pool1'] } },
  {
    name: 'storagePoolList',
    nodes: [
      { name: 'a', pools: [['x', 'LVM_THIN', 9 * GiB], ['y', 'LVM_THIN', 1 * GiB]] },
      { name: 'b', pools: [['y', 'LVM_THIN', 5 * GiB], ['z', 'LVM_THIN', 90 * GiB]] },
      { name: 'c', pools: [['z', 'LVM_THIN', 99 * GiB]] },
    ],
    req: { storagePoolList: ['x', 'Y'] },
    expect: { sel: ['a:x', 'b:y'] },
  },
  {
    name: 'storagePool and storagePoolList combine',
    nodes: [
      { name: 'a', pools: [['x', 'LVM_THIN', 9 * GiB]] },
      { name: 'b', pools: [['y', 'LVM_THIN', 5 * GiB]] },
      { name: 'c', pools: [['z', 'LVM_THIN', 99 * GiB]] },
    ],
    req: { storagePool: 'x', storagePoolList: ['y'] },
    expect: { sel: ['a:x', 'b:y'] },
  },
  {
    name: 'too few nodes with the pool',
    nodes: [...ladder(2), ...ladder(3, 'm', 50, () => ({ pools: [['other', 'LVM_THIN', 50 * GiB]] }))],
    req: { placeCount: 3, storagePool: 'pool1' },
    expect: { fail: 'storage-pool', msg: /^Not enough nodes: 3 replicas requested, 2 nodes have a storage pool matching 'pool1'$/ },
  },
])

const mixedKinds: NodeSpec[] = [
  { name: 'a', pools: [['p', 'LVM', 99 * GiB]] },
  { name: 'b', pools: [['p', 'ZFS_THIN', 50 * GiB]] },
  { name: 'c', pools: [['p', 'ZFS_THIN', 40 * GiB]] },
  { name: 'd', pools: [['p', 'LVM', 30 * GiB]] },
]

table('provider list', [
  { name: 'only pools of the listed kinds', nodes: mixedKinds, req: { providerList: ['LVM'] }, expect: { sel: ['a:p', 'd:p'] } },
  { name: 'several kinds', nodes: mixedKinds, req: { providerList: ['ZFS_THIN', 'ZFS'] }, expect: { sel: ['b:p', 'c:p'] } },
  { name: 'too few', nodes: mixedKinds, req: { placeCount: 3, providerList: ['LVM'] }, expect: { fail: 'provider-list', msg: /2 nodes have a storage pool of provider kind LVM$/ } },
])

table('layer stack and provider support', [
  {
    name: 'a node must support every layer of the stack',
    nodes: ladder(3, 'n', 100, (i) => ({ layers: i === 0 ? ['STORAGE', 'LUKS'] : ['DRBD', 'STORAGE'] })),
    req: { layerStack: ['DRBD', 'STORAGE'] },
    expect: { sel: ['n2:pool1', 'n3:pool1'] },
  },
  { name: 'layers not reported yet: assumed supported', nodes: ladder(2, 'n', 100, () => ({ layers: null })), req: { layerStack: ['DRBD', 'LUKS', 'STORAGE'] }, expect: { sel: ['n1:pool1', 'n2:pool1'] } },
  {
    name: 'an NVMe target need not support the layers above NVME',
    nodes: ladder(2, 'n', 100, () => ({ layers: ['NVME', 'STORAGE'] })),
    req: { layerStack: ['LUKS', 'NVME', 'STORAGE'] },
    expect: { sel: ['n1:pool1', 'n2:pool1'] },
  },
  {
    name: 'too few nodes with the layers',
    nodes: ladder(3, 'n', 100, (i) => ({ layers: i === 0 ? ['DRBD', 'STORAGE'] : ['STORAGE'] })),
    req: { layerStack: ['DRBD', 'STORAGE'] },
    expect: { fail: 'layer-stack', msg: /1 node supports the layers DRBD, STORAGE/ },
  },
  {
    name: "the pool's provider must be supported by its node",
    nodes: ladder(3, 'n', 100, (i) => ({ providers: i === 0 ? ['LVM'] : ['LVM', 'LVM_THIN'] })),
    req: {},
    expect: { sel: ['n2:pool1', 'n3:pool1'] },
  },
  {
    name: 'too few nodes supporting their pools',
    nodes: ladder(3, 'n', 100, (i) => ({ providers: i === 0 ? ['LVM_THIN'] : ['DISKLESS'] })),
    req: {},
    expect: { fail: 'provider-support', msg: /1 node has a storage pool whose provider kind the node supports/ },
  },
])

const zone = (z: string, extra: Record<string, string> = {}): Partial<NodeSpec> => ({ props: { 'Aux/zone': z, ...extra } })

table('replicas-on-same', [
  {
    name: 'all replicas share the value; the best group wins',
    nodes: [
      { name: 'a1', free: 100 * GiB, ...zone('a') },
      { name: 'a2', free: 99 * GiB, ...zone('a') },
      { name: 'b1', free: 90 * GiB, ...zone('b') },
      { name: 'b2', free: 90 * GiB, ...zone('b') },
      { name: 'b3', free: 90 * GiB, ...zone('b') },
    ],
    req: { placeCount: 3, replicasOnSame: ['Aux/zone'] },
    expect: { sel: ['b1:pool1', 'b2:pool1', 'b3:pool1'] },
  },
  {
    name: 'the group with the best total, not the best single node',
    nodes: [
      { name: 'a1', free: 100 * GiB, ...zone('a') },
      { name: 'a2', free: 10 * GiB, ...zone('a') },
      { name: 'b1', free: 90 * GiB, ...zone('b') },
      { name: 'b2', free: 80 * GiB, ...zone('b') },
    ],
    req: { placeCount: 2, replicasOnSame: ['Aux/zone'] },
    expect: { sel: ['b1:pool1', 'b2:pool1'] },
  },
  {
    name: 'key=value fixes the value',
    nodes: [...ladder(2, 'a', 100, () => zone('a')), ...ladder(2, 'b', 50, () => zone('b'))],
    req: { replicasOnSame: ['Aux/zone=b'] },
    expect: { sel: ['b1:pool1', 'b2:pool1'] },
  },
  {
    name: 'existing replicas fix the value',
    nodes: [...ladder(3, 'a', 100, () => zone('a')), ...ladder(3, 'b', 50, () => zone('b'))],
    req: { placeCount: 3, replicasOnSame: ['Aux/zone'], existing: [{ nodeName: 'b3', poolName: 'pool1', diskless: false }] },
    expect: { sel: ['b1:pool1', 'b2:pool1'] },
  },
  {
    name: 'existing replicas without the property leave it open',
    nodes: [...ladder(2, 'a', 100, () => zone('a')), { name: 'x', free: GiB }],
    req: { placeCount: 3, replicasOnSame: ['Aux/zone'], existing: [{ nodeName: 'x', poolName: 'pool1', diskless: false }] },
    expect: { sel: ['a1:pool1', 'a2:pool1'] },
  },
  {
    name: 'nodes without the property are not eligible',
    nodes: [{ name: 'x', free: 500 * GiB }, ...ladder(2, 'a', 100, () => zone('a'))],
    req: { replicasOnSame: ['Aux/zone'] },
    expect: { sel: ['a1:pool1', 'a2:pool1'] },
  },
  {
    name: 'several keys: the whole tuple must match',
    nodes: [
      { name: 'p', free: 100 * GiB, ...zone('a', { 'Aux/rack': '1' }) },
      { name: 'q', free: 99 * GiB, ...zone('a', { 'Aux/rack': '2' }) },
      { name: 'r', free: 98 * GiB, ...zone('b', { 'Aux/rack': '1' }) },
      { name: 's', free: 50 * GiB, ...zone('a', { 'Aux/rack': '2' }) },
    ],
    req: { replicasOnSame: ['Aux/zone', 'Aux/rack'] },
    expect: { sel: ['q:pool1', 's:pool1'] },
  },
  {
    // Only 64 pools are searched first. Nodes 2–62 have no partner, 63+64 pair up inside that segment,
    // but node 1 pairs with node 70: 1.00 + 0.31 beats 0.38 + 0.37, so the search must look further.
    name: 'the best group may lie far down the score order',
    nodes: ladder(100, 'n', 100, (i) => ({
      props: { 'Aux/pair': i === 0 || i === 69 ? 'far' : i === 62 || i === 63 ? 'near' : `solo${i}` },
    })),
    req: { placeCount: 2, replicasOnSame: ['Aux/pair'] },
    expect: { sel: ['n1:pool1', 'n70:pool1'] },
  },
  {
    name: 'existing replicas disagree: undecidable',
    nodes: [...ladder(2, 'a', 100, () => zone('a')), ...ladder(2, 'b', 50, () => zone('b'))],
    req: {
      placeCount: 3,
      replicasOnSame: ['Aux/zone'],
      existing: [{ nodeName: 'a1', poolName: 'pool1', diskless: false }, { nodeName: 'b1', poolName: 'pool1', diskless: false }],
    },
    expect: { fail: 'replicas-on-same', msg: /different values of 'Aux\/zone' \('a', 'b'\)/ },
  },
  {
    name: 'key=value contradicting the existing replicas',
    nodes: [...ladder(2, 'a', 100, () => zone('a')), ...ladder(2, 'b', 50, () => zone('b'))],
    req: { placeCount: 2, replicasOnSame: ['Aux/zone=a'], existing: [{ nodeName: 'b1', poolName: 'pool1', diskless: false }] },
    expect: { fail: 'replicas-on-same', msg: /cannot be both 'a', 'b' \(the existing replicas use 'b'\)/ },
  },
  {
    name: 'no value shared by enough nodes',
    nodes: [...ladder(2, 'a', 100, () => zone('a')), ...ladder(2, 'b', 50, () => zone('b'))],
    req: { placeCount: 3, replicasOnSame: ['Aux/zone'] },
    expect: { fail: 'replicas-on-same', msg: /no value of 'Aux\/zone' is shared by that many eligible nodes \(at most 2 nodes, with Aux\/zone=a\)/ },
  },
  {
    name: 'fixed value with too few nodes fails in the filter',
    nodes: [...ladder(2, 'a', 100, () => zone('a')), ...ladder(1, 'b', 50, () => zone('b'))],
    req: { placeCount: 2, replicasOnSame: ['Aux/zone=b'] },
    expect: { fail: 'replicas-on-same', msg: /1 node has the replicas-on-same 'Aux\/zone=b'/ },
  },
])

table('replicas-on-different', [
  {
    name: 'no two replicas share a value',
    nodes: [...ladder(3, 'a', 100, () => zone('a')), ...ladder(3, 'b', 90, () => zone('b')), ...ladder(3, 'c', 80, () => zone('c'))],
    req: { placeCount: 3, replicasOnDifferent: ['Aux/zone'] },
    expect: { sel: ['a1:pool1', 'b1:pool1', 'c1:pool1'] },
  },
  {
    name: "existing replicas' values are taken",
    nodes: [...ladder(3, 'a', 100, () => zone('a')), ...ladder(3, 'b', 90, () => zone('b')), ...ladder(3, 'c', 80, () => zone('c'))],
    req: { placeCount: 3, replicasOnDifferent: ['Aux/zone'], existing: [{ nodeName: 'a3', poolName: 'pool1', diskless: false }] },
    expect: { sel: ['b1:pool1', 'c1:pool1'] },
  },
  {
    name: 'key=value excludes that value',
    nodes: [...ladder(2, 'a', 100, () => zone('a')), ...ladder(2, 'b', 90, () => zone('b')), ...ladder(2, 'c', 80, () => zone('c'))],
    req: { placeCount: 2, replicasOnDifferent: ['Aux/zone=a'] },
    expect: { sel: ['b1:pool1', 'c1:pool1'] },
  },
  {
    name: 'nodes without the property are unconstrained by it',
    nodes: [...ladder(2, 'a', 100, () => zone('a')), { name: 'x', free: 95 * GiB }, { name: 'y', free: 94 * GiB }],
    req: { placeCount: 3, replicasOnDifferent: ['Aux/zone'] },
    expect: { sel: ['a1:pool1', 'x:pool1', 'y:pool1'] },
  },
  {
    name: 'not enough distinct values',
    nodes: [...ladder(3, 'a', 100, () => zone('a')), ...ladder(3, 'b', 90, () => zone('b'))],
    req: { placeCount: 3, replicasOnDifferent: ['Aux/zone'] },
    expect: { fail: 'replicas-on-different', msg: /only 2 distinct values of 'Aux\/zone' not used by other replicas$/ },
  },
  {
    name: 'all values taken by existing replicas: fails in the filter',
    nodes: [...ladder(2, 'a', 100, () => zone('a')), ...ladder(2, 'b', 90, () => zone('b'))],
    req: {
      placeCount: 3,
      replicasOnDifferent: ['Aux/zone'],
      existing: [{ nodeName: 'a1', poolName: 'pool1', diskless: false }, { nodeName: 'b1', poolName: 'pool1', diskless: false }],
    },
    expect: { fail: 'replicas-on-different', msg: /0 nodes have values of 'Aux\/zone' that other replicas leave free/ },
  },
  {
    // As LINSTOR's SelectionManagerTest.constrainedSelection: same rack, different zones.
    name: 'with replicas-on-same: the best rack that spans enough zones',
    nodes: [
      { name: 'r1a', free: 100 * GiB, props: { 'Aux/rack': '1', 'Aux/zone': 'a' } },
      { name: 'r1b', free: 1 * GiB, props: { 'Aux/rack': '1', 'Aux/zone': 'b' } },
      { name: 'r1a2', free: 99 * GiB, props: { 'Aux/rack': '1', 'Aux/zone': 'a' } },
      { name: 'r2a', free: 98 * GiB, props: { 'Aux/rack': '2', 'Aux/zone': 'a' } },
      { name: 'r2b', free: 97 * GiB, props: { 'Aux/rack': '2', 'Aux/zone': 'b' } },
    ],
    req: { placeCount: 2, replicasOnSame: ['Aux/rack'], replicasOnDifferent: ['Aux/zone'] },
    expect: { sel: ['r2a:pool1', 'r2b:pool1'] },
  },
  {
    name: 'with replicas-on-same that cannot span enough zones',
    nodes: [
      ...ladder(3, 'r1', 100, () => ({ props: { 'Aux/rack': '1', 'Aux/zone': 'a' } })),
      ...ladder(3, 'r2', 90, (i) => ({ props: { 'Aux/rack': '2', 'Aux/zone': i === 0 ? 'a' : 'b' } })),
    ],
    req: { placeCount: 3, replicasOnSame: ['Aux/rack'], replicasOnDifferent: ['Aux/zone'] },
    expect: { fail: 'replicas-on-different', msg: /together with the other replicas-on-same\/different rules/ },
  },
  {
    name: 'two keys at once: the best pair, not the best node',
    nodes: [
      { name: 'p', free: 100 * GiB, props: { 'Aux/zone': 'a', 'Aux/psu': '1' } },
      { name: 'q', free: 99 * GiB, props: { 'Aux/zone': 'b', 'Aux/psu': '1' } },
      { name: 'r', free: 98 * GiB, props: { 'Aux/zone': 'a', 'Aux/psu': '2' } },
      { name: 's', free: 10 * GiB, props: { 'Aux/zone': 'b', 'Aux/psu': '2' } },
    ],
    req: { placeCount: 2, replicasOnDifferent: ['Aux/zone', 'Aux/psu'] },
    // Taking the best node first (p) would force s: 110 GiB; q + r give 197.
    expect: { sel: ['q:pool1', 'r:pool1'] },
  },
])

const site = (s: string): Partial<NodeSpec> => ({ props: { 'Aux/site': s } })

table('x-replicas-on-different', [
  {
    name: 'X=2, 3 replicas: 2+1, never 1+1+1',
    nodes: [...ladder(2, 'a', 100, () => site('a')), ...ladder(2, 'b', 99.5, () => site('b')), ...ladder(2, 'c', 99.2, () => site('c'))],
    req: { placeCount: 3, xReplicasOnDifferentMap: { 'Aux/site': 2 } },
    expect: { sel: ['a1:pool1', 'b1:pool1', 'a2:pool1'] },
  },
  {
    name: 'X=2, 4 replicas: 2+2',
    nodes: [...ladder(2, 'a', 100, () => site('a')), ...ladder(3, 'b', 99.5, () => site('b')), ...ladder(2, 'c', 99.2, () => site('c'))],
    req: { placeCount: 4, xReplicasOnDifferentMap: { 'Aux/site': 2 } },
    expect: { sel: ['a1:pool1', 'b1:pool1', 'a2:pool1', 'b2:pool1'] },
  },
  {
    name: 'X=3 caps a value at 3',
    nodes: [...ladder(5, 'a', 100, () => site('a')), ...ladder(2, 'b', 10, () => site('b'))],
    req: { placeCount: 4, xReplicasOnDifferentMap: { 'Aux/site': 3 } },
    expect: { sel: ['a1:pool1', 'a2:pool1', 'a3:pool1', 'b1:pool1'] },
  },
  {
    name: 'an existing replica opens a group the new one must fill',
    nodes: [...ladder(2, 'a', 10, () => site('a')), ...ladder(2, 'b', 100, () => site('b'))],
    req: { placeCount: 2, xReplicasOnDifferentMap: { 'Aux/site': 2 }, existing: [{ nodeName: 'a2', poolName: 'pool1', diskless: false }] },
    expect: { sel: ['a1:pool1'] },
  },
  {
    // LINSTOR's SelectionManagerTest.additionalPlacementWithXReplicasOnDifferentTest.
    name: 'all values unique, X=2, one existing: no valid second replica',
    nodes: ladder(6, 'n', 100, (i) => site(`s${i}`)),
    req: { placeCount: 1, additionalPlaceCount: 1, xReplicasOnDifferentMap: { 'Aux/site': 2 }, existing: [{ nodeName: 'n1', poolName: 'pool1', diskless: false }] },
    expect: { fail: 'x-replicas-on-different', msg: /at most 2 replicas may share a value of 'Aux\/site'/ },
  },
  {
    name: 'combined with replicas-on-different key=value',
    nodes: [...ladder(2, 'a', 100, () => site('a')), ...ladder(2, 'b', 90, () => site('b')), ...ladder(2, 'c', 80, () => site('c'))],
    req: { placeCount: 2, replicasOnDifferent: ['Aux/site=a'], xReplicasOnDifferentMap: { 'Aux/site': 2 } },
    expect: { sel: ['b1:pool1', 'b2:pool1'] },
  },
  {
    name: 'existing replicas fill a value: its nodes are filtered',
    nodes: [...ladder(3, 'a', 100, () => site('a')), ...ladder(2, 'b', 50, () => site('b'))],
    req: {
      placeCount: 4,
      xReplicasOnDifferentMap: { 'Aux/site': 2 },
      existing: [{ nodeName: 'a1', poolName: 'pool1', diskless: false }, { nodeName: 'a2', poolName: 'pool1', diskless: false }],
    },
    expect: { sel: ['b1:pool1', 'b2:pool1'] },
  },
  {
    name: 'filter failure is reported as x-replicas-on-different',
    nodes: [...ladder(3, 'a', 100, () => site('a')), ...ladder(1, 'b', 100, () => site('b'))],
    req: { placeCount: 4, xReplicasOnDifferentMap: { 'Aux/site': 2 }, existing: [{ nodeName: 'a1', poolName: 'pool1', diskless: false }, { nodeName: 'a2', poolName: 'pool1', diskless: false }] },
    expect: { fail: 'x-replicas-on-different' },
  },
])

table('do-not-place-with', [
  { name: 'by name, case-insensitive', nodes: ladder(3, 'n', 100, (i) => ({ rscs: i === 0 ? ['Other'] : ['x'] })), req: { doNotPlaceWithRsc: ['OTHER'] }, expect: { sel: ['n2:pool1', 'n3:pool1'] } },
  {
    name: 'a long list (hashed lookups), case-insensitive',
    nodes: ladder(3, 'n', 100, (i) => ({ rscs: i === 0 ? ['ab', 'OTHER'] : ['abc', 'other-2'] })),
    req: { doNotPlaceWithRsc: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'Other'] },
    expect: { sel: ['n2:pool1', 'n3:pool1'] },
  },
  { name: 'by regex, case-insensitive, anywhere in the name', nodes: ladder(3, 'n', 100, (i) => ({ rscs: i === 1 ? ['prod-DB-7'] : ['web'] })), req: { doNotPlaceWithRscRegex: 'db-\\d' }, expect: { sel: ['n1:pool1', 'n3:pool1'] } },
  { name: 'too few nodes without the resources', nodes: ladder(3, 'n', 100, (i) => ({ rscs: i === 0 ? [] : ['x'] })), req: { doNotPlaceWithRsc: ['x'] }, expect: { fail: 'do-not-place-with', msg: /1 node has none of the resources 'x'/ } },
  { name: 'too few nodes without a regex match', nodes: ladder(3, 'n', 100, () => ({ rscs: ['db1'] })), req: { doNotPlaceWithRscRegex: '^db' }, expect: { fail: 'do-not-place-with-regex', msg: /0 nodes have no resource matching \/\^db\/i/ } },
  { name: 'invalid regex', nodes: ladder(3), req: { doNotPlaceWithRscRegex: '(' }, expect: { fail: 'do-not-place-with-regex', msg: /^Invalid do-not-place-with regex '\('/ } },
])

t.test('do-not-place-with through the nodesWithRsc reverse lookup', async (tt) => {
  const { nodes, pools } = build([...ladder(4), { name: 'gone', free: GiB, evicted: true }])
  const where: Record<string, string[]> = { OTHER: ['N1', 'ghost'], db7: ['n3'] }
  const asked: string[] = []
  const base: PlacementRequest = {
    placeCount: 2,
    existing: [],
    sizeKib: 1,
    resourcesOnNode: (n) => {
      asked.push(n)
      return n === 'n2' ? ['db7-x'] : []
    },
    nodesWithRsc: (r) => where[r] ?? [],
  }
  const r1 = autoplace(nodes, pools, { ...base, doNotPlaceWithRsc: ['OTHER', 'db7'] })
  tt.same(r1.ok ? r1.selected.map((s) => s.nodeName) : r1, ['n2', 'n4'], 'names resolved through the lookup, case-insensitively')
  tt.same(asked, [], 'resourcesOnNode not needed for names')
  const r2 = autoplace(nodes, pools, { ...base, doNotPlaceWithRsc: ['OTHER'], doNotPlaceWithRscRegex: '^db7' })
  tt.same(r2.ok ? r2.selected.map((s) => s.nodeName) : r2, ['n3', 'n4'], 'regex still reads resourcesOnNode')
  tt.same(asked, ['n2', 'n3', 'n4'], 'only for nodes not already excluded')
  const r3 = autoplace(nodes, pools, { ...base, placeCount: 3, doNotPlaceWithRsc: ['OTHER', 'db7'] })
  tt.same(r3.ok ? r3 : r3.constraint, 'do-not-place-with')
  tt.throws(() => autoplace(nodes, pools, { ...base, nodesWithRsc: 'x' as never }), TypeError)
})

t.test('resourcesOnNode is consulted only with a do-not-place-with filter, and lazily', async (tt) => {
  const { nodes, pools } = build([...ladder(3), { name: 'gone', free: GiB, evicted: true }])
  const asked: string[] = []
  const resourcesOnNode = (n: string): string[] => {
    asked.push(n)
    return []
  }
  autoplace(nodes, pools, { placeCount: 2, existing: [], sizeKib: 1, resourcesOnNode })
  tt.same(asked, [], 'not without a filter')
  autoplace(nodes, pools, { placeCount: 2, existing: [], sizeKib: 1, resourcesOnNode, doNotPlaceWithRsc: ['x'] })
  tt.same(asked, ['n1', 'n2', 'n3'], 'not for nodes already excluded')
})

table('free capacity', [
  {
    name: 'thick: free must cover the size',
    nodes: [{ name: 'a', pools: [['p', 'LVM', 100]] }, { name: 'b', pools: [['p', 'LVM', 2000]] }, { name: 'c', pools: [['p', 'LVM', 1500]] }],
    req: { sizeKib: 200 },
    expect: { sel: ['b:p', 'c:p'] },
  },
  {
    name: 'thick: capacity minus reserved catches pending volumes',
    nodes: [
      { name: 'a', pools: [['p', 'LVM', 5000, 5000, { reservedKib: 4950 }]] },
      { name: 'b', pools: [['p', 'LVM', 1000, 1000]] },
      { name: 'c', pools: [['p', 'LVM', 900, 1000]] },
    ],
    req: { sizeKib: 100 },
    expect: { sel: ['b:p', 'c:p'] },
  },
  {
    name: 'thin: oversubscription ratio 20 by default',
    nodes: [{ name: 'a', pools: [['p', 'LVM_THIN', 1000, 10000]] }, { name: 'b', pools: [['p', 'LVM_THIN', 1000, 10000]] }],
    req: { sizeKib: 19000, minThinFreeSpace: { kib: 0 } },
    expect: { sel: ['a:p', 'b:p'], unordered: true },
  },
  {
    name: 'thin: oversubscription ratio of the pool',
    nodes: [{ name: 'a', pools: [['p', 'LVM_THIN', 1000, 10000, { oversubscriptionRatio: 1 }]] }, { name: 'b', pools: [['p', 'ZFS_THIN', 1000, 10000]] }, { name: 'c', pools: [['p', 'ZFS_THIN', 500, 10000]] }],
    req: { sizeKib: 5000, minThinFreeSpace: { kib: 0 } },
    expect: { sel: ['b:p', 'c:p'] },
  },
  {
    name: 'thin: total × ratio − reserved bounds the promise',
    nodes: [{ name: 'a', pools: [['p', 'LVM_THIN', 1000, 1000, { reservedKib: 19900 }]] }, { name: 'b', pools: [['p', 'LVM_THIN', 100, 1000]] }, { name: 'c', pools: [['p', 'LVM_THIN', 100, 1000]] }],
    req: { sizeKib: 150, minThinFreeSpace: { kib: 0 } },
    expect: { sel: ['b:p', 'c:p'], unordered: true },
  },
  {
    name: 'thin: separate free and total ratios',
    nodes: [
      { name: 'a', pools: [['p', 'LVM_THIN', 1000, 10000, { freeCapacityOversubscriptionRatio: 2 }]] },
      { name: 'b', pools: [['p', 'LVM_THIN', 900, 10000, { totalCapacityOversubscriptionRatio: 1 }]] },
      { name: 'c', pools: [['p', 'LVM_THIN', 800, 10000]] },
      { name: 'd', pools: [['p', 'LVM_THIN', 700, 10000]] },
    ],
    req: { sizeKib: 2500, minThinFreeSpace: { kib: 0 } },
    expect: { sel: ['b:p', 'c:p'] },
  },
  {
    name: 'thin: the estimate must stay above 10% of capacity by default',
    nodes: [{ name: 'a', pools: [['p', 'LVM_THIN', 4 * GiB, 1000 * GiB]] }, { name: 'b', pools: [['p', 'LVM_THIN', 6 * GiB, 1000 * GiB]] }, { name: 'c', pools: [['p', 'LVM_THIN', 5 * GiB, 1000 * GiB]] }],
    req: { sizeKib: 1 },
    expect: { sel: ['b:p', 'c:p'] },
  },
  {
    name: 'thin: minimum free space as an absolute size',
    nodes: [{ name: 'a', pools: [['p', 'LVM_THIN', 10, 1000]] }, { name: 'b', pools: [['p', 'LVM_THIN', 100, 1000]] }, { name: 'c', pools: [['p', 'LVM_THIN', 50, 1000]] }],
    req: { sizeKib: 1, minThinFreeSpace: { kib: 500 } },
    expect: { sel: ['b:p', 'c:p'] },
  },
  {
    name: 'thin: too few pools above the minimum free space',
    nodes: [{ name: 'a', pools: [['p', 'LVM_THIN', 10, 1000]] }, { name: 'b', pools: [['p', 'LVM_THIN', 100, 1000]] }],
    req: { sizeKib: 1, minThinFreeSpace: { percent: 50 } },
    expect: { fail: 'min-thin-free-space' },
  },
  {
    name: 'thick pools ignore the thin minimum',
    nodes: [{ name: 'a', pools: [['p', 'LVM', 10, 1000]] }, { name: 'b', pools: [['p', 'LVM', 20, 1000]] }],
    req: { sizeKib: 1, minThinFreeSpace: { percent: 50 } },
    expect: { sel: ['b:p', 'a:p'] },
  },
  {
    name: 'unknown free space or capacity is never eligible',
    nodes: [{ name: 'a', pools: [['p', 'LVM', null]] }, { name: 'b', pools: [['p', 'LVM', 500, null]] }, { name: 'c', pools: [['p', 'LVM', 10, 10]] }, { name: 'd', pools: [['p', 'LVM', 5, 10]] }],
    req: { sizeKib: 0 },
    expect: { sel: ['c:p', 'd:p'] },
  },
  {
    name: 'allowUnknownCapacity: unknown pools qualify, scored as empty',
    nodes: [{ name: 'a', pools: [['p', 'LVM', null]] }, { name: 'b', pools: [['p', 'LVM', 500, null]] }, { name: 'c', pools: [['p', 'LVM', 10, 10]] }],
    req: { sizeKib: 5, placeCount: 3, allowUnknownCapacity: true },
    expect: { sel: ['b:p', 'c:p', 'a:p'] },
  },
  {
    name: 'the message names the pool and the size',
    nodes: [
      { name: 'a', pools: [['pool1', 'LVM', 2 * GiB]] },
      { name: 'b', pools: [['pool1', 'LVM', 2 * GiB]] },
      { name: 'c', pools: [['pool1', 'LVM', GiB / 2]] },
      { name: 'd', pools: [['pool2', 'LVM', 9 * GiB]] },
    ],
    req: { placeCount: 3, storagePool: 'pool1', sizeKib: GiB },
    expect: { fail: 'free-space', msg: /^Not enough nodes: 3 replicas requested, 2 nodes have a storage pool matching 'pool1' with 1048576 KiB free$/ },
  },
])

table('one pool per node, evicted nodes, diskless pools', [
  {
    name: 'one pool per node: the better pool of a node',
    nodes: [{ name: 'a', pools: [['p', 'LVM', 100 * GiB], ['q', 'LVM', 99 * GiB]] }, { name: 'b', pools: [['p', 'LVM', 10 * GiB]] }],
    req: {},
    expect: { sel: ['a:p', 'b:p'] },
  },
  {
    name: 'one pool per node: never two pools of one node',
    nodes: [{ name: 'a', pools: [['p', 'LVM', 100 * GiB], ['q', 'LVM', 99 * GiB]] }],
    req: { placeCount: 2 },
    expect: { fail: 'place-count', msg: /^Not enough nodes: 2 replicas requested, 1 node is known$/ },
  },
  { name: 'evicted nodes are never chosen', nodes: ladder(3, 'n', 100, (i) => ({ evicted: i === 0 })), req: {}, expect: { sel: ['n2:pool1', 'n3:pool1'] } },
  { name: 'too few nodes not evicted', nodes: ladder(3, 'n', 100, (i) => ({ evicted: i !== 0 })), req: {}, expect: { fail: 'evicted', msg: /1 node is not evicted/ } },
  { name: 'AutoplaceTarget=false keeps a node out', nodes: ladder(3, 'n', 100, (i): Partial<NodeSpec> => ({ props: i === 0 ? { AutoplaceTarget: 'False' } : {} })), req: {}, expect: { sel: ['n2:pool1', 'n3:pool1'] } },
  { name: 'too few autoplace targets', nodes: ladder(2, 'n', 100, (i): Partial<NodeSpec> => ({ props: i === 0 ? { AutoplaceTarget: 'false' } : {} })), req: {}, expect: { fail: 'autoplace-target' } },
  {
    name: 'diskless pools never take a diskful replica',
    nodes: [
      { name: 'a', pools: [['DfltDisklessStorPool', 'DISKLESS', null]] },
      { name: 'b', pools: [['odd', 'LVM', 900 * GiB, undefined, { disklessPool: true }], ['p', 'LVM', GiB]] },
      { name: 'c', pools: [['ebs', 'EBS_INIT', 900 * GiB]] },
      { name: 'd', pools: [['p', 'LVM', 2 * GiB]] },
    ],
    req: {},
    expect: { sel: ['d:p', 'b:p'] },
  },
  { name: 'only diskless pools: fails', nodes: [{ name: 'a', pools: [['d', 'DISKLESS', null]] }, { name: 'b', pools: [] }, { name: 'c', free: GiB }], req: {}, expect: { fail: 'diskful-pool', msg: /1 node has a diskful storage pool/ } },
])

table('scoring', [
  { name: 'MaxFreeSpace: most free space first', nodes: [{ name: 'a', free: 10 * GiB }, { name: 'b', free: 30 * GiB }, { name: 'c', free: 20 * GiB }], req: {}, expect: { sel: ['b:pool1', 'c:pool1'] } },
  {
    name: 'MinRscCount breaks free-space ties',
    nodes: [{ name: 'a', free: 10 * GiB, rscCount: 5 }, { name: 'b', free: 10 * GiB, rscCount: 3 }, { name: 'c', free: 10 * GiB, rscCount: 4 }],
    req: {},
    expect: { sel: ['b:pool1', 'c:pool1'] },
  },
  {
    name: 'MinRscCount weight is tiny: 0.15% more free space outweighs 500 resources',
    nodes: [{ name: 'a', free: 10 * GiB + 16 * 1024, rscCount: 500 }, { name: 'b', free: 10 * GiB, rscCount: 0 }, { name: 'c', free: 10 * GiB, rscCount: 1 }],
    req: {},
    expect: { sel: ['a:pool1', 'b:pool1'] },
  },
  {
    name: 'MinReservedSpace counts once weighted',
    nodes: [
      { name: 'a', pools: [['p', 'LVM_THIN', 10 * GiB, 100 * GiB, { reservedKib: 50 * GiB }]] },
      { name: 'b', pools: [['p', 'LVM_THIN', 9 * GiB, 100 * GiB, { reservedKib: 1 * GiB }]] },
      { name: 'c', pools: [['p', 'LVM_THIN', 8 * GiB, 100 * GiB, { reservedKib: 2 * GiB }]] },
    ],
    req: { weights: { minReservedSpace: 1 } },
    expect: { sel: ['b:p', 'c:p'] },
  },
  {
    name: 'MinReservedSpace weight 0 by default',
    nodes: [
      { name: 'a', pools: [['p', 'LVM_THIN', 10 * GiB, 100 * GiB, { reservedKib: 50 * GiB }]] },
      { name: 'b', pools: [['p', 'LVM_THIN', 9 * GiB, 100 * GiB, { reservedKib: 1 * GiB }]] },
      { name: 'c', pools: [['p', 'LVM_THIN', 8 * GiB, 100 * GiB, { reservedKib: 2 * GiB }]] },
    ],
    req: {},
    expect: { sel: ['a:p', 'b:p'] },
  },
  {
    name: 'custom weights: fewest resources only',
    nodes: [{ name: 'a', free: 90 * GiB, rscCount: 9 }, { name: 'b', free: 10 * GiB, rscCount: 1 }, { name: 'c', free: 50 * GiB, rscCount: 2 }],
    req: { weights: { maxFreeSpace: 0, minRscCount: 1 } },
    expect: { sel: ['b:pool1', 'c:pool1'] },
  },
  { name: 'ties: by node name, case-insensitively', nodes: [{ name: 'c', free: GiB }, { name: 'B', free: GiB }, { name: 'a', free: GiB }], req: {}, expect: { sel: ['a:pool1', 'B:pool1'] } },
  {
    name: 'zero free everywhere still places (normalisation by zero)',
    nodes: [{ name: 'a', pools: [['p', 'LVM', 0, 0]] }, { name: 'b', pools: [['p', 'LVM', 0, 0]] }],
    req: { sizeKib: 0 },
    expect: { sel: ['a:p', 'b:p'] },
  },
])

const kinds = (spec: [string, ProviderKind, number, string?][]): NodeSpec[] =>
  spec.map(([name, kind, free, drbd]) => ({ name, pools: [['p', kind, free * GiB]], ...(drbd === undefined ? {} : { drbd }) }))

table('provider kind mixing', [
  {
    name: 'never mixes LVM and LVM_THIN: best family with enough nodes',
    nodes: kinds([['a', 'LVM', 100], ['b', 'LVM', 99], ['c', 'LVM_THIN', 50], ['d', 'LVM_THIN', 40], ['e', 'LVM_THIN', 30]]),
    req: { placeCount: 3 },
    expect: { sel: ['c:p', 'd:p', 'e:p'] },
  },
  {
    name: 'the best family by total score',
    nodes: kinds([['a', 'LVM', 100], ['b', 'LVM', 10], ['c', 'ZFS_THIN', 60], ['d', 'ZFS', 60]]),
    req: { placeCount: 2 },
    expect: { sel: ['c:p', 'd:p'] },
  },
  {
    name: 'existing replicas fix the family',
    nodes: kinds([['a', 'LVM', 100], ['b', 'LVM', 99], ['c', 'LVM_THIN', 50], ['d', 'LVM_THIN', 40]]),
    req: { placeCount: 2, existing: [{ nodeName: 'd', poolName: 'p', diskless: false }] },
    expect: { sel: ['c:p'] },
  },
  {
    name: 'FILE and FILE_THIN mix',
    nodes: kinds([['a', 'FILE', 100], ['b', 'FILE_THIN', 99], ['c', 'LVM', 50]]),
    req: { placeCount: 2 },
    expect: { sel: ['a:p', 'b:p'] },
  },
  {
    name: 'allowStorPoolMixing with a capable DRBD mixes LVM and ZFS',
    nodes: kinds([['a', 'LVM', 100, '9.2.7'], ['b', 'ZFS', 99, '9.1.18'], ['c', 'LVM_THIN', 98, '9.2.8'], ['d', 'LVM', 1, '9.2.8']]),
    req: { placeCount: 3, allowStorPoolMixing: true },
    expect: { sel: ['a:p', 'b:p', 'c:p'] },
  },
  {
    name: 'allowStorPoolMixing but a node with an old DRBD is left out of the mix',
    nodes: kinds([['a', 'LVM', 100, '9.2.7'], ['b', 'ZFS', 99, '9.2.0'], ['c', 'LVM_THIN', 98, '9.2.8'], ['d', 'LVM', 1, '9.2.8']]),
    req: { placeCount: 3, allowStorPoolMixing: true },
    expect: { sel: ['a:p', 'c:p', 'd:p'] },
  },
  {
    name: 'an existing replica on an old DRBD disables mixing',
    nodes: kinds([['a', 'LVM', 100, '9.2.7'], ['b', 'LVM_THIN', 99, '9.2.7'], ['c', 'LVM', 98, '9.1.17'], ['d', 'LVM', 1]]),
    req: { placeCount: 3, allowStorPoolMixing: true, existing: [{ nodeName: 'c', poolName: 'p', diskless: false }] },
    expect: { sel: ['a:p', 'd:p'] },
  },
  {
    name: 'no family has enough nodes',
    nodes: kinds([['a', 'LVM', 100], ['b', 'LVM_THIN', 99], ['c', 'ZFS', 98]]),
    req: { placeCount: 2 },
    expect: { fail: 'provider-mixing', msg: /3 nodes are eligible \(LVM, LVM_THIN, ZFS\) but at most 1 of them .*\(storage pool mixing is not allowed\)$/ },
  },
  {
    name: 'existing replicas on a kind no candidate matches',
    nodes: kinds([['a', 'LVM', 100], ['b', 'LVM', 99], ['c', 'ZFS', 98]]),
    req: { placeCount: 2, existing: [{ nodeName: 'c', poolName: 'p', diskless: false }] },
    expect: { fail: 'provider-mixing', msg: /the existing replicas use ZFS/ },
  },
])

const withDiskless = (i: number): Partial<NodeSpec> => ({
  pools: [
    ['pool1', 'LVM_THIN', (100 - i) * GiB],
    ['DfltDisklessStorPool', 'DISKLESS', null],
  ],
})

table('diskless on remaining', [
  {
    name: 'every other node with a diskless pool, not evicted, without a replica',
    nodes: [
      ...ladder(5, 'n', 100, withDiskless),
      { name: 'nodl', free: GiB },
      { name: 'ev', evicted: true, pools: [['DfltDisklessStorPool', 'DISKLESS', null]] },
    ],
    req: { placeCount: 3, disklessOnRemaining: true, existing: [{ nodeName: 'n5', poolName: 'pool1', diskless: false }, { nodeName: 'n4', poolName: 'DfltDisklessStorPool', diskless: true }] },
    expect: { sel: ['n1:pool1', 'n2:pool1'], diskless: ['n3:DfltDisklessStorPool'] },
  },
  {
    name: 'also when nothing new is needed',
    nodes: ladder(3, 'n', 100, withDiskless),
    req: { placeCount: 1, disklessOnRemaining: true, existing: [{ nodeName: 'n1', poolName: 'pool1', diskless: false }] },
    expect: { sel: [], diskless: ['n2:DfltDisklessStorPool', 'n3:DfltDisklessStorPool'] },
  },
  {
    name: 'prefers DfltDisklessStorPool, else the first name; honours the diskless pool list',
    nodes: [
      { name: 'a', pools: [['pool1', 'LVM', 100 * GiB]] },
      { name: 'b', pools: [['pool1', 'LVM', 90 * GiB]] },
      { name: 'c', pools: [['zz', 'DISKLESS', null], ['DfltDisklessStorPool', 'DISKLESS', null], ['aa', 'DISKLESS', null]] },
      { name: 'd', pools: [['zz', 'DISKLESS', null], ['aa', 'DISKLESS', null]] },
      { name: 'e', pools: [['zz', 'DISKLESS', null]] },
    ],
    req: { disklessOnRemaining: true },
    expect: { sel: ['a:pool1', 'b:pool1'], diskless: ['c:DfltDisklessStorPool', 'd:aa', 'e:zz'] },
  },
  {
    name: 'storagePoolDisklessList restricts the diskless pools',
    nodes: [
      { name: 'a', pools: [['pool1', 'LVM', 100 * GiB]] },
      { name: 'b', pools: [['pool1', 'LVM', 90 * GiB]] },
      { name: 'c', pools: [['DfltDisklessStorPool', 'DISKLESS', null], ['ZZ', 'DISKLESS', null]] },
      { name: 'd', pools: [['aa', 'DISKLESS', null]] },
    ],
    req: { disklessOnRemaining: true, storagePoolDisklessList: ['zz'] },
    expect: { sel: ['a:pool1', 'b:pool1'], diskless: ['c:ZZ'] },
  },
  { name: 'off by default', nodes: ladder(3, 'n', 100, withDiskless), req: {}, expect: { sel: ['n1:pool1', 'n2:pool1'], diskless: [] } },
])

t.test('input handling', async (tt) => {
  const { nodes, pools } = build(ladder(3))
  const base: PlacementRequest = { placeCount: 2, existing: [], sizeKib: 1, resourcesOnNode: () => [] }
  const bad: [string, Partial<PlacementRequest>][] = [
    ['negative placeCount', { placeCount: -1 }],
    ['fractional placeCount', { placeCount: 1.5 }],
    ['missing placeCount', { placeCount: undefined as unknown as number }],
    ['negative additionalPlaceCount', { additionalPlaceCount: -2 }],
    ['NaN size', { sizeKib: Number.NaN }],
    ['negative size', { sizeKib: -1 }],
    ['x-replicas 0', { xReplicasOnDifferentMap: { 'Aux/a': 0 } }],
    ['infinite weight', { weights: { maxFreeSpace: Number.POSITIVE_INFINITY } }],
    ['negative min thin free space', { minThinFreeSpace: { percent: -1 } }],
  ]
  for (const [name, patch] of bad) tt.throws(() => autoplace(nodes, pools, { ...base, ...patch }), RangeError, name)
  tt.throws(() => autoplace(nodes, pools, { ...base, resourcesOnNode: undefined as never }), TypeError, 'resourcesOnNode')

  // Iterables, duplicates and pools of unknown nodes are tolerated.
  const gen = function* <T>(xs: T[]): Generator<T> {
    yield* xs
  }
  const dupNodes = [...nodes, { ...(nodes[0] as PlacementNode), name: 'N1' }]
  const strayPools = [...pools, { ...(pools[0] as PlacementPool), nodeName: 'ghost' }, { ...(pools[0] as PlacementPool), freeKib: 1 }]
  const r = autoplace(gen(dupNodes), gen(strayPools), { ...base, placeCount: 3 })
  tt.same(r.ok ? r.selected.map((s) => s.nodeName) : r, ['n1', 'n2', 'n3'])
  tt.same(DFLT_WEIGHTS, { maxFreeSpace: 1, minReservedSpace: 0, minRscCount: 0.00001 }, 'LINSTOR default weights')
  tt.ok(Object.isFrozen(DFLT_WEIGHTS))
  tt.throws(() => selectBest([], [], 0), RangeError, 'selectBest count')
  tt.throws(() => selectBest([{ score: 1, group: '', diffValues: ['x'] }], [{ max: 0, prohibited: new Set(), used: new Map() }], 1), RangeError, 'selectBest max')
})

// ---------------------------------------------------------------------------------------------------------
// Large clusters: unsatisfiable and tight requests must finish (timing itself is for bench/).

t.test('700 nodes: the best group is found past two widenings of the searched segment', async (tt) => {
  // Node 0 is the emptiest, nodes 1–63 tie just below, the rest slope down gently. Only nodes 62+63
  // ('near') and 0+600 ('far') can host two replicas on the same 'pair': far wins (1 + ~0.5 > 0.5 + 0.5)
  // but lies beyond the first segment (64 pools) and the second (512).
  const specs: NodeSpec[] = Array.from({ length: 700 }, (_, i) => ({
    name: `m${String(i).padStart(3, '0')}`,
    free: i === 0 ? 1000 * GiB : i < 64 ? 500 * GiB : 499 * GiB - i * 1024,
    props: { 'Aux/pair': i === 0 || i === 600 ? 'far' : i === 62 || i === 63 ? 'near' : `solo${i}` },
  }))
  const r = place(specs, { placeCount: 2, replicasOnSame: ['Aux/pair'] })
  tt.same(r.ok ? r.selected.map((s) => s.nodeName) : r, ['m000', 'm600'])
})

t.test('1,000 nodes: satisfiable and unsatisfiable requests finish with the right answer', async (tt) => {
  const specs: NodeSpec[] = Array.from({ length: 1000 }, (_, i) => ({
    name: `node${String(i).padStart(4, '0')}`,
    free: ((i * 7919) % 1000) * GiB + GiB,
    rscCount: i % 17,
    props: { 'Aux/zone': `z${i % 2}`, 'Aux/rack': `r${i % 250}`, 'Aux/host': `h${i}`, 'Aux/site': `s${i}` },
  }))
  const ok = (req: Req): PlacementResult => place(specs, req)
  const r1 = ok({ placeCount: 3, replicasOnSame: ['Aux/zone'], replicasOnDifferent: ['Aux/rack'] })
  tt.equal(r1.ok, true, 'same zone, different racks')
  if (r1.ok) {
    const nodes = new Map(specs.map((s) => [s.name, s]))
    const picked = r1.selected.map((s) => nodes.get(s.nodeName)?.props ?? {})
    tt.equal(new Set(picked.map((p) => p['Aux/zone'])).size, 1)
    tt.equal(new Set(picked.map((p) => p['Aux/rack'])).size, 3)
  }
  const r2 = ok({ placeCount: 3, replicasOnDifferent: ['Aux/zone'] })
  tt.equal(r2.ok ? 'ok' : r2.constraint, 'replicas-on-different', '3 replicas over 2 zones')
  const r3 = ok({ placeCount: 3, replicasOnDifferent: ['Aux/zone', 'Aux/rack'] })
  tt.equal(r3.ok ? 'ok' : r3.constraint, 'replicas-on-different', 'two keys, 2 zones')
  const r4 = ok({ placeCount: 2, xReplicasOnDifferentMap: { 'Aux/site': 2 } })
  tt.equal(r4.ok ? 'ok' : r4.constraint, 'x-replicas-on-different', 'unique sites with X=2')
  const r5 = ok({ placeCount: 5, replicasOnSame: ['Aux/rack'] })
  tt.equal(r5.ok ? 'ok' : r5.constraint, 'replicas-on-same', 'racks of 4 nodes, 5 replicas')
  const r6 = ok({ placeCount: 4, xReplicasOnDifferentMap: { 'Aux/zone': 2 }, replicasOnDifferent: ['Aux/rack'] })
  tt.equal(r6.ok, true, 'x-replicas with a second key')
})

// ---------------------------------------------------------------------------------------------------------
// Randomised check against brute force: on small clusters, enumerate every combination and compare the
// best total score and the validity of what autoplace returns. The oracle below is written independently
// of the implementation (plain loops over all subsets).

const COMPATIBLE: Record<string, string[]> = {
  LVM: ['LVM'],
  LVM_THIN: ['LVM_THIN'],
  ZFS: ['ZFS', 'ZFS_THIN'],
  ZFS_THIN: ['ZFS', 'ZFS_THIN'],
}

interface Oracle {
  /** Best total score, or null when no valid selection exists. */
  best: number | null
  /** Total score of a selection of `node:pool`, or null when it breaks a rule. */
  evaluate: (picks: string[]) => number | null
}

function oracle(specs: NodeSpec[], req: PlacementRequest): Oracle {
  const diskful = req.existing.filter((e) => !e.diskless)
  const existing = new Set(diskful.map((e) => e.nodeName))
  const needed = Math.max(0, req.placeCount - existing.size)
  const byName = new Map(specs.map((s) => [s.name, s]))
  const propsOf = (n: string): Record<string, string> => byName.get(n)?.props ?? {}
  const existingProps = [...existing].map(propsOf)
  const existingKinds = new Set(diskful.map((e) => byName.get(e.nodeName)?.pools?.find((p) => p[0] === e.poolName)?.[1] as string))
  const sameKeys = req.replicasOnSame ?? []
  const diff = new Map<string, { max: number; banned: Set<string> }>()
  const diffKey = (k: string): { max: number; banned: Set<string> } => {
    let d = diff.get(k)
    if (d === undefined) diff.set(k, (d = { max: req.xReplicasOnDifferentMap?.[k] ?? 1, banned: new Set() }))
    return d
  }
  for (const e of req.replicasOnDifferent ?? []) {
    const [k, v] = e.split('=') as [string, string | undefined]
    const d = diffKey(k)
    if (v !== undefined) d.banned.add(v)
  }
  for (const k of Object.keys(req.xReplicasOnDifferentMap ?? {})) diffKey(k)
  const usedBefore = (k: string, v: string): number => existingProps.filter((p) => p[k] === v).length

  // Eligible (node, pool) pairs, with the filters spelled out plainly.
  const cand: { key: string; node: string; kind: string; free: number; score: number }[] = []
  for (const s of specs) {
    if (existing.has(s.name)) continue
    const p = s.props ?? {}
    if (sameKeys.some((k) => p[k] === undefined || existingProps.some((e) => e[k] !== undefined && e[k] !== p[k]))) continue
    if ([...diff].some(([k, d]) => p[k] !== undefined && (d.banned.has(p[k] as string) || usedBefore(k, p[k] as string) >= d.max))) continue
    for (const [pool, kind, free] of s.pools ?? []) {
      if (free === null || kind === 'DISKLESS') continue
      const estimate = kind.endsWith('_THIN') ? free * 20 : free // totals are huge in these instances
      if (estimate < req.sizeKib) continue
      cand.push({ key: `${s.name}:${pool}`, node: s.name, kind, free, score: 0 })
    }
  }
  const maxFree = Math.max(0, ...cand.map((c) => c.free))
  const maxRsc = Math.max(0, ...cand.map((c) => byName.get(c.node)?.rscCount ?? 0))
  for (const c of cand) {
    const rsc = byName.get(c.node)?.rscCount ?? 0
    c.score = (maxFree === 0 ? 0 : c.free / maxFree) - 0.00001 * (maxRsc === 0 ? 0 : rsc / maxRsc)
  }
  const candOf = new Map(cand.map((c) => [c.key, c]))

  const evaluate = (picks: string[]): number | null => {
    if (picks.length !== needed) return null
    const chosen = picks.map((k) => candOf.get(k))
    if (chosen.some((c) => c === undefined)) return null
    const names = chosen.map((c) => c?.node as string)
    if (new Set(names).size !== names.length) return null // one pool per node
    const ks = new Set([...existingKinds, ...chosen.map((c) => c?.kind as string)])
    for (const a of ks) for (const b of ks) if (!(COMPATIBLE[a] ?? []).includes(b)) return null
    const all = [...existingProps, ...names.map(propsOf)]
    for (const k of sameKeys) {
      if (new Set(all.map((p) => p[k]).filter((v) => v !== undefined)).size > 1) return null
    }
    for (const [k, { max }] of diff) {
      const counts = new Map<string, number>()
      for (const p of all) if (p[k] !== undefined) counts.set(p[k] as string, (counts.get(p[k] as string) ?? 0) + 1)
      for (const n of names) {
        const v = propsOf(n)[k]
        if (v !== undefined && (counts.get(v) ?? 0) > max) return null
      }
      let partial = 0
      for (const c of counts.values()) if (c > 0 && c < max) partial++
      if (partial > 1) return null
    }
    return chosen.reduce((a, c) => a + (c?.score as number), 0)
  }

  let best: number | null = null
  const chosen: string[] = []
  const rec = (from: number): void => {
    if (chosen.length === needed) {
      const total = evaluate(chosen)
      if (total !== null && (best === null || total > best)) best = total
      return
    }
    for (let i = from; i < cand.length; i++) {
      chosen.push((cand[i] as (typeof cand)[number]).key)
      rec(i + 1)
      chosen.pop()
    }
  }
  rec(0)
  return { best, evaluate }
}

const SEEDS = 1000

t.test('randomised: optimal and valid, against brute force', async (tt) => {
  let feasible = 0
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = rng(seed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T
    const n = 4 + Math.floor(r() * 6)
    const specs: NodeSpec[] = Array.from({ length: n }, (_, i) => {
      const props: Record<string, string> = {}
      if (r() < 0.9) props['Aux/zone'] = pick(['a', 'b', 'c'])
      if (r() < 0.9) props['Aux/rack'] = pick(['1', '2', '3', '4'])
      // Coarse free values make exact ties common, which is where tie-breaking bugs hide.
      const pools: PoolSpec[] = Array.from({ length: r() < 0.7 ? 1 : 2 }, (_, j) => [
        `p${j}`,
        pick(['LVM', 'LVM_THIN', 'ZFS', 'ZFS_THIN', 'LVM_THIN', 'LVM_THIN'] as const),
        (1 + Math.floor(r() * 5)) * 1000,
        1_000_000,
      ])
      if (r() < 0.3) pools.push(['dl', 'DISKLESS', null])
      return { name: `n${i}`, props, rscCount: Math.floor(r() * 4), pools }
    })
    const existingCount = Math.floor(r() * 2.5)
    const existing = specs.slice(0, existingCount).map((s) => ({ nodeName: s.name, poolName: 'p0', diskless: false }))
    if (r() < 0.2) existing.push({ nodeName: (specs[n - 1] as NodeSpec).name, poolName: 'dl', diskless: true })
    const req: PlacementRequest = {
      placeCount: existingCount + 1 + Math.floor(r() * 3),
      existing,
      sizeKib: 1500,
      resourcesOnNode: () => [],
      minThinFreeSpace: { kib: 0 },
    }
    const shape = r()
    if (shape < 0.25) req.replicasOnSame = ['Aux/zone']
    if (shape >= 0.2 && shape < 0.6) req.replicasOnDifferent = [pick(['Aux/zone', 'Aux/rack', 'Aux/zone=b', 'Aux/rack=1'])]
    if (shape >= 0.5 && shape < 0.8) req.xReplicasOnDifferentMap = { [pick(['Aux/zone', 'Aux/rack'])]: 1 + Math.floor(r() * 3) }
    if (shape >= 0.75) req.replicasOnDifferent = ['Aux/zone', 'Aux/rack']

    const { nodes, pools } = build(specs)
    const got = autoplace(nodes, pools, req)
    const { best, evaluate } = oracle(specs, req)
    const label = `seed ${seed}: ${JSON.stringify({ same: req.replicasOnSame, diff: req.replicasOnDifferent, x: req.xReplicasOnDifferentMap, n, place: req.placeCount, existingCount })}`
    if (best === null) {
      if (got.ok) tt.fail(`${label}: expected failure, got ${JSON.stringify(got.selected)}`)
      continue
    }
    feasible++
    if (!got.ok) {
      tt.fail(`${label}: expected a selection scoring ${best}, got ${got.constraint}: ${got.message}`)
      continue
    }
    const score = evaluate(got.selected.map((s) => `${s.nodeName}:${s.poolName}`))
    if (score === null || Math.abs(score - best) > 1e-9) {
      tt.fail(`${label}: chose ${JSON.stringify(got.selected)} scoring ${score}, the best scores ${best}`)
    }
  }
  tt.ok(feasible > SEEDS / 3, `${SEEDS} instances, ${feasible} feasible, all optimal and valid`)
})

// The same check on larger clusters, where autoplace searches a top segment of the pools first and must
// widen it when the answer lies further down. Brute force stays affordable with 1–3 replicas.
t.test('randomised, larger clusters: top-segment search equals brute force', async (tt) => {
  let feasible = 0
  let deep = 0
  const CASES = 150
  for (let seed = 1; seed <= CASES; seed++) {
    const r = rng(10_000 + seed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T
    const place = 1 + Math.floor(r() * 3)
    const n = place === 3 ? 60 + Math.floor(r() * 20) : 100 + Math.floor(r() * 120)
    const specs: NodeSpec[] = Array.from({ length: n }, (_, i) => {
      const free = 1000 + Math.floor(r() * 200) * 100
      const props: Record<string, string> = {
        'Aux/zone': pick(['a', 'b', 'c', 'd']),
        'Aux/rack': `r${Math.floor(r() * (n / 3))}`,
        // Pairs of nodes share a 'pair', except a few trios among the emptiest-looking nodes: placing three
        // replicas on the same pair value must then reach far down the score order.
        'Aux/pair': free < 4000 && r() < 0.3 ? 'trio' : `p${i >> 1}`,
      }
      const pools: PoolSpec[] = [['p0', pick(['LVM_THIN', 'LVM_THIN', 'ZFS_THIN'] as const), free, 1_000_000]]
      if (r() < 0.3) pools.push(['p1', pick(['LVM_THIN', 'LVM'] as const), free - 500, 1_000_000])
      return { name: `n${String(i).padStart(3, '0')}`, props, rscCount: Math.floor(r() * 50), pools }
    })
    const req: PlacementRequest = { placeCount: place, existing: [], sizeKib: 1500, resourcesOnNode: () => [], minThinFreeSpace: { kib: 0 } }
    const shape = r()
    if (shape < 0.3) req.replicasOnSame = ['Aux/pair']
    else if (shape < 0.5) req.replicasOnDifferent = ['Aux/zone', 'Aux/rack']
    else if (shape < 0.7) req.xReplicasOnDifferentMap = { 'Aux/zone': 2 }
    else if (shape < 0.85) {
      // Prohibit the zones of most good nodes, leaving one far down the order.
      req.replicasOnDifferent = ['Aux/zone=a', 'Aux/zone=b', 'Aux/zone=c']
    }

    const { nodes, pools } = build(specs)
    const got = autoplace(nodes, pools, req)
    const { best, evaluate } = oracle(specs, req)
    const label = `seed ${10_000 + seed}: n=${n} place=${place} ${JSON.stringify({ same: req.replicasOnSame, diff: req.replicasOnDifferent, x: req.xReplicasOnDifferentMap })}`
    if (best === null) {
      if (got.ok) tt.fail(`${label}: expected failure, got ${JSON.stringify(got.selected)}`)
      continue
    }
    feasible++
    if (!got.ok) {
      tt.fail(`${label}: expected a selection scoring ${best}, got ${got.constraint}: ${got.message}`)
      continue
    }
    const score = evaluate(got.selected.map((s) => `${s.nodeName}:${s.poolName}`))
    if (score === null || Math.abs(score - best) > 1e-9) {
      tt.fail(`${label}: chose ${JSON.stringify(got.selected)} scoring ${score}, the best scores ${best}`)
    }
    // Count answers that come from beyond the first segment (64 pools), i.e. needed widening.
    const ranks = new Map(
      specs
        .flatMap((sp) => (sp.pools ?? []).map((p) => ({ key: `${sp.name}:${p[0]}`, free: p[2] as number })))
        .sort((a, b) => b.free - a.free)
        .map((p, i) => [p.key, i]),
    )
    if (got.selected.some((s) => (ranks.get(`${s.nodeName}:${s.poolName}`) ?? 0) >= 64)) deep++
  }
  tt.ok(feasible > CASES / 2 && deep >= 5, `${CASES} instances, ${feasible} feasible, ${deep} answered from beyond the first segment`)
})

// A PlacementCluster must answer exactly as autoplace on the same nodes and pools, call after call on one
// cluster (nothing of one placement may leak into the next), and after fields were changed in place.
t.test('PlacementCluster: the same answers as autoplace, call after call', async (tt) => {
  const r = rng(4242)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T
  const specs: NodeSpec[] = Array.from({ length: 40 }, (_, i) => {
    const pools: PoolSpec[] = [['p0', pick(['LVM', 'LVM_THIN', 'ZFS_THIN', 'FILE_THIN'] as const), (1 + Math.floor(r() * 5)) * 1000, 1_000_000]]
    if (r() < 0.4) pools.push(['p1', pick(['LVM_THIN', 'ZFS'] as const), (1 + Math.floor(r() * 5)) * 1000, 1_000_000])
    if (r() < 0.5) pools.push(['DfltDisklessStorPool', 'DISKLESS', null])
    return {
      name: `n${i}`,
      props: { 'Aux/zone': pick(['a', 'b', 'c']), 'Aux/rack': pick(['1', '2', '3', '4']) },
      rscCount: Math.floor(r() * 4),
      rscs: r() < 0.3 ? [pick(['db', 'web', 'cache'])] : [],
      evicted: r() < 0.05,
      pools,
    }
  })
  const { nodes, pools, rscs } = build(specs)
  const cluster = new PlacementCluster(nodes, pools)
  const outcomes = new Set<string>()
  for (let k = 0; k < 400; k++) {
    const existing = Array.from({ length: Math.floor(r() * 3) }, () => ({ nodeName: pick(specs).name, poolName: pick(['p0', 'p1', null]), diskless: r() < 0.2 }))
    const req: PlacementRequest = {
      placeCount: 1 + Math.floor(r() * 4),
      existing,
      sizeKib: pick([500, 1500, 4500]),
      resourcesOnNode: (n) => rscs.get(n.toUpperCase()) ?? [],
      minThinFreeSpace: { kib: 0 },
    }
    const shape = r()
    if (shape < 0.2) req.replicasOnSame = ['Aux/zone']
    else if (shape < 0.4) req.replicasOnDifferent = [pick(['Aux/zone', 'Aux/rack', 'Aux/zone=b'])]
    else if (shape < 0.55) req.xReplicasOnDifferentMap = { 'Aux/zone': 2 }
    else if (shape < 0.65) req.doNotPlaceWithRsc = ['db']
    else if (shape < 0.7) req.doNotPlaceWithRscRegex = '^(web|cache)$'
    else if (shape < 0.75) req.storagePool = 'p1'
    else if (shape < 0.8) req.nodeNameList = specs.slice(0, 10).map((s) => s.name.toUpperCase())
    if (r() < 0.3) req.disklessOnRemaining = true
    if (r() < 0.2) req.nodesWithRsc = (rsc) => specs.filter((s) => s.rscs?.includes(rsc)).map((s) => s.name)
    const want = JSON.stringify(autoplace(nodes, pools, req))
    const got = JSON.stringify(cluster.autoplace(req))
    if (got !== want) tt.fail(`call ${k}: ${JSON.stringify({ ...req, resourcesOnNode: undefined })}: ${got}, autoplace says ${want}`)
    outcomes.add(want.startsWith('{"ok":true') ? 'placed' : 'failed')
    // What changes between placements in the controller: counts, reserved and free space, in place.
    const node = pick(nodes)
    node.rscCount++
    const pool = pick(pools)
    pool.reservedKib += 500
    if (pool.freeKib !== null && r() < 0.5) pool.freeKib = Math.max(0, pool.freeKib - 700)
  }
  tt.same([...outcomes].sort(), ['failed', 'placed'], '400 requests on one cluster, some placed and some not, all answered as autoplace answers them')
})
