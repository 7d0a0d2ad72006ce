/**
 * Storage scenarios on real kernels, through the REST API only, checked on the node's side (LVM's own
 * reports, the block device's size and contents) rather than through Blockyard's view of itself. They
 * run against a Deployment on either harness (nodes.ts).
 */
import type { Deployment, RestReply } from '../harness/deployment.js'
import { until } from '../harness/deployment.js'
import type { TestNode } from '../harness/nodes.js'

/** Generous: under software emulation one lvcreate takes 1–2 s and a node's first pass more. */
const CONVERGE_MS = 240_000

export interface VolumeView {
  volume_number: number
  device_path?: string
  allocated_size_kib?: number
  /** DRBD adds the replication towards each peer node (LINSTOR's replication_states). */
  state?: { disk_state?: string; replication_states?: Record<string, { replication_state: string; done_percentage?: number }> }
}

/** Runs `argv` in `node` and returns its stdout; throws with its stderr unless it exited 0. */
export async function sh(node: TestNode, argv: readonly string[], timeoutMs = 120_000): Promise<string> {
  const r = await node.run(argv, { timeoutMs })
  if (r.exitCode !== 0) throw new Error(`${node.name}: ${argv.join(' ')} exited ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr.trim()}`)
  return r.stdout
}

/** Throws with the reply unless its status is 2xx. */
export function ok<T>(what: string, r: RestReply<T>): T {
  if (r.status < 200 || r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`)
  return r.body
}

/**
 * A volume group `vg` on the node's first data disk, and in it a thin pool `thin` of `thinMiB`: what an
 * operator prepares before giving LVM and LVM_THIN pools to Blockyard. Idempotent over a node restart
 * (the disk keeps them).
 */
export async function prepareVolumeGroup(node: TestNode, vg: string, thinMiB: number): Promise<void> {
  const disk = node.dataDisks[0]
  if (disk === undefined) throw new Error(`${node.name} has no data disk`)
  await sh(node, ['vgcreate', '-y', vg, disk])
  await sh(node, ['lvcreate', '-y', '-L', `${thinMiB}m`, '-T', `${vg}/thin`])
}

/** Registers pool `pool` of `kind` on `node` over `backing` (VG or VG/thin LV). */
export async function createPool(d: Deployment, node: TestNode, pool: string, kind: 'LVM' | 'LVM_THIN', backing: string): Promise<void> {
  ok(`storage pool ${pool} on ${node.name}`, await d.rest('POST', `/v1/nodes/${node.name}/storage-pools`, { storage_pool_name: pool, provider_kind: kind, props: { 'StorDriver/StorPoolName': backing } }))
}

/**
 * Creates resource definition `rsc` with one volume of `sizeKib`, placed on `node` in `pool`, with the
 * STORAGE layer only (the default would be DRBD on nodes that have it).
 */
export async function createResource(d: Deployment, rsc: string, sizeKib: number, node: TestNode, pool: string): Promise<RestReply> {
  ok(`resource definition ${rsc}`, await d.rest('POST', '/v1/resource-definitions', { resource_definition: { name: rsc } }))
  ok(`volume definition ${rsc}/0`, await d.rest('POST', `/v1/resource-definitions/${rsc}/volume-definitions`, { volume_definition: { size_kib: sizeKib } }))
  return d.rest('POST', `/v1/resource-definitions/${rsc}/resources`, [{ resource: { node_name: node.name, props: { StorPoolName: pool } }, layer_list: ['STORAGE'] }])
}

/** The volumes of `rsc` on `node` as the controller shows them. */
export async function volumes(d: Deployment, rsc: string, node: TestNode): Promise<VolumeView[]> {
  return ok(`volumes of ${rsc} on ${node.name}`, await d.rest<VolumeView[]>('GET', `/v1/resource-definitions/${rsc}/resources/${node.name}/volumes`))
}

/** Waits until volume 0 of `rsc` on `node` has a device and is UpToDate; returns its device path. */
export async function waitUsable(d: Deployment, rsc: string, node: TestNode): Promise<string> {
  let device = ''
  await until(`${rsc} on ${node.name} UpToDate with a device`, async () => {
    const v = (await volumes(d, rsc, node))[0]
    device = v?.device_path ?? ''
    return device !== '' && v?.state?.disk_state === 'UpToDate'
  }, CONVERGE_MS)
  return device
}

/**
 * Creates `rsc` (`sizeKib`) on `node` in `pool` and kills the node's satellite with SIGKILL as soon as
 * `made` exists in the node (a path the provider's create makes: its device is there, the satellite has
 * yet to see and report it), then starts the satellite again. Resolves, once the volume is usable again,
 * with its device and a line saying what the controller had seen at the kill.
 */
export async function createKilledMidway(d: Deployment, node: TestNode, rsc: string, sizeKib: number, pool: string, made: string): Promise<{ device: string; atKill: string }> {
  const reply = createResource(d, rsc, sizeKib, node, pool)
  await until(made, async () => (await node.run(['test', '-e', made])).exitCode === 0, CONVERGE_MS, 50)
  await d.killSatellite(node, 'KILL')
  const seen = (await volumes(d, rsc, node))[0]
  const atKill = `at the kill the controller had ${seen?.state?.disk_state === undefined ? 'no report of the volume yet' : `the volume ${seen.state.disk_state}`}; the create answered ${(await reply).status}`
  await d.startSatellite(node)
  await d.waitOnline(node)
  return { device: await waitUsable(d, rsc, node), atKill }
}

/** The size of block device `device` in the node, bytes (asked of the kernel, not of Blockyard). */
export async function deviceBytes(node: TestNode, device: string): Promise<number> {
  return Number((await sh(node, ['blockdev', '--getsize64', device])).trim())
}

/**
 * Writes `mib` MiB of random data to `device` with direct I/O, `seekMiB` MiB from its start, and returns
 * its SHA-256, as computed from the data before it was written. When this resolves, every write was
 * acknowledged by the device.
 */
export async function writeRandom(node: TestNode, device: string, mib: number, seekMiB = 0): Promise<string> {
  const file = `/tmp/blockyard-data-${mib}`
  await sh(node, ['dd', 'if=/dev/urandom', `of=${file}`, 'bs=1M', `count=${mib}`, 'status=none'])
  await sh(node, ['dd', `if=${file}`, `of=${device}`, 'bs=1M', `seek=${seekMiB}`, 'oflag=direct', 'conv=fsync', 'status=none'])
  const sum = (await sh(node, ['sha256sum', file])).split(' ')[0]!
  await sh(node, ['rm', '-f', file])
  return sum
}

/** SHA-256 of the first `mib` MiB of `device`, read with direct I/O (not from the page cache). */
export async function readBack(node: TestNode, device: string, mib: number): Promise<string> {
  const file = `/tmp/blockyard-read-${mib}`
  await sh(node, ['dd', `if=${device}`, `of=${file}`, 'bs=1M', `count=${mib}`, 'iflag=direct', 'status=none'])
  const sum = (await sh(node, ['sha256sum', file])).split(' ')[0]!
  await sh(node, ['rm', '-f', file])
  return sum
}

/** The LVs of `vg` as LVM reports them: name → size in bytes. */
export async function logicalVolumes(node: TestNode, vg: string): Promise<Map<string, number>> {
  const out = await sh(node, ['lvs', '--noheadings', '--units', 'b', '--nosuffix', '-o', 'lv_name,lv_size', vg])
  const lvs = new Map<string, number>()
  for (const line of out.split('\n')) {
    const [name, size] = line.trim().split(/\s+/)
    if (name) lvs.set(name, Number(size))
  }
  return lvs
}

/** LINSTOR's name of volume `vlmNr` of `rsc` in a pool. */
export const volumeName = (rsc: string, vlmNr = 0): string => `${rsc}_${String(vlmNr).padStart(5, '0')}`

/** Deletes resource definition `rsc` and waits until the controller no longer knows it. */
export async function deleteResourceDefinition(d: Deployment, rsc: string): Promise<void> {
  const r = await d.rest('DELETE', `/v1/resource-definitions/${rsc}`)
  ok(`delete ${rsc}`, r)
  await until(`${rsc} gone`, async () => (await d.rest('GET', `/v1/resource-definitions/${rsc}`)).status === 404, CONVERGE_MS)
}

export { CONVERGE_MS, until }
