import t from 'tap'
import { ready, silent } from '../../../helpers/satellite-peer.js'
import { controller, must, peerNode, rscDfn, until, waitStatus } from '../../../helpers/satellite-setup.js'

// Short waits: these tests finish deletes after the REST call has given up waiting.
const tc = await controller({ satelliteTimeoutMs: 200 })
t.teardown(tc.stop)

const peer = await peerNode(tc, 'o1', { respond: silent })
t.teardown(() => peer.stop())
await waitStatus(tc, 'o1', 'ONLINE')

t.test('pool capacities and their errors reach the storage pool views; unknown pools are ignored', async (t) => {
  peer.send({
    type: 'CapacityReport',
    storPools: [
      { name: 'POOL1', freeKib: 100, totalKib: 200, errors: [] },
      { name: 'DfltDisklessStorPool', errors: [{ message: 'no capacity for a diskless pool', code: 'ERR_NO_CAPACITY', terminal: true }] },
      { name: 'nosuchpool', freeKib: 1, totalKib: 1, errors: [] },
    ],
  })
  const pool = await until('reported', async () => {
    const p = (await tc.get('/v1/nodes/o1/storage-pools/pool1')).body
    return p.free_capacity === 100 && p
  })
  t.equal(pool.total_capacity, 200)
  const dl = (await tc.get('/v1/view/storage-pools?nodes=o1&storage_pools=DfltDisklessStorPool')).body[0]
  t.notOk('free_capacity' in dl, 'unknown capacity stays absent')
  t.same(dl.reports.map((x: { message: string; cause: string }) => [x.message, x.cause]), [['no capacity for a diskless pool', 'ERR_NO_CAPACITY']])
  t.notOk(tc.ctrl.core.model.runtime.storPools.has('O1\0NOSUCHPOOL'))
})

t.test('capabilities: what the node can run, and why not', async (t) => {
  peer.send({
    type: 'NodeCapabilities', hostname: 'h', osName: 'Linux', osRelease: '6.1', osDistribution: '',
    layers: [{ kind: 'STORAGE', supported: true }, { kind: 'LUKS', supported: false }, { kind: 'DRBD', supported: true, version: '8.4.11' }],
    providers: [{ kind: 'FILE_THIN', supported: true }, { kind: 'ZFS', supported: false, reason: 'no zfs' }],
  })
  const n = await until('capabilities', async () => {
    const x = (await tc.get('/v1/nodes/o1')).body
    return x.unsupported_layers['LUKS'] !== undefined && x
  })
  t.same(n.resource_layers, ['STORAGE', 'DRBD'])
  t.equal(tc.ctrl.core.model.runtime.nodes.get('O1')?.drbdVersion, '8.4.11', 'the DRBD version is kept for placement')
  t.same(n.storage_providers, ['FILE_THIN'])
  t.same(n.unsupported_layers, { LUKS: ['not supported'] })
  t.same(n.unsupported_providers, { ZFS: ['no zfs'] })
  // Placement reads them: a provider the node lacks is refused.
  const r = await tc.post('/v1/nodes/o1/storage-pools', { storage_pool_name: 'zpool', provider_kind: 'ZFS', props: { 'StorDriver/StorPoolName': 'tank' } })
  t.equal(r.status, 409)
})

t.test('volume reports: errors of the resource show on every volume; unreported volumes lose stale state', async (t) => {
  await rscDfn(tc, 'ov', [4096, 4096])
  await must(tc.post('/v1/resource-definitions/ov/resources/o1', { resource: { props: { StorPoolName: 'pool1' } } }))
  const d = await peer.next('ResourceDesired', (x) => x.name === 'ov')
  peer.report('ov', d.generation, 'UPDATING', {
    errors: [{ message: 'pool is read-only', code: 'EROFS', terminal: false }],
    volumes: [{ number: 1, devicePath: '/dev/loop9', usableKib: 4096, peers: [], errors: [{ message: 'short write', details: 'wrote 0 of 4096' }].map((e) => ({ ...e, terminal: false })) }],
  })
  const vols = await until('reports', async () => {
    const v = (await tc.get('/v1/resource-definitions/ov/resources/o1')).body.volumes
    return v[0].reports.length > 0 && v
  })
  t.same(vols[0].reports.map((x: { message: string }) => x.message), ['pool is read-only'])
  t.notOk('device_path' in vols[0])
  t.same(vols[1].reports.map((x: { message: string; details?: string }) => [x.message, x.details]), [['pool is read-only', undefined], ['short write', 'wrote 0 of 4096']])
  t.equal(vols[1].device_path, '/dev/loop9')
  t.notOk('disk_state' in vols[1].state, 'no disk state unless reported (or failed)')

  peer.report('ov', d.generation, 'READY', { volumes: [{ number: 0, devicePath: '/dev/loop8', peers: [], errors: [] }] })
  const after = await until('cleared', async () => {
    const v = (await tc.get('/v1/resource-definitions/ov/resources/o1')).body.volumes
    return v[1].reports.length === 0 && v
  })
  t.equal(after[0].device_path, '/dev/loop8')
  t.notOk('device_path' in after[1], 'volume 1 was not reported: its old state is gone')
})

t.test('reports about what the controller does not know are ignored', async (t) => {
  peer.report('nosuch', 5n, 'GONE')
  peer.report('nosuch', 6n, 'READY')
  // A GONE for a resource that is not being deleted removes nothing.
  await rscDfn(tc, 'keep')
  await must(tc.post('/v1/resource-definitions/keep/resources/o1', { resource: { props: { StorPoolName: 'pool1' } } }))
  const d = await peer.next('ResourceDesired', (x) => x.name === 'keep')
  peer.report('keep', d.generation, 'GONE')
  await new Promise((r) => setTimeout(r, 100))
  t.equal((await tc.get('/v1/resource-definitions/keep/resources/o1')).status, 200)
  t.equal((await tc.get('/v1/nodes/o1')).body.connection_status, 'ONLINE', 'and the link stays up')
})

t.test('a GONE after the call stopped waiting still finishes the delete, with the definition and the node flagged with it', async (t) => {
  await rscDfn(tc, 'late1')
  await must(tc.post('/v1/resource-definitions/late1/resources/o1', { resource: { props: { StorPoolName: 'pool1' } } }))
  await peer.next('ResourceDesired', (x) => x.name === 'late1')
  const r = await tc.del('/v1/resource-definitions/late1')
  t.match(r.body.at(-1).message, /was not deleted on node 'o1' within 0.2 s/)
  t.same((await tc.get('/v1/resource-definitions/late1')).body.flags, ['DELETE'])
  const d = await peer.next('ResourceDesired', (x) => x.name === 'late1')
  t.equal(d.deleted, true)
  peer.report('late1', d.generation, 'GONE')
  await until('definition gone', async () => (await tc.get('/v1/resource-definitions/late1')).status === 404)

  const p2 = await peerNode(tc, 'o2', { respond: silent })
  t.teardown(() => p2.stop())
  await waitStatus(tc, 'o2', 'ONLINE')
  await rscDfn(tc, 'late2')
  await must(tc.post('/v1/resource-definitions/late2/resources/o2', { resource: { props: { StorPoolName: 'pool1' } } }))
  await must(tc.del('/v1/nodes/o2'))
  t.same((await tc.get('/v1/nodes/o2')).body.flags, ['DELETE'])
  const d2 = await p2.next('ResourceDesired', (x) => x.name === 'late2' && x.deleted)
  p2.report('late2', d2.generation, 'GONE')
  await until('node gone', async () => (await tc.get('/v1/nodes/o2')).status === 404)
  t.equal((await tc.get('/v1/resource-definitions/late2')).status, 200, 'a definition not flagged stays')
  t.equal([...tc.ctrl.core.model.storPoolsOfNode('o2')].length, 0, 'the node went with its pools')
})

t.test('deleting a volume definition finishes when the satellites applied the state without it', async (t) => {
  peer.respond = ready
  t.teardown(() => void (peer.respond = silent))
  await rscDfn(tc, 'vd2', [4096, 8192])
  await must(tc.post('/v1/resource-definitions/vd2/resources/o1', { resource: { props: { StorPoolName: 'pool1' } } }))
  const r = await tc.del('/v1/resource-definitions/vd2/volume-definitions/1')
  t.match(r.body[0].message, /marked for deletion/)
  const d = await peer.next('ResourceDesired', (x) => x.name === 'vd2' && x.volumes.length === 1)
  t.same(d.volumes.map((v) => v.number), [0], 'the volume is no longer wanted')
  await until('purged', async () => (await tc.get('/v1/resource-definitions/vd2/volume-definitions')).body.length === 1)
  t.same((await tc.get('/v1/resource-definitions/vd2/resources/o1')).body.volumes.map((v: { volume_number: number }) => v.volume_number), [0])
})
