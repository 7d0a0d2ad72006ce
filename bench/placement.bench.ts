/**
 * Auto-placer timing at 1,000 nodes with 1–3 storage pools each (and 50 resources each, for
 * do-not-place-with): placements per second and p50/p99 of a
 * single placement, for several request shapes (satisfiable and not).
 *
 * Run: node --import @tapjs/typescript/import bench/placement.bench.ts [iterations]
 * (tap's TypeScript loader, already a dev dependency; or compile with tsc into a scratch directory.)
 *
 * No brute-force baseline: the exhaustive search it would be is C(1000, 3) ≈ 1.7·10^8 combinations per
 * placement, which does not finish in any useful time; the unit tests compare against brute force on
 * small clusters instead.
 */

import { autoplace, type PlacementNode, type PlacementPool, type PlacementRequest, type ProviderKind } from '../src/controller/placement/autoplacer.js'
import { rng } from '../test/helpers/rng.js'

const NODES = 1000
const ITERATIONS = Number(process.argv[2] ?? 2000)
const WARMUP = 300
const GiB = 1024 * 1024

function cluster(seed: number): {
  nodes: PlacementNode[]
  pools: PlacementPool[]
  rscs: Map<string, string[]>
  where: Map<string, string[]>
} {
  const r = rng(seed)
  const nodes: PlacementNode[] = []
  const pools: PlacementPool[] = []
  const rscs = new Map<string, string[]>()
  const where = new Map<string, string[]>()
  for (let i = 0; i < NODES; i++) {
    const name = `node-${String(i).padStart(4, '0')}`
    nodes.push({
      name,
      props: {
        'Aux/zone': `zone-${i % 3}`,
        'Aux/rack': `rack-${Math.floor(i / 20)}`,
        'Aux/site': `site-${i % 5}`,
        'Aux/host': name,
      },
      supportedLayers: ['DRBD', 'LUKS', 'STORAGE', 'WRITECACHE', 'CACHE'],
      supportedProviders: ['DISKLESS', 'LVM', 'LVM_THIN', 'ZFS', 'ZFS_THIN', 'FILE', 'FILE_THIN'],
      rscCount: Math.floor(r() * 200),
    })
    const onNode = Array.from({ length: 50 }, (_, j) => `pvc-${(i * 7 + j * 13) % 4000}`)
    rscs.set(name.toUpperCase(), onNode)
    for (const rsc of onNode) where.set(rsc, [...(where.get(rsc) ?? []), name])
    const poolCount = 1 + Math.floor(r() * 3)
    const kinds: ProviderKind[] = ['LVM_THIN', 'ZFS_THIN', 'LVM']
    for (let p = 0; p < poolCount; p++) {
      const total = (1 + Math.floor(r() * 16)) * 1024 * GiB
      pools.push({
        nodeName: name,
        poolName: p === 0 ? 'pool1' : `pool${p + 1}`,
        providerKind: kinds[p] as ProviderKind,
        freeKib: Math.floor(total * r()),
        totalKib: total,
        reservedKib: Math.floor(total * r() * 2),
        disklessPool: false,
      })
    }
    pools.push({
      nodeName: name,
      poolName: 'DfltDisklessStorPool',
      providerKind: 'DISKLESS',
      freeKib: null,
      totalKib: null,
      reservedKib: 0,
      disklessPool: true,
    })
  }
  return { nodes, pools, rscs, where }
}

const { nodes, pools, rscs, where } = cluster(42)
const base: PlacementRequest = {
  placeCount: 3,
  existing: [],
  sizeKib: 10 * GiB,
  resourcesOnNode: (n) => rscs.get(n.toUpperCase()) ?? [],
  layerStack: ['DRBD', 'STORAGE'],
}

const scenarios: [string, Partial<PlacementRequest>][] = [
  ['3 replicas, no constraints', {}],
  ['3 replicas, pool + do-not-place-with (scan)', { storagePool: 'pool1', doNotPlaceWithRsc: ['pvc-17', 'pvc-2024'] }],
  [
    '3 replicas, pool + do-not-place-with (lookup)',
    { storagePool: 'pool1', doNotPlaceWithRsc: ['pvc-17', 'pvc-2024'], nodesWithRsc: (r) => where.get(r) ?? [] },
  ],
  ['3 replicas, do-not-place-with-regex', { doNotPlaceWithRscRegex: '^pvc-39' }],
  ['3 replicas, replicas-on-different zone', { replicasOnDifferent: ['Aux/zone'] }],
  ['3 replicas, same zone + different rack', { replicasOnSame: ['Aux/zone'], replicasOnDifferent: ['Aux/rack'] }],
  ['4 replicas, x-replicas-on-different site=2', { placeCount: 4, xReplicasOnDifferentMap: { 'Aux/site': 2 } }],
  [
    '+1 replica to 2 existing, different zone',
    {
      existing: [
        { nodeName: 'node-0000', poolName: 'pool1', diskless: false },
        { nodeName: 'node-0001', poolName: 'pool1', diskless: false },
      ],
      replicasOnDifferent: ['Aux/zone'],
    },
  ],
  ['3 replicas + diskless on remaining', { disklessOnRemaining: true }],
  ['unsatisfiable: 4 replicas over 3 zones', { placeCount: 4, replicasOnDifferent: ['Aux/zone'] }],
  ['unsatisfiable: 21 replicas in one rack', { placeCount: 21, replicasOnSame: ['Aux/rack'] }],
]

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

console.log(`auto-placer, ${NODES} nodes, ${pools.length - NODES} diskful pools, ${ITERATIONS} placements per scenario (node ${process.version})`)
console.log(`${'scenario'.padEnd(46)} ${'result'.padEnd(24)} ${'placements/s'.padStart(12)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`)
for (const [name, patch] of scenarios) {
  const req = { ...base, ...patch }
  let last = autoplace(nodes, pools, req)
  for (let i = 0; i < WARMUP; i++) last = autoplace(nodes, pools, req)
  const times = new Float64Array(ITERATIONS)
  const start = process.hrtime.bigint()
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = process.hrtime.bigint()
    last = autoplace(nodes, pools, req)
    times[i] = Number(process.hrtime.bigint() - t0) / 1e6
  }
  const totalMs = Number(process.hrtime.bigint() - start) / 1e6
  times.sort()
  const result = last.ok ? `ok ${last.selected.length}+${last.disklessOn.length}dl` : `fail ${last.constraint}`
  console.log(
    `${name.padEnd(46)} ${result.padEnd(24)} ${Math.round((ITERATIONS * 1000) / totalMs).toString().padStart(12)} ` +
      `${quantile(times, 0.5).toFixed(3).padStart(8)} ${quantile(times, 0.99).toFixed(3).padStart(8)}`,
  )
}
