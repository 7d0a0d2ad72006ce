/**
 * The storage suite (real kernels: device-mapper, LVM, ZFS, DRBD): Blockyard deployed on a three-node
 * test cluster from either harness, LVM and LVM_THIN pools on volume groups prepared as an operator
 * would, ZFS pools on a zpool, and the scenarios run one after another on distinct resources.
 * vm.test.ts runs it on qemu VMs here; vagrant.test.ts on Vagrant machines. Every node needs three data
 * disks: the volume group takes the first, the device-mapper check overwrites the start of the second,
 * the zpool takes the third.
 */
import type { Test } from 'tap'
import type { DmCheckResult } from '../guest/dm-check.js'
import { bundleForGuest } from '../harness/bundle.js'
import { Deployment } from '../harness/deployment.js'
import { drbdScenarios } from './drbd.js'
import { drbdInitialSyncScenario } from './drbd-sync.js'
import { zfsScenarios } from './zfs.js'
import type { TestCluster } from '../harness/nodes.js'
import * as s from './storage.js'

const VG = 'vg0'
const THIN_MIB = 1024

export async function storageSuite(t: Test, cluster: TestCluster): Promise<void> {
  const log = (line: string): void => void t.comment(line)
  const [vm1, vm2, vm3] = cluster.nodes
  if (vm1 === undefined || vm2 === undefined || vm3 === undefined) throw new Error(`the storage suite needs three nodes, got ${cluster.nodes.length}`)
  await Promise.all(cluster.nodes.map((vm) => s.prepareVolumeGroup(vm, VG, THIN_MIB)))
  const d = await Deployment.start(cluster, { log })
  t.teardown(() => d.stop())
  t.teardown(() => {
    if (t.passing()) return
    t.comment(`controller log, last lines:\n${d.controllerLog()}`)
  })

  t.test('the device-mapper binding reads what dmsetup reads, for the same devices', async (t) => {
    const disk = vm1.dataDisks[1]
    if (disk === undefined) throw new Error(`${vm1.name} has no second data disk for the device-mapper check`)
    const guest = await bundleForGuest({ 'dm-check': 'integration/guest/dm-check.ts' }, cluster.projectDir)
    await cluster.syncProject()
    const r = await vm1.run(['node', guest['dm-check']!, '--disk', disk], { timeoutMs: 600_000 })
    const last = r.stdout.trim().split('\n').at(-1) ?? ''
    let result: DmCheckResult
    try {
      result = JSON.parse(last) as DmCheckResult
    } catch {
      throw new Error(`dm-check exited ${r.exitCode} without its JSON line: ${r.stderr.trim()}`)
    }
    for (const c of result.checks) if (!c.ok) t.fail(c.what, { binding: c.binding, dmsetup: c.dmsetup })
    t.ok(result.ok && r.exitCode === 0, `${result.checks.filter((c) => c.ok).length} of ${result.checks.length} comparisons with dmsetup agree`)
  })

  t.test('LVM and LVM_THIN pools through the REST API on the nodes\' volume groups', async (t) => {
    for (const vm of cluster.nodes) {
      await s.createPool(d, vm, 'lvm', 'LVM', VG)
      await s.createPool(d, vm, 'thin', 'LVM_THIN', `${VG}/thin`)
    }
    await s.until('every pool reports its capacity', async () => {
      const pools = s.ok('storage pools', await d.rest<Array<{ node_name: string; storage_pool_name: string; total_capacity?: number; free_capacity?: number }>>('GET', '/v1/view/storage-pools'))
      const ours = pools.filter((p) => p.storage_pool_name === 'lvm' || p.storage_pool_name === 'thin')
      return ours.length === 6 && ours.every((p) => (p.total_capacity ?? 0) > 0 && (p.free_capacity ?? 0) > 0)
    }, s.CONVERGE_MS)
    const thin = s.ok('pool', await d.rest<{ total_capacity: number }>('GET', `/v1/nodes/${vm1.name}/storage-pools/thin`))
    // The thin pool's size as LVM made it, give or take LVM's rounding to extents.
    t.ok(Math.abs(thin.total_capacity - THIN_MIB * 1024) <= 4096, `thin pool capacity ${thin.total_capacity} KiB is the ${THIN_MIB} MiB pool`)
  })

  for (const [kind, pool, vm] of [['LVM', 'lvm', vm1], ['LVM_THIN', 'thin', vm2]] as const) {
    t.test(`${kind}: a volume is created, written, read back, grown and deleted`, async (t) => {
      const rsc = `life_${pool}`
      const lv = s.volumeName(rsc)
      // Not a whole number of LVM's 4 MiB extents: LVM rounds up, which must not read as a larger volume.
      s.ok('create', await s.createResource(d, rsc, 64 * 1024 + 4, vm, pool))
      const device = await s.waitUsable(d, rsc, vm)
      t.equal(device, `/dev/${VG}/${lv}`, 'the device is the LV, named as LINSTOR names it')
      t.ok((await s.logicalVolumes(vm, VG)).has(lv), `lvs lists ${lv}`)
      t.ok((await s.deviceBytes(vm, device)) >= 64 * 1024 * 1024, 'the kernel sees at least the size asked for')
      const written = await s.writeRandom(vm, device, 16)
      t.equal(await s.readBack(vm, device, 16), written, 'what was written is read back')

      s.ok('grow', await d.rest('PUT', `/v1/resource-definitions/${rsc}/volume-definitions/0`, { size_kib: 128 * 1024 }))
      await s.until(`${device} grown to 128 MiB`, async () => (await s.deviceBytes(vm, device)) >= 128 * 1024 * 1024, s.CONVERGE_MS)
      t.ok(((await s.logicalVolumes(vm, VG)).get(lv) ?? 0) >= 128 * 1024 * 1024, 'LVM reports the grown size')
      t.equal(await s.readBack(vm, device, 16), written, 'the data is unchanged by the growth')

      await s.deleteResourceDefinition(d, rsc)
      await s.until(`${lv} removed`, async () => !(await s.logicalVolumes(vm, VG)).has(lv), s.CONVERGE_MS)
      t.pass(`${lv} is gone from lvs`)
    })
  }

  t.test('a satellite killed with SIGKILL in the middle of a create adopts the result after restart', async (t) => {
    const rsc = 'crash_create'
    const lv = s.volumeName(rsc)
    // Killed as soon as the LV's device-mapper device exists: LVM has made and activated it. (Polling lvs
    // would take a second per look.)
    const { device, atKill } = await s.createKilledMidway(d, vm3, rsc, 96 * 1024, 'thin', `/dev/mapper/${VG}-${lv}`)
    t.comment(atKill)
    const lvs = await s.logicalVolumes(vm3, VG)
    t.equal([...lvs.keys()].filter((n) => n.startsWith(rsc)).length, 1, 'exactly one LV for the volume: adopted, not made again')
    t.ok((lvs.get(lv) ?? 0) >= 96 * 1024 * 1024, 'of the size asked for')
    t.ok((await s.deviceBytes(vm3, device)) >= 96 * 1024 * 1024, 'and usable as a device')
    await s.deleteResourceDefinition(d, rsc)
  })

  t.test('a VM rebooted rejoins and converges, its data intact', async (t) => {
    const rsc = 'reboot'
    s.ok('create', await s.createResource(d, rsc, 32 * 1024, vm2, 'thin'))
    const device = await s.waitUsable(d, rsc, vm2)
    const written = await s.writeRandom(vm2, device, 8)
    await vm2.restart()
    await d.startSatellite(vm2)
    await d.waitOnline(vm2)
    t.equal(await s.waitUsable(d, rsc, vm2), device, 'the volume is usable again at the same device')
    t.equal(await s.readBack(vm2, device, 8), written, 'with the data written before the power cut')
    await s.deleteResourceDefinition(d, rsc)
  })

  // Groups as subtests of their own: tap runs subtests in the order they are made, and a group's own
  // preparation (a zpool, the DRBD version) must run when its turn comes, not while the tests above
  // are still queued (the power cut above would lose a zpool imported before it).
  t.test('ZFS and ZFS_THIN', (t) => zfsScenarios(t, d, cluster))
  // Replication on the LVM pools above: a full initial sync on thick LVs, then on LVM_THIN everything else.
  t.test('DRBD', async (t) => {
    await drbdInitialSyncScenario(t, d, cluster)
    await drbdScenarios(t, d, cluster)
  })
}
