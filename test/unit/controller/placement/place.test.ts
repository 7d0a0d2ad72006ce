import t from 'tap'
import { ApiError } from '../../../../src/common/errors.js'
import { createResource } from '../../../../src/controller/api/_resources.js'
import { Tx } from '../../../../src/controller/db/tx.js'
import { Model } from '../../../../src/controller/model/model.js'
import type { RscDfn } from '../../../../src/controller/model/types.js'
import { placeResource } from '../../../../src/controller/placement/place.js'

const GiB = 1024 * 1024

/**
 * Three nodes, each with a FILE_THIN pool 'thin' of 10 GiB (all free, as reported) in which 9.5 GiB are
 * already reserved by resources, so that whether a 1 GiB volume fits depends on the oversubscription
 * ratio alone: with ratio r a pool offers min(10·r, 10·r − 9.5) GiB.
 */
function cluster(): { m: Model; rd: RscDfn } {
  const m = new Model()
  m.putStorPoolDfn(null, { name: 'thin', props: {}, uuid: 'spd' })
  const tx = new Tx()
  const rscDfn = (name: string, sizeKib: number): RscDfn => {
    const rd: RscDfn = {
      name, externalName: null, props: {}, flags: [], layerStack: ['STORAGE'], rscGrpName: 'DfltRscGrp', drbd: null,
      vlmDfns: [{ vlmNr: 0, sizeKib, props: {}, flags: [], minor: null, uuid: `${name}-0` }], uuid: name,
    }
    m.putRscDfn(null, rd)
    return rd
  }
  for (const n of ['n1', 'n2', 'n3']) {
    m.putNode(null, { name: n, type: 'Satellite', flags: [], props: {}, netInterfaces: [], uuid: n })
    m.putStorPool(null, { nodeName: n, name: 'thin', providerKind: 'FILE_THIN', props: {}, sharedSpace: null, externalLocking: false, uuid: `${n}-thin` })
    m.setRuntimeStorPool(n, 'thin', { freeCapacityKib: 10 * GiB, totalCapacityKib: 10 * GiB, reports: [] })
    createResource(tx, m, rscDfn(`big-${n}`, 9.5 * GiB), { nodeName: n, poolName: 'thin', layerStack: ['STORAGE'] })
  }
  return { m, rd: rscDfn('new', GiB) }
}

const place = (m: Model, rd: RscDfn, count: number): string[] =>
  placeResource(m, rd, { place_count: count }, ['STORAGE']).selected.map((p) => p.nodeName).sort()

t.test('reserved space comes from the resources in each pool', async (t) => {
  const { m, rd } = cluster()
  t.same(place(m, rd, 3), ['n1', 'n2', 'n3'], 'thin default ratio 20: plenty')
  m.setCtrlProps(null, { MaxOversubscriptionRatio: '1' })
  t.throws(() => place(m, rd, 1), ApiError, 'ratio 1: 0.5 GiB left in every pool')
  for (const n of ['n1', 'n2', 'n3']) m.deleteResource(null, m.getResource(`big-${n}`, n)!)
  t.same(place(m, rd, 3), ['n1', 'n2', 'n3'], 'ratio 1 with the big resources gone: room again')
})

t.test('MaxOversubscriptionRatio: the pool, else its definition, else the controller', async (t) => {
  const { m, rd } = cluster()
  m.setCtrlProps(null, { MaxOversubscriptionRatio: '1' })
  m.putStorPoolDfn(null, { ...m.getStorPoolDfn('thin')!, props: { MaxOversubscriptionRatio: '2' } })
  t.same(place(m, rd, 3), ['n1', 'n2', 'n3'], 'the definition (2) over the controller (1)')
  const sp = m.getStorPool('n1', 'thin')!
  m.putStorPool(null, { ...sp, props: { MaxOversubscriptionRatio: '1' } })
  t.same(place(m, rd, 2), ['n2', 'n3'], "n1's own pool (1) over the definition (2)")
  t.throws(() => place(m, rd, 3), ApiError, 'so three replicas no longer fit')
  m.putStorPool(null, { ...sp, props: { MaxOversubscriptionRatio: 'not a number' } })
  t.same(place(m, rd, 3), ['n1', 'n2', 'n3'], 'a value that is not a positive number is ignored: thin default')
})

// placeResource keeps the placer's inputs between calls (rebuilt per node from the model's change stamps):
// each change below must be seen by the very next placement.
t.test('the kept inputs follow every change of nodes, pools and what satellites report', async (t) => {
  const { m, rd } = cluster()
  t.same(place(m, rd, 3), ['n1', 'n2', 'n3'], 'all three fit')
  const n2 = m.getNode('n2')!
  m.putNode(null, { ...n2, flags: ['EVICTED'] })
  t.same(place(m, rd, 2), ['n1', 'n3'], 'an evicted node is left out')
  m.putNode(null, n2)
  t.same(place(m, rd, 3), ['n1', 'n2', 'n3'], 'and back')
  m.setRuntimeNode('n3', { connectionStatus: 'ONLINE', supportedLayers: null, supportedProviders: ['LVM'] })
  t.same(place(m, rd, 2), ['n1', 'n2'], "a node whose satellite does not support the pool's provider")
  m.deleteRuntimeNode('n3')
  t.same(place(m, rd, 3), ['n1', 'n2', 'n3'], 'and back')
  m.setRuntimeStorPool('n1', 'thin', { freeCapacityKib: 1024, totalCapacityKib: 10 * GiB, reports: [] })
  t.same(place(m, rd, 2), ['n2', 'n3'], 'a pool whose satellite reports too little free space')
  m.deleteRuntimeStorPool('n1', 'thin')
  t.same(placeResource(m, rd, { place_count: 3 }, ['STORAGE']).unknownCapacity.map((p) => p.nodeName), ['n1'], 'a pool of unknown capacity is placed on, and said to be')
  m.putStorPool(null, { ...m.getStorPool('n3', 'thin')!, name: 'Thin' })
  t.same(placeResource(m, rd, { place_count: 1, node_name_list: ['n3'] }, ['STORAGE']).selected, [{ nodeName: 'n3', poolName: 'Thin' }], 'a pool put again under a name spelt otherwise')
  m.putNode(null, { name: 'n4', type: 'Satellite', flags: [], props: {}, netInterfaces: [], uuid: 'n4' })
  m.putStorPool(null, { nodeName: 'n4', name: 'thin', providerKind: 'FILE_THIN', props: {}, sharedSpace: null, externalLocking: false, uuid: 'n4-thin' })
  t.same(placeResource(m, rd, { place_count: 1, node_name_list: ['n4'] }, ['STORAGE']).selected.map((p) => p.nodeName), ['n4'], 'a new node and its pool')
  m.deleteStorPool(null, m.getStorPool('n4', 'thin')!)
  t.throws(() => placeResource(m, rd, { place_count: 1, node_name_list: ['n4'] }, ['STORAGE']), ApiError, 'its pool removed')
  m.deleteNode(null, m.getNode('n4')!)
  t.same(place(m, rd, 3), ['n1', 'n2', 'n3'], 'the node removed')
})

t.test('the kept inputs count the resources on each node and the space reserved in each pool afresh', async (t) => {
  const { m, rd } = cluster()
  m.setCtrlProps(null, { MaxOversubscriptionRatio: '1' })
  for (const n of ['n1', 'n2', 'n3']) m.setRuntimeStorPool(n, 'thin', { freeCapacityKib: 10 * GiB, totalCapacityKib: 10 * GiB, reports: [] })
  t.throws(() => place(m, rd, 1), ApiError, '0.5 GiB left in every pool')
  m.deleteResource(null, m.getResource('big-n2', 'n2')!)
  t.same(place(m, rd, 1), ['n2'], 'space freed on n2 is seen at once')
  m.setCtrlProps(null, {})
  const tx = new Tx()
  const small = (name: string): RscDfn => {
    const x: RscDfn = { ...rd, name, uuid: name, vlmDfns: rd.vlmDfns.map((vd) => ({ ...vd })) }
    m.putRscDfn(null, x)
    return x
  }
  // Equal free space everywhere: the node with the fewest resources wins (MinRscCount).
  for (const n of ['n1', 'n3']) createResource(tx, m, small(`extra-${n}`), { nodeName: n, poolName: 'thin', layerStack: ['STORAGE'] })
  t.same(place(m, rd, 1), ['n2'], 'n2 has the fewest resources')
  for (const x of ['a', 'b', 'c']) createResource(tx, m, small(`more-${x}`), { nodeName: 'n2', poolName: 'thin', layerStack: ['STORAGE'] })
  t.same(place(m, rd, 1), ['n1'], 'no longer, once three are on it (n1 and n3 have two)')
})
