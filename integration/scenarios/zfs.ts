/**
 * ZFS scenarios on real ZFS (issue 8; zfs-dkms 2.1 in the VM image unless BLOCKYARD_VM_ZFS=0): a zpool
 * `tank` on the third data disk of two nodes, ZFS and ZFS_THIN pools through the REST API with the keys
 * LINSTOR's clients send, checked on the nodes' side (`zfs` itself, the devices' size and contents).
 * The third node has no zpool: autoplace with a provider filter must leave it out.
 */
import type { Test } from 'tap'
import type { Deployment } from '../harness/deployment.js'
import type { TestCluster, TestNode } from '../harness/nodes.js'
import * as s from './storage.js'

const ZPOOL = 'tank'
/** ZFS_THIN's dataset, under a quota: its total capacity is the quota (LINSTOR's rule). */
const THIN_DATASET = `${ZPOOL}/thin`
const THIN_QUOTA_MIB = 512
/** The thin pool's zfs create options: a volblocksize other than the default, and a property. */
const THIN_OPTIONS = '-b 32K -o compression=lz4'

/** Whether `node` has ZFS's tools (the image was built without ZFS otherwise). */
export async function hasZfs(node: TestNode): Promise<boolean> {
  return (await node.run(['zpool', 'version'], { timeoutMs: 120_000 }).catch(() => ({ exitCode: 127 }))).exitCode === 0
}

/**
 * The zpool `tank` on the node's third data disk, and the quota'd dataset `tank/thin` in it: what an
 * operator prepares before giving ZFS pools to Blockyard. Imported when the disk has it already (a
 * node restarted: the guest's init imports no pool).
 */
export async function prepareZpool(node: TestNode): Promise<void> {
  const disk = node.dataDisks[2]
  if (disk === undefined) throw new Error(`${node.name} has no third data disk for its zpool`)
  if ((await node.run(['zpool', 'list', ZPOOL], { timeoutMs: 120_000 })).exitCode === 0) return
  if ((await node.run(['zpool', 'import', '-d', disk, ZPOOL], { timeoutMs: 120_000 })).exitCode === 0) return
  // -m none: nothing mounted (zvols only), as LINSTOR makes its zpools.
  await s.sh(node, ['zpool', 'create', '-f', '-m', 'none', ZPOOL, disk])
  await s.sh(node, ['zfs', 'create', '-o', `quota=${THIN_QUOTA_MIB}M`, THIN_DATASET])
}

/** A zvol's properties as zfs reports them (exact values). */
async function zvolProps(node: TestNode, dataset: string, props: readonly string[]): Promise<Record<string, string> | undefined> {
  const r = await node.run(['zfs', 'get', '-Hp', '-o', 'property,value', props.join(','), dataset], { timeoutMs: 120_000 })
  if (r.exitCode !== 0) return undefined
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('\t') as [string, string]))
}

/** The zvols of `parent` (direct children), by name. */
async function zvols(node: TestNode, parent: string): Promise<string[]> {
  const out = await s.sh(node, ['zfs', 'list', '-H', '-d', '1', '-t', 'volume', '-o', 'name', parent])
  return out.split('\n').filter((l) => l !== '')
}

interface PoolView {
  node_name: string
  storage_pool_name: string
  total_capacity?: number
  free_capacity?: number
}

export async function zfsScenarios(t: Test, d: Deployment, cluster: TestCluster): Promise<void> {
  const [vm1, vm2, vm3] = cluster.nodes
  if (vm1 === undefined || vm2 === undefined || vm3 === undefined) throw new Error(`the ZFS scenarios need three nodes, got ${cluster.nodes.length}`)
  if (!(await hasZfs(vm1))) {
    t.comment('ZFS scenarios skipped: the nodes have no ZFS (an image built with BLOCKYARD_VM_ZFS=0)')
    return
  }
  const zfsNodes = [vm1, vm2]
  await Promise.all(zfsNodes.map(prepareZpool))

  await t.test('ZFS and ZFS_THIN pools through the REST API, with the keys LINSTOR\'s clients send', async (t) => {
    for (const vm of zfsNodes) {
      s.ok(`pool zfs on ${vm.name}`, await d.rest('POST', `/v1/nodes/${vm.name}/storage-pools`, { storage_pool_name: 'zfs', provider_kind: 'ZFS', props: { 'StorDriver/ZPool': ZPOOL } }))
      s.ok(`pool zfsthin on ${vm.name}`, await d.rest('POST', `/v1/nodes/${vm.name}/storage-pools`, {
        storage_pool_name: 'zfsthin', provider_kind: 'ZFS_THIN', props: { 'StorDriver/ZPoolThin': THIN_DATASET, 'StorDriver/ZfscreateOptions': THIN_OPTIONS },
      }))
    }
    let pools: PoolView[] = []
    await s.until('every ZFS pool reports its capacity', async () => {
      pools = s.ok('storage pools', await d.rest<PoolView[]>('GET', '/v1/view/storage-pools')).filter((p) => p.storage_pool_name === 'zfs' || p.storage_pool_name === 'zfsthin')
      return pools.length === 4 && pools.every((p) => (p.total_capacity ?? 0) > 0 && (p.free_capacity ?? 0) > 0)
    }, s.CONVERGE_MS)
    const thin = pools.find((p) => p.node_name === vm1.name && p.storage_pool_name === 'zfsthin')!
    t.equal(thin.total_capacity, THIN_QUOTA_MIB * 1024, `the thin pool's total is its dataset's quota, ${THIN_QUOTA_MIB} MiB`)
    const zpoolBytes = Number((await s.sh(vm1, ['zpool', 'list', '-Hp', '-o', 'size', ZPOOL])).trim())
    const thick = pools.find((p) => p.node_name === vm1.name && p.storage_pool_name === 'zfs')!
    t.equal(thick.total_capacity, Math.floor(zpoolBytes / 1024), 'the thick pool\'s total is the zpool\'s size')
    const available = Number((await s.sh(vm1, ['zfs', 'get', '-Hp', '-o', 'value', 'available', ZPOOL])).trim())
    t.ok(Math.abs(thick.free_capacity! - Math.floor(available / 1024)) <= 1024, `its free space is the zpool's available (${thick.free_capacity} KiB)`)
  })

  for (const [kind, pool, vm] of [['ZFS', 'zfs', vm1], ['ZFS_THIN', 'zfsthin', vm2]] as const) {
    t.test(`${kind}: a zvol is created, written, read back, grown and deleted`, async (t) => {
      const rsc = `life_${pool}`
      const parent = kind === 'ZFS' ? ZPOOL : THIN_DATASET
      const zvol = `${parent}/${s.volumeName(rsc)}`
      // Not a whole number of volblocks: rounded up, which must not read as a larger volume.
      s.ok('create', await s.createResource(d, rsc, 64 * 1024 + 4, vm, pool))
      const device = await s.waitUsable(d, rsc, vm)
      t.equal(device, `/dev/zvol/${zvol}`, 'the device is the zvol\'s link, named as LINSTOR names it')
      const props = await zvolProps(vm, zvol, ['volsize', 'refreservation', 'volblocksize', 'compression'])
      t.ok(Number(props?.volsize) >= (64 * 1024 + 4) * 1024, `zfs shows ${zvol} of at least the size asked for`)
      if (kind === 'ZFS') {
        t.ok(Number(props?.refreservation) >= Number(props?.volsize), 'a ZFS zvol reserves its size')
      } else {
        t.equal(props?.refreservation, '0', 'a ZFS_THIN zvol is sparse')
        t.equal(props?.volblocksize, String(32 * 1024), 'with the volblocksize of the pool\'s ZfscreateOptions')
        t.equal(props?.compression, 'lz4', 'and its property')
      }
      const written = await s.writeRandom(vm, device, 16)
      t.equal(await s.readBack(vm, device, 16), written, 'what was written is read back')

      s.ok('grow', await d.rest('PUT', `/v1/resource-definitions/${rsc}/volume-definitions/0`, { size_kib: 128 * 1024 }))
      await s.until(`${device} grown to 128 MiB`, async () => (await s.deviceBytes(vm, device)) >= 128 * 1024 * 1024, s.CONVERGE_MS)
      t.ok(Number((await zvolProps(vm, zvol, ['volsize']))?.volsize) >= 128 * 1024 * 1024, 'zfs reports the grown size')
      t.equal(await s.readBack(vm, device, 16), written, 'the data is unchanged by the growth')
      if (kind === 'ZFS_THIN') {
        const v = (await s.volumes(d, rsc, vm))[0]
        t.ok((v?.allocated_size_kib ?? 0) >= 16 * 1024 && (v?.allocated_size_kib ?? 0) < 64 * 1024, `the thin volume's allocated size is what was written (${v?.allocated_size_kib} KiB)`)
      }

      await s.deleteResourceDefinition(d, rsc)
      await s.until(`${zvol} destroyed`, async () => !(await zvols(vm, parent)).includes(zvol), s.CONVERGE_MS)
      t.pass(`${zvol} is gone from zfs list`)
    })
  }

  t.test('an open zvol is not destroyed: the resource says why and how to proceed, and the delete goes on once it is closed', async (t) => {
    const rsc = 'busy_zfs'
    const zvol = `${ZPOOL}/${s.volumeName(rsc)}`
    s.ok('create', await s.createResource(d, rsc, 32 * 1024, vm1, 'zfs'))
    const device = await s.waitUsable(d, rsc, vm1)
    // A reader holds the device open (no exclusive claim): ZFS counts every open.
    const pidFile = '/tmp/blockyard-holder.pid'
    const holder = vm1.run(['sh', '-c', `echo $$ >${pidFile}; exec 3<"$1"; exec sleep 600`, 'holder', device], { timeoutMs: 0 })
    await s.until('the holder has the zvol open', async () => (await vm1.run(['sh', '-c', `[ -s ${pidFile} ] && ls -l /proc/$(cat ${pidFile})/fd | grep -q zd`])).exitCode === 0, 60_000, 200)
    // The reply may carry the satellite's refusal already; the volume's reports carry it until it is gone.
    const deleted = await d.rest('DELETE', `/v1/resource-definitions/${rsc}/resources/${vm1.name}`)
    t.comment(`the delete answered ${deleted.status}`)
    let reported = JSON.stringify(deleted.body)
    await s.until('the satellite reports the zvol open', async () => {
      if (/is open/.test(reported)) return true
      reported = JSON.stringify((await s.volumes(d, rsc, vm1))[0] ?? {})
      return /is open/.test(reported)
    }, s.CONVERGE_MS)
    t.match(reported, /not destroyed while open.*drbdadm down/, 'the report says why, and what to close')
    t.ok((await zvols(vm1, ZPOOL)).includes(zvol), `${zvol} still exists`)
    await s.sh(vm1, ['sh', '-c', `kill $(cat ${pidFile}); rm -f ${pidFile}`])
    await holder
    await s.until(`${zvol} destroyed once closed`, async () => !(await zvols(vm1, ZPOOL)).includes(zvol), s.CONVERGE_MS)
    t.pass(`${zvol} is destroyed after its holder closed it`)
    await s.deleteResourceDefinition(d, rsc)
  })

  t.test('ZFS: a satellite killed with SIGKILL in the middle of a create adopts the zvol after restart', async (t) => {
    const rsc = 'crash_zfs'
    const link = `/dev/zvol/${ZPOOL}/${s.volumeName(rsc)}`
    // Killed as soon as the zvol's link exists: ZFS made it.
    const { device, atKill } = await s.createKilledMidway(d, vm2, rsc, 96 * 1024, 'zfs', link)
    t.comment(atKill)
    t.equal(device, link, 'the volume\'s device is the zvol')
    const made = (await zvols(vm2, ZPOOL)).filter((n) => n.startsWith(`${ZPOOL}/${rsc}`))
    t.same(made, [`${ZPOOL}/${s.volumeName(rsc)}`], 'exactly one zvol for the volume: adopted, not made again')
    t.ok((await s.deviceBytes(vm2, device)) >= 96 * 1024 * 1024, 'of the size asked for, and usable as a device')
    await s.deleteResourceDefinition(d, rsc)
  })

  t.test('autoplace with a provider filter: ZFS places on the two ZFS nodes only, never on the LVM_THIN one', async (t) => {
    const rsc = 'auto_zfs'
    s.ok(`resource definition ${rsc}`, await d.rest('POST', '/v1/resource-definitions', { resource_definition: { name: rsc } }))
    s.ok(`volume definition ${rsc}/0`, await d.rest('POST', `/v1/resource-definitions/${rsc}/volume-definitions`, { volume_definition: { size_kib: 32 * 1024 } }))
    const three = await d.rest('POST', `/v1/resource-definitions/${rsc}/autoplace`, { select_filter: { place_count: 3, provider_list: ['ZFS'] }, layer_list: ['STORAGE'] })
    t.ok(three.status >= 400, `three replicas on ZFS are refused: only two nodes have it (HTTP ${three.status})`)
    s.ok('autoplace', await d.rest('POST', `/v1/resource-definitions/${rsc}/autoplace`, { select_filter: { place_count: 2, provider_list: ['ZFS'] }, layer_list: ['STORAGE'] }))
    const placed = s.ok('resources', await d.rest<Array<{ node_name: string; props?: Record<string, string> }>>('GET', `/v1/resource-definitions/${rsc}/resources`))
    t.same(placed.map((r) => r.node_name).sort(), zfsNodes.map((n) => n.name).sort(), `placed on ${zfsNodes.map((n) => n.name).join(' and ')}`)
    for (const vm of zfsNodes) {
      const device = await s.waitUsable(d, rsc, vm)
      t.equal(device, `/dev/zvol/${ZPOOL}/${s.volumeName(rsc)}`, `${vm.name}: in its ZFS pool`)
    }
    await s.deleteResourceDefinition(d, rsc)
  })
}
