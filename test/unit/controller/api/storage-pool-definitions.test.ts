import t from 'tap'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'

const tc = await startTestController()
t.teardown(tc.stop)

const names = (body: { storage_pool_name: string }[]): string[] => body.map((d) => d.storage_pool_name)
const code = (rc: bigint): bigint => rc & MASK.BITS_CODE

t.test('the default definitions exist from the start', async (t) => {
  const r = await tc.get('/v1/storage-pool-definitions')
  t.equal(r.status, 200)
  t.same(names(r.body), ['DfltDisklessStorPool', 'DfltStorPool'])
  t.same(r.body[0], { storage_pool_name: 'DfltDisklessStorPool', props: {} }, 'LINSTOR shape: name and props')
})

t.test('create, get (case-insensitive), list, filters, paging', async (t) => {
  const r = await tc.post('/v1/storage-pool-definitions', { storage_pool_name: 'ssd', props: { MaxOversubscriptionRatio: '2', 'Aux/tier': 'fast' } })
  t.equal(r.status, 201)
  t.equal(r.retCodes[0], MASK.SUCCESS | 1n | OP.CRT | OBJ.STOR_POOL_DFN, 'CREATED | CRT | STOR_POOL_DFN')
  t.equal((await tc.post('/v1/storage-pool-definitions', { storage_pool_name: 'hdd' })).status, 201)
  const one = await tc.get('/v1/storage-pool-definitions/SSD')
  t.equal(one.status, 200)
  t.same(one.body, { storage_pool_name: 'ssd', props: { MaxOversubscriptionRatio: '2', 'Aux/tier': 'fast' } })
  t.same(names((await tc.get('/v1/storage-pool-definitions')).body), ['DfltDisklessStorPool', 'DfltStorPool', 'hdd', 'ssd'])
  t.same(names((await tc.get('/v1/storage-pool-definitions?storage_pools=HDD,ssd')).body), ['hdd', 'ssd'])
  t.same(names((await tc.get('/v1/storage-pool-definitions?storage_pools=hdd&storage_pools=nosuch')).body), ['hdd'])
  t.same(names((await tc.get('/v1/storage-pool-definitions?props=Aux/tier=fast')).body), ['ssd'])
  t.same(names((await tc.get('/v1/storage-pool-definitions?props=Aux/tier')).body), ['ssd'])
  t.same(names((await tc.get('/v1/storage-pool-definitions?props=Aux/tier=slow')).body), [])
  t.same(names((await tc.get('/v1/storage-pool-definitions?limit=2&offset=1')).body), ['DfltStorPool', 'hdd'])
  t.equal((await tc.get('/v1/storage-pool-definitions?limit=-1')).status, 400)
  const missing = await tc.get('/v1/storage-pool-definitions/nosuch')
  t.equal(missing.status, 404)
  t.equal(code(missing.retCodes[0]!), 309n, 'FAIL_NOT_FOUND_STOR_POOL_DFN')
})

t.test('bad input is refused with a 4xx ApiCallRc and changes nothing', async (t) => {
  const before = (await tc.get('/v1/storage-pool-definitions')).text
  const cases: [string, unknown, number, bigint][] = [
    ['path in name', { storage_pool_name: '../x' }, 400, 208n],
    ['shell metacharacter', { storage_pool_name: 'a;b' }, 400, 208n],
    ['too short', { storage_pool_name: 'a' }, 400, 208n],
    ['digits only', { storage_pool_name: '1234' }, 400, 208n],
    ['name missing', { props: {} }, 400, 234n],
    ['name of wrong type', { storage_pool_name: 7 }, 400, 234n],
    ['props of wrong type', { storage_pool_name: 'nvme', props: ['a'] }, 400, 234n],
    ['prop value of wrong type', { storage_pool_name: 'nvme', props: { 'Aux/a': { x: 1 } } }, 400, 234n],
    ['bad prop key', { storage_pool_name: 'nvme', props: { 'a//b': 'x' } }, 400, 213n],
    ['control characters in a value', { storage_pool_name: 'nvme', props: { 'Aux/a': 'x\u0000y' } }, 400, 213n],
    ['duplicate (other case)', { storage_pool_name: 'SSD' }, 409, 509n],
    ['duplicate default', { storage_pool_name: 'dfltstorpool' }, 409, 509n],
    ['body not an object', [1, 2], 400, 234n],
  ]
  for (const [what, body, status, rc] of cases) {
    const r = await tc.post('/v1/storage-pool-definitions', body)
    t.equal(r.status, status, `${what}: status`)
    t.equal(r.retCodes[0]! & MASK.BITS_TYPE, MASK.ERROR, `${what}: error severity`)
    t.equal(r.retCodes[0]! & MASK.BITS_OBJ, OBJ.STOR_POOL_DFN, `${what}: object`)
    t.equal(code(r.retCodes[0]!), rc, `${what}: code`)
    t.ok(r.body[0].message.length > 0, `${what}: message`)
  }
  const modCases: [string, unknown, number][] = [
    ['override of wrong type', { override_props: 'x' }, 400],
    ['delete_props of wrong type', { delete_props: 'Aux/tier' }, 400],
    ['bad key', { override_props: { '/': 'x' } }, 400],
    ['bad namespace', { delete_namespaces: ['a//b'] }, 400],
  ]
  for (const [what, body, status] of modCases) {
    const r = await tc.put('/v1/storage-pool-definitions/ssd', body)
    t.equal(r.status, status, `modify, ${what}: status`)
    t.equal(r.retCodes[0]! & MASK.BITS_OP, OP.MOD, `modify, ${what}: operation`)
  }
  t.equal((await tc.put('/v1/storage-pool-definitions/nosuch', {})).status, 404, 'modify a missing definition')
  t.equal((await tc.post('/v1/storage-pool-definitions', '{"storage_pool_name":')).status, 400, 'malformed JSON')
  t.equal((await tc.get('/v1/storage-pool-definitions')).text, before, 'nothing changed')
})

t.test('modify props: override, delete, namespaces', async (t) => {
  const r = await tc.put('/v1/storage-pool-definitions/SSD', { override_props: { 'Aux/zone': 'z1' }, delete_props: ['MaxOversubscriptionRatio'] })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 3n | OP.MOD | OBJ.STOR_POOL_DFN, 'MODIFIED | MOD | STOR_POOL_DFN')
  t.same((await tc.get('/v1/storage-pool-definitions/ssd')).body.props, { 'Aux/tier': 'fast', 'Aux/zone': 'z1' })
  t.equal((await tc.put('/v1/storage-pool-definitions/ssd', { delete_namespaces: ['Aux'] })).status, 200)
  t.same((await tc.get('/v1/storage-pool-definitions/ssd')).body.props, {})
  t.equal((await tc.put('/v1/storage-pool-definitions/DfltStorPool', { override_props: { MaxOversubscriptionRatio: '3' } })).status, 200, 'defaults can be modified')
})

t.test('deletion rules', async (t) => {
  for (const name of ['DfltStorPool', 'dfltdisklessstorpool']) {
    const r = await tc.del(`/v1/storage-pool-definitions/${name}`)
    t.equal(r.status, 409, `${name} is a default object`)
    t.equal(code(r.retCodes[0]!), 997n)
    t.equal(r.retCodes[0]! & MASK.BITS_OP, OP.DEL)
    t.match(r.body[0].message, /default object/)
  }
  for (const [name, address] of [['alpha', '127.0.0.1'], ['beta', '127.0.0.2']] as const) {
    t.equal((await tc.post('/v1/nodes', { name, type: 'Satellite', net_interfaces: [{ name: 'default', address }] })).status, 201)
    t.equal((await tc.post(`/v1/nodes/${name}/storage-pools`, { storage_pool_name: 'ssd', provider_kind: 'LVM', props: { 'StorDriver/StorPoolName': 'vg0' } })).status, 201)
  }
  const inUse = await tc.del('/v1/storage-pool-definitions/ssd')
  t.equal(inUse.status, 409)
  t.equal(code(inUse.retCodes[0]!), 997n, 'FAIL_IN_USE')
  t.match(inUse.body[0].message, /'alpha', 'beta'/, 'names the nodes')
  t.equal((await tc.get('/v1/storage-pool-definitions/ssd')).status, 200, 'still there')
  await tc.del('/v1/nodes/alpha/storage-pools/ssd')
  await tc.del('/v1/nodes/beta/storage-pools/ssd')
  const gone = await tc.get('/v1/storage-pool-definitions/ssd')
  t.equal(gone.status, 404, 'deleting its last pool deleted the definition (LINSTOR ≥ 1.20.1)')

  const r = await tc.del('/v1/storage-pool-definitions/hdd')
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 2n | OP.DEL | OBJ.STOR_POOL_DFN, 'DELETED | DEL | STOR_POOL_DFN')
  t.equal((await tc.get('/v1/storage-pool-definitions/hdd')).status, 404)
  t.equal((await tc.del('/v1/storage-pool-definitions/hdd')).status, 404, 'deleting again: not found')
})

t.test('survives a restart', async (t) => {
  await tc.post('/v1/storage-pool-definitions', { storage_pool_name: 'persisted', props: { 'Aux/a': 'b' } })
  const before = (await tc.get('/v1/storage-pool-definitions')).body
  await tc.restart()
  t.same((await tc.get('/v1/storage-pool-definitions')).body, before)
  t.same((await tc.get('/v1/storage-pool-definitions/persisted')).body.props, { 'Aux/a': 'b' })
  t.equal((await tc.get('/v1/storage-pool-definitions/DfltStorPool')).body.props.MaxOversubscriptionRatio, '3')
})
