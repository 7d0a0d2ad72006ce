import t from 'tap'
import { grossSizeKib } from '../../../../src/common/drbd-md.js'
import type { LayerKind } from '../../../../src/common/layer-stack.js'
import { nameKey } from '../../../../src/common/names.js'
import { Model } from '../../../../src/controller/model/model.js'
import { allocatedKib, isDiskless, PoolUsage, poolUsageKey } from '../../../../src/controller/model/pool-usage.js'
import type { Resource, RscDfn } from '../../../../src/controller/model/types.js'
import { rng } from '../../../helpers/rng.js'

/** The definition of the usage: a full scan over every resource (what the Model used to compute per call). */
function scan(m: Model): Map<string, number> {
  const usage = new Map<string, number>()
  for (const r of m.allResources()) {
    const rd = m.getRscDfn(r.rscName)
    if (rd === undefined || isDiskless(r)) continue
    for (const v of r.volumes) {
      const vd = rd.vlmDfns.find((x) => x.vlmNr === v.vlmNr)
      if (vd === undefined) continue
      const key = nameKey(r.nodeName) + '\0' + nameKey(v.storPoolName)
      usage.set(key, (usage.get(key) ?? 0) + allocatedKib(rd, r.layerStack, vd.sizeKib, vd.flags.includes('GROSS_SIZE')))
    }
  }
  for (const [k, v] of usage) if (v === 0) usage.delete(k)
  return usage
}

const sorted = (m: ReadonlyMap<string, number>): [string, number][] => [...m].sort(([a], [b]) => (a < b ? -1 : 1))

function rscDfn(name: string, sizes: number[], drbd = true): RscDfn {
  return {
    name, externalName: null, props: {}, flags: [], layerStack: drbd ? ['DRBD', 'STORAGE'] : ['STORAGE'], rscGrpName: 'DfltRscGrp',
    drbd: drbd ? { peerSlots: 7, alStripes: 1, alStripeSizeKib: 32, transportType: 'IP', secret: 's', port: null } : null,
    vlmDfns: sizes.map((sizeKib, vlmNr) => ({ vlmNr, sizeKib, props: {}, flags: [], minor: null, uuid: `${name}-${vlmNr}` })),
    uuid: name,
  }
}

function resource(rd: RscDfn, nodeName: string, pool: string, flags: string[] = []): Resource {
  return {
    rscName: rd.name, nodeName, props: {}, flags, layerStack: rd.layerStack as LayerKind[], drbdNodeId: null, drbdTcpPort: null,
    volumes: rd.vlmDfns.map((vd) => ({ vlmNr: vd.vlmNr, storPoolName: pool, props: {}, flags: [], uuid: `${rd.name}-${nodeName}-${vd.vlmNr}` })),
    createTimestamp: 0, uuid: `${rd.name}-${nodeName}`,
  }
}

t.test('allocatedKib: DRBD adds its internal metadata unless the size is gross; other stacks take the size as is', async (t) => {
  const rd = rscDfn('r', [1024 * 1024])
  t.equal(allocatedKib(rd, ['DRBD', 'STORAGE'], 1024 * 1024, false), grossSizeKib(1024 * 1024, 7, 1, 32))
  t.ok(allocatedKib(rd, ['DRBD', 'STORAGE'], 1024 * 1024, false) > 1024 * 1024)
  t.equal(allocatedKib(rd, ['DRBD', 'STORAGE'], 1024 * 1024, true), 1024 * 1024, 'GROSS_SIZE')
  t.equal(allocatedKib(rd, ['STORAGE'], 1024 * 1024, false), 1024 * 1024)
  t.equal(allocatedKib({ ...rd, drbd: null }, ['DRBD', 'STORAGE'], 4096, false), grossSizeKib(4096, 7, 1, 32), 'DRBD defaults without DRBD data')
})

t.test('PoolUsage: set replaces, remove forgets, diskless and definition-less resources reserve nothing', async (t) => {
  const u = new PoolUsage()
  const rd = rscDfn('r1', [100, 200], false)
  const a = resource(rd, 'n1', 'p1')
  u.set(a, rd)
  t.same(sorted(u.kib), [[poolUsageKey('n1', 'p1'), 300]])
  u.set(a, rd)
  t.same(sorted(u.kib), [[poolUsageKey('N1', 'P1'), 300]], 'setting again does not count twice; keys ignore case')
  a.volumes[1]!.storPoolName = 'p2' // changed in place: the old contribution is still removed exactly
  u.set(a, rd)
  t.same(sorted(u.kib), [[poolUsageKey('n1', 'p1'), 100], [poolUsageKey('n1', 'p2'), 200]])
  u.set(resource(rd, 'n1', 'p1', ['DRBD_DISKLESS']), rd)
  t.same(sorted(u.kib), [], 'a diskless replacement reserves nothing')
  u.set(a, rd)
  u.set(a, undefined)
  t.same(sorted(u.kib), [], 'without its definition')
  u.set(a, rd)
  u.remove(a)
  u.remove(a)
  t.same(sorted(u.kib), [], 'removed (twice is harmless)')
})

t.test('the Model keeps the usage equal to a full scan through random puts and deletes, and rebuilds it at load', async (t) => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = rng(seed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
    const m = new Model()
    const nodes = ['n1', 'N2', 'n3', 'n4']
    const pools = ['pool1', 'POOL2']
    let created = 0
    for (let step = 0; step < 400; step++) {
      const rds = [...m.rscDfns.values()]
      const rscs = [...m.allResources()]
      const op = r()
      if (op < 0.15 || rds.length === 0) {
        m.putRscDfn(null, rscDfn(`rsc${created++}`, Array.from({ length: 1 + Math.floor(r() * 2) }, () => 1024 * (1 + Math.floor(r() * 64))), r() < 0.7))
      } else if (op < 0.4) {
        const rd = pick(rds)
        const node = pick(nodes)
        if (m.getResource(rd.name, node) === undefined) m.putResource(null, resource(rd, node, pick(pools), r() < 0.2 ? ['DRBD_DISKLESS'] : []))
      } else if (op < 0.5 && rscs.length > 0) {
        m.deleteResource(null, pick(rscs))
      } else if (op < 0.6) {
        const rd = pick(rds)
        const vd = pick(rd.vlmDfns)
        vd.sizeKib += 1024 // a resize, changed in place and put again
        if (r() < 0.3) vd.flags = vd.flags.includes('GROSS_SIZE') ? [] : ['GROSS_SIZE']
        m.putRscDfn(null, rd)
      } else if (op < 0.65) {
        const rd = pick(rds)
        if (rd.drbd !== null) m.putRscDfn(null, { ...rd, drbd: { ...rd.drbd, peerSlots: 1 + Math.floor(r() * 31) } })
      } else if (op < 0.75) {
        const rd = pick(rds)
        const nr = rd.vlmDfns.length
        rd.vlmDfns = [...rd.vlmDfns, { vlmNr: nr, sizeKib: 2048, props: {}, flags: [], minor: null, uuid: `${rd.name}-${nr}` }]
        m.putRscDfn(null, rd)
        for (const x of m.resourcesOf(rd.name)) {
          x.volumes = [...x.volumes, { vlmNr: nr, storPoolName: pick(pools), props: {}, flags: [], uuid: `${x.uuid}-${nr}` }]
          m.putResource(null, x)
        }
      } else if (op < 0.85 && rscs.length > 0) {
        const x = pick(rscs)
        x.flags = isDiskless(x) ? [] : ['DISKLESS'] // toggle-disk, in place
        m.putResource(null, x)
      } else if (op < 0.9) {
        // a definition goes with its resources (or before them, which the scan also tolerates)
        const rd = pick(rds)
        if (r() < 0.5) for (const x of [...m.resourcesOf(rd.name)]) m.deleteResource(null, x)
        m.deleteRscDfn(null, rd)
      } else if (rscs.length > 0) {
        const x = pick(rscs)
        m.putResource(null, { ...x, volumes: x.volumes.map((v) => ({ ...v, storPoolName: pick(pools) })) }) // a new object, same key
      }
      if (step % 20 === 0) t.same(sorted(m.poolUsage.kib), sorted(scan(m)), `seed ${seed}, step ${step}`)
    }
    t.same(sorted(m.poolUsage.kib), sorted(scan(m)), `seed ${seed}, end`)
    const loaded = Model.fromRows({
      ctrlProps: {},
      objects: { node: [], storPoolDfn: [], storPool: [], rscGrp: [], rscDfn: [...m.rscDfns.values()], resource: [...m.allResources()], snapshotDfn: [], kvs: [] },
    })
    t.same(sorted(loaded.poolUsage.kib), sorted(scan(m)), `seed ${seed}: rebuilt at load`)
    t.ok(m.poolUsage.kib.size > 0, `seed ${seed}: something was reserved`)
  }
})
