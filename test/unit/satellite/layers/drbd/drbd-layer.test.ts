// The DRBD layer: superblock detection, drbdadm's argv, the steps planned from the kernel's state,
// when the initial sync is skipped, the report, and the layer's commands against a fake kernel.
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
  planUp,
  skippableSync,
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
  volumes: [{ number: 0, netSizeKib: 65536, grossSizeKib: 65540, storPoolName: 'thin', providerKind: 'LVM_THIN', storPoolProps: {}, props: {}, drbdMinor: 1000 }],
  drbd: { nodeId: 0, address: '10.99.0.11', port: 7000, peerSlots: 7, peers: [{ nodeName: 'vm2', nodeId: 1, address: '10.99.0.12', port: 7000, diskless: false }] },
  ...over,
})

/** A DRBD 8.4 status as drbd-genl decodes it: one volume, one peer (no node ids on 8.4). */
function status(o: { disk?: string; conn?: string; repl?: string; peerDisk?: string; role?: string; done?: number | null; device?: boolean; connection?: boolean } = {}): DrbdResourceStatus {
  const peerDevice = {
    volume: 0, minor: 1000, replicationState: o.repl ?? 'Established', peerDiskState: o.peerDisk ?? 'UpToDate', resyncSuspended: [],
    outOfSyncSectors: 0n, resyncFailedSectors: null, resyncTotalSectors: null, verifyLeftSectors: null, uuidFlags: null,
    syncing: o.done !== undefined && o.done !== null, replicationStateNumber: 10, peerDiskStateNumber: 8, donePercent: o.done ?? null,
  }
  return {
    name: 'r1', role: o.role ?? 'Secondary', suspended: [], failIo: false, mayPromote: null, promotionScore: null,
    devices: o.device === false ? [] : [{ volume: 0, minor: 1000, diskState: o.disk ?? 'UpToDate', sizeSectors: 131072n, hasQuorum: true, intentionalDiskless: false }],
    connections: o.connection === false ? [] : [{ connectionState: o.conn ?? 'Connected', peerRole: 'Secondary', congested: false, peerNodeId: null, connectionName: null, peerDevices: o.device === false ? [] : [peerDevice] }],
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
})

t.test('initial sync skipped only on the lowest diskful node id, both sides Inconsistent and connected', async (t) => {
  const both = status({ disk: 'Inconsistent', peerDisk: 'Inconsistent' })
  t.strictSame(skippableSync(rsc(), both, new Set([0])), [0])
  t.strictSame(skippableSync(rsc(), both, new Set()), [], 'metadata not made here on a new zeroed volume')
  t.strictSame(skippableSync(rsc({ drbd: { ...rsc().drbd!, nodeId: 2 } }), both, new Set([0])), [], 'the peer has the lower node id: it decides')
  t.strictSame(skippableSync(rsc(), status({ disk: 'Inconsistent', peerDisk: 'UpToDate', repl: 'SyncTarget' }), new Set([0])), [], 'the peer has data')
  t.strictSame(skippableSync(rsc(), status({ disk: 'Inconsistent', peerDisk: 'DUnknown', conn: 'Connecting', repl: 'Off' }), new Set([0])), [], 'not connected yet')
  t.strictSame(skippableSync(rsc(), null, new Set([0])), [])
  t.strictSame(skippableSync(rsc(), status({ disk: 'Inconsistent', peerDisk: 'Inconsistent', connection: false }), new Set([0])), [], 'no connection at all')
  const withDisklessPeer = rsc({ drbd: { ...rsc().drbd!, nodeId: 3, peers: [...rsc().drbd!.peers, { nodeName: 'tb', nodeId: 0, address: '10.99.0.13', port: 7000, diskless: true }] } })
  t.strictSame(skippableSync(withDisklessPeer, { ...both, connections: both.connections.map((c) => ({ ...c, peerNodeId: 1 })) }, new Set([0])), [], 'node id 1 (diskful) is lower than 3')
})

t.test('report: DRBD device, disk state, size, peers by name, Primary', async (t) => {
  const o = drbdObservation(rsc(), status({ disk: 'UpToDate', repl: 'SyncSource', peerDisk: 'Inconsistent', done: 42.26, role: 'Primary' }))
  t.strictSame([...o.volumes], [[0, { devicePath: '/dev/drbd1000', diskState: 'UpToDate', usableKib: 65536, peers: [{ peerNodeName: 'vm2', replicationState: 'SyncSource', peerDiskState: 'Inconsistent', syncPercent: 42.3 }] }]])
  t.strictSame(o.connections, [{ peerNodeName: 'vm2', state: 'Connected' }])
  t.equal(o.primary, true)
  const down = drbdObservation(rsc(), null)
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

t.test('a volume not created in this pass, or thick, is synced normally', async (t) => {
  const both = status({ disk: 'Inconsistent', peerDisk: 'Inconsistent' })
  for (const [what, v, created] of [['adopted', lv, new Set<number>()], ['thick', { ...lv, kind: 'LVM' as const }, new Set([0])]] as const) {
    const { calls, layer } = await fakeLayer(t, [null, both, both])
    await layer.up(rsc(), [v], created)
    calls.length = 0
    await layer.up(rsc(), [v], new Set())
    t.strictSame(calls, [], `${what}: no new-current-uuid`)
  }
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
