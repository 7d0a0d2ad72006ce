/**
 * The full initial sync of new replicas that are not known to be zeroed (issue 7): two replicas on the
 * thick LVM pools `lvm` of two nodes, made through the REST API. Nothing makes thick volumes identical,
 * so the satellite on the lowest diskful node id forces its replica Primary and back to Secondary, and
 * DRBD copies the whole volume from it. Checked on the nodes' side (DRBD's own status and kernel log,
 * the devices' contents), and the sync's progress as the controller shows it.
 */
import type { Test } from 'tap'
import type { Deployment } from '../harness/deployment.js'
import type { TestCluster, TestNode } from '../harness/nodes.js'
import * as s from './storage.js'

const POOL = 'lvm'
const NET_KIB = 64 * 1024
/** Resync rate, KiB/s: 64 MiB take ~16 s at it, long enough to watch, to write during, and to see progress. */
const RESYNC_KIB_S = 4096
/** The satellite's drbdadm configuration (its state directory as root is /var/lib/blockyard). */
const DRBD_CONF = '/var/lib/blockyard/drbd/drbd.conf'

/** What `drbdsetup status <rsc>` says of one node's replica of volume 0 (DRBD 8.4 and 9 print alike). */
interface SyncStatus {
  role: string
  disk: string
  replication: string | null
  /** `done:` while a resync runs. */
  done: number | null
}

async function syncStatus(node: TestNode, rsc: string): Promise<SyncStatus> {
  const text = await s.sh(node, ['drbdsetup', 'status', rsc])
  const m = (re: RegExp): string | null => re.exec(text)?.[1] ?? null
  const done = m(/ done:(\d+(?:\.\d+)?)/)
  return { role: m(/ role:(\S+)/) ?? '', disk: m(/ disk:(\S+)/) ?? '', replication: m(/ replication:(\S+)/), done: done === null ? null : Number(done) }
}

/** A volume's replication towards each peer as the controller shows it (LINSTOR's replication_states). */
async function replicationStates(d: Deployment, rsc: string, node: TestNode): Promise<NonNullable<s.VolumeView['state']>['replication_states']> {
  return (await s.volumes(d, rsc, node))[0]?.state?.replication_states
}

export async function drbdInitialSyncScenario(t: Test, d: Deployment, cluster: TestCluster): Promise<void> {
  const [vm1, vm2] = cluster.nodes
  if (vm1 === undefined || vm2 === undefined) throw new Error(`the initial sync scenario needs two nodes, got ${cluster.nodes.length}`)
  const nodes = [vm1, vm2]

  await t.test('two replicas on thick LVM: the full initial sync runs from one node, its progress is shown, both end UpToDate with what was written during it', async (t) => {
    const rsc = 'drbd_full_sync'
    s.ok(`resource definition ${rsc}`, await d.rest('POST', '/v1/resource-definitions', {
      resource_definition: { name: rsc, props: { 'DrbdOptions/PeerDevice/c-plan-ahead': '0', 'DrbdOptions/PeerDevice/resync-rate': String(RESYNC_KIB_S) } },
    }))
    s.ok(`volume definition ${rsc}/0`, await d.rest('POST', `/v1/resource-definitions/${rsc}/volume-definitions`, { volume_definition: { size_kib: NET_KIB } }))
    const created = Date.now()
    s.ok('resources', await d.rest('POST', `/v1/resource-definitions/${rsc}/resources`, nodes.map((n) => ({ resource: { node_name: n.name, props: { StorPoolName: POOL } }, layer_list: ['DRBD', 'STORAGE'] }))))

    // The sync starts on its own: one node SyncSource, the other SyncTarget.
    let source: TestNode | undefined
    await s.until(`${rsc}: the initial sync runs`, async () => {
      for (const n of nodes) {
        const st = await syncStatus(n, rsc).catch(() => undefined)
        if (st?.replication === 'SyncSource' || st?.replication === 'PausedSyncS') source = n
      }
      return source !== undefined
    }, s.CONVERGE_MS)
    const from = source!
    const to = from === vm1 ? vm2 : vm1
    t.pass(`${from.name} is SyncSource to ${to.name} ${Date.now() - created} ms after the create`)
    const device = (await s.volumes(d, rsc, from))[0]?.device_path
    if (device === undefined) throw new Error(`${rsc} on ${from.name} has no device`)
    // Forced Primary only to start the sync: the satellite made it Secondary again.
    await s.until(`${from.name}: ${rsc} Secondary again`, async () => (await syncStatus(from, rsc)).role === 'Secondary', s.CONVERGE_MS)
    t.pass(`${from.name} is Secondary again, its disk UpToDate: ${(await syncStatus(from, rsc)).disk}`)

    // Written as Primary on the source while the sync runs: DRBD sends it to the target as well.
    await s.sh(from, ['drbdadm', '-c', DRBD_CONF, 'primary', rsc])
    const written = await s.writeRandom(from, device, 8)
    await s.sh(from, ['drbdadm', '-c', DRBD_CONF, 'secondary', rsc])

    // Progress as DRBD shows it on the target, and as the controller shows it from either node's
    // reports (the satellite looks at a resyncing resource every 2 s: DRBD sends no event as it moves).
    const kernel = new Set<number>()
    const shown = new Set<number>()
    await s.until(`${rsc} UpToDate on ${to.name}`, async () => {
      const st = await syncStatus(to, rsc)
      if (st.done !== null) kernel.add(st.done)
      for (const [n, peer] of [[from, to], [to, from]] as const) {
        const pct = (await replicationStates(d, rsc, n))?.[peer.name]?.done_percentage
        if (pct !== undefined) shown.add(pct)
      }
      return st.disk === 'UpToDate' && st.replication === 'Established'
    }, s.CONVERGE_MS, 250)
    const synced = Date.now() - created
    t.ok(kernel.size > 0, `drbdsetup on ${to.name} showed the sync's progress: ${[...kernel].map((p) => `${p}%`).join(', ')}`)
    t.ok(shown.size >= 2, `the controller showed the progress move: ${[...shown].map((p) => `${p}%`).join(', ')}`)
    for (const n of nodes) await s.waitUsable(d, rsc, n)
    t.pass(`UpToDate on both nodes ${synced} ms after the create`)

    // DRBD logs the resync's size ("block drbd1000: Began resync as SyncSource (will sync 65536 KB…"
    // on 8.4, "drbd1000 vm2: Began…" on 9): the whole volume, not a bitmap left over. The last such line
    // of the minor is this resource's (an earlier resource may have had the same minor).
    const minor = device.slice('/dev/'.length)
    const began = [...(await s.sh(from, ['dmesg'])).matchAll(new RegExp(`${minor}\\b.*Began resync as SyncSource \\(will sync (\\d+) KB`, 'g'))].at(-1)
    t.ok(began !== undefined && Number(began[1]) >= NET_KIB, `${from.name} synced the whole volume: ${began?.[0] ?? 'no resync of it in its kernel log'}`)

    await s.sh(to, ['drbdadm', '-c', DRBD_CONF, 'primary', rsc])
    t.equal(await s.readBack(to, device, 8), written, `what ${from.name} wrote during the sync is read back on ${to.name}`)
    await s.sh(to, ['drbdadm', '-c', DRBD_CONF, 'secondary', rsc])

    await s.deleteResourceDefinition(d, rsc)
  })
}
