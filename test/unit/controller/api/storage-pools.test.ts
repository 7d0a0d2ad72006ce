import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startTestController } from '../../../helpers/controller.js'
import { MASK, OBJ, OP } from '../../../../src/common/api-codes.js'
import type { Resource, RscDfn, SnapshotDfn } from '../../../../src/controller/model/types.js'

const tc = await startTestController()
t.teardown(tc.stop)

const SPN = 'StorDriver/StorPoolName'
const code = (rc: bigint): bigint => rc & MASK.BITS_CODE
const spNames = (body: { node_name: string; storage_pool_name: string }[]): string[] => body.map((p) => `${p.node_name}/${p.storage_pool_name}`)
/** Everything a failed call must leave untouched. */
const snapshot = async (): Promise<string> => (await tc.get('/v1/view/storage-pools')).text + (await tc.get('/v1/storage-pool-definitions')).text

for (const [name, address] of [['alpha', '127.0.0.1'], ['beta', '127.0.0.2']] as const) {
  await tc.post('/v1/nodes', { name, type: 'Satellite', net_interfaces: [{ name: 'default', address }, { name: 'data', address: address.replace('127.0', '127.1') }] })
}

t.test('create every provider kind; JSON shape as LINSTOR', async (t) => {
  const pools: [string, string, Record<string, string>][] = [
    ['lvm', 'LVM', { [SPN]: 'vg0' }],
    ['lvmthin', 'LVM_THIN', { [SPN]: 'vg0/thinpool' }],
    ['zfs', 'ZFS', { [SPN]: 'tank/linstor' }],
    ['zfsthin', 'ZFS_THIN', { [SPN]: 'tank' }],
    ['file', 'FILE', { [SPN]: '/var/lib/blockyard/file' }],
    ['filethin', 'FILE_THIN', { [SPN]: '/var/lib/blockyard/thin' }],
    ['diskless', 'DISKLESS', {}],
  ]
  for (const [name, kind, props] of pools) {
    const r = await tc.post('/v1/nodes/alpha/storage-pools', { storage_pool_name: name, provider_kind: kind, props })
    t.equal(r.status, 201, `${kind}: created`)
    t.equal(r.retCodes[0], MASK.SUCCESS | 1n | OP.CRT | OBJ.STOR_POOL, `${kind}: CREATED | CRT | STOR_POOL`)
    t.equal(r.retCodes[1]! & MASK.BITS_TYPE, MASK.WARN, `${kind}: warns that the satellite is not connected`)
  }
  const lvm = (await tc.get('/v1/nodes/alpha/storage-pools/LVM')).body
  t.same(lvm, {
    storage_pool_name: 'lvm', node_name: 'alpha', provider_kind: 'LVM', props: { [SPN]: 'vg0' },
    static_traits: { Provisioning: 'Fat', SupportsSnapshots: 'false' },
    free_space_mgr_name: 'alpha;lvm', uuid: lvm.uuid, reports: [], supports_snapshots: false, external_locking: false,
  }, 'LVM pool, no capacities while unknown')
  t.match(lvm.uuid, /^[0-9a-f-]{36}$/)
  const thin = (await tc.get('/v1/nodes/alpha/storage-pools/lvmthin')).body
  t.same(thin.static_traits, { Provisioning: 'Thin', SupportsSnapshots: 'true' })
  t.equal(thin.supports_snapshots, true)
  const diskless = (await tc.get('/v1/nodes/alpha/storage-pools/diskless')).body
  t.same(diskless.static_traits, { SupportsSnapshots: 'false' }, 'DISKLESS has no provisioning trait')
  t.same(diskless.props, {})
  t.same((await tc.get('/v1/nodes/alpha/storage-pools/file')).body.static_traits, { Provisioning: 'Fat', SupportsSnapshots: 'false' }, 'FILE: no snapshots while satellites take none of files')
  const dfns = (await tc.get('/v1/storage-pool-definitions')).body.map((d: { storage_pool_name: string }) => d.storage_pool_name)
  t.same(dfns, ['DfltDisklessStorPool', 'DfltStorPool', 'diskless', 'file', 'filethin', 'lvm', 'lvmthin', 'zfs', 'zfsthin'], 'definitions created implicitly')
})

t.test('LINSTOR spellings: legacy driver keys and provider aliases', async (t) => {
  const cases: [string, string, Record<string, string>, string][] = [
    ['legacy-lvm', 'LVM', { 'StorDriver/LvmVg': 'vg1' }, 'vg1'],
    ['legacy-thin', 'lvmthin', { 'StorDriver/LvmVg': 'vg1', 'StorDriver/ThinPool': 'tp' }, 'vg1/tp'],
    ['legacy-zfs', 'zfs', { 'StorDriver/ZPool': 'tank/a' }, 'tank/a'],
    ['legacy-zfsthin', 'ZfsThin', { 'StorDriver/ZPoolThin': 'tank' }, 'tank'],
    ['legacy-file', 'file_thin', { 'StorDriver/FileDir': '/srv/pool' }, '/srv/pool'],
  ]
  for (const [name, kind, props, expected] of cases) {
    t.equal((await tc.post('/v1/nodes/beta/storage-pools', { storage_pool_name: name, provider_kind: kind, props })).status, 201, name)
    const sp = (await tc.get(`/v1/nodes/beta/storage-pools/${name}`)).body
    t.same(sp.props, { [SPN]: expected }, `${name}: stored as ${SPN}`)
  }
  t.equal((await tc.get('/v1/nodes/beta/storage-pools/legacy-thin')).body.provider_kind, 'LVM_THIN')
  const r = await tc.post('/v1/nodes/beta/storage-pools', { storage_pool_name: 'dl', provider_kind: 'drbd_diskless' })
  t.equal(r.status, 201)
  t.equal((await tc.get('/v1/nodes/beta/storage-pools/dl')).body.provider_kind, 'DISKLESS')
})

t.test('bad input is refused with a 4xx ApiCallRc and changes nothing', async (t) => {
  const before = await snapshot()
  const lvm = (props: Record<string, string>, extra: object = {}): object => ({ storage_pool_name: 'newpool', provider_kind: 'LVM', props, ...extra })
  const kind = (provider_kind: unknown, props: Record<string, string> = {}): object => ({ storage_pool_name: 'newpool', provider_kind, props })
  const cases: [string, string, unknown, number, bigint][] = [
    // names and types
    ['path in name', 'alpha', { ...lvm({ [SPN]: 'vg0' }), storage_pool_name: '../x' }, 400, 208n],
    ['shell metacharacter in name', 'alpha', { ...lvm({ [SPN]: 'vg0' }), storage_pool_name: 'a;b' }, 400, 208n],
    ['name missing', 'alpha', { provider_kind: 'LVM', props: { [SPN]: 'vg0' } }, 400, 234n],
    ['name of wrong type', 'alpha', { ...lvm({ [SPN]: 'vg0' }), storage_pool_name: ['x'] }, 400, 234n],
    ['provider missing', 'alpha', { storage_pool_name: 'newpool' }, 400, 234n],
    ['provider of wrong type', 'alpha', kind(7), 400, 234n],
    ['external_locking of wrong type', 'alpha', lvm({ [SPN]: 'vg0' }, { external_locking: 'yes' }), 400, 234n],
    ['props of wrong type', 'alpha', { storage_pool_name: 'newpool', provider_kind: 'LVM', props: 'vg0' }, 400, 234n],
    ['bad prop key', 'alpha', lvm({ [SPN]: 'vg0', 'a//b': 'x' }), 400, 213n],
    // objects
    ['missing node', 'nosuch', lvm({ [SPN]: 'vg0' }), 404, 300n],
    ['duplicate pool on the node', 'alpha', { ...lvm({ [SPN]: 'vg0' }), storage_pool_name: 'LVM' }, 409, 510n],
    // providers
    ['LINSTOR provider Blockyard lacks', 'alpha', kind('SPDK', { [SPN]: 'x' }), 400, 221n],
    ['unknown provider', 'alpha', kind('TOASTER'), 400, 221n],
    // the backing storage property
    ['LVM without VG', 'alpha', lvm({}), 400, 213n],
    ['LVM with empty VG', 'alpha', lvm({ [SPN]: '' }), 400, 213n],
    ['VG with ;', 'alpha', lvm({ [SPN]: 'vg;rm -rf /' }), 400, 213n],
    ['VG with $()', 'alpha', lvm({ [SPN]: '$(reboot)' }), 400, 213n],
    ['VG starting with -', 'alpha', lvm({ [SPN]: '-vg' }), 400, 213n],
    ['VG ..', 'alpha', lvm({ [SPN]: '..' }), 400, 213n],
    ['VG with /', 'alpha', lvm({ [SPN]: 'vg0/lv' }), 400, 213n],
    ['VG too long', 'alpha', lvm({ [SPN]: 'v'.repeat(128) }), 400, 213n],
    ['thin without LV', 'alpha', kind('LVM_THIN', { [SPN]: 'vg0' }), 400, 213n],
    ['thin with three parts', 'alpha', kind('LVM_THIN', { [SPN]: 'vg0/a/b' }), 400, 213n],
    ['thin LV reserved prefix', 'alpha', kind('LVM_THIN', { [SPN]: 'vg0/snapshot1' }), 400, 213n],
    ['thin LV reserved infix', 'alpha', kind('LVM_THIN', { [SPN]: 'vg0/pool_tmeta' }), 400, 213n],
    ['thin LV with newline', 'alpha', kind('LVM_THIN', { [SPN]: 'vg0/tp\nx' }), 400, 213n],
    ['thin with empty LV', 'alpha', kind('LVM_THIN', { [SPN]: 'vg0/' }), 400, 213n],
    ['thin LV pvmove prefix', 'alpha', kind('LVM_THIN', { [SPN]: 'vg0/pvmove0' }), 400, 213n],
    ['zfs name too long', 'alpha', kind('ZFS', { [SPN]: 'tank/' + 'd'.repeat(251) }), 400, 213n],
    ['FILE path too long', 'alpha', kind('FILE', { [SPN]: '/d'.repeat(2048) }), 400, 213n],
    ['FILE component too long', 'alpha', kind('FILE', { [SPN]: '/' + 'd'.repeat(256) }), 400, 213n],
    ['legacy ThinPool without VG', 'alpha', kind('LVM_THIN', { 'StorDriver/ThinPool': 'tp' }), 400, 213n],
    ['ZFS without pool', 'alpha', kind('ZFS'), 400, 213n],
    ['zpool starting with a digit', 'alpha', kind('ZFS', { [SPN]: '1tank' }), 400, 213n],
    ['zpool absolute', 'alpha', kind('ZFS', { [SPN]: '/tank' }), 400, 213n],
    ['zfs ..', 'alpha', kind('ZFS_THIN', { [SPN]: 'tank/../x' }), 400, 213n],
    ['zfs //', 'alpha', kind('ZFS_THIN', { [SPN]: 'tank//x' }), 400, 213n],
    ['zfs space', 'alpha', kind('ZFS', { [SPN]: 'tank x' }), 400, 213n],
    ['zfs snapshot name', 'alpha', kind('ZFS', { [SPN]: 'tank@snap' }), 400, 213n],
    ['zpool keyword', 'alpha', kind('ZFS', { [SPN]: 'mirror' }), 400, 213n],
    ['zpool disk-like', 'alpha', kind('ZFS', { [SPN]: 'c0t0d0' }), 400, 213n],
    ['FILE without dir', 'alpha', kind('FILE'), 400, 213n],
    ['FILE relative', 'alpha', kind('FILE', { [SPN]: 'var/lib/x' }), 400, 213n],
    ['FILE with ..', 'alpha', kind('FILE_THIN', { [SPN]: '/var/lib/../../etc' }), 400, 213n],
    ['FILE with newline', 'alpha', kind('FILE', { [SPN]: '/var/lib/x\n/etc' }), 400, 213n],
    ['FILE with NUL', 'alpha', kind('FILE', { [SPN]: '/var/lib/x\u0000y' }), 400, 213n],
    ['FILE legacy key with ..', 'alpha', kind('FILE', { 'StorDriver/FileDir': '/a/..' }), 400, 213n],
    ['DISKLESS with a backing pool', 'alpha', kind('DISKLESS', { [SPN]: 'vg0' }), 400, 213n],
    // shared space and net interfaces
    ['shared space on ZFS', 'alpha', { ...kind('ZFS', { [SPN]: 'tank' }), shared_space: 'shared1' }, 400, 221n],
    ['bad shared space name', 'alpha', lvm({ [SPN]: 'vg0' }, { free_space_mgr_name: 'a;b' }), 400, 234n],
    ['two different shared spaces', 'alpha', lvm({ [SPN]: 'vg0' }, { free_space_mgr_name: 'sa', shared_space: 'sb' }), 400, 234n],
    ['PrefNic that does not exist', 'alpha', lvm({ [SPN]: 'vg0', PrefNic: 'nosuch' }), 400, 213n],
  ]
  for (const [what, node, body, status, rc] of cases) {
    const r = await tc.post(`/v1/nodes/${node}/storage-pools`, body)
    t.equal(r.status, status, `${what}: status`)
    t.equal(r.retCodes[0]! & MASK.BITS_TYPE, MASK.ERROR, `${what}: error severity`)
    t.equal(r.retCodes[0]! & MASK.BITS_OP, OP.CRT, `${what}: operation`)
    t.equal(r.retCodes[0]! & MASK.BITS_OBJ, OBJ.STOR_POOL, `${what}: object`)
    t.equal(code(r.retCodes[0]!), rc, `${what}: code`)
    t.ok(r.body[0].message.length > 0, `${what}: message`)
  }
  const spdk = await tc.post('/v1/nodes/alpha/storage-pools', { storage_pool_name: 'newpool', provider_kind: 'SPDK' })
  t.match(spdk.body[0].correction, /LVM, LVM_THIN, ZFS, ZFS_THIN, FILE, FILE_THIN/, 'names the providers Blockyard has')
  t.match(spdk.body[0].cause, /not implemented by Blockyard/)
  const fileDir = await tc.post('/v1/nodes/alpha/storage-pools', { storage_pool_name: 'newpool', provider_kind: 'FILE', props: { [SPN]: '/a\n/b' } })
  t.match(fileDir.body[0].message, /"\/a\\n\/b"/, 'the bad value is shown escaped')
  t.equal(await snapshot(), before, 'nothing changed')
})

t.test('shared space, PrefNic, providers the satellite reports', async (t) => {
  const r = await tc.post('/v1/nodes/alpha/storage-pools', { storage_pool_name: 'shared', provider_kind: 'LVM', props: { [SPN]: 'vgshared', PrefNic: 'DATA' }, free_space_mgr_name: 'san1' })
  t.equal(r.status, 201)
  const sp = (await tc.get('/v1/nodes/alpha/storage-pools/shared')).body
  t.equal(sp.free_space_mgr_name, 'san1')
  t.equal(sp.shared_space, 'san1')
  t.equal((await tc.post('/v1/nodes/alpha/storage-pools', { storage_pool_name: 'zshared', provider_kind: 'ZFS', props: { [SPN]: 'tank' }, shared_space: 'san2', external_locking: true })).status, 201,
    'external locking lifts the shared-volume restriction')
  t.equal((await tc.get('/v1/nodes/alpha/storage-pools/zshared')).body.external_locking, true)
  t.equal((await tc.post('/v1/nodes/beta/storage-pools', { storage_pool_name: 'echo', provider_kind: 'LVM', props: { [SPN]: 'vg0' }, free_space_mgr_name: 'BETA;echo' })).status, 201)
  const echo = (await tc.get('/v1/nodes/beta/storage-pools/echo')).body
  t.equal(echo.free_space_mgr_name, 'beta;echo', "echoing '<node>;<pool>' back means: not shared")
  t.notOk('shared_space' in echo)

  tc.ctrl.core.model.setRuntimeNode('beta', { connectionStatus: 'ONLINE', supportedLayers: ['STORAGE'], supportedProviders: ['LVM', 'DISKLESS'] })
  const before = await snapshot()
  const refused = await tc.post('/v1/nodes/beta/storage-pools', { storage_pool_name: 'zz', provider_kind: 'ZFS', props: { [SPN]: 'tank' } })
  t.equal(refused.status, 409)
  t.equal(code(refused.retCodes[0]!), 989n, 'FAIL_STLT_DOES_NOT_SUPPORT_PROVIDER')
  t.match(refused.body[0].correction, /LVM, DISKLESS/)
  t.equal(await snapshot(), before, 'nothing changed')
  const online = await tc.post('/v1/nodes/beta/storage-pools', { storage_pool_name: 'lvm2', provider_kind: 'LVM', props: { [SPN]: 'vg2' } })
  t.equal(online.status, 201)
  t.equal(online.retCodes.length, 1, 'no not-connected warning for an ONLINE node')
})

t.test('lists: per node, single, view with filters and paging', async (t) => {
  const alpha = await tc.get('/v1/nodes/ALPHA/storage-pools')
  t.equal(alpha.status, 200)
  t.same(spNames(alpha.body), ['alpha/DfltDisklessStorPool', 'alpha/diskless', 'alpha/file', 'alpha/filethin', 'alpha/lvm', 'alpha/lvmthin', 'alpha/shared', 'alpha/zfs', 'alpha/zfsthin', 'alpha/zshared'])
  t.same(spNames((await tc.get('/v1/nodes/alpha/storage-pools?storage_pools=lvm,ZFS')).body), ['alpha/lvm', 'alpha/zfs'])
  t.same(spNames((await tc.get('/v1/nodes/alpha/storage-pools?limit=2&offset=1')).body), ['alpha/diskless', 'alpha/file'])
  const noNode = await tc.get('/v1/nodes/nosuch/storage-pools')
  t.equal(noNode.status, 404)
  t.equal(code(noNode.retCodes[0]!), 300n)
  const noPool = await tc.get('/v1/nodes/alpha/storage-pools/nosuch')
  t.equal(noPool.status, 404)
  t.equal(code(noPool.retCodes[0]!), 310n, 'FAIL_NOT_FOUND_STOR_POOL')
  t.equal((await tc.get('/v1/nodes/nosuch/storage-pools/lvm')).status, 404)

  const all = (await tc.get('/v1/view/storage-pools')).body
  t.equal(all.length, 10 + 9, 'each satellite has its DfltDisklessStorPool from node create')
  t.same(spNames(all).slice(0, 3), ['alpha/DfltDisklessStorPool', 'beta/DfltDisklessStorPool', 'alpha/diskless'], 'sorted by pool, then node')
  t.same(spNames((await tc.get('/v1/view/storage-pools?nodes=beta&storage_pools=legacy-lvm,lvm')).body), ['beta/legacy-lvm'])
  t.same(spNames((await tc.get('/v1/view/storage-pools?storage_pools=lvm&storage_pools=lvm2')).body), ['alpha/lvm', 'beta/lvm2'])
  t.same(spNames((await tc.get('/v1/view/storage-pools?props=PrefNic=DATA')).body), ['alpha/shared'])
  t.same(spNames((await tc.get(`/v1/view/storage-pools?props=${SPN}=tank`)).body), ['beta/legacy-zfsthin', 'alpha/zfsthin', 'alpha/zshared'])
  t.same(spNames((await tc.get('/v1/view/storage-pools?nodes=alpha&limit=1&offset=9')).body), ['alpha/zshared'])
  t.equal((await tc.get('/v1/view/storage-pools?offset=x')).status, 400)
})

t.test('capacities and reports come from what the satellite reported', async (t) => {
  tc.ctrl.core.model.setRuntimeStorPool('alpha', 'lvm', {
    freeCapacityKib: 1048576, totalCapacityKib: 4194304, reports: [{ message: 'Volume group vg0 not found', cause: 'vgs failed' }],
  })
  const sp = (await tc.get('/v1/nodes/alpha/storage-pools/lvm')).body
  t.equal(sp.free_capacity, 1048576)
  t.equal(sp.total_capacity, 4194304)
  t.match(sp.reports, [{ message: 'Volume group vg0 not found', cause: 'vgs failed' }])
  const r = await tc.get('/v1/nodes/alpha/storage-pools/lvm')
  t.equal(r.retCodes[0], BigInt.asIntN(64, MASK.ERROR | 990n | OBJ.STOR_POOL), 'a report is an error of the pool')
})

/** A resource with one volume in `pool` on `node`, as the resource API would store it. */
async function putResource(rsc: string, node: string, pool: string): Promise<void> {
  await tc.ctrl.core.mutate((tx, m) => {
    if (!m.getRscDfn(rsc)) {
      const rd: RscDfn = {
        name: rsc, externalName: null, props: {}, flags: [], layerStack: [], rscGrpName: 'DfltRscGrp', drbd: null,
        vlmDfns: [{ vlmNr: 0, sizeKib: 1024, props: {}, flags: [], minor: null, uuid: randomUUID() }], uuid: randomUUID(),
      }
      m.putRscDfn(tx, rd)
    }
    const r: Resource = {
      rscName: rsc, nodeName: node, props: {}, flags: [], layerStack: [], drbdNodeId: null, drbdTcpPort: null,
      volumes: [{ vlmNr: 0, storPoolName: pool, props: {}, flags: [], uuid: randomUUID() }], createTimestamp: Date.now(), uuid: randomUUID(),
    }
    m.putResource(tx, r)
  })
}

t.test('modify: props, driver property checked again, legacy keys, PrefNic', async (t) => {
  const r = await tc.put('/v1/nodes/alpha/storage-pools/LVMTHIN', { override_props: { 'Aux/a': '1', PrefNic: 'data' } })
  t.equal(r.status, 200)
  t.equal(r.retCodes[0], MASK.SUCCESS | 3n | OP.MOD | OBJ.STOR_POOL, 'MODIFIED | MOD | STOR_POOL')
  t.same((await tc.get('/v1/nodes/alpha/storage-pools/lvmthin')).body.props, { [SPN]: 'vg0/thinpool', 'Aux/a': '1', PrefNic: 'data' })
  t.equal((await tc.put('/v1/nodes/alpha/storage-pools/lvmthin', { override_props: { 'StorDriver/ThinPool': 'tp2' } })).status, 200)
  t.equal((await tc.get('/v1/nodes/alpha/storage-pools/lvmthin')).body.props[SPN], 'vg0/tp2', 'legacy ThinPool keeps the VG')
  t.equal((await tc.put('/v1/nodes/alpha/storage-pools/lvmthin', { delete_namespaces: ['Aux'], delete_props: ['PrefNic'] })).status, 200)
  t.same((await tc.get('/v1/nodes/alpha/storage-pools/lvmthin')).body.props, { [SPN]: 'vg0/tp2' })

  await putResource('rsc1', 'alpha', 'lvm')
  const before = await snapshot()
  const cases: [string, string, unknown, number, bigint][] = [
    ['dangerous FileDir', 'file', { override_props: { [SPN]: '/srv/../etc' } }, 400, 213n],
    ['driver property deleted', 'file', { delete_props: [SPN] }, 400, 213n],
    ['driver namespace deleted', 'zfs', { delete_namespaces: ['StorDriver'] }, 400, 213n],
    ['VG with a space', 'lvm', { override_props: { 'StorDriver/LvmVg': 'vg 0' } }, 400, 213n],
    ['backing pool changed while in use', 'lvm', { override_props: { [SPN]: 'vg9' } }, 409, 997n],
    ['PrefNic that does not exist', 'lvm', { override_props: { PrefNic: 'nosuch' } }, 400, 213n],
    ['override of wrong type', 'lvm', { override_props: ['x'] }, 400, 234n],
    ['bad key', 'lvm', { override_props: { 'a b': 'x' } }, 400, 213n],
    ['missing pool', 'nosuch', {}, 404, 310n],
  ]
  for (const [what, pool, body, status, rc] of cases) {
    const res = await tc.put(`/v1/nodes/alpha/storage-pools/${pool}`, body)
    t.equal(res.status, status, `${what}: status`)
    t.equal(res.retCodes[0]! & MASK.BITS_OP, OP.MOD, `${what}: operation`)
    t.equal(code(res.retCodes[0]!), rc, `${what}: code`)
  }
  t.equal((await tc.put('/v1/nodes/nosuch/storage-pools/lvm', {})).status, 404, 'missing node')
  t.equal(await snapshot(), before, 'nothing changed')
  t.equal((await tc.put('/v1/nodes/alpha/storage-pools/lvm', { override_props: { 'Aux/b': '2', [SPN]: 'vg0' } })).status, 200, 'same backing pool while in use is fine')
})

t.test('deletion rules', async (t) => {
  const before = await snapshot()
  const inUse = await tc.del('/v1/nodes/alpha/storage-pools/lvm')
  t.equal(inUse.status, 409)
  t.equal(code(inUse.retCodes[0]!), 997n, 'FAIL_IN_USE')
  t.equal(inUse.retCodes[0]! & MASK.BITS_OP, OP.DEL)
  t.match(inUse.body[0].message, /'rsc1'/, 'names the resource')
  t.match(inUse.body[0].details, /resource 'rsc1' volume 0/)

  // A snapshot whose resource is gone still holds storage on the node: its pool is not recorded.
  await tc.ctrl.core.mutate((tx, m) => {
    const sd: SnapshotDfn = {
      rscName: 'rsc1', name: 'snap1', props: {}, rscDfnProps: {}, flags: ['SUCCESSFUL'], sequenceNumber: 1,
      vlmDfns: [{ vlmNr: 0, sizeKib: 1024, props: {}, vlmDfnProps: {}, flags: [], uuid: randomUUID() }],
      snapshots: [{ nodeName: 'beta', props: {}, rscProps: {}, flags: [], layerStack: ['STORAGE'], drbdNodeId: null, volumes: [], createTimestamp: Date.now(), uuid: randomUUID() }], uuid: randomUUID(),
    }
    m.putSnapshotDfn(tx, sd)
  })
  const snapInUse = await tc.del('/v1/nodes/beta/storage-pools/legacy-lvm')
  t.equal(snapInUse.status, 409)
  t.match(snapInUse.body[0].message, /snapshot\(s\) 'rsc1\/snap1'/)
  t.equal((await tc.del('/v1/nodes/alpha/storage-pools/zfs')).status, 200, 'pools the resources on the node do not use can go')
  t.equal((await tc.del('/v1/nodes/beta/storage-pools/dl')).status, 200, 'a diskless pool holds no snapshot')
  t.equal((await tc.get('/v1/storage-pool-definitions/zfs')).status, 404, 'last pool of a definition: the definition goes too (LINSTOR ≥ 1.20.1)')
  t.equal((await tc.get('/v1/storage-pool-definitions/dl')).status, 404)
  t.not(await snapshot(), before)

  const missingPool = await tc.del('/v1/nodes/alpha/storage-pools/nosuch')
  t.equal(missingPool.status, 200, 'LINSTOR: deleting a missing pool is a warning')
  t.equal(missingPool.retCodes[0], BigInt.asIntN(64, MASK.WARN | 3000n | OP.DEL | OBJ.STOR_POOL), 'WARN_NOT_FOUND')
  const missingNode = await tc.del('/v1/nodes/nosuch/storage-pools/lvm')
  t.equal(missingNode.status, 404)
  t.equal(code(missingNode.retCodes[0]!), 300n)

  const ok = await tc.del('/v1/nodes/ALPHA/storage-pools/LVMTHIN')
  t.equal(ok.status, 200)
  t.equal(ok.retCodes[0], MASK.SUCCESS | 2n | OP.DEL | OBJ.STOR_POOL, 'DELETED | DEL | STOR_POOL')
  t.equal((await tc.get('/v1/nodes/alpha/storage-pools/lvmthin')).status, 404)
  t.equal((await tc.get('/v1/storage-pool-definitions/lvmthin')).status, 404)
  t.equal((await tc.del('/v1/nodes/alpha/storage-pools/lvm2')).status, 200, 'warning only: pool is on beta, not alpha')
  t.equal((await tc.get('/v1/storage-pool-definitions/lvm2')).status, 200, 'a definition with pools elsewhere stays')
  const dflt = await tc.del('/v1/nodes/alpha/storage-pools/dfltdisklessstorpool')
  t.equal(dflt.status, 409, "a satellite's default diskless pool stays (LINSTOR refuses too)")
  t.equal(code(dflt.retCodes[0]!), 997n)
  t.equal((await tc.get('/v1/nodes/alpha/storage-pools/DfltDisklessStorPool')).status, 200)
  await tc.post('/v1/nodes/alpha/storage-pools', { storage_pool_name: 'DfltStorPool', provider_kind: 'LVM', props: { [SPN]: 'vg0' } })
  t.equal((await tc.del('/v1/nodes/alpha/storage-pools/DfltStorPool')).status, 200)
  t.equal((await tc.get('/v1/storage-pool-definitions/DfltStorPool')).status, 200, 'default definitions stay without pools')
})

t.test('survives a restart', async (t) => {
  const before = (await tc.get('/v1/view/storage-pools')).body
  const dfns = (await tc.get('/v1/storage-pool-definitions')).text
  await tc.restart()
  const after = (await tc.get('/v1/view/storage-pools')).body
  // What satellites reported is runtime state and starts empty again.
  const lvm = before.find((p: { node_name: string; storage_pool_name: string }) => p.node_name === 'alpha' && p.storage_pool_name === 'lvm')
  delete lvm.free_capacity
  delete lvm.total_capacity
  lvm.reports = []
  t.same(after, before)
  t.equal((await tc.get('/v1/storage-pool-definitions')).text, dfns)
  t.equal((await tc.get('/v1/nodes/alpha/storage-pools/shared')).body.shared_space, 'san1')
})
