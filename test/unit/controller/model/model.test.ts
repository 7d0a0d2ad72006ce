import t from 'tap'
import { Model } from '../../../../src/controller/model/model.js'
import type { Node, Resource, RscDfn, RuntimeResource, RuntimeVolume, StorPool } from '../../../../src/controller/model/types.js'

// The change stamps that caches of derived data trust (the resources' JSON text, the placer's inputs): each
// must move on every change of what it covers, and stay put otherwise, or a cache serves stale data (or
// rebuilds for nothing).

const node = (name: string, flags: string[] = []): Node => ({ name, type: 'Satellite', flags, props: {}, netInterfaces: [], uuid: `u-${name}` })
const pool = (nodeName: string, name: string, providerKind: StorPool['providerKind'] = 'LVM_THIN'): StorPool =>
  ({ nodeName, name, providerKind, props: {}, sharedSpace: null, externalLocking: false, uuid: `u-${nodeName}-${name}` })
const rscDfn = (name: string): RscDfn => ({
  name, externalName: null, props: {}, flags: [], layerStack: ['STORAGE'], rscGrpName: 'DfltRscGrp', drbd: null,
  vlmDfns: [{ vlmNr: 0, sizeKib: 1024, props: {}, flags: [], minor: null, uuid: `u-${name}-0` }], uuid: `u-${name}`,
})
const resource = (rscName: string, nodeName: string, poolName: string): Resource => ({
  rscName, nodeName, props: {}, flags: [], layerStack: ['STORAGE'], drbdNodeId: null, drbdTcpPort: null,
  volumes: [{ vlmNr: 0, storPoolName: poolName, props: {}, flags: [], uuid: `u-${rscName}-${nodeName}-0` }], createTimestamp: 0, uuid: `u-${rscName}-${nodeName}`,
})
const vlm = (devicePath: string): RuntimeVolume => ({ devicePath, allocatedSizeKib: null, usableSizeKib: null, diskState: null, peers: [], reports: [] })
const drbd = (inUse: boolean): RuntimeResource => ({ inUse, connections: [], mayPromote: null, promotionScore: null })

/** Two nodes with two pools each, two definitions, a resource of each on n1 (pool a) and one of r1 on n2 (pool b). */
function fixture(): { m: Model; r1n1: Resource; r2n1: Resource; r1n2: Resource } {
  const m = new Model()
  for (const n of ['n1', 'n2']) {
    m.putNode(null, node(n))
    m.putStorPool(null, pool(n, 'a'))
    m.putStorPool(null, pool(n, 'b'))
  }
  m.putRscDfn(null, rscDfn('r1'))
  m.putRscDfn(null, rscDfn('r2'))
  const r1n1 = resource('r1', 'n1', 'a')
  const r2n1 = resource('r2', 'n1', 'a')
  const r1n2 = resource('r1', 'n2', 'b')
  for (const r of [r1n1, r2n1, r1n2]) m.putResource(null, r)
  return { m, r1n1, r2n1, r1n2 }
}

/** Which of `rscs` got a new resourceStamp from `change`. */
function touched(m: Model, rscs: Record<string, Resource>, change: () => void): string[] {
  const before = Object.fromEntries(Object.entries(rscs).map(([k, r]) => [k, m.resourceStamp(r)]))
  change()
  return Object.entries(rscs).filter(([k, r]) => m.resourceStamp(r) !== before[k]).map(([k]) => k)
}

t.test('resourceStamp moves with what a resource JSON depends on, and only then', async (t) => {
  const { m, r1n1, r2n1, r1n2 } = fixture()
  const all = { r1n1, r2n1, r1n2 }
  for (const r of Object.values(all)) t.ok(m.resourceStamp(r) > 0, 'a resource in the model has a stamp')
  t.equal(m.resourceStamp(resource('r1', 'n1', 'a')), 0, 'an object the model does not hold has none')

  t.same(touched(m, all, () => {
    r1n1.props = { k: 'v' }
    m.putResource(null, r1n1)
  }), ['r1n1'], 'the resource itself')
  t.same(touched(m, all, () => m.putRscDfn(null, { ...m.getRscDfn('r1')!, props: { x: 'y' } })), ['r1n1', 'r1n2'], 'its definition')
  t.same(touched(m, all, () => m.putStorPool(null, pool('n1', 'A', 'LVM'))), ['r1n1', 'r2n1'], "a pool of its node that one of its volumes is in (the pool's provider kind)")
  t.same(touched(m, all, () => m.putStorPool(null, pool('n1', 'b'))), [], 'not another pool of the node')
  t.same(touched(m, all, () => m.setRuntimeVolume('R1', 'N2', 0, vlm('/dev/x'))), ['r1n2'], 'what its satellite reports of its volumes')
  t.same(touched(m, all, () => m.deleteRuntimeVolume('r1', 'n2', 0)), ['r1n2'], '… and its removal')
  t.same(touched(m, all, () => m.deleteRuntimeVolume('r1', 'n2', 0)), [], 'removing what is not there changes nothing')
  t.same(touched(m, all, () => m.setRuntimeVolume('r9', 'n1', 0, vlm('/dev/y'))), [], 'a report of a resource the model does not hold')
  t.same(touched(m, all, () => m.setRuntimeResource('r1', 'N1', drbd(true))), ['r1n1'], "what its satellite reports of the resource's DRBD state")
  t.same(touched(m, all, () => m.deleteRuntimeResource('R1', 'n1')), ['r1n1'], '… and its removal')
  t.same(touched(m, all, () => m.deleteRuntimeResource('r1', 'n1')), [], '… once')
  t.same(touched(m, all, () => m.setRuntimeNode('n1', { connectionStatus: 'ONLINE', supportedLayers: null, supportedProviders: null })), [], 'not the runtime state of its node')
  t.same(touched(m, all, () => m.setCtrlProps(null, { a: 'b' })), [], 'nor the controller properties')
  t.same(touched(m, all, () => m.deleteRscDfn(null, m.getRscDfn('r2')!)), ['r2n1'], 'its definition going away')
  t.same(touched(m, all, () => m.deleteStorPool(null, m.getStorPool('n2', 'b')!)), ['r1n2'], 'its pool going away')
  m.deleteResource(null, r1n1)
  t.equal(m.resourceStamp(r1n1), 0, 'a deleted resource has no stamp any more')
})

t.test('lastChange.resourceSet moves when the set of resource objects changes', async (t) => {
  const { m, r1n1 } = fixture()
  let at = m.lastChange.resourceSet
  const moved = (): boolean => {
    const now = m.lastChange.resourceSet
    const out = now !== at
    at = now
    return out
  }
  m.putResource(null, r1n1)
  t.notOk(moved(), 'not when the same object is put again')
  m.putResource(null, { ...r1n1 })
  t.ok(moved(), 'when another object replaces it')
  m.putResource(null, resource('r2', 'n2', 'a'))
  t.ok(moved(), 'when one is added')
  m.deleteResource(null, m.getResource('r2', 'n2')!)
  t.ok(moved(), 'when one is removed')
  m.putNode(null, node('n3'))
  m.putRscDfn(null, rscDfn('r3'))
  t.notOk(moved(), 'not for other objects')
})

t.test('nodeStamp and lastChange cover what the placer reads of each node', async (t) => {
  const { m } = fixture()
  const stamps = (): number[] => ['N1', 'N2'].map((k) => m.nodeStamp(k))
  const check = (what: string, change: () => void, expect: [boolean, boolean], shared = false): void => {
    const before = stamps()
    const nodeAt = m.lastChange.node
    const sharedAt = m.lastChange.shared
    change()
    const after = stamps()
    t.same([after[0] !== before[0], after[1] !== before[1]], expect, `${what}: the node stamps that move`)
    t.equal(m.lastChange.node !== nodeAt, expect.includes(true), `${what}: lastChange.node`)
    t.equal(m.lastChange.shared !== sharedAt, shared, `${what}: lastChange.shared`)
  }
  t.ok(m.nodeStamp('N1') > 0 && m.nodeStamp('N9') === 0, 'stamped when put; 0 for a node the model does not hold')
  check('the node', () => m.putNode(null, node('n1', ['EVICTED'])), [true, false])
  check('a pool of the node', () => m.putStorPool(null, pool('n2', 'c')), [false, true])
  check('its removal', () => m.deleteStorPool(null, m.getStorPool('n2', 'c')!), [false, true])
  check('the runtime state of the node', () => m.setRuntimeNode('N1', { connectionStatus: 'ONLINE', supportedLayers: ['STORAGE'], supportedProviders: null }), [true, false])
  check('… removed', () => m.deleteRuntimeNode('n1'), [true, false])
  check('… removed when absent', () => m.deleteRuntimeNode('n1'), [false, false])
  check('the runtime state of a pool', () => m.setRuntimeStorPool('n2', 'a', { freeCapacityKib: 1, totalCapacityKib: 2, reports: [] }), [false, true])
  check('… removed', () => m.deleteRuntimeStorPool('n2', 'a'), [false, true])
  check('… removed when absent', () => m.deleteRuntimeStorPool('n2', 'a'), [false, false])
  check('a resource on the node', () => m.putResource(null, resource('r2', 'n2', 'a')), [false, false])
  check('controller properties', () => m.setCtrlProps(null, { MaxOversubscriptionRatio: '2' }), [false, false], true)
  check('a pool definition', () => m.putStorPoolDfn(null, { name: 'a', props: {}, uuid: 'u' }), [false, false], true)
  check('… removed', () => m.deleteStorPoolDfn(null, m.getStorPoolDfn('a')!), [false, false], true)
  const n2At = m.nodeStamp('N2')
  for (const sp of [...m.storPoolsOfNode('n2')]) m.deleteStorPool(null, sp)
  for (const r of [...m.resourcesOnNode('n2')]) m.deleteResource(null, r)
  const nodeAt = m.lastChange.node
  m.deleteNode(null, m.getNode('n2')!)
  t.equal(m.nodeStamp('N2'), 0, 'a deleted node has no stamp')
  t.ok(m.lastChange.node > nodeAt && m.lastChange.node > n2At, 'and its removal is a change of the nodes')
})

t.test('runtime state: set, read, deleted with its object, adopted by a rebuilt model', async (t) => {
  const { m, r1n2 } = fixture()
  m.setRuntimeNode('n1', { connectionStatus: 'ONLINE', supportedLayers: null, supportedProviders: null })
  m.setRuntimeStorPool('n1', 'a', { freeCapacityKib: 5, totalCapacityKib: 10, reports: [] })
  m.setRuntimeVolume('r1', 'n2', 0, vlm('/dev/drbd1000'))
  m.setRuntimeResource('r1', 'n2', drbd(true))
  t.equal(m.runtime.nodes.get('N1')?.connectionStatus, 'ONLINE', 'keyed by name key')
  t.equal(m.runtime.resources.get('R1\0N2')?.inUse, true)
  t.equal(m.runtime.storPools.get('N1\0A')?.freeCapacityKib, 5)
  t.equal(m.runtime.volumes.get('R1\0N2\x000')?.devicePath, '/dev/drbd1000')

  const rebuilt = new Model()
  rebuilt.putNode(null, node('n1'))
  rebuilt.putStorPool(null, pool('n2', 'b'))
  rebuilt.putRscDfn(null, rscDfn('r1'))
  const again = resource('r1', 'n2', 'b')
  rebuilt.putResource(null, again)
  const stamp = rebuilt.resourceStamp(again)
  const nodeAt = rebuilt.nodeStamp('N1')
  rebuilt.adoptRuntime(m.runtime)
  t.same([...rebuilt.runtime.nodes], [...m.runtime.nodes], 'adopted: nodes')
  t.same([...rebuilt.runtime.storPools], [...m.runtime.storPools], 'adopted: pools')
  t.same([...rebuilt.runtime.volumes], [...m.runtime.volumes], 'adopted: volumes')
  t.same([...rebuilt.runtime.resources], [...m.runtime.resources], 'adopted: resources')
  t.ok(rebuilt.resourceStamp(again) > stamp && rebuilt.nodeStamp('N1') > nodeAt, 'with the stamps of what they describe moved')

  m.deleteResource(null, r1n2)
  t.equal(m.runtime.volumes.size, 0, "a resource's volumes' runtime state goes with it")
  t.equal(m.runtime.resources.size, 0, "… and the resource's own")
  m.deleteStorPool(null, m.getStorPool('n1', 'a')!)
  t.equal(m.runtime.storPools.size, 0, "a pool's runtime state goes with it")
  m.deleteNode(null, m.getNode('n1')!)
  t.equal(m.runtime.nodes.size, 0, "a node's runtime state goes with it")
})
