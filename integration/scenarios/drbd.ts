/**
 * DRBD scenarios on real kernels (issue 7; DRBD 8.4 in the VMs' Debian kernel): a two-replica resource
 * made through the REST API on the LVM_THIN pools `thin` of two nodes, checked on the nodes' side —
 * DRBD's own tools, the devices' contents, LVM's reports. The satellites run with their default state
 * directory, where the DRBD layer keeps its configuration (DRBD_CONF).
 */
import type { Test } from 'tap'
import type { Deployment } from '../harness/deployment.js'
import type { TestCluster, TestNode } from '../harness/nodes.js'
import * as s from './storage.js'

const VG = 'vg0'
const POOL = 'thin'
/**
 * The volume's size, and the size it grows to: with DRBD's metadata (7 peer slots) neither gross size
 * is a whole number of LVM extents, so LVM rounds both up.
 */
const NET_KIB = 64 * 1024
const GROWN_KIB = 128 * 1024
/** The satellite's drbdadm configuration (its state directory as root is /var/lib/blockyard). */
const DRBD_CONF = '/var/lib/blockyard/drbd/drbd.conf'

/** drbdadm with the satellite's configuration, in `node`. */
function drbdadm(node: TestNode, ...args: string[]): Promise<string> {
  return s.sh(node, ['drbdadm', '-c', DRBD_CONF, ...args])
}

/** Waits until volume 0 of `rsc` is UpToDate on every node of `nodes` with a DRBD device; returns the device. */
async function waitReplicated(d: Deployment, rsc: string, nodes: readonly TestNode[]): Promise<string> {
  const devices = new Set<string>()
  await s.until(`${rsc} UpToDate on ${nodes.map((n) => n.name).join(' and ')}`, async () => {
    devices.clear()
    for (const n of nodes) {
      const v = (await s.volumes(d, rsc, n))[0]
      if (v?.state?.disk_state !== 'UpToDate' || v.device_path === undefined) return false
      devices.add(v.device_path)
    }
    return true
  }, s.CONVERGE_MS)
  if (devices.size !== 1) throw new Error(`${rsc} has different devices on its nodes: ${[...devices].join(', ')}`)
  return [...devices][0]!
}

export async function drbdScenarios(t: Test, d: Deployment, cluster: TestCluster): Promise<void> {
  const [vm1, vm2] = cluster.nodes
  if (vm1 === undefined || vm2 === undefined) throw new Error(`the DRBD scenarios need two nodes, got ${cluster.nodes.length}`)

  await t.test('DRBD 8.4: two replicas on LVM_THIN without initial sync, written on one node and read back on the other after switching roles, grown, adopted after a satellite restart, deleted', async (t) => {
    const rsc = 'drbd_pair'
    const lv = s.volumeName(rsc)
    s.ok(`resource definition ${rsc}`, await d.rest('POST', '/v1/resource-definitions', { resource_definition: { name: rsc } }))
    s.ok(`volume definition ${rsc}/0`, await d.rest('POST', `/v1/resource-definitions/${rsc}/volume-definitions`, { volume_definition: { size_kib: NET_KIB } }))
    const started = Date.now()
    s.ok('resources', await d.rest('POST', `/v1/resource-definitions/${rsc}/resources`, [vm1, vm2].map((n) => ({ resource: { node_name: n.name, props: { StorPoolName: POOL } }, layer_list: ['DRBD', 'STORAGE'] }))))
    const device = await waitReplicated(d, rsc, [vm1, vm2])
    t.match(device, /^\/dev\/drbd\d+$/, `the volume's device is the DRBD device ${device}`)
    t.comment(`UpToDate on both nodes ${Date.now() - started} ms after the create`)
    for (const n of [vm1, vm2]) {
      t.ok((await s.logicalVolumes(n, VG)).has(lv), `${n.name}: the backing LV ${lv} exists`)
      const status = await s.sh(n, ['drbdsetup', 'status', rsc])
      t.match(status, /disk:UpToDate/, `${n.name}: drbdsetup says UpToDate`)
      t.match(status, /peer-disk:UpToDate/, `${n.name}: and its peer UpToDate`)
    }
    // Both replicas were new thin volumes: the satellite cleared the bitmap instead of syncing 64 MiB.
    // DRBD 8.4 logs a resync as "block drbd<minor>: Began resync as SyncSource (will sync … KB …)".
    const began = new RegExp(`${device.slice('/dev/'.length)}: Began resync`)
    for (const n of [vm1, vm2]) t.notMatch(await s.sh(n, ['dmesg']), began, `${n.name}: no initial resync ran`)

    await drbdadm(vm1, 'primary', rsc)
    const written = await s.writeRandom(vm1, device, 16)
    await drbdadm(vm1, 'secondary', rsc)
    await drbdadm(vm2, 'primary', rsc)
    t.equal(await s.readBack(vm2, device, 16), written, `what ${vm1.name} wrote is read back on ${vm2.name}`)

    // Grown while a node is Primary: DRBD 8.4 resizes a connected resource only then.
    s.ok('grow', await d.rest('PUT', `/v1/resource-definitions/${rsc}/volume-definitions/0`, { size_kib: GROWN_KIB }))
    // A Secondary's device cannot be opened (8.4: "Wrong medium type"): its size is read from sysfs.
    const sysfsSize = `/sys/block/${device.slice('/dev/'.length)}/size`
    for (const n of [vm1, vm2]) {
      await s.until(`${n.name}: ${device} grown`, async () => Number((await s.sh(n, ['cat', sysfsSize])).trim()) * 512 >= GROWN_KIB * 1024, s.CONVERGE_MS)
    }
    t.pass(`${device} shows at least ${GROWN_KIB} KiB on both nodes`)
    await drbdadm(vm2, 'secondary', rsc)

    // A satellite restarted while the resource is up adopts it: no new metadata, no resync, same data.
    await d.killSatellite(vm1)
    await d.startSatellite(vm1)
    await d.waitOnline(vm1)
    await waitReplicated(d, rsc, [vm1, vm2])
    await drbdadm(vm1, 'primary', rsc)
    t.equal(await s.readBack(vm1, device, 16), written, `after ${vm1.name}'s satellite restarted and the volume grew, the data is unchanged`)
    await drbdadm(vm1, 'secondary', rsc)

    await s.deleteResourceDefinition(d, rsc)
    for (const n of [vm1, vm2]) {
      await s.until(`${n.name}: ${lv} removed`, async () => !(await s.logicalVolumes(n, VG)).has(lv), s.CONVERGE_MS)
      const r = await n.run(['drbdsetup', 'status', rsc], { timeoutMs: 60_000 })
      t.not(r.exitCode, 0, `${n.name}: DRBD no longer knows ${rsc}`)
      const files = await s.sh(n, ['ls', '/var/lib/blockyard/drbd'])
      t.notMatch(files, `${rsc}.res`, `${n.name}: its resource file is gone`)
    }
  })
}
