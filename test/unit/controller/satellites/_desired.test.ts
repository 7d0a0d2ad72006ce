import t from 'tap'
import { desiredFromJson, desiredToJson, fingerprint, resourceDesired, storPoolDesired } from '../../../../src/controller/satellites/_desired.js'
import { controller, must } from '../../../helpers/satellite-setup.js'

const tc = await controller()
t.teardown(tc.stop)
const m = (): typeof tc.ctrl.core.model => tc.ctrl.core.model

t.before(async () => {
  for (const [i, n] of ['d1', 'd2', 'd3'].entries()) {
    await must(tc.post('/v1/nodes', { name: n, type: 'satellite', net_interfaces: [{ name: 'default', address: `127.9.0.${i + 1}`, satellite_port: 1 }, { name: 'repl', address: `127.8.0.${i + 1}` }] }))
    await must(tc.post(`/v1/nodes/${n}/storage-pools`, { storage_pool_name: 'pool1', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': `/srv/${n}` } }))
  }
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name: 'dr', props: { 'Aux/a': 'rd' } } }))
  await must(tc.post('/v1/resource-definitions/dr/volume-definitions', { volume_definition: { size_kib: 65536, props: { 'Aux/v': 'vd' } } }))
  await must(tc.post('/v1/resource-definitions/dr/resources', [
    { resource: { node_name: 'd1', props: { StorPoolName: 'pool1', 'Aux/a': 'rsc' } } },
    { resource: { node_name: 'd2', props: { StorPoolName: 'pool1', PrefNic: 'repl' } } },
    { resource: { node_name: 'd3', flags: ['DRBD_DISKLESS'] } },
  ]))
})

t.test('DRBD: own address and port, peers with theirs, minor, gross size with metadata, shared secret', async (t) => {
  const r1 = m().getResource('dr', 'd1')!
  const d = resourceDesired(m(), r1, 42)
  t.equal(d.generation, 42n)
  t.same(d.layers, ['DRBD', 'STORAGE'])
  t.equal(d.props['Aux/a'], 'rsc', 'the resource overrides its definition')
  const v = d.volumes[0]!
  t.equal(v.netSizeKib, 65536)
  t.ok(v.grossSizeKib > v.netSizeKib, 'internal metadata on top')
  t.equal(v.drbdMinor, m().getRscDfn('dr')!.vlmDfns[0]!.minor)
  t.equal(v.props['Aux/v'], 'vd')
  const drbd = d.drbd!
  t.equal(drbd.address, '127.9.0.1', 'the active interface')
  t.equal(drbd.port, r1.drbdTcpPort)
  t.equal(drbd.peerSlots, 7)
  t.equal(drbd.sharedSecret, m().getRscDfn('dr')!.drbd!.secret)
  t.same(drbd.peers.map((p) => [p.nodeName, p.address, p.diskless]), [['d2', '127.8.0.2', false], ['d3', '127.9.0.3', true]], 'PrefNic picks the interface')
  const d3 = resourceDesired(m(), m().getResource('dr', 'd3')!, 1)
  t.equal(d3.volumes[0]!.providerKind, 'DISKLESS')
  t.same(d3.flags, ['DRBD_DISKLESS'])
})

t.test('the initial sync may be skipped only when every diskful replica is in a pool that reads as zeros', async (t) => {
  const zeroed = (rsc: string, node: string): boolean | undefined => resourceDesired(m(), m().getResource(rsc, node)!, 1).volumes[0]!.newReplicasZeroed
  t.equal(zeroed('dr', 'd1'), true, 'FILE_THIN on both diskful nodes (the diskless one does not count)')
  t.equal(zeroed('dr', 'd3'), true)
  await must(tc.post('/v1/nodes/d3/storage-pools', { storage_pool_name: 'thick', provider_kind: 'FILE', props: { 'StorDriver/StorPoolName': '/srv/thick' } }))
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name: 'mix' } }))
  await must(tc.post('/v1/resource-definitions/mix/volume-definitions', { volume_definition: { size_kib: 65536 } }))
  await must(tc.post('/v1/resource-definitions/mix/resources', [
    { resource: { node_name: 'd1', props: { StorPoolName: 'pool1' } } },
    { resource: { node_name: 'd3', props: { StorPoolName: 'thick' } } },
  ]))
  t.equal(zeroed('mix', 'd1'), undefined, 'a thin replica whose peer is thick gets a full sync')
  t.equal(zeroed('mix', 'd3'), undefined)
})

t.test('deleting: the resource keeps its volumes; a volume being deleted is left out of a live resource', async (t) => {
  const r1 = m().getResource('dr', 'd1')!
  const gone = resourceDesired(m(), r1, 2, true)
  t.equal(gone.deleted, true)
  t.equal(gone.volumes.length, 1)
  const copy = structuredClone(r1)
  copy.volumes[0]!.flags = ['DELETE']
  t.same(resourceDesired(m(), copy, 3).volumes, [], 'not wanted any more')
  copy.flags = ['DELETE']
  t.equal(resourceDesired(m(), copy, 3).volumes.length, 1, 'a resource being deleted names all it has')
  copy.volumes[0]!.storPoolName = 'nosuchpool'
  t.same(resourceDesired(m(), copy, 3).volumes, [], 'a volume without its pool cannot be described')
})

t.test('digests ignore the generation; JSON keeps bigints', async (t) => {
  const r1 = m().getResource('dr', 'd1')!
  t.equal(fingerprint(resourceDesired(m(), r1, 1)), fingerprint(resourceDesired(m(), r1, 99)))
  t.not(fingerprint(resourceDesired(m(), r1, 1)), fingerprint(resourceDesired(m(), r1, 1, true)))
  const d = resourceDesired(m(), r1, 2 ** 40)
  t.same(desiredFromJson(desiredToJson(d)), d)
  const sp = m().getStorPool('d1', 'pool1')!
  t.same(storPoolDesired(m(), sp, true), { name: 'pool1', providerKind: 'FILE_THIN', props: {}, deleted: true })
})
