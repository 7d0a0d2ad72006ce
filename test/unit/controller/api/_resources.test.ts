import t from 'tap'
import { stringifyJson } from '../../../../src/common/json.js'
import type { LayerKind } from '../../../../src/common/layer-stack.js'
import { allResourcesSorted, compareResources, resourceJson, resourceJsonText, volumeJson } from '../../../../src/controller/api/_resources.js'
import { Model } from '../../../../src/controller/model/model.js'
import type { Resource, RscDfn } from '../../../../src/controller/model/types.js'

/**
 * Resources of every shape the JSON builders branch on: DRBD with and without minors and a port, diskless,
 * STORAGE only, a middle layer (LUKS, CACHE), a pool that does not exist, a definition that does not
 * exist, and volumes with and without what satellites report.
 */
function fixture(): { m: Model; rscs: Resource[] } {
  const m = new Model()
  m.putNode(null, { name: 'n1', type: 'Satellite', flags: [], props: {}, netInterfaces: [], uuid: 'u-n1' })
  m.putStorPool(null, { nodeName: 'n1', name: 'pool1', providerKind: 'LVM_THIN', props: {}, sharedSpace: null, externalLocking: false, uuid: 'u-sp' })
  m.putStorPool(null, { nodeName: 'n1', name: 'DfltDisklessStorPool', providerKind: 'DISKLESS', props: {}, sharedSpace: null, externalLocking: false, uuid: 'u-dl' })
  const rd = (name: string, stack: LayerKind[], drbdPort: number | null, minors: (number | null)[]): RscDfn => {
    const x: RscDfn = { name, externalName: null, props: {}, flags: [], layerStack: stack, rscGrpName: 'DfltRscGrp',
      drbd: stack.includes('DRBD') ? { peerSlots: 3, alStripes: 2, alStripeSizeKib: 64, transportType: 'IP', secret: 'sec"ret', port: drbdPort } : null,
      vlmDfns: minors.map((minor, vlmNr) => ({ vlmNr, sizeKib: 1024, props: {}, flags: [], minor, uuid: `u-vd${vlmNr}` })), uuid: `u-${name}` }
    m.putRscDfn(null, x)
    return x
  }
  const res = (d: RscDfn | { name: string; layerStack: LayerKind[] }, pool: string, flags: string[], nodeId: number | null, port: number | null, vlms: number[]): Resource => {
    const r: Resource = { rscName: d.name, nodeName: 'n1', props: { 'Aux/a': 'b' }, flags, layerStack: d.layerStack, drbdNodeId: nodeId, drbdTcpPort: port,
      volumes: vlms.map((vlmNr) => ({ vlmNr, storPoolName: pool, props: vlmNr === 0 ? { k: 'v' } : ({} as Record<string, string>), flags: vlmNr === 1 ? ['DELETE'] : [], uuid: `u-v${vlmNr}` })), createTimestamp: 1700000000000, uuid: `u-r-${d.name}` }
    m.putResource(null, r)
    return r
  }
  const a = rd('drbdA', ['DRBD', 'STORAGE'], null, [1000, 1001])
  const b = rd('drbdB', ['DRBD', 'STORAGE'], 7777, [null])
  const c = rd('plain', ['STORAGE'], null, [null, null])
  const d = rd('luks', ['DRBD', 'LUKS', 'STORAGE'], null, [1005])
  const e = rd('cache', ['CACHE', 'STORAGE'], null, [null])
  const rscs = [
    res(a, 'pool1', [], 0, 7000, [0, 1]),
    res(b, 'DfltDisklessStorPool', ['DRBD_DISKLESS'], null, null, [0]),
    res(c, 'pool1', [], null, null, [0, 1]),
    res(d, 'pool1', [], 2, 7001, [0]),
    res(e, 'nosuchpool', [], null, null, [0]),
    res({ name: 'orphan', layerStack: ['DRBD', 'STORAGE'] }, 'pool1', [], 1, 7002, [0]),
  ]
  m.setRuntimeVolume('drbdA', 'n1', 0, { devicePath: '/dev/drbd1000', allocatedSizeKib: 1100, usableSizeKib: 1024, diskState: 'UpToDate', peers: [{ peerNodeName: 'n2', replicationState: 'Established', peerDiskState: 'UpToDate', syncPercent: null }], reports: [{ message: 'm1', cause: 'c1', details: 'd1' }, { message: 'm2' }] })
  m.setRuntimeVolume('drbdA', 'n1', 1, { devicePath: null, allocatedSizeKib: null, usableSizeKib: 0, diskState: 'Inconsistent', peers: [{ peerNodeName: 'n2', replicationState: 'SyncTarget', peerDiskState: 'UpToDate', syncPercent: 42 }, { peerNodeName: 'n3', replicationState: 'Off', peerDiskState: 'DUnknown', syncPercent: null }], reports: [] })
  m.setRuntimeResource('drbdA', 'n1', { inUse: true, connections: [{ peerNodeName: 'n2', state: 'Connected' }, { peerNodeName: 'n3', state: 'Connecting' }], mayPromote: false, promotionScore: 10100 })
  m.setRuntimeVolume('plain', 'n1', 0, { devicePath: '/dev/vg/plain_00000', allocatedSizeKib: 1024, usableSizeKib: null, diskState: 'Diskless', peers: [], reports: [] })
  return { m, rscs }
}

// Captured from the builders before they were rewritten for speed (bench/controller-scale.ts): the text
// LINSTOR's clients parse must not change by a byte. drbdA's (0 and 6) gained the DRBD state satellites
// report: in_use, connections, may_promote, promotion_score, replication states, SyncTarget(42.00%).
const EXPECTED = [
  "{\"name\":\"drbdA\",\"node_name\":\"n1\",\"props\":{\"Aux/a\":\"b\"},\"flags\":[],\"layer_object\":{\"children\":[{\"children\":[],\"resource_name_suffix\":\"\",\"type\":\"STORAGE\",\"storage\":{\"storage_volumes\":[{\"volume_number\":0,\"device_path\":\"/dev/drbd1000\",\"allocated_size_kib\":1100,\"usable_size_kib\":1024,\"disk_state\":\"UpToDate\"},{\"volume_number\":1,\"usable_size_kib\":0,\"disk_state\":\"Inconsistent\"}]}}],\"resource_name_suffix\":\"\",\"type\":\"DRBD\",\"drbd\":{\"drbd_resource_definition\":{\"resource_name_suffix\":\"\",\"peer_slots\":3,\"al_stripes\":2,\"al_stripe_size_kib\":64,\"transport_type\":\"IP\",\"secret\":\"sec\\\"ret\",\"down\":false},\"node_id\":0,\"tcp_ports\":[7000],\"peer_slots\":3,\"al_stripes\":2,\"al_size\":64,\"flags\":[],\"drbd_volumes\":[{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":0,\"minor_number\":1000},\"device_path\":\"/dev/drbd1000\",\"meta_disk\":\"internal\",\"disk_state\":\"UpToDate\"},{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":1,\"minor_number\":1001},\"device_path\":\"/dev/drbd1001\",\"meta_disk\":\"internal\",\"disk_state\":\"Inconsistent\"}],\"connections\":{\"n2\":{\"connected\":true,\"message\":\"Connected\"},\"n3\":{\"connected\":false,\"message\":\"Connecting\"}},\"promotion_score\":10100,\"may_promote\":false}},\"state\":{\"in_use\":true},\"uuid\":\"u-r-drbdA\",\"create_timestamp\":1700000000000,\"volumes\":[{\"volume_number\":0,\"storage_pool_name\":\"pool1\",\"provider_kind\":\"LVM_THIN\",\"props\":{\"k\":\"v\"},\"flags\":[],\"state\":{\"disk_state\":\"UpToDate\",\"replication_states\":{\"n2\":{\"replication_state\":\"Established\"}}},\"layer_data_list\":[{\"type\":\"DRBD\",\"data\":{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":0,\"minor_number\":1000},\"device_path\":\"/dev/drbd1000\",\"meta_disk\":\"internal\",\"disk_state\":\"UpToDate\"}},{\"type\":\"STORAGE\",\"data\":{\"volume_number\":0,\"device_path\":\"/dev/drbd1000\",\"allocated_size_kib\":1100,\"usable_size_kib\":1024,\"disk_state\":\"UpToDate\"}}],\"uuid\":\"u-v0\",\"reports\":[{\"ret_code\":-4611686018427386906,\"message\":\"m1\",\"cause\":\"c1\",\"details\":\"d1\"},{\"ret_code\":-4611686018427386906,\"message\":\"m2\"}],\"device_path\":\"/dev/drbd1000\",\"allocated_size_kib\":1100,\"usable_size_kib\":1024},{\"volume_number\":1,\"storage_pool_name\":\"pool1\",\"provider_kind\":\"LVM_THIN\",\"props\":{},\"flags\":[\"DELETE\"],\"state\":{\"disk_state\":\"SyncTarget(42.00%)\",\"replication_states\":{\"n2\":{\"replication_state\":\"SyncTarget\",\"done_percentage\":42},\"n3\":{\"replication_state\":\"Off\"}}},\"layer_data_list\":[{\"type\":\"DRBD\",\"data\":{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":1,\"minor_number\":1001},\"device_path\":\"/dev/drbd1001\",\"meta_disk\":\"internal\",\"disk_state\":\"Inconsistent\"}},{\"type\":\"STORAGE\",\"data\":{\"volume_number\":1,\"usable_size_kib\":0,\"disk_state\":\"Inconsistent\"}}],\"uuid\":\"u-v1\",\"reports\":[],\"usable_size_kib\":0}]}",
  "{\"name\":\"drbdB\",\"node_name\":\"n1\",\"props\":{\"Aux/a\":\"b\"},\"flags\":[\"DRBD_DISKLESS\"],\"layer_object\":{\"children\":[{\"children\":[],\"resource_name_suffix\":\"\",\"type\":\"STORAGE\",\"storage\":{\"storage_volumes\":[{\"volume_number\":0}]}}],\"resource_name_suffix\":\"\",\"type\":\"DRBD\",\"drbd\":{\"drbd_resource_definition\":{\"resource_name_suffix\":\"\",\"peer_slots\":3,\"al_stripes\":2,\"al_stripe_size_kib\":64,\"port\":7777,\"transport_type\":\"IP\",\"secret\":\"sec\\\"ret\",\"down\":false},\"tcp_ports\":[],\"peer_slots\":3,\"al_stripes\":2,\"al_size\":64,\"flags\":[],\"drbd_volumes\":[{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":0},\"meta_disk\":\"internal\"}],\"connections\":{}}},\"uuid\":\"u-r-drbdB\",\"create_timestamp\":1700000000000,\"volumes\":[{\"volume_number\":0,\"storage_pool_name\":\"DfltDisklessStorPool\",\"provider_kind\":\"DISKLESS\",\"props\":{\"k\":\"v\"},\"flags\":[],\"state\":{},\"layer_data_list\":[{\"type\":\"DRBD\",\"data\":{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":0},\"meta_disk\":\"internal\"}},{\"type\":\"STORAGE\",\"data\":{\"volume_number\":0}}],\"uuid\":\"u-v0\",\"reports\":[]}]}",
  "{\"name\":\"plain\",\"node_name\":\"n1\",\"props\":{\"Aux/a\":\"b\"},\"flags\":[],\"layer_object\":{\"children\":[],\"resource_name_suffix\":\"\",\"type\":\"STORAGE\",\"storage\":{\"storage_volumes\":[{\"volume_number\":0,\"device_path\":\"/dev/vg/plain_00000\",\"allocated_size_kib\":1024,\"disk_state\":\"Diskless\"},{\"volume_number\":1}]}},\"uuid\":\"u-r-plain\",\"create_timestamp\":1700000000000,\"volumes\":[{\"volume_number\":0,\"storage_pool_name\":\"pool1\",\"provider_kind\":\"LVM_THIN\",\"props\":{\"k\":\"v\"},\"flags\":[],\"state\":{\"disk_state\":\"Diskless\"},\"layer_data_list\":[{\"type\":\"STORAGE\",\"data\":{\"volume_number\":0,\"device_path\":\"/dev/vg/plain_00000\",\"allocated_size_kib\":1024,\"disk_state\":\"Diskless\"}}],\"uuid\":\"u-v0\",\"reports\":[],\"device_path\":\"/dev/vg/plain_00000\",\"allocated_size_kib\":1024},{\"volume_number\":1,\"storage_pool_name\":\"pool1\",\"provider_kind\":\"LVM_THIN\",\"props\":{},\"flags\":[\"DELETE\"],\"state\":{},\"layer_data_list\":[{\"type\":\"STORAGE\",\"data\":{\"volume_number\":1}}],\"uuid\":\"u-v1\",\"reports\":[]}]}",
  "{\"name\":\"luks\",\"node_name\":\"n1\",\"props\":{\"Aux/a\":\"b\"},\"flags\":[],\"layer_object\":{\"children\":[{\"children\":[{\"children\":[],\"resource_name_suffix\":\"\",\"type\":\"STORAGE\",\"storage\":{\"storage_volumes\":[{\"volume_number\":0}]}}],\"resource_name_suffix\":\"\",\"type\":\"LUKS\",\"luks\":{\"luks_volumes\":[{\"volume_number\":0}]}}],\"resource_name_suffix\":\"\",\"type\":\"DRBD\",\"drbd\":{\"drbd_resource_definition\":{\"resource_name_suffix\":\"\",\"peer_slots\":3,\"al_stripes\":2,\"al_stripe_size_kib\":64,\"transport_type\":\"IP\",\"secret\":\"sec\\\"ret\",\"down\":false},\"node_id\":2,\"tcp_ports\":[7001],\"peer_slots\":3,\"al_stripes\":2,\"al_size\":64,\"flags\":[],\"drbd_volumes\":[{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":0,\"minor_number\":1005},\"device_path\":\"/dev/drbd1005\",\"meta_disk\":\"internal\"}],\"connections\":{}}},\"uuid\":\"u-r-luks\",\"create_timestamp\":1700000000000,\"volumes\":[{\"volume_number\":0,\"storage_pool_name\":\"pool1\",\"provider_kind\":\"LVM_THIN\",\"props\":{\"k\":\"v\"},\"flags\":[],\"state\":{},\"layer_data_list\":[{\"type\":\"DRBD\",\"data\":{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":0,\"minor_number\":1005},\"device_path\":\"/dev/drbd1005\",\"meta_disk\":\"internal\"}},{\"type\":\"LUKS\",\"data\":{\"volume_number\":0}},{\"type\":\"STORAGE\",\"data\":{\"volume_number\":0}}],\"uuid\":\"u-v0\",\"reports\":[]}]}",
  "{\"name\":\"cache\",\"node_name\":\"n1\",\"props\":{\"Aux/a\":\"b\"},\"flags\":[],\"layer_object\":{\"children\":[{\"children\":[],\"resource_name_suffix\":\"\",\"type\":\"STORAGE\",\"storage\":{\"storage_volumes\":[{\"volume_number\":0}]}}],\"resource_name_suffix\":\"\",\"type\":\"CACHE\",\"cache\":{\"cache_volumes\":[{\"volume_number\":0}]}},\"uuid\":\"u-r-cache\",\"create_timestamp\":1700000000000,\"volumes\":[{\"volume_number\":0,\"storage_pool_name\":\"nosuchpool\",\"provider_kind\":\"DISKLESS\",\"props\":{\"k\":\"v\"},\"flags\":[],\"state\":{},\"layer_data_list\":[{\"type\":\"CACHE\",\"data\":{\"volume_number\":0}},{\"type\":\"STORAGE\",\"data\":{\"volume_number\":0}}],\"uuid\":\"u-v0\",\"reports\":[]}]}",
  "{\"name\":\"orphan\",\"node_name\":\"n1\",\"props\":{\"Aux/a\":\"b\"},\"flags\":[],\"layer_object\":{\"children\":[{\"children\":[],\"resource_name_suffix\":\"\",\"type\":\"STORAGE\",\"storage\":{\"storage_volumes\":[{\"volume_number\":0}]}}],\"resource_name_suffix\":\"\",\"type\":\"DRBD\",\"drbd\":{\"drbd_resource_definition\":{\"resource_name_suffix\":\"\",\"peer_slots\":7,\"al_stripes\":1,\"al_stripe_size_kib\":32,\"transport_type\":\"IP\",\"secret\":\"\",\"down\":false},\"node_id\":1,\"tcp_ports\":[7002],\"peer_slots\":7,\"al_stripes\":1,\"al_size\":32,\"flags\":[],\"drbd_volumes\":[{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":0},\"meta_disk\":\"internal\"}],\"connections\":{}}},\"uuid\":\"u-r-orphan\",\"create_timestamp\":1700000000000,\"volumes\":[{\"volume_number\":0,\"storage_pool_name\":\"pool1\",\"provider_kind\":\"LVM_THIN\",\"props\":{\"k\":\"v\"},\"flags\":[],\"state\":{},\"layer_data_list\":[{\"type\":\"DRBD\",\"data\":{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":0},\"meta_disk\":\"internal\"}},{\"type\":\"STORAGE\",\"data\":{\"volume_number\":0}}],\"uuid\":\"u-v0\",\"reports\":[]}]}",
  "{\"name\":\"drbdA\",\"node_name\":\"n1\",\"props\":{\"Aux/a\":\"b\"},\"flags\":[],\"layer_object\":{\"children\":[{\"children\":[],\"resource_name_suffix\":\"\",\"type\":\"STORAGE\",\"storage\":{\"storage_volumes\":[{\"volume_number\":0,\"device_path\":\"/dev/drbd1000\",\"allocated_size_kib\":1100,\"usable_size_kib\":1024,\"disk_state\":\"UpToDate\"},{\"volume_number\":1,\"usable_size_kib\":0,\"disk_state\":\"Inconsistent\"}]}}],\"resource_name_suffix\":\"\",\"type\":\"DRBD\",\"drbd\":{\"drbd_resource_definition\":{\"resource_name_suffix\":\"\",\"peer_slots\":3,\"al_stripes\":2,\"al_stripe_size_kib\":64,\"transport_type\":\"IP\",\"secret\":\"sec\\\"ret\",\"down\":false},\"node_id\":0,\"tcp_ports\":[7000],\"peer_slots\":3,\"al_stripes\":2,\"al_size\":64,\"flags\":[],\"drbd_volumes\":[{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":0,\"minor_number\":1000},\"device_path\":\"/dev/drbd1000\",\"meta_disk\":\"internal\",\"disk_state\":\"UpToDate\"},{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":1,\"minor_number\":1001},\"device_path\":\"/dev/drbd1001\",\"meta_disk\":\"internal\",\"disk_state\":\"Inconsistent\"}],\"connections\":{\"n2\":{\"connected\":true,\"message\":\"Connected\"},\"n3\":{\"connected\":false,\"message\":\"Connecting\"}},\"promotion_score\":10100,\"may_promote\":false}},\"state\":{\"in_use\":true},\"uuid\":\"u-r-drbdA\",\"create_timestamp\":1700000000000}",
  "{\"volume_number\":0,\"storage_pool_name\":\"pool1\",\"provider_kind\":\"LVM_THIN\",\"props\":{\"k\":\"v\"},\"flags\":[],\"state\":{},\"layer_data_list\":[{\"type\":\"DRBD\",\"data\":{\"drbd_volume_definition\":{\"resource_name_suffix\":\"\",\"volume_number\":0},\"meta_disk\":\"internal\"}},{\"type\":\"STORAGE\",\"data\":{\"volume_number\":0}}],\"uuid\":\"u-v0\",\"reports\":[]}",
]

t.test('resource and volume JSON: exact text for every shape', async (t) => {
  const { m, rscs } = fixture()
  rscs.forEach((r, i) => t.equal(stringifyJson(resourceJson(m, r, true)), EXPECTED[i], `${r.rscName}`))
  t.equal(stringifyJson(resourceJson(m, rscs[0]!, false)), EXPECTED[6], 'without volumes')
  t.equal(stringifyJson(volumeJson(m, undefined, rscs[5]!, rscs[5]!.volumes[0]!)), EXPECTED[7], 'a volume without its definition')
})

t.test('cached resource JSON text: the same bytes, and current after every kind of change', async (t) => {
  const { m, rscs } = fixture()
  rscs.forEach((r, i) => t.equal(resourceJsonText(m, r), EXPECTED[i], `${r.rscName}: built`))
  rscs.forEach((r, i) => t.equal(resourceJsonText(m, r), EXPECTED[i], `${r.rscName}: from the cache`))
  const fresh = (r: Resource): string => stringifyJson(resourceJson(m, r, true))
  const [drbdA, drbdB, plain, , cache, orphan] = rscs as [Resource, Resource, Resource, Resource, Resource, Resource]
  const changes: [string, Resource, () => void][] = [
    ['the resource, changed in place and put again', drbdA, () => {
      drbdA.props = { ...drbdA.props, 'Aux/new': 'x' }
      drbdA.volumes[0]!.flags = ['DELETE']
      m.putResource(null, drbdA)
    }],
    ['its definition', drbdB, () => m.putRscDfn(null, { ...m.getRscDfn('drbdB')!, drbd: { ...m.getRscDfn('drbdB')!.drbd!, port: 7100 } })],
    ['the pool of its volumes', plain, () => m.putStorPool(null, { ...m.getStorPool('n1', 'pool1')!, providerKind: 'ZFS_THIN' })],
    ['a pool created under the name its volumes use', cache, () => m.putStorPool(null, { nodeName: 'n1', name: 'nosuchpool', providerKind: 'FILE', props: {}, sharedSpace: null, externalLocking: false, uuid: 'u-new' })],
    ['its definition created', orphan, () => m.putRscDfn(null, { name: 'orphan', externalName: null, props: {}, flags: [], layerStack: ['DRBD', 'STORAGE'], rscGrpName: 'DfltRscGrp', drbd: null, vlmDfns: [{ vlmNr: 0, sizeKib: 1024, props: {}, flags: [], minor: 1010, uuid: 'u' }], uuid: 'u-o' })],
    ['what its satellite reports', plain, () => m.setRuntimeVolume('plain', 'n1', 1, { devicePath: '/dev/vg/plain_00001', allocatedSizeKib: 8, usableSizeKib: 4, diskState: 'UpToDate', peers: [], reports: [{ message: 'slow' }] })],
    ['a report removed', drbdA, () => m.deleteRuntimeVolume('drbdA', 'n1', 0)],
    ["what its satellite reports of the resource's DRBD state", drbdA, () => m.setRuntimeResource('drbdA', 'n1', { inUse: false, connections: [], mayPromote: true, promotionScore: null })],
    ['that report removed', drbdA, () => m.deleteRuntimeResource('drbdA', 'n1')],
  ]
  for (const [what, r, change] of changes) {
    const before = resourceJsonText(m, r)
    change()
    const after = resourceJsonText(m, r)
    t.not(after, before, `${what}: the text changed`)
    t.equal(after, fresh(r), `${what}: it is the JSON of the resource now`)
  }
  const loose: Resource = { ...drbdA, rscName: 'loose' }
  t.equal(resourceJsonText(m, loose), fresh(loose), 'a resource the model does not hold is serialised afresh')
  loose.props = { changed: 'yes' }
  t.equal(resourceJsonText(m, loose), fresh(loose), '… every time')
})

t.test('allResourcesSorted: LINSTOR order, kept until the set of resources changes', async (t) => {
  const { m, rscs } = fixture()
  const names = (): string[] => allResourcesSorted(m).map((r) => `${r.rscName}/${r.nodeName}`)
  const expected = [...rscs].sort(compareResources).map((r) => `${r.rscName}/${r.nodeName}`)
  t.same(names(), expected, 'sorted by resource, then node name')
  t.equal(allResourcesSorted(m), allResourcesSorted(m), 'the same array while nothing is added or removed')
  m.putResource(null, { ...rscs[0]!, nodeName: 'n0', uuid: 'u-n0' })
  t.same(names(), ['cache/n1', 'drbdA/n0', 'drbdA/n1', 'drbdB/n1', 'luks/n1', 'orphan/n1', 'plain/n1'], 'a new resource in its place')
  m.deleteResource(null, m.getResource('luks', 'n1')!)
  t.notOk(names().includes('luks/n1'), 'a deleted one gone')
  const replaced = { ...m.getResource('plain', 'n1')!, uuid: 'u-replaced' }
  m.putResource(null, replaced)
  t.equal(allResourcesSorted(m).find((r) => r.rscName === 'plain'), replaced, 'a replaced object is the one listed')
})
