import t from 'tap'
import {
  DEFAULT_MINOR_NR_RANGE,
  DEFAULT_TCP_PORT_RANGE,
  MinorNrAllocator,
  NodeIdAllocator,
  POOL_KIND,
  TcpPortAllocator,
} from '../../../../src/controller/alloc/allocators.js'
import { NumberInUseError, PoolExhaustedError } from '../../../../src/controller/alloc/number-pool.js'
import { rng } from '../../../helpers/rng.js'

t.test('TCP ports: LINSTOR defaults, one pool per node, names case-insensitive', async (t) => {
  const a = new TcpPortAllocator()
  t.same(a.range, { min: 7000, max: 7999 })
  t.same(DEFAULT_TCP_PORT_RANGE, { min: 7000, max: 7999 })
  t.equal(a.allocate('alpha'), 7000)
  t.equal(a.allocate('ALPHA'), 7001, 'same node, other spelling')
  t.equal(a.allocate('beta'), 7000, 'each node has its own ports')
  t.ok(a.isAllocated('Alpha', 7001))
  t.notOk(a.isAllocated('gamma', 7000))
  t.equal(a.allocatedCount('alpha'), 2)
  t.equal(a.allocatedCount('gamma'), 0)
  t.equal(a.allocate('alpha', 7500), 7500, 'preferred port')
  t.throws(() => a.reserve('alpha', 7500), NumberInUseError)
  t.ok(a.free('aLpHa', 7000))
  t.notOk(a.free('alpha', 7000))
  t.notOk(a.free('nobody', 7000))
  t.equal(a.allocate('alpha'), 7000)
  t.same(a.snapshot(), new Map([['ALPHA', [7000, 7001, 7500]], ['BETA', [7000]]]))
  t.throws(() => a.allocate(''), TypeError)
  t.throws(() => a.reserve('alpha', 70000), RangeError, 'not a TCP port')
})

t.test('TCP ports: controller range, node range, node deletion', async (t) => {
  const a = new TcpPortAllocator({ min: 7000, max: 7001 })
  a.allocate('n1')
  a.allocate('n1')
  const err = t.throws(() => a.allocate('n1')) as PoolExhaustedError
  t.ok(err instanceof PoolExhaustedError)
  t.equal(err.kind, POOL_KIND.TCP_PORT)
  t.match(err.message, /TCP port pool of 'n1' is exhausted: all numbers in 7000–7001/)

  a.setNodeRange('N1', { min: 8000, max: 8001 })
  t.same(a.rangeOf('n1'), { min: 8000, max: 8001 })
  t.equal(a.allocate('n1'), 8000, 'node range applies to an existing pool')
  t.ok(a.isAllocated('n1', 7000), 'ports outside the new range stay owned')
  a.setRange({ min: 9000, max: 9100 })
  t.equal(a.allocate('n1'), 8001, 'node range wins over the controller range')
  t.equal(a.allocate('n2'), 9000, 'other nodes follow the controller range')
  a.setNodeRange('n1', undefined)
  t.equal(a.allocate('n1'), 9000, 'back to the controller range')
  a.deleteNode('N1')
  t.equal(a.allocatedCount('n1'), 0)
  a.setNodeRange('n3', { min: 100, max: 100 })
  a.deleteNode('n3')
  t.same(a.rangeOf('n3'), { min: 9000, max: 9100 }, 'deleting a node forgets its range')
  t.throws(() => a.setRange({ min: 0, max: 10 }), /leaves the allowed 1–65535/)
  t.throws(() => a.setNodeRange('n1', { min: 10, max: 9 }), /empty/)
  t.throws(() => new TcpPortAllocator({ min: 1.5, max: 9 }), /integers/)
})

t.test('TCP ports: an emptied pool is dropped and recreated with the current range', async (t) => {
  const a = new TcpPortAllocator()
  const p = a.allocate('n1')
  a.free('n1', p)
  t.same(a.snapshot(), new Map())
  a.setRange({ min: 7100, max: 7200 })
  t.equal(a.allocate('n1'), 7100)
})

t.test('minor numbers: cluster-wide, default 1000–49999', async (t) => {
  const m = new MinorNrAllocator()
  t.same(m.range, DEFAULT_MINOR_NR_RANGE)
  t.same(m.range, { min: 1000, max: 49999 })
  t.equal(m.allocate(), 1000)
  t.equal(m.allocate(1000), 1001)
  t.equal(m.allocate(2000), 2000)
  m.reserve(123) // from the database, range changed since
  t.ok(m.isAllocated(123))
  t.equal(m.size, 4)
  t.ok(m.free(1000))
  t.equal(m.allocate(), 1000)
  m.setRange({ min: 1001, max: 1002 })
  t.equal(m.allocate(), 1002)
  const err = t.throws(() => m.allocate()) as PoolExhaustedError
  t.equal(err.kind, POOL_KIND.MINOR_NR)
  t.same(m.snapshot(), [123, 1000, 1001, 1002, 2000])
  t.throws(() => m.setRange({ min: 0, max: 1 << 20 }), RangeError, 'minors are 20 bits')
  t.throws(() => m.reserve(1 << 20), RangeError)
})

t.test('node ids: 0–31 per resource definition', async (t) => {
  const n = new NodeIdAllocator()
  t.equal(n.allocate('rsc1'), 0)
  t.equal(n.allocate('RSC1'), 1)
  t.equal(n.allocate('rsc2'), 0, 'each resource definition has its own ids')
  n.reserve('rsc1', 31)
  t.ok(n.isAllocated('Rsc1', 31))
  t.notOk(n.isAllocated('rsc1', 30))
  t.throws(() => n.reserve('rsc1', 32), RangeError)
  t.throws(() => n.reserve('Rsc1', 31), NumberInUseError)
  for (let i = 2; i < 31; i++) n.allocate('rsc1')
  const err = t.throws(() => n.allocate('rsc1')) as PoolExhaustedError
  t.equal(err.kind, POOL_KIND.NODE_ID)
  t.match(err.message, /Node id pool of 'rsc1' is exhausted: all numbers in 0–31/)
  t.ok(n.free('rsc1', 7))
  t.equal(n.allocate('rsc1', 20), 7, 'a taken preferred id falls back to the lowest free')
  n.deleteResourceDefinition('RSC1')
  t.notOk(n.isAllocated('rsc1', 7))
  t.same(n.snapshot(), new Map([['RSC2', [0]]]))
  t.notOk(n.free('rsc9', 0))
})

/**
 * A simulated cluster: resources with volumes (one minor each) and replicas (a node id in the resource
 * and a TCP port on the node). The owner maps play the database: they are what would be persisted.
 */
interface Replica { nodeId: number; port: number }
interface Rsc { minors: number[]; replicas: Map<string, Replica> }

interface Ranges {
  tcp: { min: number; max: number }
  tcpNode: Map<string, { min: number; max: number }>
  minor: { min: number; max: number }
}

function restart(db: Map<string, Rsc>, ranges: Ranges) {
  const tcp = new TcpPortAllocator(ranges.tcp)
  for (const [node, r] of ranges.tcpNode) tcp.setNodeRange(node, r)
  const minors = new MinorNrAllocator(ranges.minor)
  const nodeIds = new NodeIdAllocator()
  for (const [name, rsc] of db) {
    for (const m of rsc.minors) minors.reserve(m)
    for (const [node, rep] of rsc.replicas) {
      nodeIds.reserve(name, rep.nodeId)
      tcp.reserve(node, rep.port)
    }
  }
  return { tcp, minors, nodeIds }
}

t.test('10,000 random create/delete cycles: no double hand-out, restart rebuilds the same state', async (t) => {
  const next = rng(20240601)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!
  // Mixed spellings of the same nodes: the allocators must treat them as one.
  const nodes = ['alpha', 'Beta', 'GAMMA', 'delta', 'epsilon']
  const spell = (n: string): string => (next() < 0.5 ? n.toUpperCase() : n.toLowerCase())
  const ranges: Ranges = {
    tcp: { min: 7000, max: 7999 },
    // A tight node range so exhaustion and its roll-back are exercised too.
    tcpNode: new Map([['DELTA', { min: 7000, max: 7019 }]]),
    minor: { min: 1000, max: 1399 },
  }
  let live = restart(new Map(), ranges)
  const db = new Map<string, Rsc>()
  const minorOwner = new Map<number, string>()
  const portOwner = new Map<string, string>() // "NODE:port" → rsc
  let doubles = 0
  let exhausted = 0
  let creates = 0
  let deletes = 0
  let restarts = 0
  let rangeChanges = 0

  const failures: string[] = []
  const fail = (msg: string): void => {
    failures.push(msg)
  }
  const addReplica = (name: string, rsc: Rsc, node: string): void => {
    const nodeId = live.nodeIds.allocate(spell(name))
    let port: number
    try {
      port = live.tcp.allocate(spell(node), next() < 0.2 ? 7000 + Math.floor(next() * 100) : undefined)
    } catch (e) {
      live.nodeIds.free(name, nodeId)
      throw e
    }
    if ([...rsc.replicas.values()].some((r) => r.nodeId === nodeId)) doubles++
    const pk = `${node.toUpperCase()}:${port}`
    if (portOwner.has(pk)) doubles++
    portOwner.set(pk, name)
    rsc.replicas.set(node.toUpperCase(), { nodeId, port })
  }
  const removeReplica = (name: string, rsc: Rsc, node: string): void => {
    const rep = rsc.replicas.get(node)!
    if (!live.nodeIds.free(spell(name), rep.nodeId)) fail('node id was not allocated')
    if (!live.tcp.free(spell(node), rep.port)) fail('port was not allocated')
    portOwner.delete(`${node}:${rep.port}`)
    rsc.replicas.delete(node)
  }
  const deleteRsc = (name: string): void => {
    const rsc = db.get(name)!
    for (const node of [...rsc.replicas.keys()]) removeReplica(name, rsc, node)
    for (const m of rsc.minors) {
      if (!live.minors.free(m)) fail('minor was not allocated')
      minorOwner.delete(m)
    }
    db.delete(name)
  }
  const createRsc = (name: string): void => {
    const rsc: Rsc = { minors: [], replicas: new Map() }
    db.set(name, rsc)
    try {
      const vlmCount = 1 + Math.floor(next() * 3)
      for (let v = 0; v < vlmCount; v++) {
        const m = live.minors.allocate()
        if (minorOwner.has(m)) doubles++
        minorOwner.set(m, name)
        rsc.minors.push(m)
      }
      const replicaCount = 1 + Math.floor(next() * 3)
      const chosen = [...nodes].sort(() => next() - 0.5).slice(0, replicaCount)
      for (const node of chosen) addReplica(name, rsc, node)
      creates++
    } catch (e) {
      if (!(e instanceof PoolExhaustedError)) throw e
      exhausted++
      // Roll back the half-made resource as the API call's transaction would.
      deleteRsc(name)
    }
  }

  const checkpoint = (label: string): void => {
    // The live allocators hold exactly what the "database" owns: nothing leaked, nothing lost.
    const wantPorts = new Map<string, number[]>()
    for (const k of portOwner.keys()) {
      const [node, port] = k.split(':') as [string, string]
      wantPorts.set(node, [...(wantPorts.get(node) ?? []), Number(port)])
    }
    for (const ports of wantPorts.values()) ports.sort((a, b) => a - b)
    t.same(live.tcp.snapshot(), wantPorts, `${label}: ports match the owners`)
    t.same(live.minors.snapshot(), [...minorOwner.keys()].sort((a, b) => a - b), `${label}: minors match`)
    const wantNodeIds = new Map<string, number[]>()
    for (const [name, rsc] of db) {
      const ids = [...rsc.replicas.values()].map((r) => r.nodeId).sort((a, b) => a - b)
      if (ids.length > 0) wantNodeIds.set(name, ids)
    }
    t.same(live.nodeIds.snapshot(), wantNodeIds, `${label}: node ids match`)
    // Restart: fresh allocators fed from the persisted owners give the same free sets.
    const rebuilt = restart(db, ranges)
    t.same(rebuilt.tcp.snapshot(), live.tcp.snapshot(), `${label}: rebuilt ports`)
    t.same(rebuilt.minors.snapshot(), live.minors.snapshot(), `${label}: rebuilt minors`)
    t.same(rebuilt.nodeIds.snapshot(), live.nodeIds.snapshot(), `${label}: rebuilt node ids`)
    let freeDiff = 0
    for (const node of nodes) {
      const r = live.tcp.rangeOf(node)
      for (let p = r.min; p <= r.max; p++) {
        if (rebuilt.tcp.isAllocated(node, p) !== live.tcp.isAllocated(node, p)) freeDiff++
      }
    }
    for (let m = ranges.minor.min; m <= ranges.minor.max; m++) {
      if (rebuilt.minors.isAllocated(m) !== live.minors.isAllocated(m)) freeDiff++
    }
    t.equal(freeDiff, 0, `${label}: same free sets after restart`)
    // The restarted allocators must hand out what the live ones would.
    const probe = rebuilt.minors.allocate()
    t.equal(probe, live.minors.allocate(), `${label}: same next minor`)
    rebuilt.minors.free(probe) // the probe owns nothing in the "database"
    live = rebuilt
    restarts++
  }

  for (let cycle = 1; cycle <= 10_000; cycle++) {
    const op = next()
    const names = [...db.keys()]
    if (op < 0.4 || names.length === 0) {
      const name = `rsc${Math.floor(next() * 200)}`.toUpperCase()
      if (!db.has(name)) createRsc(name)
    } else if (op < 0.75) {
      deleteRsc(pick(names))
      deletes++
    } else if (op < 0.87) {
      const name = pick(names)
      const rsc = db.get(name)!
      const node = pick(nodes).toUpperCase()
      if (rsc.replicas.has(node)) removeReplica(name, rsc, node)
      else {
        try {
          addReplica(name, rsc, node)
        } catch (e) {
          if (!(e instanceof PoolExhaustedError)) throw e
          exhausted++
        }
      }
    } else if (op < 0.995) {
      // Re-adding a persisted owner must be refused: that is how a double hand-out would show.
      const name = pick(names)
      const rsc = db.get(name)!
      const m = rsc.minors[0]!
      try {
        live.minors.reserve(m)
        doubles++
      } catch (e) {
        if (!(e instanceof NumberInUseError)) throw e
      }
    } else {
      // The properties change: ports and minors already owned stay owned.
      rangeChanges++
      const lo = 7000 + Math.floor(next() * 50)
      ranges.tcp = { min: lo, max: lo + 200 + Math.floor(next() * 800) }
      live.tcp.setRange(ranges.tcp)
      const mlo = 1000 + Math.floor(next() * 100)
      ranges.minor = { min: mlo, max: mlo + 300 + Math.floor(next() * 200) }
      live.minors.setRange(ranges.minor)
    }
    if (cycle % 2500 === 0) checkpoint(`cycle ${cycle}`)
  }

  t.equal(doubles, 0, 'no number was ever handed out twice')
  t.same(failures, [], 'every freed number had been allocated')
  t.ok(creates > 2000 && deletes > 2000, `exercised: ${creates} creates, ${deletes} deletes`)
  t.ok(exhausted > 0, `exhaustion and roll-back exercised (${exhausted} times)`)
  t.ok(rangeChanges > 0, `range changes exercised (${rangeChanges})`)
  t.equal(restarts, 4)
})
