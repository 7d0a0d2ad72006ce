import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'
import { purgeVlmDfn } from '../../../../src/controller/api/volume-definitions.js'
import type { Model } from '../../../../src/controller/model/model.js'
import type { Resource, StorPool } from '../../../../src/controller/model/types.js'
import type { Tx } from '../../../../src/controller/db/tx.js'

const tc = await startTestController()
t.teardown(tc.stop)

/** A ret_code as the wire carries it: a signed 64-bit value. */
const rc = (v: bigint): bigint => BigInt.asIntN(64, v)
const code = (x: bigint): bigint => x & MASK.BITS_CODE
const isError = (x: bigint): boolean => (x & MASK.BITS_TYPE) === (MASK.ERROR & MASK.BITS_TYPE)
const mutate = <T>(fn: (tx: Tx, m: Model) => T): Promise<T> => tc.ctrl.core.mutate(fn)
const vdPath = (rsc: string, nr?: number | string): string => `/v1/resource-definitions/${rsc}/volume-definitions${nr === undefined ? '' : `/${nr}`}`
const createVd = (rsc: string, vd: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  tc.post(vdPath(rsc), { volume_definition: vd, ...extra })
const createRd = (name: string, layers?: string[]) =>
  tc.post('/v1/resource-definitions', { resource_definition: { name, ...(layers ? { layer_data: layers.map((type) => ({ type })) } : {}) } })

const sat = (name: string, address: string): object => ({
  name, type: 'Satellite', net_interfaces: [{ name: 'default', address, satellite_port: 3366 }],
})
const pool = (nodeName: string, name: string, providerKind: StorPool['providerKind']): StorPool => ({
  nodeName, name, providerKind, props: {}, sharedSpace: null, externalLocking: false, uuid: randomUUID(),
})
const resource = (rscName: string, nodeName: string, extra: Partial<Resource> = {}): Resource => ({
  rscName, nodeName, props: {}, flags: [], layerStack: ['DRBD', 'STORAGE'], drbdNodeId: null, drbdTcpPort: null,
  volumes: [], createTimestamp: Date.now(), uuid: randomUUID(), ...extra,
})
const volume = (vlmNr: number, storPoolName: string) => ({ vlmNr, storPoolName, props: {}, flags: [], uuid: randomUUID() })

t.before(async () => {
  for (const [n, a] of [['n1', '127.0.0.1'], ['n2', '127.0.0.2'], ['n3', '127.0.0.3']] as const) {
    t.equal((await tc.post('/v1/nodes', sat(n, a))).status, 201)
  }
  await mutate((tx, m) => {
    m.putStorPoolDfn(tx, { name: 'thin', props: {}, uuid: randomUUID() })
    m.putStorPoolDfn(tx, { name: 'thick', props: {}, uuid: randomUUID() })
    m.putStorPool(tx, pool('n1', 'thin', 'LVM_THIN'))
    m.putStorPool(tx, pool('n1', 'thick', 'LVM'))
    m.putStorPool(tx, pool('n2', 'thick', 'LVM'))
    m.putStorPool(tx, pool('n2', 'DfltStorPool', 'FILE_THIN'))
    m.putStorPool(tx, pool('n3', 'DfltDisklessStorPool', 'DISKLESS'))
  })
  for (const [n, layers] of [['rsc1', undefined], ['plain', ['STORAGE']]] as const) t.equal((await createRd(n, layers as string[] | undefined)).status, 201)
})

t.test('create, list, get; the lowest free volume number; LINSTOR shape', async (t) => {
  const r = await createVd('rsc1', { size_kib: 1048576 })
  t.equal(r.status, 201)
  t.equal(r.retCodes[0], MASK.SUCCESS | 1n | OP.CRT | OBJ.VLM_DFN, 'CREATED | CRT | VLM_DFN')
  t.same(r.body[0].obj_refs, { RscDfn: 'rsc1', VlmNr: '0' })
  const vd = (await tc.get(vdPath('RSC1', 0))).body
  t.match(vd, { volume_number: 0, size_kib: 1048576, flags: [] })
  t.match(vd.uuid, /^[0-9a-f-]{36}$/)
  t.match(vd.props.DrbdCurrentGi, /^[0-9A-F]{1,16}$/, 'an initial DRBD generation id, as LINSTOR sets it')
  t.equal(BigInt('0x' + vd.props.DrbdCurrentGi) & 1n, 0n, 'primary bit clear')
  t.same(vd.layer_data, [{ type: 'DRBD', data: { resource_name_suffix: '', volume_number: 0, minor_number: 1000 } }], 'the lowest free minor of MinorNrAutoRange')

  t.equal((await createVd('rsc1', { volume_number: 2, size_kib: '2048', props: { 'Aux/x': 'y', DrbdCurrentGi: 'ABC0' } })).status, 201)
  const two = (await tc.get(vdPath('rsc1', 2))).body
  t.equal(two.size_kib, 2048, 'size given as a string')
  t.same(two.props, { 'Aux/x': 'y', DrbdCurrentGi: 'ABC0' }, 'a given generation id is kept')
  const next = await createVd('rsc1', { size_kib: 4096 })
  t.equal(next.body[0].obj_refs.VlmNr, '1', 'the lowest free number')
  t.equal((await createVd('rsc1', { size_kib: 4096, volume_number: '5' })).status, 201, 'volume number as a string')
  const list = (await tc.get(vdPath('rsc1'))).body
  t.same(list.map((x: { volume_number: number }) => x.volume_number), [0, 1, 2, 5])
  t.same((await tc.get(`${vdPath('rsc1')}?limit=2&offset=1`)).body.map((x: { volume_number: number }) => x.volume_number), [1, 2])
  t.same((await tc.get(vdPath('plain'))).body, [])

  t.equal((await createVd('plain', { size_kib: 1, flags: ['gross_size'] })).status, 201, 'without DRBD 1 KiB is enough')
  t.match((await tc.get(vdPath('plain', 0))).body, { size_kib: 1, flags: ['GROSS_SIZE'], layer_data: [{ type: 'STORAGE' }] })
})

t.test('volume numbers reserved by snapshots are skipped', async (t) => {
  await createRd('snapped')
  await mutate((tx, m) => m.putSnapshotDfn(tx, {
    rscName: 'snapped', name: 'before', props: {}, rscDfnProps: {}, flags: ['SUCCESSFUL'], sequenceNumber: 1, snapshots: [], uuid: randomUUID(),
    vlmDfns: [0, 1].map((vlmNr) => ({ vlmNr, sizeKib: 4096, props: {}, vlmDfnProps: {}, flags: [], uuid: randomUUID() })),
  }))
  const r = await createVd('snapped', { size_kib: 4096 })
  t.equal(r.body[0].obj_refs.VlmNr, '2')
})

t.test('no free volume number left', async (t) => {
  await createRd('full')
  await mutate((tx, m) => m.putSnapshotDfn(tx, {
    rscName: 'full', name: 'all', props: {}, rscDfnProps: {}, flags: [], sequenceNumber: 1, snapshots: [], uuid: randomUUID(),
    vlmDfns: Array.from({ length: 65535 }, (_, vlmNr) => ({ vlmNr, sizeKib: 4, props: {}, vlmDfnProps: {}, flags: [], uuid: randomUUID() })),
  }))
  const r = await createVd('full', { size_kib: 4096 })
  t.equal(r.status, 409)
  t.equal(code(r.retCodes[0]!), 800n, 'FAIL_POOL_EXHAUSTED_VLM_NR')
  await mutate((tx, m) => {
    m.deleteSnapshotDfn(tx, m.getSnapshotDfn('full', 'all')!)
    m.deleteRscDfn(tx, m.getRscDfn('full')!)
  })
})

t.test('DRBD minors: requested or allocated, unique, released with their owner', async (t) => {
  const minors = (rsc: string): number[] => tc.ctrl.core.model.getRscDfn(rsc)!.vlmDfns.map((x) => x.minor!)
  t.same(minors('rsc1'), [1000, 1002, 1001, 1003], 'one minor per DRBD volume definition, the lowest free at creation (volume 2 came before 1)')
  t.same(minors('snapped'), [1004])
  t.equal((await createVd('rsc1', { size_kib: 4096, volume_number: 7 }, { drbd_minor_number: 1500 })).status, 201)
  t.same((await tc.get(vdPath('rsc1', 7))).body.layer_data, [{ type: 'DRBD', data: { resource_name_suffix: '', volume_number: 7, minor_number: 1500 } }])
  const taken = await createVd('snapped', { size_kib: 4096 }, { drbd_minor_number: '1500' })
  t.equal(taken.status, 409)
  t.equal(code(taken.retCodes[0]!), 207n, 'FAIL_INVLD_MINOR_NR')
  t.match(taken.body[0].message, /rsc1/)
  const outside = await createVd('snapped', { size_kib: 4096 }, { drbd_minor_number: 100 })
  t.equal(outside.status, 400, 'outside MinorNrAutoRange')
  t.match(outside.body[0].correction, /1000 to 49999/)

  // Released when the volume definition goes, and when its resource definition goes.
  t.equal((await createVd('snapped', { size_kib: 4096, volume_number: 9 }, { drbd_minor_number: 1600 })).status, 201)
  t.equal((await tc.del(vdPath('snapped', 9))).status, 200)
  t.equal((await createVd('snapped', { size_kib: 4096, volume_number: 9 }, { drbd_minor_number: 1600 })).status, 201, 'reusable after the delete')
  await createRd('temp')
  t.equal((await createVd('temp', { size_kib: 4096 }, { drbd_minor_number: 1700 })).status, 201)
  t.equal((await tc.del('/v1/resource-definitions/temp')).status, 200)
  await createRd('temp2')
  t.equal((await createVd('temp2', { size_kib: 4096 }, { drbd_minor_number: 1700 })).status, 201, 'reusable after the resource definition is deleted')
  t.equal((await tc.del('/v1/resource-definitions/temp2')).status, 200)

  // The layer stack decides: DRBD removed releases the minors, DRBD added allocates them.
  await createRd('switch', ['DRBD', 'STORAGE'])
  await createVd('switch', { size_kib: 4096 }, { drbd_minor_number: 1800 })
  t.equal((await tc.put('/v1/resource-definitions/switch', { layer_stack: ['STORAGE'] })).status, 200)
  t.same(minors('switch'), [null])
  t.same((await tc.get(vdPath('switch', 0))).body.layer_data, [{ type: 'STORAGE' }])
  t.notOk(tc.ctrl.core.model.alloc.minors.isAllocated(1800), 'released')
  t.equal((await tc.put('/v1/resource-definitions/switch', { layer_stack: ['DRBD', 'STORAGE'] })).status, 200)
  t.ok(minors('switch')[0]! >= 1000, 'allocated again')
  t.ok(tc.ctrl.core.model.alloc.minors.isAllocated(minors('switch')[0]!))
  await tc.restart()
  t.ok(tc.ctrl.core.model.alloc.minors.isAllocated(1500), 'held after a restart')
  const plain = await createVd('plain', { size_kib: 4096 }, { drbd_minor_number: 1500 })
  t.equal(plain.status, 201)
  t.ok(plain.retCodes.includes(rc(MASK.WARN | 3001n | OP.CRT | OBJ.VLM_DFN)), 'ignored without DRBD, with WARN_NO_EFFECT')
})

t.test('bad input is refused with a 4xx ApiCallRc and changes nothing', async (t) => {
  const before = (await tc.get('/v1/resource-definitions?with_volume_definitions=true')).text
  const big = 2 ** 60
  const cases: [string, string, unknown, number, bigint][] = [
    ['size 0', 'rsc1', { volume_definition: { size_kib: 0 } }, 400, 206n],
    ['size -1', 'rsc1', { volume_definition: { size_kib: -1 } }, 400, 206n],
    ['size 2^60', 'rsc1', { volume_definition: { size_kib: big } }, 400, 206n],
    ['size 2^60 as a string', 'rsc1', { volume_definition: { size_kib: '1152921504606846976' } }, 400, 206n],
    ['size over the DRBD maximum', 'rsc1', { volume_definition: { size_kib: 2 ** 40 + 1 } }, 400, 206n],
    ['size under the DRBD minimum', 'rsc1', { volume_definition: { size_kib: 3 } }, 400, 206n],
    ['size 1.5', 'rsc1', { volume_definition: { size_kib: 1.5 } }, 400, 206n],
    ['size 2^60 without DRBD', 'plain', { volume_definition: { size_kib: big } }, 400, 206n],
    ['size abc', 'rsc1', { volume_definition: { size_kib: 'abc' } }, 400, 234n],
    ['size of wrong type', 'rsc1', { volume_definition: { size_kib: [1] } }, 400, 234n],
    ['no size', 'rsc1', { volume_definition: {} }, 400, 234n],
    ['no volume_definition', 'rsc1', { size_kib: 4096 }, 400, 234n],
    ['volume number taken', 'rsc1', { volume_definition: { size_kib: 4096, volume_number: 0 } }, 409, 503n],
    ['volume number 65535', 'rsc1', { volume_definition: { size_kib: 4096, volume_number: 65535 } }, 400, 205n],
    ['volume number -1', 'rsc1', { volume_definition: { size_kib: 4096, volume_number: -1 } }, 400, 205n],
    ['volume number text', 'rsc1', { volume_definition: { size_kib: 4096, volume_number: 'one' } }, 400, 234n],
    ['minor out of range', 'rsc1', { volume_definition: { size_kib: 4096 }, drbd_minor_number: 2 ** 20 }, 400, 207n],
    ['encrypted', 'rsc1', { volume_definition: { size_kib: 4096, flags: ['ENCRYPTED'] } }, 404, 312n],
    ['passphrase', 'rsc1', { volume_definition: { size_kib: 4096 }, passphrase: 'secret' }, 404, 312n],
    ['flag not settable', 'rsc1', { volume_definition: { size_kib: 4096, flags: ['DELETE'] } }, 400, 234n],
    ['bad prop key', 'rsc1', { volume_definition: { size_kib: 4096, props: { 'a b': 'c' } } }, 400, 213n],
    ['unknown resource definition', 'nosuch', { volume_definition: { size_kib: 4096 } }, 404, 301n],
    ['bad resource name', 'a;b', { volume_definition: { size_kib: 4096 } }, 400, 202n],
    ['dots in the resource name', 'a..b', { volume_definition: { size_kib: 4096 } }, 400, 202n],
  ]
  for (const [what, rsc, body, status, c] of cases) {
    const r = await tc.post(vdPath(rsc), body)
    t.equal(r.status, status, `${what}: status`)
    t.ok(isError(r.retCodes[0]!), `${what}: error severity`)
    t.equal(code(r.retCodes[0]!), c, `${what}: code`)
  }
  const size = await createVd('rsc1', { size_kib: 0 })
  t.equal(size.retCodes[0], rc(MASK.ERROR | 206n | OP.CRT | OBJ.VLM_DFN), 'exact ret_code')
  t.match(size.body[0].correction, /from 4 to 1099511627776/, 'min and max in the correction')
  const plainSize = await createVd('plain', { size_kib: 0 })
  t.match(plainSize.body[0].correction, /from 1 to 9007199254740991/)
  t.equal((await tc.get('/v1/resource-definitions?with_volume_definitions=true')).text, before, 'nothing changed')
})

t.test('paths: bad volume numbers, missing objects', async (t) => {
  for (const nr of ['abc', '-1', '65535', '1.5', '99999999']) {
    const r = await tc.get(vdPath('rsc1', nr))
    t.equal(r.status, 400, `${nr}: status`)
    t.equal(code(r.retCodes[0]!), 205n, `${nr}: FAIL_INVLD_VLM_NR`)
  }
  const missing = await tc.get(vdPath('rsc1', 99))
  t.equal(missing.status, 404)
  t.equal(missing.retCodes[0], rc(MASK.ERROR | 303n | OBJ.VLM_DFN), 'FAIL_NOT_FOUND_VLM_DFN')
  t.equal((await tc.get(vdPath('nosuch'))).status, 404)
  t.equal((await tc.get(vdPath('nosuch', 0))).status, 404)
  t.equal((await tc.put(vdPath('rsc1', 99), { size_kib: 8192 })).status, 404)
  t.equal((await tc.put(vdPath('nosuch', 0), { size_kib: 8192 })).status, 404)
  t.equal((await tc.del(vdPath('nosuch', 0))).status, 404)
  const gone = await tc.del(vdPath('rsc1', 99))
  t.equal(gone.status, 200, 'LINSTOR answers a delete of nothing with a warning')
  t.equal(gone.retCodes[0], rc(MASK.WARN | 3000n | OP.DEL | OBJ.VLM_DFN), 'WARN_NOT_FOUND')
})

t.test('modify without resources: size both ways, props, GROSS_SIZE', async (t) => {
  const r = await tc.put(vdPath('rsc1', 1), { size_kib: '8192', override_props: { 'Aux/a': 'b' } })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 3n | OP.MOD | OBJ.VLM_DFN, 'MODIFIED | MOD | VLM_DFN')
  t.match((await tc.get(vdPath('rsc1', 1))).body, { size_kib: 8192, props: { 'Aux/a': 'b' } })
  t.equal((await tc.put(vdPath('rsc1', 1), { size_kib: 4096 })).status, 200, 'shrinking without resources is fine')
  const same = await tc.put(vdPath('rsc1', 1), { size_kib: 4096 })
  t.ok(same.retCodes.includes(rc(MASK.WARN | 1023n | OP.MOD | OBJ.VLM_DFN)), 'WARN_VLMDFN_RESIZE_SAME_SIZE')
  const del = await tc.put(vdPath('rsc1', 1), { delete_props: ['Aux/a', 'Aux/none'] })
  t.ok(del.retCodes.includes(rc(MASK.WARN | 1005n | OP.MOD | OBJ.VLM_DFN)), 'WARN_DEL_UNSET_PROP')
  t.notOk('Aux/a' in (await tc.get(vdPath('rsc1', 1))).body.props)
  t.equal((await tc.put(vdPath('rsc1', 1), { flags: ['GROSS_SIZE'] })).status, 200)
  t.same((await tc.get(vdPath('rsc1', 1))).body.flags, ['GROSS_SIZE'])
  t.equal((await tc.put(vdPath('rsc1', 1), { flags: ['-gross_size'] })).status, 200)
  t.same((await tc.get(vdPath('rsc1', 1))).body.flags, [])

  const before = (await tc.get(vdPath('rsc1', 1))).text
  for (const [what, body, status, c] of [
    ['size 0', { size_kib: 0 }, 400, 206n],
    ['size abc', { size_kib: 'abc' }, 400, 234n],
    ['size 2^60', { size_kib: 2 ** 60 }, 400, 206n],
    ['unknown flag', { flags: ['RESIZE'] }, 400, 234n],
    ['bad prop', { override_props: { '': 'x' } }, 400, 213n],
  ] as [string, unknown, number, bigint][]) {
    const x = await tc.put(vdPath('rsc1', 1), body)
    t.equal(x.status, status, `${what}: status`)
    t.equal(code(x.retCodes[0]!), c, `${what}: code`)
  }
  t.equal((await tc.get(vdPath('rsc1', 1))).text, before, 'nothing changed')
})

t.test('with resources: new volumes in the right pools, resize rules', async (t) => {
  await createRd('rep')
  t.equal((await createVd('rep', { size_kib: 4096 })).status, 201)
  await mutate((tx, m) => {
    m.putResource(tx, resource('rep', 'n1', { volumes: [volume(0, 'thin')] }))
    m.putResource(tx, resource('rep', 'n2', { volumes: [] }))
    m.putResource(tx, resource('rep', 'n3', { flags: ['DRBD_DISKLESS'], volumes: [] }))
  })
  const r = await createVd('rep', { size_kib: 8192 })
  t.equal(r.status, 201)
  t.equal(r.retCodes.filter((x) => x === rc(MASK.WARN | 1002n | OP.CRT | OBJ.VLM_DFN)).length, 3, 'WARN_NOT_CONNECTED per node')
  const pools = (): Record<string, string[]> => Object.fromEntries([...tc.ctrl.core.model.resourcesOf('rep')].map((x) => [x.nodeName, x.volumes.map((v) => `${v.vlmNr}:${v.storPoolName}`)]))
  t.same(pools(), { n1: ['0:thin', '1:thin'], n2: ['1:DfltStorPool'], n3: ['1:DfltDisklessStorPool'] }, "the resource's own pool, the peers' pool or the default")

  // StorPoolName wins, and must exist on every node.
  await tc.put('/v1/resource-definitions/rep', { override_props: { StorPoolName: 'thick' } })
  const before = (await tc.get('/v1/resource-definitions?with_volume_definitions=true')).text
  const missing = await createVd('rep', { size_kib: 8192 })
  t.equal(missing.status, 404)
  t.equal(code(missing.retCodes[0]!), 311n, 'FAIL_NOT_FOUND_DFLT_STOR_POOL')
  t.match(missing.body[0].message, /'thick'.*node 'n3'/)
  t.equal((await tc.get('/v1/resource-definitions?with_volume_definitions=true')).text, before, 'nothing changed')
  await mutate((tx, m) => {
    const rsc = m.getResource('rep', 'n3')!
    rsc.props = { StorPoolName: 'DfltDisklessStorPool' }
    m.putResource(tx, rsc)
  })
  t.equal((await createVd('rep', { size_kib: 8192 })).status, 201)
  t.same(pools(), { n1: ['0:thin', '1:thin', '2:thick'], n2: ['1:DfltStorPool', '2:thick'], n3: ['1:DfltDisklessStorPool', '2:DfltDisklessStorPool'] })

  // A diskful resource without volumes on a node without any usable pool.
  await createRd('nopool')
  await mutate((tx, m) => m.putResource(tx, resource('nopool', 'n3')))
  const none = await createVd('nopool', { size_kib: 4096 })
  t.equal(none.status, 404)
  t.match(none.body[0].message, /'DfltStorPool'.*node 'n3'/)

  const shrink = await tc.put(vdPath('rep', 1), { size_kib: 4096 })
  t.equal(shrink.status, 400)
  t.equal(code(shrink.retCodes[0]!), 206n, 'DRBD cannot shrink')
  t.match(shrink.body[0].message, /DRBD/)
  const gross = await tc.put(vdPath('rep', 1), { flags: ['GROSS_SIZE'] })
  t.equal(gross.status, 400, 'GROSS_SIZE shrinks the net size: refused as well')
  const thick = await tc.put(vdPath('rep', 2), { size_kib: 16384 })
  t.equal(thick.status, 409, 'thick pools without reported free space cannot grow')
  t.equal(code(thick.retCodes[0]!), 980n, 'FAIL_NOT_ENOUGH_FREE_SPACE')
  t.match(thick.body[0].details, /n1.*thick[\s\S]*n2.*thick/)
  tc.ctrl.core.model.setRuntimeStorPool('n1', 'thick', { freeCapacityKib: 1 << 20, totalCapacityKib: 1 << 21, reports: [] })
  tc.ctrl.core.model.setRuntimeStorPool('n2', 'thick', { freeCapacityKib: 1 << 20, totalCapacityKib: 1 << 21, reports: [] })
  const grown = await tc.put(vdPath('rep', 2), { size_kib: 16384 })
  t.equal(grown.status, 200, 'grows once free space is known')
  t.equal(grown.retCodes.filter((x) => x === rc(MASK.WARN | 1002n | OP.MOD | OBJ.VLM_DFN)).length, 3)
  t.equal((await tc.put(vdPath('rep', 1), { size_kib: 16384 })).status, 200, 'thin pools grow freely')
  await tc.put('/v1/resource-definitions/rep', { override_props: { 'DrbdOptions/ExactSize': 'true' } }).then((x) => t.equal(x.status, 400, 'ExactSize cannot be set with resources'))
  await mutate((tx, m) => {
    const rd = m.getRscDfn('rep')!
    rd.props = { ...rd.props, 'DrbdOptions/ExactSize': 'true' }
    m.putRscDfn(tx, rd)
  })
  const exact = await tc.put(vdPath('rep', 1), { size_kib: 32768 })
  t.equal(exact.status, 400)
  t.equal(code(exact.retCodes[0]!), 213n, 'no growing with ExactSize')

  // Shrinking is LINSTOR's business of the layers: without DRBD (or NVME) it is allowed.
  await createRd('flat', ['STORAGE'])
  await createVd('flat', { size_kib: 8192 })
  await mutate((tx, m) => m.putResource(tx, resource('flat', 'n1', { layerStack: ['STORAGE'], volumes: [volume(0, 'thin')] })))
  t.equal((await tc.put(vdPath('flat', 0), { size_kib: 4096 })).status, 200)
  t.equal((await tc.get(vdPath('flat', 0))).body.size_kib, 4096)
})

t.test('delete: at once without resources, two-phase with them', async (t) => {
  const r = await tc.del(vdPath('rsc1', 5))
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 2n | OP.DEL | OBJ.VLM_DFN, 'DELETED | DEL | VLM_DFN')
  t.match(r.body[0].message, /deleted\.$/)
  t.equal((await tc.get(vdPath('rsc1', 5))).status, 404)

  // n1 is connected: its volume waits for its satellite; n2 and n3 are away and lose theirs at once.
  tc.ctrl.core.model.setRuntimeNode('N1', { connectionStatus: 'ONLINE', supportedLayers: null, supportedProviders: null })
  const marked = await tc.del(vdPath('rep', 1))
  t.equal(marked.status, 200)
  t.match(marked.body[0].message, /marked for deletion/)
  t.equal(marked.retCodes.filter((x) => x === rc(MASK.WARN | 1002n | OP.DEL | OBJ.VLM_DFN)).length, 2)
  t.same((await tc.get(vdPath('rep', 1))).body.flags, ['DELETE'])
  const byNode = new Map([...tc.ctrl.core.model.resourcesOf('rep')].map((x) => [x.nodeName, x.volumes.find((v) => v.vlmNr === 1)]))
  t.ok(byNode.get('n1')?.flags.includes('DELETE'), 'the connected node\'s volume 1 is marked')
  t.equal(byNode.get('n2'), undefined, 'gone on n2')
  t.equal(byNode.get('n3'), undefined, 'gone on n3')
  t.ok([...tc.ctrl.core.model.resourcesOf('rep')].every((x) => x.volumes.filter((v) => v.vlmNr !== 1).every((v) => !v.flags.includes('DELETE'))), 'other volumes untouched')
  t.equal((await tc.del(vdPath('rep', 1))).status, 200, 'again: harmless')
  t.same((await tc.get(vdPath('rep', 1))).body.flags, ['DELETE'])

  await tc.restart()
  t.same((await tc.get(vdPath('rep', 1))).body.flags, ['DELETE'], 'the mark survives a restart')

  // What the satellites' confirmation will do.
  await mutate((tx, m) => {
    const rd = m.getRscDfn('rep')!
    purgeVlmDfn(tx, m, rd, rd.vlmDfns.find((x) => x.vlmNr === 1)!)
  })
  await tc.restart()
  t.equal((await tc.get(vdPath('rep', 1))).status, 404)
  t.ok([...tc.ctrl.core.model.resourcesOf('rep')].every((x) => x.volumes.every((v) => v.vlmNr !== 1)), 'volumes gone with it')
})

t.test('no new volume definitions in a resource definition being deleted', async (t) => {
  tc.ctrl.core.model.setRuntimeNode('N1', { connectionStatus: 'ONLINE', supportedLayers: null, supportedProviders: null })
  await tc.del('/v1/resource-definitions/rep')
  const r = await createVd('rep', { size_kib: 4096 })
  t.equal(r.status, 409)
  t.equal(code(r.retCodes[0]!), 243n)
})

t.test('survives a restart', async (t) => {
  const before = (await tc.get('/v1/resource-definitions?with_volume_definitions=true')).body
  await tc.restart()
  t.same((await tc.get('/v1/resource-definitions?with_volume_definitions=true')).body, before)
  t.match((await tc.get(vdPath('rsc1', 7))).body.layer_data[0].data, { minor_number: 1500 })
})
