// DRBD's generic netlink family decoded, against messages captured in two VMs running Debian's
// kernel 6.1 with DRBD 8.4.11 (test/fixtures/genl/, made by integration/guest/drbd-genl-check.ts):
// one resource r0 between vm1 and vm2 while Inconsistent and connected, connected UpToDate with vm1
// Primary, syncing (vm2 invalidated), sync paused, and disconnected (vm1 StandAlone, vm2 Connecting).
// Each capture holds the kernel's raw datagrams and what drbdsetup and /proc/drbd said right after;
// the decoded state must equal what they print. The event stream is every datagram of the `events`
// group through all of that, beside `drbdsetup events2`'s lines for it.
//
// DRBD 9 cannot run here (Debian's kernel carries 8.4 only, and no DRBD 9 module is built): its
// messages are built from LINBIT's drbd-headers (linux/drbd_genl.h, drbd.h) instead.
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { attr, decodeNetlinkMessages, decodeGenl, decodeFamily, encodeGenlRequest, NLM_F, read, attrMap, type GenlFamily, type NetlinkMessage } from '../../../../../src/satellite/sys/genl.js'
import {
  connectionStateName,
  decodeDrbdMessage,
  decodeLegacyStatus,
  diskStateName,
  donePercent,
  DRBD_CMD,
  DRBD_MINOR_ANY,
  DRBD_NLA,
  DrbdState,
  drbdFlavor,
  encodeDrbdDump,
  mayPromote84,
  NOTIFY,
  NOTIFY_CONTINUES,
  replicationStateName,
  T,
  UUID_FLAG_STABLE,
  type DrbdMessage,
  type DrbdResourceStatus,
} from '../../../../../src/satellite/layers/drbd/drbd-genl.js'

interface Snapshot {
  flavor: string
  familyReply: string[]
  dumps: Record<string, { datagrams: string[]; error: string | null }>
  drbdsetup: { status: string; events2: string; procDrbd: string }
}

const fixture = (name: string): string => readFileSync(new URL(`../../../../fixtures/genl/${name}.json`, import.meta.url), 'utf8')
const snapshot = (name: string): Snapshot => JSON.parse(fixture(name)) as Snapshot
/** The family's messages of captured datagrams (without the NLMSG_DONE that ends each dump). */
const messages = (datagrams: string[]): NetlinkMessage[] => datagrams.flatMap((d) => decodeNetlinkMessages(Buffer.from(d, 'base64'))).filter((m) => m.type >= 0x10)
const familyOf = (s: Snapshot): GenlFamily => decodeFamily(decodeGenl(messages(s.familyReply)[0]!))

/** One line of `drbdsetup events2`: action, object, key:value fields. */
interface Events2Line {
  action: string
  kind: string
  fields: Map<string, string>
}

function parseEvents2(text: string): Events2Line[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && l !== 'exists -')
    .map((l) => {
      const [action, kind, ...rest] = l.split(' ')
      return { action: action!, kind: kind!, fields: new Map(rest.map((f) => [f.slice(0, f.indexOf(':')), f.slice(f.indexOf(':') + 1)])) }
    })
}

const suspendedText = (s: string[]): string => (s.length === 0 ? 'no' : s.join(','))
const kib = (sectors: bigint | null): string => (sectors === null ? 'null' : String(sectors / 2n))

/**
 * Checks every field drbdsetup printed on `line` against the decoded message (drbdsetup prints only
 * what changed: the fields it left out are not checked). Returns the names of the fields checked.
 */
function checkLine(t: Test, line: Events2Line, m: DrbdMessage, size: bigint | null, liveSync = false): string[] {
  const checked: string[] = []
  const expect = (key: string, value: string): void => {
    const printed = line.fields.get(key)
    if (printed === undefined) return
    if (liveSync && key === 'out-of-sync') {
      // The resync ran on (1 MiB/s) in the seconds between the dump and drbdsetup.
      t.ok(Number(value) - Number(printed) >= 0 && Number(value) - Number(printed) < 10240, `out-of-sync ${value} KiB, then ${printed}`)
    } else {
      t.equal(value, printed, `${line.action} ${line.kind} ${key}`)
    }
    checked.push(key)
  }
  if (!('state' in m)) {
    // destroy, helper, initial-state-done: no state to compare
  } else if (m.kind === 'resource') {
    expect('role', m.state.role)
    expect('suspended', suspendedText(m.state.suspended))
  } else if (m.kind === 'device') {
    expect('disk', m.state.diskState)
    expect('size', kib(m.state.sizeSectors))
    expect('minor', String(m.state.minor))
  } else if (m.kind === 'connection') {
    expect('connection', m.state.connectionState)
    expect('role', m.state.peerRole)
    expect('congested', m.state.congested ? 'yes' : 'no')
  } else if (m.kind === 'peer-device') {
    expect('replication', m.state.replicationState)
    expect('peer-disk', m.state.peerDiskState)
    expect('resync-suspended', suspendedText(m.state.resyncSuspended))
    expect('out-of-sync', kib(m.state.outOfSyncSectors))
    const done = line.fields.get('done')
    if (done !== undefined) t.equal(donePercent('8.4', m.state, size)?.toFixed(2), done)
  }
  if (m.kind !== 'initial-state-done' && m.kind !== 'other') expect('name', m.context.resource)
  if (m.kind !== 'initial-state-done' && m.kind !== 'other' && m.context.volume !== null) expect('volume', String(m.context.volume))
  return checked
}

// The states of the captures, each on both nodes, and how far apart the dumps and drbdsetup may be.
const SNAPSHOTS = ['connected-inconsistent', 'connected', 'syncing', 'sync-paused', 'disconnected'].flatMap((s) => [`${s}-vm1`, `${s}-vm2`])

t.test('the family is 8.4 and answers the events2 dumps', async (t) => {
  const s = snapshot('connected-vm1')
  const family = familyOf(s)
  t.equal(drbdFlavor(family), '8.4')
  t.equal(s.flavor, '8.4')
  t.equal(drbdFlavor({ ...family, version: 2 }), '9')
  for (const name of SNAPSHOTS) t.same(Object.values(snapshot(name).dumps).map((d) => d.error), [null, null, null, null, null, null], `${name}: every dump ended with NLMSG_DONE`)
})

t.test('DRBD_ADM_GET_INITIAL_STATE equals `drbdsetup events2 --now`', async (t) => {
  for (const name of SNAPSHOTS) {
    const s = snapshot(name)
    const decoded = messages(s.dumps.initialState!.datagrams).map((m) => decodeDrbdMessage('8.4', m))
    t.equal(decoded.at(-1)?.kind, 'initial-state-done', `${name}: ends with DRBD_INITIAL_STATE_DONE`)
    const objects = decoded.filter((m) => m.kind !== 'initial-state-done')
    const lines = parseEvents2(s.drbdsetup.events2)
    t.same(
      objects.map((m) => [m.kind === 'other' ? '?' : 'exists', m.kind]),
      lines.map((l) => [l.action, l.kind]),
      `${name}: the same objects in the same order`,
    )
    const size = objects.find((m) => m.kind === 'device')
    for (const [i, m] of objects.entries()) {
      const checked = checkLine(t, lines[i]!, m, size !== undefined && 'state' in size && size.kind === 'device' ? size.state.sizeSectors : null, name.startsWith('syncing'))
      t.ok(checked.length >= 3, `${name} ${m.kind}: ${checked.join(' ')}`)
    }
  }
})

/** `drbdsetup status --verbose --statistics` (v84): the facts of its first lines. */
function parseStatus(text: string): { role: string; disk: string; connection: string | null; peerRole: string | null; replication: string | null; peerDisk: string | null; done: string | null; resyncSuspended: string | null } {
  const m = (re: RegExp): string | null => re.exec(text)?.[1] ?? null
  return {
    role: m(/^r0 role:(\S+)/m)!,
    disk: m(/ disk:(\S+)/)!,
    connection: m(/peer connection:(\S+)/),
    peerRole: m(/peer connection:\S+ role:(\S+)/),
    replication: m(/replication:(\S+)/),
    peerDisk: m(/peer-disk:(\S+)/),
    done: m(/ done:(\S+)/),
    resyncSuspended: m(/resync-suspended:(\S+)/),
  }
}

function statusOf(s: Snapshot): DrbdResourceStatus {
  const state = new DrbdState('8.4')
  for (const dump of ['resources', 'devices', 'connections', 'peerDevices']) {
    for (const m of messages(s.dumps[dump]!.datagrams)) state.apply(decodeDrbdMessage('8.4', m))
  }
  t.same([...state.resources().keys()], ['r0'])
  return state.resource('r0')!
}

t.test('the four status dumps equal `drbdsetup status`', async (t) => {
  for (const name of SNAPSHOTS) {
    const s = snapshot(name)
    const want = parseStatus(s.drbdsetup.status)
    const r = statusOf(s)
    const c = r.connections[0]
    const p = c?.peerDevices[0]
    t.match(
      {
        role: r.role,
        disk: r.devices[0]?.diskState,
        connection: c?.connectionState ?? null,
        peerRole: c?.peerRole ?? null,
        replication: p?.replicationState ?? null,
        peerDisk: p?.peerDiskState ?? null,
        resyncSuspended: p === undefined ? null : suspendedText(p.resyncSuspended),
      },
      { ...want, done: undefined },
      name,
    )
    t.equal(r.promotionScore, null, '8.4 has no promotion score')
    // Every capture has a Primary (here or the peer) or an Inconsistent disk here: none may promote.
    t.equal(r.mayPromote, false, `${name}: may not promote`)
    if (want.done === null) {
      t.equal(p?.donePercent ?? null, null, `${name}: not syncing`)
    } else if (name.startsWith('sync-paused')) {
      t.equal(p?.donePercent?.toFixed(2), want.done, `${name}: paused, so the same figure`)
    } else {
      // Syncing at 1 MiB/s over 4 GiB (0.024 %/s); drbdsetup ran up to 2 s after the dumps.
      t.ok(Math.abs(p!.donePercent! - Number(want.done)) < 0.06, `${name}: done ${p!.donePercent!.toFixed(2)} ~ ${want.done}`)
    }
  }
  // vm2 connected is UpToDate under a Primary peer: once the peer is Secondary it may promote.
  const connected = statusOf(snapshot('connected-vm2'))
  const peerSecondary = connected.connections.map((c) => ({ ...c, peerRole: 'Secondary' }))
  t.equal(mayPromote84(connected, connected.devices, peerSecondary), true, 'UpToDate, nobody Primary: may promote')
  t.equal(mayPromote84(connected, connected.devices, connected.connections), false, 'the peer is Primary')
  t.equal(mayPromote84({ ...connected, role: 'Primary' }, connected.devices, peerSecondary), false, 'already Primary')
  t.equal(mayPromote84(connected, [], peerSecondary), false, 'no volume up')
  const diskless = connected.devices.map((d) => ({ ...d, diskState: 'Diskless' }))
  t.equal(mayPromote84(connected, diskless, peerSecondary), true, 'diskless, reading from a connected UpToDate peer')
  const peerOutdated = peerSecondary.map((c) => ({ ...c, peerDevices: c.peerDevices.map((p) => ({ ...p, peerDiskState: 'Outdated' })) }))
  t.equal(mayPromote84(connected, diskless, peerOutdated), false, 'diskless, the peer has no good data')
  t.equal(mayPromote84(connected, diskless, peerSecondary.map((c) => ({ ...c, connectionState: 'Connecting' }))), false, 'diskless, the peer not connected')
  t.equal(mayPromote84(connected, connected.devices.map((d) => ({ ...d, diskState: 'Outdated' })), peerSecondary), false, 'Outdated here')
  // vm1 disconnected is StandAlone: 8.4 lists no connection then (drbdsetup status shows no peer),
  // while the initial state still has one (events2 --now shows it).
  t.same(statusOf(snapshot('disconnected-vm1')).connections, [])
})

/** /proc/drbd's first minor: `cs:… ro:a/b ds:c/d`, the r--u-- flags, and sync'ed. */
function parseProc(text: string): { cs: string; ro: string; ds: string; flags: string; synced: string | null } {
  // The protocol letter is missing while StandAlone.
  const m = / 0: cs:(\S+) ro:(\S+) ds:(\S+)\s+(?:[ABC]\s+)?(\S+)/.exec(text)!
  return { cs: m[1]!, ro: m[2]!, ds: m[3]!, flags: m[4]!, synced: /sync'ed:\s*(\S+)%/.exec(text)?.[1] ?? null }
}

t.test("8.4's DRBD_ADM_GET_STATUS equals /proc/drbd", async (t) => {
  for (const name of SNAPSHOTS) {
    const s = snapshot(name)
    const [status] = messages(s.dumps.status!.datagrams).map(decodeLegacyStatus)
    const proc = parseProc(s.drbdsetup.procDrbd)
    t.match(status, { minor: 0, resource: 'r0', volume: 0 }, name)
    t.equal(status!.connectionState, proc.cs, `${name} cs`)
    t.equal(`${status!.role}/${status!.peerRole}`, proc.ro, `${name} ro`)
    t.equal(`${status!.diskState}/${status!.peerDiskState}`, proc.ds, `${name} ds`)
    // r: I/O running (s when suspended); then a(fter), p(eer), u(ser) resync pauses.
    const flags = `${status!.suspended ? 's' : 'r'}-${status!.resyncPaused.peer ? 'p' : '-'}${status!.resyncPaused.user ? 'u' : '-'}--`
    t.equal(flags, proc.flags, `${name} flags`)
    if (proc.synced !== null) t.ok(Math.abs(status!.syncedPerMille! / 10 - Number(proc.synced)) <= 0.2, `${name}: ${status!.syncedPerMille! / 10}% ~ ${proc.synced}%`)
  }
  t.throws(() => decodeLegacyStatus(messages(snapshot('connected-vm1').dumps.resources!.datagrams)[0]!), /not a DRBD_ADM_GET_STATUS/)
})

t.test('the events group, notification by notification, as `drbdsetup events2` printed it', async (t) => {
  const ev = JSON.parse(fixture('events-vm1')) as { flavor: string; familyId: number; datagrams: string[]; events2: string }
  const all = messages(ev.datagrams)
  t.ok(all.every((m) => m.type === ev.familyId && m.port === 0), 'multicast from the kernel, port 0')
  const decoded = all.map((m) => decodeDrbdMessage('8.4', m))
  // 8.4 also broadcasts its old DRBD_EVENT (drbdsetup's `events`) to the same group.
  t.ok(decoded.some((m) => m.kind === 'other' && m.cmd === DRBD_CMD.EVENT))
  const notifications = decoded.filter((m) => m.kind !== 'other')
  const lines = parseEvents2(ev.events2)
  t.same(
    notifications.map((m) => [m.kind === 'helper' ? m.action : 'action' in m ? m.action : '', m.kind]),
    lines.map((l) => [l.action, l.kind]),
    'the same notifications in the same order',
  )
  const state = new DrbdState('8.4')
  let size: bigint | null = null
  for (const [i, m] of notifications.entries()) {
    if (m.kind === 'device' && 'state' in m && m.state.sizeSectors !== null) size = m.state.sizeSectors
    checkLine(t, lines[i]!, m, size)
    if (m.kind === 'helper') t.equal(m.name, lines[i]!.fields.get('helper'))
    if (m.kind === 'helper' && m.action === 'response') t.equal(String(m.status), lines[i]!.fields.get('status'))
    t.equal(state.apply(m), m.kind === 'helper' ? null : 'r0')
  }
  // vm1 ended StandAlone: its connection and peer device were destroyed.
  t.match(state.resource('r0'), { role: 'Primary', devices: [{ diskState: 'UpToDate', volume: 0 }], connections: [] })
})

// DRBD 9: messages built from drbd-headers' drbd_genl.h (no DRBD 9 kernel here).
const FAMILY_9: GenlFamily = { name: 'drbd', id: 0x1c, version: 2, hdrSize: 8, ops: [30, 31, 32, 33, 38], groups: new Map([['events', 0x0b]]) }

function message9(cmd: number, minor: number, notify: number | null, attrs: Buffer[]): NetlinkMessage {
  const header = Buffer.alloc(8)
  header.writeUInt32LE(minor, 0)
  const nh = notify === null ? [] : [attr.nested(DRBD_NLA.NOTIFICATION_HEADER, [attr.u32(T.notificationHeader.type, notify)], false)]
  const [m] = decodeNetlinkMessages(encodeGenlRequest({ family: FAMILY_9.id, cmd, version: 2, flags: 0, seq: 0, header, attrs: [...nh, ...attrs] }))
  return m!
}

const ctx9 = (volume: number | null, peer: number | null): Buffer =>
  attr.nested(
    DRBD_NLA.CFG_CONTEXT,
    [
      attr.string(T.context.resourceName, 'pvc-1'),
      ...(volume === null ? [] : [attr.u32(T.context.volume, volume)]),
      ...(peer === null ? [] : [attr.u32(T.context.peerNodeId, peer), attr.string(T.context.connName, `node-${peer}`)]),
    ],
    false,
  )

t.test('DRBD 9 notifications and dumps, built from the headers', async (t) => {
  const decode = (m: NetlinkMessage): DrbdMessage => decodeDrbdMessage('9', m)
  const resource = (role: number, extra: Buffer[] = []): NetlinkMessage =>
    message9(DRBD_CMD.RESOURCE_STATE, DRBD_MINOR_ANY, NOTIFY.CHANGE, [ctx9(null, null), attr.nested(DRBD_NLA.RESOURCE_INFO, [attr.u32(T.resourceInfo.role, role), ...extra], false)])
  const device = (volume: number, disk: number, quorum: boolean): NetlinkMessage =>
    message9(DRBD_CMD.GET_DEVICES, 1000 + volume, null, [
      ctx9(volume, null),
      attr.nested(DRBD_NLA.DEVICE_INFO, [attr.u32(T.deviceInfo.diskState, disk), attr.u8(T.deviceInfo.hasQuorum, quorum ? 1 : 0)], false),
      attr.nested(DRBD_NLA.DEVICE_STATISTICS, [attr.u64(T.deviceStatistics.size, 2097152n)], false),
    ])
  const connection = (peer: number, conn: number, role: number): NetlinkMessage =>
    message9(DRBD_CMD.CONNECTION_STATE, DRBD_MINOR_ANY, NOTIFY.EXISTS | NOTIFY_CONTINUES, [
      ctx9(null, peer),
      attr.nested(DRBD_NLA.CONNECTION_INFO, [attr.u32(T.connectionInfo.connectionState, conn), attr.u32(T.connectionInfo.role, role)], false),
    ])
  const peerDevice = (peer: number, volume: number, repl: number, disk: number, stats: Buffer[]): NetlinkMessage =>
    message9(DRBD_CMD.PEER_DEVICE_STATE, 1000 + volume, NOTIFY.CHANGE, [
      ctx9(volume, peer),
      attr.nested(DRBD_NLA.PEER_DEVICE_INFO, [attr.u32(T.peerDeviceInfo.replState, repl), attr.u32(T.peerDeviceInfo.diskState, disk), attr.u32(T.peerDeviceInfo.suspMaxParallel, 1)], false),
      attr.nested(DRBD_NLA.PEER_DEVICE_STATISTICS, stats, false),
    ])

  // enum drbd_disk_state: 9 has D_DETACHING at 2, so UpToDate is 9 (8 in 8.4).
  t.equal(diskStateName('9', 9), 'UpToDate')
  t.equal(diskStateName('8.4', 8), 'UpToDate')
  t.equal(diskStateName('9', 2), 'Detaching')
  t.equal(connectionStateName('9', 9), 'Connected')
  t.equal(connectionStateName('9', 8), 'Connecting')
  t.equal(replicationStateName('9', 17), 'SyncTarget')
  t.equal(replicationStateName('9', 9), 'Off')
  t.equal(replicationStateName('9', 3), '?3', 'below L_OFF is no replication state')
  t.equal(diskStateName('9', 12), '?12')

  const rsc = decode(resource(2, [attr.u8(T.resourceInfo.suspQuorum, 1)]))
  t.match(rsc, { kind: 'resource', action: 'change', continues: false, context: { resource: 'pvc-1', volume: null, peerNodeId: null }, state: { role: 'Secondary', suspended: ['quorum'] } })
  t.match(decode(connection(2, 9, 2)), { kind: 'connection', action: 'exists', continues: true, context: { peerNodeId: 2, connectionName: 'node-2' }, state: { connectionState: 'Connected', peerRole: 'Secondary' } })
  t.match(decode(message9(DRBD_CMD.INITIAL_STATE_DONE, DRBD_MINOR_ANY, NOTIFY.EXISTS, [])), { kind: 'initial-state-done' })
  t.match(decode(message9(DRBD_CMD.PATH_STATE, DRBD_MINOR_ANY, NOTIFY.CHANGE, [ctx9(null, 2)])), { kind: 'other', cmd: DRBD_CMD.PATH_STATE })
  t.match(decode(message9(DRBD_CMD.RESOURCE_STATE, DRBD_MINOR_ANY, NOTIFY.RENAME, [ctx9(null, null)])), { kind: 'other' }, 'a rename is not a state')
  t.throws(() => decode(message9(DRBD_CMD.DEVICE_STATE, 1000, NOTIFY.CHANGE, [ctx9(0, null)])), /without dev_disk_state/)

  const state = new DrbdState('9')
  // Volume 0 syncs from peer 2 with resync counters (rs_total 1000 sectors, 250 out of sync, 50 failed).
  for (const m of [
    resource(2),
    device(0, 5 /* Inconsistent */, true),
    device(1, 9 /* UpToDate */, true),
    connection(2, 9, 2),
    connection(3, 9, 2),
    peerDevice(2, 0, 17 /* SyncTarget */, 9, [attr.u64(T.peerDeviceStatistics.rsTotal, 1000n), attr.u64(T.peerDeviceStatistics.outOfSync, 250n), attr.u64(T.peerDeviceStatistics.resyncFailed, 50n), attr.u64(T.peerDeviceStatistics.uuidFlags, UUID_FLAG_STABLE)]),
    peerDevice(2, 1, 10 /* Established */, 9, []),
    peerDevice(3, 0, 10, 7 /* DUnknown */, []),
    peerDevice(3, 1, 10, 9, []),
  ])
    state.apply(decode(m))
  const r = state.resource('pvc-1')!
  t.same(
    r.devices.map((d) => [d.volume, d.minor, d.diskState, d.sizeSectors]),
    [
      [0, 1000, 'Inconsistent', 2097152n],
      [1, 1001, 'UpToDate', 2097152n],
    ],
  )
  t.same(
    r.connections.map((c) => [c.peerNodeId, c.connectionName, c.peerDevices.map((p) => [p.volume, p.replicationState, p.peerDiskState, p.resyncSuspended, p.donePercent])]),
    [
      [2, 'node-2', [[0, 'SyncTarget', 'UpToDate', ['max-parallel'], 80], [1, 'Established', 'UpToDate', ['max-parallel'], null]]],
      [3, 'node-3', [[0, 'Established', 'DUnknown', ['max-parallel'], null], [1, 'Established', 'UpToDate', ['max-parallel'], null]]],
    ],
  )
  // Every volume has quorum and a stable UpToDate replica (volume 0: peer 2, stable; volume 1: here),
  // nobody is Primary: promotable. Score: volume 0 Inconsistent still has a disk (10000), one local
  // UpToDate volume (100), fewest UpToDate replicas of a volume 1 (volume 0: peer 2 only).
  t.match(r, { mayPromote: true, promotionScore: 10101 })
  // A Primary peer forbids it; a volume without quorum or without a stable UpToDate replica zeroes it.
  state.apply(decode(connection(3, 9, 1)))
  t.match(state.resource('pvc-1'), { mayPromote: false, promotionScore: 10101 })
  state.apply(decode(connection(3, 9, 2)))
  state.apply(decode(device(1, 9, false)))
  t.match(state.resource('pvc-1'), { mayPromote: false, promotionScore: 0 })
  state.apply(decode(device(1, 9, true)))
  state.apply(decode(peerDevice(2, 0, 17, 9, [attr.u64(T.peerDeviceStatistics.rsTotal, 1000n), attr.u64(T.peerDeviceStatistics.outOfSync, 250n)])))
  t.match(state.resource('pvc-1'), { mayPromote: false, promotionScore: 10101 }, 'the peer is UpToDate but not stable')

  // Destroying a connection takes its peer devices along; destroying the resource, everything.
  state.apply(decode(message9(DRBD_CMD.CONNECTION_STATE, DRBD_MINOR_ANY, NOTIFY.DESTROY, [ctx9(null, 3), attr.nested(DRBD_NLA.CONNECTION_INFO, [attr.u32(1, 0), attr.u32(2, 0)], false)])))
  t.same(state.resource('pvc-1')!.connections.map((c) => c.peerNodeId), [2])
  t.same(state.resource('pvc-1')!.connections[0]!.peerDevices.length, 2)
  state.apply(decode(message9(DRBD_CMD.RESOURCE_STATE, DRBD_MINOR_ANY, NOTIFY.DESTROY, [ctx9(null, null), attr.nested(DRBD_NLA.RESOURCE_INFO, [attr.u32(1, 0)], false)])))
  t.equal(state.resource('pvc-1'), null)
  t.same([...state.resources().keys()], [])
  t.equal(state.apply({ kind: 'initial-state-done' }), null)
})

t.test("drbdsetup's done percentage", async (t) => {
  const base = { minor: 0, replicationState: 'SyncTarget', peerDiskState: 'UpToDate', resyncSuspended: [], resyncFailedSectors: 0n, resyncTotalSectors: null, verifyLeftSectors: null, uuidFlags: null, syncing: true, replicationStateNumber: 17, peerDiskStateNumber: 9 }
  t.equal(donePercent('8.4', { ...base, outOfSyncSectors: 250n }, 1000n), 75)
  t.equal(donePercent('8.4', { ...base, outOfSyncSectors: 250n }, null), null, 'no device size')
  t.equal(donePercent('8.4', { ...base, outOfSyncSectors: 250n, syncing: false }, 1000n), null)
  // 9 without resync counters (rs_total ~0): as 8.4, except while verifying.
  t.equal(donePercent('9', { ...base, outOfSyncSectors: 250n, resyncTotalSectors: 0xffffffffffffffffn }, 1000n), 75)
  t.equal(donePercent('9', { ...base, outOfSyncSectors: 250n, replicationStateNumber: 19 }, 1000n), null)
  // A verify counts what it has left.
  t.equal(donePercent('9', { ...base, outOfSyncSectors: 0n, resyncTotalSectors: 400n, verifyLeftSectors: 100n, replicationStateNumber: 19 }, 1000n), 75)
})

t.test('a dump request', async (t) => {
  const [all] = decodeNetlinkMessages(encodeDrbdDump(FAMILY_9, DRBD_CMD.GET_DEVICES, 42))
  t.match(all, { type: FAMILY_9.id, flags: NLM_F.REQUEST | NLM_F.DUMP, seq: 42 })
  const g = decodeGenl(all!, 8)
  t.match(g, { cmd: DRBD_CMD.GET_DEVICES, version: 2 })
  t.equal(g.header.readUInt32LE(0), DRBD_MINOR_ANY)
  t.equal(g.header.readUInt32LE(4), 0)
  t.equal(g.attrs.length, 0)
  const [one] = decodeNetlinkMessages(encodeDrbdDump(FAMILY_9, DRBD_CMD.GET_DEVICES, 43, 'r0'))
  const ctx = attrMap(decodeGenl(one!, 8).attrs).get(DRBD_NLA.CFG_CONTEXT)!
  t.equal(ctx.nested, false, 'no NLA_F_NESTED, as drbdsetup sends it')
  t.equal(read.string(read.nested(ctx).get(T.context.resourceName)!), 'r0')
})

// DrbdGenl over a GenlConnection whose socket is a fake answering from the captures: each request is
// decoded and answered with the datagrams the kernel sent for it (sequence numbers and port
// rewritten), and notifications are pushed as the kernel multicasts them.
t.test('DrbdGenl: family, status and events over a connection', async (t) => {
  const s = snapshot('sync-paused-vm2')
  const ev = JSON.parse(fixture('events-vm1')) as { datagrams: string[] }
  const PORT = 4242
  let deliver: (err: Error | null, datagram: Buffer | null, port: number, uid: number, truncated: boolean) => void = () => undefined
  const sent: { type: number; cmd: number; flags: number }[] = []
  const CMD_DUMP: Record<number, string> = { [DRBD_CMD.GET_RESOURCES]: 'resources', [DRBD_CMD.GET_DEVICES]: 'devices', [DRBD_CMD.GET_CONNECTIONS]: 'connections', [DRBD_CMD.GET_PEER_DEVICES]: 'peerDevices' }
  const joined: number[] = []
  // The kernel's datagrams for one request, renumbered to its sequence and our port.
  const answer = (datagrams: string[], seq: number): Buffer[] =>
    datagrams.map((d) => {
      const b = Buffer.from(d, 'base64')
      for (let off = 0; off < b.length; off += (b.readUInt32LE(off) + 3) & ~3) {
        b.writeUInt32LE(seq, off + 8)
        b.writeUInt32LE(PORT, off + 12)
      }
      return b
    })
  const fakeSocket = {
    close: () => undefined,
    ref: () => undefined,
    unref: () => undefined,
    addMembership: (g: number) => joined.push(g),
    send(request: Buffer) {
      const [m] = decodeNetlinkMessages(request)
      const g = decodeGenl(m!)
      sent.push({ type: m!.type, cmd: g.cmd, flags: m!.flags })
      const replies = m!.type === 0x10 ? answer(s.familyReply, m!.seq) : answer(s.dumps[CMD_DUMP[g.cmd]!]!.datagrams, m!.seq)
      // Replies come on a later turn of the loop, as from the socket.
      setImmediate(() => {
        for (const r of replies) deliver(null, r, 0, 0, false)
      })
    },
  }
  const realNative = await import('../../../../../src/satellite/sys/native.js')
  const { GenlConnection } = await t.mockImport<typeof import('../../../../../src/satellite/sys/genl.js')>('../../../../../src/satellite/sys/genl.js', {
    '../../../../../src/satellite/sys/native.js': {
      ...realNative,
      native: () => ({
        genlOpen: (_rcvbuf: number, cb: typeof deliver) => {
          deliver = cb
          return fakeSocket
        },
      }),
    },
  })
  const { DrbdGenl } = await import('../../../../../src/satellite/layers/drbd/drbd-genl.js')
  const conn = new GenlConnection()
  const drbd = await DrbdGenl.open(conn)
  t.equal(drbd.flavor, '8.4')
  const state = await drbd.status()
  t.same(
    sent.map((r) => [r.type, r.cmd]),
    [
      [0x10, 3],
      [32, DRBD_CMD.GET_RESOURCES],
      [32, DRBD_CMD.GET_DEVICES],
      [32, DRBD_CMD.GET_CONNECTIONS],
      [32, DRBD_CMD.GET_PEER_DEVICES],
    ],
  )
  t.ok(sent.slice(1).every((r) => (r.flags & NLM_F.DUMP) === NLM_F.DUMP))
  t.match(state.resource('r0'), {
    role: 'Secondary',
    devices: [{ diskState: 'Inconsistent' }],
    connections: [{ connectionState: 'Connected', peerRole: 'Primary', peerDevices: [{ replicationState: 'PausedSyncT', peerDiskState: 'UpToDate', resyncSuspended: ['peer'] }] }],
  })
  t.equal(state.resource('r0')!.connections[0]!.peerDevices[0]!.donePercent!.toFixed(2), '0.32')

  // Notifications: the events group is joined, the family's messages are decoded, others are not.
  const seen: DrbdMessage[] = []
  const stop = drbd.subscribe((m) => seen.push(m))
  t.same(joined, [9])
  for (const d of ev.datagrams) deliver(null, Buffer.from(d, 'base64'), 0, 0, false)
  const other = Buffer.from(ev.datagrams[0]!, 'base64')
  other.writeUInt16LE(0x33, 4)
  deliver(null, other, 0, 0, false)
  const bad = Buffer.from(ev.datagrams[0]!, 'base64')
  bad.writeUInt16LE(0xfff0, 16 + 4 + 8) // the first attribute's length (after drbd_genlmsghdr) now overruns the message
  deliver(null, bad, 0, 0, false)
  t.equal(seen.length, ev.datagrams.length, 'one per datagram of the family, none for the others')
  // Not from the kernel, or cut short: dropped before decoding.
  deliver(null, Buffer.from(ev.datagrams[1]!, 'base64'), 77, 0, false)
  deliver(null, Buffer.from(ev.datagrams[1]!, 'base64'), 0, 0, true)
  t.equal(conn.dropped, 2)
  t.equal(seen.length, ev.datagrams.length)
  stop()
  deliver(null, Buffer.from(ev.datagrams[1]!, 'base64'), 0, 0, false)
  t.equal(seen.length, ev.datagrams.length, 'no more after stop()')

  // A lost datagram (ENOBUFS) fails what was pending and says so; other errors too.
  const overflow = new realNative.SysError(105, 'recvmsg', 'NETLINK_GENERIC')
  const overflows: Error[] = []
  conn.on('overflow', (e: Error) => overflows.push(e))
  const pending = conn.dump(() => encodeDrbdDump(drbd.family, DRBD_CMD.GET_RESOURCES, 1), 'drbd')
  deliver(overflow, null, 0, -1, false)
  await t.rejects(pending, { code: 'ENOBUFS' })
  t.same(overflows, [overflow])
  const errors: Error[] = []
  conn.on('error', (e: Error) => errors.push(e))
  deliver(new realNative.SysError(22, 'recvmsg', 'NETLINK_GENERIC'), null, 0, -1, false)
  t.equal(errors.length, 1)
  // Wait for the answers of the dump above (sent before the overflow) to drain.
  await new Promise((resolve) => setImmediate(resolve))
  conn.close()
  t.ok(conn.closed)
})
