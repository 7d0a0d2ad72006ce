/**
 * DRBD scenarios on real kernels (issue 7; DRBD 8.4 in the VMs' Debian kernel): a two-replica resource
 * made through the REST API on the LVM_THIN pools `thin` of two nodes, checked on the nodes' side —
 * DRBD's own tools, the devices' contents, LVM's reports. The satellites run with their default state
 * directory, where the DRBD layer keeps its configuration (DRBD_CONF).
 */
import type { Test } from 'tap'
import type { Deployment, EventLog, StreamEvent } from '../harness/deployment.js'
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

/**
 * Waits until volume 0 of `rsc` is UpToDate on every node of `nodes` with a DRBD device, and in sync
 * with each of the others (a node that has just attached says UpToDate until it connects and learns
 * that it is behind); returns the device.
 */
async function waitReplicated(d: Deployment, rsc: string, nodes: readonly TestNode[]): Promise<string> {
  const devices = new Set<string>()
  await s.until(`${rsc} UpToDate and in sync on ${nodes.map((n) => n.name).join(' and ')}`, async () => {
    devices.clear()
    for (const n of nodes) {
      const v = (await s.volumes(d, rsc, n))[0]
      if (v?.state?.disk_state !== 'UpToDate' || v.device_path === undefined) return false
      if (nodes.some((p) => p !== n && v.state?.replication_states?.[p.name]?.replication_state !== 'Established')) return false
      devices.add(v.device_path)
    }
    return true
  }, s.CONVERGE_MS).catch(async (e: Error) => {
    // What DRBD itself says, for the failure's message: the state and the kernel's last DRBD lines.
    const seen = await Promise.all(nodes.map(async (n) => {
      const r = await n.run(['sh', '-c', `drbdsetup status ${rsc} --verbose; dmesg | grep -i drbd | tail -n 40`], { timeoutMs: 60_000 }).catch((x: Error) => ({ stdout: x.message }))
      return `${n.name}:\n${r.stdout}`
    }))
    throw new Error(`${e.message}\n${seen.join('\n')}`)
  })
  if (devices.size !== 1) throw new Error(`${rsc} has different devices on its nodes: ${[...devices].join(', ')}`)
  return [...devices][0]!
}

/** Whether `node` runs DRBD 9 (else 8.4), from the module's own /proc/drbd. */
async function runsDrbd9(node: TestNode): Promise<boolean> {
  return /^version: 9\./m.test(await s.sh(node, ['cat', '/proc/drbd']))
}

/** A resource event's view of its connection to `peer` (LINSTOR's layer_object.drbd.connections). */
function connection(e: StreamEvent, peer: TestNode): { connected: boolean; message: string } | undefined {
  return e.object?.layer_object?.drbd?.connections?.[peer.name]
}

/** A volume event's replication towards `peer` (LINSTOR's volume state replication_states). */
function replication(e: StreamEvent, peer: TestNode): { replication_state: string; done_percentage?: number } | undefined {
  return e.object?.state?.replication_states?.[peer.name]
}

const isEvent = (e: StreamEvent, kind: string, rsc: string, node: TestNode): boolean => e.kind === kind && e.action === 'state' && e.resource === rsc && e.node === node.name

/** Waits for `node`'s report that its connection to `peer` is down; returns the DRBD state it names. */
async function waitDisconnected(events: EventLog, rsc: string, node: TestNode, peer: TestNode): Promise<string> {
  const e = await events.next(`${node.name} reports ${rsc} disconnected from ${peer.name}`, (e) => isEvent(e, 'resource', rsc, node) && connection(e, peer)?.connected === false, s.CONVERGE_MS)
  return connection(e, peer)!.message
}

export async function drbdScenarios(t: Test, d: Deployment, cluster: TestCluster): Promise<void> {
  const [vm1, vm2, vm3] = cluster.nodes
  if (vm1 === undefined || vm2 === undefined || vm3 === undefined) throw new Error(`the DRBD scenarios need three nodes, got ${cluster.nodes.length}`)
  const drbd9 = await runsDrbd9(vm1)

  await t.test('two replicas on LVM_THIN without initial sync, written on one node and read back on the other after switching roles, grown, adopted after a satellite restart, deleted', async (t) => {
    const rsc = 'drbd_pair'
    const lv = s.volumeName(rsc)
    s.ok(`resource definition ${rsc}`, await d.rest('POST', '/v1/resource-definitions', { resource_definition: { name: rsc } }))
    s.ok(`volume definition ${rsc}/0`, await d.rest('POST', `/v1/resource-definitions/${rsc}/volume-definitions`, { volume_definition: { size_kib: NET_KIB } }))
    // The kernel logs so far: an earlier resource may have had the same minor and synced.
    const logged = new Map(await Promise.all([vm1, vm2].map(async (n) => [n, (await s.sh(n, ['dmesg'])).length] as const)))
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
    for (const n of [vm1, vm2]) t.notMatch((await s.sh(n, ['dmesg'])).slice(logged.get(n)), began, `${n.name}: no initial resync ran`)

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
  // The high-availability scenarios share one resource, as an operator's volume lives through them.
  const rsc = 'drbd_ha'
  // Data written so far, and its SHA-256: the first `mib` MiB of the device.
  let mib = 0
  let expected = ''
  let device = ''
  let events: EventLog | undefined
  t.teardown(() => events?.close())

  await t.test('link cut and healed: the events stream shows the disconnect and the resync, both replicas end UpToDate with the same data', async (t) => {
    s.ok(`resource definition ${rsc}`, await d.rest('POST', '/v1/resource-definitions', {
      resource_definition: {
        name: rsc,
        // A resync slow enough to be seen in progress (4 MiB/s), and quick reconnects. No tiebreaker on
        // DRBD 9: the third node is where the migration goes (drbd9QuorumScenario has one).
        props: {
          'DrbdOptions/PeerDevice/c-plan-ahead': '0', 'DrbdOptions/PeerDevice/resync-rate': '4096', 'DrbdOptions/Net/connect-int': '2', 'DrbdOptions/Net/ping-int': '2',
          'DrbdOptions/auto-add-quorum-tiebreaker': 'false',
        },
      },
    }))
    s.ok(`volume definition ${rsc}/0`, await d.rest('POST', `/v1/resource-definitions/${rsc}/volume-definitions`, { volume_definition: { size_kib: NET_KIB } }))
    const created = Date.now()
    s.ok('resources', await d.rest('POST', `/v1/resource-definitions/${rsc}/resources`, [vm1, vm2].map((n) => ({ resource: { node_name: n.name, props: { StorPoolName: POOL } }, layer_list: ['DRBD', 'STORAGE'] }))))
    t.comment(`the create answered after ${Date.now() - created} ms`)
    device = await waitReplicated(d, rsc, [vm1, vm2])
    events = await d.events(`kinds=resource,volume&names=${rsc}`)

    await drbdadm(vm1, 'primary', rsc)
    await s.writeRandom(vm1, device, 16)
    await cluster.setLinkUp(vm2, false)
    const cut = Date.now()
    const message = await waitDisconnected(events, rsc, vm1, vm2)
    t.pass(`${vm1.name} reported its connection to ${vm2.name} down (${message}) ${Date.now() - cut} ms after the cut`)
    // Written while the peer is away: DRBD marks it out of sync, to be resynced when the link is back.
    await s.writeRandom(vm1, device, 32, 16)
    mib = 48
    expected = await s.readBack(vm1, device, mib)
    await cluster.setLinkUp(vm2, true)
    const healed = Date.now()
    const syncing = await events.next(`${vm1.name} resyncs ${rsc} to ${vm2.name}`, (e) => isEvent(e, 'volume', rsc, vm1) && /^(SyncSource|PausedSyncS)$/.test(replication(e, vm2)?.replication_state ?? ''), s.CONVERGE_MS)
    t.pass(`${vm1.name} became ${replication(syncing, vm2)!.replication_state} ${Date.now() - healed} ms after the link came back`)
    // Connected again, not a report vm2 made before DRBD reconnected (it stays UpToDate while cut off).
    const done = await events.next(`${vm2.name} UpToDate again`, (e) => isEvent(e, 'volume', rsc, vm2) && e.object?.state?.disk_state === 'UpToDate' && replication(e, vm1)?.replication_state === 'Established', s.CONVERGE_MS)
    t.pass(`${vm2.name} reported UpToDate after the resync (${Date.now() - healed} ms after the link came back)`)
    const progress = events.events
      .filter((e) => e.kind === 'volume' && e.resource === rsc && e.revision >= syncing.revision && e.revision <= done.revision)
      .flatMap((e) => [vm1, vm2].map((peer) => replication(e, peer)?.done_percentage).filter((p): p is number => p !== undefined))
    t.ok(progress.some((p) => p >= 0 && p < 100), `the resync's progress was on the stream: ${progress.map((p) => `${p}%`).join(', ')}`)
    await waitReplicated(d, rsc, [vm1, vm2])
    await drbdadm(vm1, 'secondary', rsc)
    await drbdadm(vm2, 'primary', rsc)
    t.equal(await s.readBack(vm2, device, mib), expected, `${vm2.name} has everything ${vm1.name} wrote, before and during the cut`)
    await drbdadm(vm2, 'secondary', rsc)
  })

  await t.test('a VM killed while Primary: the other may promote, is promoted, and has every acknowledged write; the killed one comes back and resyncs', async (t) => {
    if (events === undefined || device === '') throw new Error(`${rsc} was not made by the previous scenario`)
    await drbdadm(vm1, 'primary', rsc)
    // dd with direct I/O and fsync returns once DRBD acknowledged every write (protocol C: on both nodes).
    await s.writeRandom(vm1, device, 16, mib)
    mib += 16
    expected = await s.readBack(vm1, device, mib)
    const killed = Date.now()
    const back = vm1.restart()
    back.catch(() => {}) // awaited below; a failure must not go unhandled meanwhile
    await waitDisconnected(events, rsc, vm2, vm1)
    await events.next(`${vm2.name} may promote ${rsc}`, (e) => isEvent(e, 'resource', rsc, vm2) && e.object?.layer_object?.drbd?.may_promote === true, s.CONVERGE_MS)
    t.pass(`${vm2.name} reported may_promote ${Date.now() - killed} ms after ${vm1.name} was killed`)
    await drbdadm(vm2, 'primary', rsc)
    t.equal(await s.readBack(vm2, device, mib), expected, `${vm2.name}, promoted, has every write ${vm1.name} acknowledged`)
    await drbdadm(vm2, 'secondary', rsc)

    await back
    await d.startSatellite(vm1)
    await d.waitOnline(vm1)
    await waitReplicated(d, rsc, [vm1, vm2])
    t.pass(`${vm1.name} is back and UpToDate ${Date.now() - killed} ms after it was killed`)
    await drbdadm(vm1, 'primary', rsc)
    t.equal(await s.readBack(vm1, device, mib), expected, `${vm1.name} has the same data after coming back`)
    await drbdadm(vm1, 'secondary', rsc)
  })

  await t.test(drbd9
    ? 'migration (LINSTOR\'s recipe): a replica added on a third node, synced, an original removed, the data unchanged'
    : 'migration on DRBD 8.4: a third replica is refused with the way to proceed; an original removed, a replica added on the third node, synced, the data unchanged', async (t) => {
    if (device === '') throw new Error(`${rsc} was not made by the previous scenarios`)
    // Full speed for the full sync of the new replica: the throttle goes, on both nodes (an adjust each).
    s.ok('resync rate reset', await d.rest('PUT', `/v1/resource-definitions/${rsc}`, { delete_props: ['DrbdOptions/PeerDevice/c-plan-ahead', 'DrbdOptions/PeerDevice/resync-rate'] }))
    const add = (): Promise<unknown> => d.rest('POST', `/v1/resource-definitions/${rsc}/resources`, [{ resource: { node_name: vm3.name, props: { StorPoolName: POOL } } }])
    const removeVm2 = async (): Promise<void> => {
      s.ok(`delete the replica on ${vm2.name}`, await d.rest('DELETE', `/v1/resource-definitions/${rsc}/resources/${vm2.name}`))
      await s.until(`${rsc} gone from ${vm2.name}`, async () => !(await s.logicalVolumes(vm2, VG)).has(s.volumeName(rsc)), s.CONVERGE_MS)
    }
    const started = Date.now()
    if (drbd9) {
      s.ok(`replica on ${vm3.name}`, (await add()) as never)
      await waitReplicated(d, rsc, [vm1, vm2, vm3])
      await removeVm2()
    } else {
      const refused = (await add()) as { status: number; body: Array<{ message: string }> }
      t.ok(refused.status >= 400 && refused.status < 500, `a third replica on DRBD 8.4 is refused (${refused.status}): ${refused.body?.[0]?.message}`)
      t.match(refused.body?.[0]?.message ?? '', /8\.4/, 'the refusal names DRBD 8.4')
      t.ok(!(await s.logicalVolumes(vm3, VG)).has(s.volumeName(rsc)), `nothing was made on ${vm3.name}`)
      await removeVm2()
      s.ok(`replica on ${vm3.name}`, (await add()) as never)
    }
    await waitReplicated(d, rsc, [vm1, vm3])
    t.comment(`migrated from ${vm2.name} to ${vm3.name} in ${Date.now() - started} ms`)
    const status = await s.sh(vm1, ['drbdsetup', 'status', rsc])
    t.notMatch(status, vm2.name, `${vm1.name} no longer knows ${vm2.name} for ${rsc}`)
    await drbdadm(vm3, 'primary', rsc)
    t.equal(await s.readBack(vm3, device, mib), expected, `${vm3.name} has all the data`)
    await drbdadm(vm3, 'secondary', rsc)
    events?.close()
    await s.deleteResourceDefinition(d, rsc)
  })

  if (drbd9) await drbd9QuorumScenario(t, d, cluster)
}

/**
 * DRBD 9 only (the Vagrant nodes; the qemu VMs have 8.4): two replicas placed automatically get a
 * diskless tiebreaker on the third node and quorum by majority; a diskful node cut off loses quorum
 * while the other two keep it, and everything is UpToDate again once the link is back.
 */
export async function drbd9QuorumScenario(t: Test, d: Deployment, cluster: TestCluster): Promise<void> {
  const rsc = 'drbd_quorum'
  await t.test('DRBD 9: autoplace of two replicas adds a tiebreaker and quorum; a node cut off loses quorum, the others keep it', async (t) => {
    s.ok(`resource definition ${rsc}`, await d.rest('POST', '/v1/resource-definitions', { resource_definition: { name: rsc } }))
    s.ok(`volume definition ${rsc}/0`, await d.rest('POST', `/v1/resource-definitions/${rsc}/volume-definitions`, { volume_definition: { size_kib: NET_KIB } }))
    s.ok('autoplace', await d.rest('POST', `/v1/resource-definitions/${rsc}/autoplace`, { select_filter: { place_count: 2, storage_pool: POOL, layer_stack: ['DRBD', 'STORAGE'] } }))
    const rscs = s.ok('resources', await d.rest<Array<{ node_name: string; flags?: string[] }>>('GET', `/v1/resource-definitions/${rsc}/resources`))
    const tiebreakers = rscs.filter((r) => (r.flags ?? []).includes('TIE_BREAKER'))
    t.equal(rscs.length, 3, 'three resources: two diskful and a tiebreaker')
    t.equal(tiebreakers.length, 1, `one tiebreaker, on ${tiebreakers[0]?.node_name}`)
    const byName = new Map(cluster.nodes.map((n) => [n.name, n]))
    const tb = byName.get(tiebreakers[0]?.node_name ?? '')
    const [a, b] = rscs.filter((r) => r !== tiebreakers[0]).map((r) => byName.get(r.node_name))
    if (tb === undefined || a === undefined || b === undefined) throw new Error(`unexpected placement: ${JSON.stringify(rscs)}`)
    await waitReplicated(d, rsc, [a, b])
    t.match(await s.sh(tb, ['drbdsetup', 'status', rsc]), /disk:Diskless/, `${tb.name} is diskless`)
    t.match(await s.sh(a, ['drbdsetup', 'show', rsc]), /quorum\s+majority/, 'quorum is majority')

    await cluster.setLinkUp(b, false)
    await s.until(`${b.name} loses quorum`, async () => /quorum:no/.test(await s.sh(b, ['drbdsetup', 'status', rsc])), s.CONVERGE_MS)
    t.notMatch(await s.sh(a, ['drbdsetup', 'status', rsc]), /quorum:no/, `${a.name} keeps quorum with the tiebreaker`)
    await drbdadm(a, 'primary', rsc)
    const device = (await s.volumes(d, rsc, a))[0]!.device_path!
    const written = await s.writeRandom(a, device, 8)
    await drbdadm(a, 'secondary', rsc)
    await cluster.setLinkUp(b, true)
    await waitReplicated(d, rsc, [a, b])
    await drbdadm(b, 'primary', rsc)
    t.equal(await s.readBack(b, device, 8), written, `${b.name} has what ${a.name} wrote while it was cut off`)
    await drbdadm(b, 'secondary', rsc)
    await s.deleteResourceDefinition(d, rsc)
  })
}
