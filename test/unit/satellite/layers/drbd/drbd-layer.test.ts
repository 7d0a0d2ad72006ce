// The DRBD layer: superblock detection, drbdadm's argv, the steps planned from the kernel's state,
// how and when the initial sync is skipped or started, the report, and the layer's commands against a fake kernel.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { setLogSink } from '../../../../../src/common/log.js'
import type { ResourceDesired } from '../../../../../src/proto/messages.js'
import type { DrbdGenl, DrbdResourceStatus } from '../../../../../src/satellite/layers/drbd/drbd-genl.js'
import {
  drbdadmArgv,
  DrbdCommandError,
  DrbdLayer,
  drbdObservation,
  mdFormat,
  initialSync,
  planUp,
  removedPeers,
  superblockOffset,
  versionOf,
  type DrbdPlanInput,
} from '../../../../../src/satellite/layers/drbd/drbd-layer.js'
import { TerminalError } from '../../../../../src/satellite/reconcile/errors.js'
import type { VolumeFacts } from '../../../../../src/satellite/providers/provider.js'

setLogSink(null)

const rsc = (over: Partial<ResourceDesired> = {}): ResourceDesired => ({
  name: 'r1',
  generation: 1n,
  deleted: false,
  layers: ['DRBD', 'STORAGE'],
  flags: [],
  props: {},
  volumes: [{ number: 0, netSizeKib: 65536, grossSizeKib: 65540, storPoolName: 'thin', providerKind: 'LVM_THIN', storPoolProps: {}, props: {}, drbdMinor: 1000, newReplicasZeroed: true }],
  drbd: { nodeId: 0, address: '10.99.0.11', port: 7000, peerSlots: 7, peers: [{ nodeName: 'vm2', nodeId: 1, address: '10.99.0.12', port: 7000, diskless: false }] },
  ...over,
})

/** `rsc()` where the controller says a replica is in a pool that is not zeroed (a thick peer, or this node). */
const notZeroed = (): ResourceDesired => {
  const r = rsc()
  const { newReplicasZeroed: _, ...v } = r.volumes[0]!
  return { ...r, volumes: [v] }
}

/** A DRBD 8.4 status as drbd-genl decodes it: one volume, one peer (no node ids on 8.4). */
function status(o: { disk?: string; conn?: string; repl?: string; peerDisk?: string; role?: string; peerRole?: string; done?: number | null; device?: boolean; connection?: boolean; mayPromote?: boolean } = {}): DrbdResourceStatus {
  const peerDevice = {
    volume: 0, minor: 1000, replicationState: o.repl ?? 'Established', peerDiskState: o.peerDisk ?? 'UpToDate', resyncSuspended: [],
    outOfSyncSectors: 0n, resyncFailedSectors: null, resyncTotalSectors: null, verifyLeftSectors: null, uuidFlags: null,
    syncing: o.done !== undefined && o.done !== null, replicationStateNumber: 10, peerDiskStateNumber: 8, donePercent: o.done ?? null,
  }
  return {
    name: 'r1', role: o.role ?? 'Secondary', suspended: [], failIo: false, mayPromote: o.mayPromote ?? false, promotionScore: null,
    devices: o.device === false ? [] : [{ volume: 0, minor: 1000, diskState: o.disk ?? 'UpToDate', sizeSectors: 131072n, hasQuorum: true, intentionalDiskless: false }],
    connections: o.connection === false ? [] : [{ connectionState: o.conn ?? 'Connected', peerRole: o.peerRole ?? 'Secondary', congested: false, peerNodeId: null, connectionName: null, peerDevices: o.device === false ? [] : [peerDevice] }],
  }
}

t.test('superblock: the last 4 KiB block; the magic at byte 60, big-endian', async (t) => {
  t.equal(superblockOffset(64 * 1024 * 1024), 64 * 1024 * 1024 - 4096)
  t.equal(superblockOffset(8192 + 512), 4096, 'a size not a multiple of 4 KiB: the last whole block')
  t.throws(() => superblockOffset(4000), RangeError)
  const block = Buffer.alloc(4096)
  t.equal(mdFormat(block), null, 'zeros (a new thin volume) are no metadata')
  for (const [magic, format] of [[0x8374026b, 'v08'], [0x8374026c, 'v08 (not cleanly detached)'], [0x8374026d, 'v09']] as const) {
    block.writeUInt32BE(magic, 60)
    t.equal(mdFormat(block), format)
  }
  block.writeUInt32LE(0x8374026b, 60)
  t.equal(mdFormat(block), null, 'little-endian is not DRBD’s')
  t.equal(mdFormat(Buffer.alloc(32)), null, 'a short read holds no superblock')
})

/**
 * The first 128 bytes of the last 4 KiB block of an 8 MiB LV after `drbdmeta --force <minor> v08|v09
 * <lv> internal create-md` (drbd-utils 9.22 in the VM, DRBD 8.4.11 kernel), read with direct I/O.
 */
const CAPTURED = {
  v08: 'AAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACAg3QCawAAAFD////AAAABAf///7gAABAAAAAAAAAAAAEAAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  v09: 'AAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACAg3QCbQAAAFD////AAAABAf///7gAABAAAAAAAAAAAAf/////AAAAAQAAAAgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
}

t.test('superblocks drbdmeta wrote in the VM are recognised in the block superblockOffset names', async (t) => {
  t.equal(superblockOffset(8 * 1024 * 1024) / 4096, 2047, 'the block read there (dd skip=2047 of 4 KiB blocks)')
  for (const [format, b64] of Object.entries(CAPTURED)) {
    const block = Buffer.alloc(4096)
    Buffer.from(b64, 'base64').copy(block)
    t.equal(mdFormat(block), format)
  }
})

t.test('drbdadm argv: our configuration, options after --, command, target', async (t) => {
  t.strictSame(drbdadmArgv('/s/drbd.conf', 'adjust', 'r1'), ['-c', '/s/drbd.conf', 'adjust', 'r1'])
  t.strictSame(drbdadmArgv('/s/drbd.conf', 'create-md', 'r1/0', ['--force']), ['-c', '/s/drbd.conf', '--', '--force', 'create-md', 'r1/0'])
  t.strictSame(drbdadmArgv('/c', 'new-current-uuid', 'r1/0', ['--clear-bitmap']), ['-c', '/c', '--', '--clear-bitmap', 'new-current-uuid', 'r1/0'])
})

t.test('kernel versions map to the configuration syntax', async (t) => {
  t.equal(versionOf('8.4.11'), 8)
  t.equal(versionOf('9.2.12'), 9)
  t.equal(versionOf('8.3.16'), null)
})

t.test('planned steps', async (t) => {
  const plan = (o: Partial<DrbdPlanInput>): string[] =>
    planUp({ rsc: rsc(), version: 8, resFile: { wanted: 'A', onDisk: 'A' }, status: status(), metadata: new Map(), ...o }).map((s) => ('volume' in s ? `${s.op} ${s.volume}` : s.op))
  t.strictSame(plan({ resFile: { wanted: 'A', onDisk: null }, status: null, metadata: new Map([[0, null]]) }), ['write-res', 'create-md 0', 'adjust'], 'new: file, metadata, adjust')
  t.strictSame(plan({ resFile: { wanted: 'A', onDisk: null }, status: null, metadata: new Map([[0, 'v08']]) }), ['write-res', 'adjust'], 'metadata found: kept')
  t.strictSame(plan({}), [], 'up as desired: nothing, not even adjust')
  t.strictSame(plan({ status: status({ conn: 'Connecting', repl: 'Off', peerDisk: 'DUnknown' }) }), [], 'a peer being connected to is left to DRBD')
  t.strictSame(plan({ resFile: { wanted: 'B', onDisk: 'A' } }), ['write-res', 'adjust'], 'a changed file is adjusted')
  t.strictSame(plan({ status: status({ conn: 'StandAlone' }) }), ['adjust'], 'StandAlone: adjust connects again')
  t.strictSame(plan({ status: status({ connection: false }) }), ['adjust'], 'no connection to the peer')
  t.strictSame(plan({ status: status({ disk: 'Diskless' }), metadata: new Map([[0, 'v08']]) }), ['adjust'], 'a disk detached: attached again')
  t.strictSame(plan({ status: status({ device: false }), metadata: new Map([[0, null]]) }), ['create-md 0', 'adjust'], 'a volume not up without metadata')
  t.strictSame(plan({ metadata: new Map([[0, null]]) }), [], 'an attached disk is never given new metadata')
  const grown = rsc({ volumes: [{ ...rsc().volumes[0]!, netSizeKib: 131008 }] })
  t.strictSame(plan({ rsc: grown, status: status({ role: 'Primary' }) }), ['resize 0'], 'desired bigger than DRBD shows: resize')
  t.strictSame(plan({ rsc: grown }), [], 'DRBD 8.4 without a Primary: the resize waits for one')
  t.strictSame(plan({ rsc: grown, status: status({ role: 'Primary', repl: 'SyncSource', peerDisk: 'Inconsistent', done: 50 }) }), [], 'resyncing (the peer resized first): nothing to do')
  t.strictSame(plan({ rsc: grown, version: 9 }), ['resize 0'], 'DRBD 9 resizes without a Primary')
  t.strictSame(plan({ rsc: grown, status: status({ disk: 'Diskless' }), metadata: new Map([[0, 'v08']]) }), ['adjust'], 'no disk attached: nothing to resize yet')
  const dl = rsc({ flags: ['DRBD_DISKLESS'] })
  t.strictSame(plan({ rsc: dl, status: status({ disk: 'Diskless' }), metadata: new Map([[0, null]]) }), [], 'diskless here: no metadata, Diskless is as desired')
  const withPeer2 = '    on "vm1" {\n        node-id 0;\n    }\n    on "vm2" {\n        node-id 1;\n    }\n    on "vm3" {\n        node-id 2;\n    }\n'
  const forget = (o: Partial<DrbdPlanInput>): string[] => planUp({ rsc: rsc(), version: 9, resFile: { wanted: 'A', onDisk: withPeer2 }, status: status(), metadata: new Map(), ...o }).map((s) => ('nodeId' in s ? `${s.op} ${s.nodeId}` : s.op))
  t.strictSame(forget({}), ['write-res', 'adjust', 'forget-peer 2'], 'DRBD 9: a removed peer is forgotten after adjust drops it')
  t.strictSame(forget({ version: 8 }), ['write-res', 'adjust'], '8.4 has no forget-peer')
  t.strictSame(forget({ rsc: dl, status: status({ disk: 'Diskless' }) }), ['write-res', 'adjust'], 'diskless here: no bitmap to free')
})

t.test('initial sync: decided on the lowest diskful node id, every replica new, Inconsistent and connected', async (t) => {
  const both = status({ disk: 'Inconsistent', peerDisk: 'Inconsistent' })
  const skip = new Map([[0, 'skip' as const]])
  const full = new Map([[0, 'full' as const]])
  t.strictSame(initialSync(rsc(), both, skip), { skip: [0], force: false }, 'new zeroed volumes: the sync is skipped')
  t.strictSame(initialSync(rsc(), both, full), { skip: [], force: true }, 'new volumes of any content: a full sync from here')
  t.strictSame(initialSync(rsc(), both, new Map()), { skip: [], force: false }, 'metadata not made by this process')
  t.strictSame(initialSync(rsc({ drbd: { ...rsc().drbd!, nodeId: 2 } }), both, full), { skip: [], force: false }, 'the peer has the lower node id: it decides')
  for (const peerDisk of ['UpToDate', 'Outdated', 'Consistent']) {
    t.strictSame(initialSync(rsc(), status({ disk: 'Inconsistent', peerDisk }), full), { skip: [], force: false }, `the peer is ${peerDisk}: it has data`)
  }
  t.strictSame(initialSync(rsc(), status({ disk: 'Outdated', peerDisk: 'Inconsistent' }), full), { skip: [], force: false }, 'Outdated here: this one has data')
  t.strictSame(initialSync(rsc(), status({ disk: 'Inconsistent', peerDisk: 'DUnknown', conn: 'Connecting', repl: 'Off' }), full), { skip: [], force: false }, 'not connected yet')
  t.strictSame(initialSync(rsc(), null, full), { skip: [], force: false })
  t.strictSame(initialSync(rsc(), status({ disk: 'Inconsistent', peerDisk: 'Inconsistent', connection: false }), full), { skip: [], force: false }, 'no connection at all')
  t.strictSame(initialSync(rsc(), status({ disk: 'Inconsistent', peerDisk: 'Inconsistent', peerRole: 'Primary' }), full), { skip: [], force: false }, 'a Primary peer: no force')
  t.strictSame(initialSync(rsc({ flags: ['DRBD_DISKLESS'] }), both, full), { skip: [], force: false }, 'diskless here')
  const withDisklessPeer = rsc({ drbd: { ...rsc().drbd!, nodeId: 3, peers: [...rsc().drbd!.peers, { nodeName: 'tb', nodeId: 0, address: '10.99.0.13', port: 7000, diskless: true }] } })
  const nine = (s: DrbdResourceStatus): DrbdResourceStatus => ({ ...s, connections: s.connections.map((c) => ({ ...c, peerNodeId: 1 })) })
  t.strictSame(initialSync(withDisklessPeer, nine(both), full), { skip: [], force: false }, 'node id 1 (diskful) is lower than 3')
  // DRBD 9, this node 0, a diskful peer 1 and a diskless tiebreaker 2: the tiebreaker's Diskless does not hold it back.
  const tiebroken = rsc({ drbd: { ...rsc().drbd!, peers: [...rsc().drbd!.peers, { nodeName: 'tb', nodeId: 2, address: '10.99.0.13', port: 7000, diskless: true }] } })
  const tb = { ...both.connections[0]!, peerNodeId: 2, peerDevices: both.connections[0]!.peerDevices.map((p) => ({ ...p, peerDiskState: 'Diskless' })) }
  t.strictSame(initialSync(tiebroken, { ...nine(both), connections: [...nine(both).connections, tb] }, full), { skip: [], force: true }, 'with a diskless tiebreaker')
  t.strictSame(initialSync(tiebroken, nine(both), full), { skip: [], force: true }, 'the tiebreaker not connected: no matter')
  t.strictSame(initialSync(tiebroken, { ...nine(both), connections: [tb] }, full), { skip: [], force: false }, 'only the tiebreaker connected')
  // Two volumes: 0 a new thin one, 1 a new thick one; then 1 added to a resource whose 0 is in use.
  const two = rsc({ volumes: [rsc().volumes[0]!, { ...rsc().volumes[0]!, number: 1, providerKind: 'LVM', drbdMinor: 1001 }] })
  const volumes = (disks: [string, string][]): DrbdResourceStatus => {
    const s = status()
    const pd = s.connections[0]!.peerDevices[0]!
    return {
      ...s,
      devices: disks.map(([disk], volume) => ({ ...s.devices[0]!, volume, minor: 1000 + volume, diskState: disk })),
      connections: [{ ...s.connections[0]!, peerDevices: disks.map(([, peerDisk], volume) => ({ ...pd, volume, minor: 1000 + volume, peerDiskState: peerDisk })) }],
    }
  }
  const mixed = new Map([[0, 'skip' as const], [1, 'full' as const]])
  t.strictSame(initialSync(two, volumes([['Inconsistent', 'Inconsistent'], ['Inconsistent', 'Inconsistent']]), mixed), { skip: [0], force: true }, 'the thin one skipped, then the thick one synced')
  t.strictSame(initialSync(two, volumes([['UpToDate', 'UpToDate'], ['Inconsistent', 'Inconsistent']]), new Map([[1, 'full' as const]])), { skip: [], force: true }, 'a new volume beside one UpToDate everywhere')
  t.strictSame(initialSync(two, volumes([['Inconsistent', 'UpToDate'], ['Inconsistent', 'Inconsistent']]), new Map([[1, 'full' as const]])), { skip: [], force: false }, 'forcing would overrule the peer on volume 0')
})

t.test('removed peers: node ids of the file on disk that desired state no longer names', async (t) => {
  const file = (ids: number[]): string => ids.map((id) => `    on "n${id}" {\n        node-id ${id};\n    }\n`).join('')
  t.strictSame(removedPeers(rsc(), file([0, 1, 2, 5])), [2, 5])
  t.strictSame(removedPeers(rsc(), file([0, 1])), [])
  t.strictSame(removedPeers(rsc(), null), [], 'no file yet')
  t.strictSame(removedPeers(rsc(), '    on "n0" {\n        volume 0 {\n'), [], 'DRBD 8.4 files have no node ids')
})

t.test('report: DRBD device, disk state, size, peers by name, Primary', async (t) => {
  const o = drbdObservation(rsc(), status({ disk: 'UpToDate', repl: 'SyncSource', peerDisk: 'Inconsistent', done: 42.26, role: 'Primary' }))
  t.strictSame([...o.volumes], [[0, { devicePath: '/dev/drbd1000', diskState: 'UpToDate', usableKib: 65536, peers: [{ peerNodeName: 'vm2', replicationState: 'SyncSource', peerDiskState: 'Inconsistent', syncPercent: 42.3 }] }]])
  t.strictSame(o.connections, [{ peerNodeName: 'vm2', state: 'Connected' }])
  t.equal(o.primary, true)
  t.equal(o.syncing, true, 'a peer is SyncTarget: the percentage moves')
  t.equal(o.mayPromote, false)
  t.equal(o.promotionScore, undefined, '8.4 gives no score')
  t.equal(drbdObservation(rsc(), status()).syncing, false)
  t.match(drbdObservation(rsc(), { ...status(), mayPromote: true, promotionScore: 10101 }), { mayPromote: true, promotionScore: 10101 })
  const down = drbdObservation(rsc(), null)
  t.equal(down.mayPromote, undefined, 'not up: unknown')
  t.strictSame([...down.volumes], [[0, { devicePath: '/dev/drbd1000', peers: [] }]], 'not up: where the device will be, no state')
  t.equal(down.primary, false)
  const nine = drbdObservation(rsc(), { ...status(), connections: status().connections.map((c) => ({ ...c, peerNodeId: 1 })) })
  t.equal(nine.connections[0]?.peerNodeName, 'vm2', 'DRBD 9: the peer by node id')
})

/** The layer over a temporary directory, a scripted kernel state and recorded commands. */
async function fakeLayer(t: Test, states: Array<DrbdResourceStatus | null>, md: string | null = null, confDir?: string) {
  const dir = confDir ?? (await mkdtemp(join(tmpdir(), 'drbd-layer-')))
  if (confDir === undefined) t.teardown(() => rm(dir, { recursive: true, force: true }))
  const calls: string[] = []
  let i = 0
  let retry = false
  // As DRBD 8.4.11: a dump filtered by resource fails; the unfiltered one answers.
  const genl = {
    status: async (name?: string) => {
      // Each status read takes the next state; the unfiltered retry after a failed filtered one sees the same.
      const s = states[Math.min(name === undefined && retry ? i - 1 : i++, states.length - 1)] ?? null
      retry = name !== undefined
      if (name !== undefined) throw new Error('netlink dump drbd resource r1: EINVAL (invalid argument)')
      return { resource: (n: string) => (n === 'r1' ? s : null) }
    },
  } as unknown as DrbdGenl
  const fail = new Map<string, Error>()
  const layer = new DrbdLayer({
    nodeName: 'vm1', confDir: dir, genl, version: 8,
    run: async (tool, argv) => {
      const line = [tool, ...argv.filter((a) => a !== '-c' && !a.endsWith('drbd.conf'))].join(' ')
      calls.push(line)
      const e = fail.get(argv.at(-2) ?? '')
      if (e !== undefined) throw e
    },
    readMd: async (device) => {
      calls.push(`read ${device}`)
      return md
    },
  })
  return { dir, calls, layer, fail }
}

const lv: VolumeFacts = { number: 0, kind: 'LVM_THIN', path: 'vg0/thin/r1_00000', sizeKib: 65540, device: '/dev/vg0/r1_00000', deviceSizeKib: 65540, allocatedKib: 0 }

t.test('up on new thin volumes: file, metadata, adjust, then the initial sync skipped once connected', async (t) => {
  const connecting = status({ disk: 'Inconsistent', conn: 'Connecting', repl: 'Off', peerDisk: 'DUnknown' })
  const both = status({ disk: 'Inconsistent', peerDisk: 'Inconsistent' })
  const { dir, calls, layer } = await fakeLayer(t, [null, connecting, both, status()])
  const first = await layer.up(rsc(), [lv], new Set([0]))
  t.strictSame(calls, ['read /dev/vg0/r1_00000', 'drbdadm -- --force create-md r1/0', 'drbdadm adjust r1'])
  t.equal(first.volumes.get(0)?.diskState, 'Inconsistent')
  const res = await readFile(join(dir, 'r1.res'), 'utf8')
  t.match(res, 'disk "/dev/vg0/r1_00000";')
  t.strictSame(await readdir(dir), ['r1.res'], 'no temporary file left')
  calls.length = 0
  const second = await layer.up(rsc(), [lv], new Set())
  t.strictSame(calls, ['drbdadm -- --clear-bitmap new-current-uuid r1/0'], 'connected, both Inconsistent: the bitmap is cleared, no adjust')
  t.equal(second.volumes.get(0)?.diskState, 'UpToDate')
  calls.length = 0
  await layer.up(rsc(), [lv], new Set())
  t.strictSame(calls, [], 'done once: nothing more')
})

t.test('new replicas not known to be zeroed (thick, or adopted): a full sync from a forced Primary', async (t) => {
  const both = status({ disk: 'Inconsistent', peerDisk: 'Inconsistent' })
  const syncing = status({ repl: 'SyncSource', peerDisk: 'Inconsistent', done: 0.1 })
  const connecting = status({ disk: 'Inconsistent', conn: 'Connecting', repl: 'Off', peerDisk: 'DUnknown' })
  const cases = [['adopted', rsc, lv, new Set<number>()], ['thick here', notZeroed, { ...lv, kind: 'LVM' as const }, new Set([0])], ['thin here, thick on a peer', notZeroed, lv, new Set([0])]] as const
  for (const [what, desired, v, created] of cases) {
    const { calls, layer } = await fakeLayer(t, [null, connecting, both, syncing, syncing])
    await layer.up(desired(), [v], created)
    calls.length = 0
    const o = await layer.up(desired(), [v], new Set())
    t.strictSame(calls, ['drbdadm -- --force primary r1', 'drbdadm secondary r1'], `${what}: Primary with --force, then Secondary`)
    t.equal(o.syncing, true, 'the report reads the state after: syncing')
    calls.length = 0
    await layer.up(desired(), [v], new Set())
    t.strictSame(calls, [], `${what}: done once`)
  }
})

t.test('a forced Primary whose Secondary failed is made Secondary by the next pass', async (t) => {
  const both = status({ disk: 'Inconsistent', peerDisk: 'Inconsistent' })
  const forced = status({ role: 'Primary', repl: 'SyncSource', peerDisk: 'Inconsistent', done: 0.1 })
  const connecting = status({ disk: 'Inconsistent', conn: 'Connecting', repl: 'Off', peerDisk: 'DUnknown' })
  const { calls, layer, fail } = await fakeLayer(t, [null, connecting, both, forced, status({ repl: 'SyncSource', peerDisk: 'Inconsistent', done: 1 }), status({ role: 'Primary' })])
  await layer.up(notZeroed(), [{ ...lv, kind: 'LVM' }], new Set([0]))
  fail.set('secondary', new DrbdCommandError(['drbdadm', 'secondary', 'r1'], 11, 'r1: State change failed: (-12) Device is held open by someone\n'))
  await t.rejects(layer.up(notZeroed(), [{ ...lv, kind: 'LVM' }], new Set()), /held open/)
  fail.clear()
  calls.length = 0
  const o = await layer.up(notZeroed(), [{ ...lv, kind: 'LVM' }], new Set())
  t.strictSame(calls, ['drbdadm secondary r1'], 'Secondary again, no second force')
  t.equal(o.primary, false)
  calls.length = 0
  await layer.up(notZeroed(), [{ ...lv, kind: 'LVM' }], new Set())
  t.strictSame(calls, [], 'a Primary of its own later is not ours to demote')
})

t.test('a restarted satellite adopts a resource that is up: no command at all', async (t) => {
  const before = await fakeLayer(t, [null, status()])
  await before.layer.up(rsc(), [lv], new Set([0]))
  t.ok(before.calls.includes('drbdadm adjust r1'))
  const after = await fakeLayer(t, [status()], 'v08', before.dir)
  const o = await after.layer.up(rsc(), [lv], new Set())
  t.strictSame(after.calls, [], 'file and kernel as desired: no superblock read, no drbdadm')
  t.equal(o.volumes.get(0)?.diskState, 'UpToDate')
  await writeFile(join(before.dir, 'r1.res'), '# edited by hand\n')
  await after.layer.up(rsc(), [lv], new Set())
  t.strictSame(after.calls, ['drbdadm adjust r1'], 'a file that differs is rewritten and adjusted')
})

t.test('down: drbdadm down while the file exists, drbdsetup down without it, then the file goes', async (t) => {
  const { dir, calls, layer } = await fakeLayer(t, [null, status(), status(), status(), null])
  await layer.up(rsc(), [lv], new Set())
  calls.length = 0
  await layer.down('r1')
  t.strictSame(calls, ['drbdadm down r1'])
  await t.rejects(readFile(join(dir, 'r1.res')), { code: 'ENOENT' })
  calls.length = 0
  await layer.down('r1')
  t.strictSame(calls, ['drbdsetup down r1'], 'the kernel still has it (file removed by hand)')
  calls.length = 0
  await layer.down('r1')
  t.strictSame(calls, [], 'gone from the kernel: nothing to run')
  await t.rejects(layer.down('../etc/x'), TerminalError, 'a name that is no resource name never becomes a path')
})

t.test('a failing drbdadm rejects with its stderr, and the next pass retries', async (t) => {
  const { calls, layer, fail } = await fakeLayer(t, [null])
  fail.set('adjust', new DrbdCommandError(['drbdadm', 'adjust', 'r1'], 10, 'r1: Failure: (114) Lower device is already claimed.\n'))
  await t.rejects(layer.up(rsc(), [lv], new Set([0])), /drbdadm adjust r1 failed \(exit 10\): r1: Failure: \(114\) Lower device is already claimed\.$/)
  fail.clear()
  calls.length = 0
  await layer.up(rsc(), [lv], new Set())
  t.strictSame(calls, ['read /dev/vg0/r1_00000', 'drbdadm -- --force create-md r1/0', 'drbdadm adjust r1'], 'the file is as desired now, the rest is done again')
  await t.rejects(layer.up(rsc(), [{ ...lv, device: undefined } as VolumeFacts], new Set()), /volume 0 has no backing device yet/)
})

t.test('DRBD 8.4 whose peer was removed (a replica moving): disconnected and kept up, not refused; without the kernel resource it waits for a peer', async (t) => {
  const alone = rsc({ drbd: { ...rsc().drbd!, peers: [] } })
  const connecting = status({ conn: 'Connecting', repl: 'Off', peerDisk: 'DUnknown' })
  const { calls, layer } = await fakeLayer(t, [connecting, status({ conn: 'StandAlone', repl: 'Off', peerDisk: 'DUnknown' })])
  const o = await layer.up(alone, [lv], new Set())
  t.strictSame(calls, ['drbdadm disconnect r1'], 'only a disconnect: the file naming the old peer stays')
  t.equal(o.volumes.get(0)?.diskState, 'UpToDate')
  t.strictSame(o.connections, [], 'no connection to a peer that is not desired')
  calls.length = 0
  await layer.up(alone, [lv], new Set())
  t.strictSame(calls, [], 'StandAlone already: nothing to do')
  const down = await fakeLayer(t, [null])
  await t.rejects(down.layer.up(alone, [lv], new Set()), /without its peer: add the second replica/)
})
