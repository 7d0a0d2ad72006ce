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
    m.runtime.storPools.set(`${n.toUpperCase()}\0THIN`, { freeCapacityKib: 10 * GiB, totalCapacityKib: 10 * GiB, reports: [] })
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
