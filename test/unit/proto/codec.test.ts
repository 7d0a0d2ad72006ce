import t, { type Test } from 'tap'
import { Builder } from 'flatbuffers'
import { decode, encode } from '../../../src/proto/codec.js'
import * as fb from '../../../src/proto/gen/index.js'
import {
  CHALLENGE_BYTES,
  LINK_STATUSES,
  MESSAGE_TYPES,
  PROTOCOL_VERSION,
  RESOURCE_STATES,
  type Frame,
  type Message,
} from '../../../src/proto/messages.js'
import { ProtocolError, type ProtocolErrorReason } from '../../../src/proto/protocol-error.js'
import { rng } from '../../helpers/rng.js'

// ── samples: one representative and one edge value (at least) of every message type ───────────────

function bytes(n: number, fill: (i: number) => number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => fill(i) & 0xff)
}

const MAX = Number.MAX_SAFE_INTEGER
const LONG = 'r'.repeat(48) // LINSTOR's longest resource name
const HUGE = 'x'.repeat(70_000) // longer than any 16-bit length
const UNICODE = '\uFEFFnœud-☃-𝄞-名前' // BOM kept, astral plane, CJK

/** [label, message]: every message type at least twice (representative, then edge values). */
const SAMPLES: ReadonlyArray<readonly [string, Message]> = [
  ['Hello', { type: 'Hello', nodeName: 'node-a.example.com', protocolVersion: PROTOCOL_VERSION, blockyardVersion: '0.1.0', challenge: bytes(CHALLENGE_BYTES, (i) => i * 7 + 1) }],
  ['Hello: empty name, zero challenge', { type: 'Hello', nodeName: '', protocolVersion: PROTOCOL_VERSION, blockyardVersion: '', challenge: new Uint8Array(CHALLENGE_BYTES) }],
  ['ControllerAuth', { type: 'ControllerAuth', challenge: bytes(32, (i) => 255 - i), proof: bytes(32, (i) => i ^ 0x5a), blockyardVersion: '0.1.0-dev+abc' }],
  ['SatelliteAuth', { type: 'SatelliteAuth', proof: bytes(32, (i) => i * 3) }],
  ['LinkResult accepted', { type: 'LinkResult', status: 'ACCEPTED', message: '' }],
  ['LinkResult refused', { type: 'LinkResult', status: 'CONTROLLER_ALREADY_CONNECTED', message: 'controller at 127.0.0.1:51234 is already connected' }],
  ['LinkResult every refusal', { type: 'LinkResult', status: 'PROTOCOL_ERROR', message: UNICODE }],
  ['Ping', { type: 'Ping', sentAtUs: 1_763_800_000_123_456 }],
  ['Ping zero', { type: 'Ping', sentAtUs: 0 }],
  ['Pong', { type: 'Pong', pingSentAtUs: 1_763_800_000_123_456, sentAtUs: 1_763_800_000_124_000 }],
  ['Pong max', { type: 'Pong', pingSentAtUs: MAX, sentAtUs: MAX }],
  [
    'NodeCapabilities',
    {
      type: 'NodeCapabilities',
      hostname: 'node-a',
      osName: 'Linux',
      osRelease: '6.1.0-18-amd64',
      osDistribution: 'Debian GNU/Linux 12 (bookworm)',
      layers: [
        { kind: 'STORAGE', supported: true },
        { kind: 'DRBD', supported: true, version: '8.4.11' },
        { kind: 'LUKS', supported: false, reason: 'cryptsetup not installed' },
        { kind: 'NVME', supported: false, reason: 'not implemented' },
        { kind: 'WRITECACHE', supported: false, reason: 'dm-writecache missing', version: '' },
        { kind: 'CACHE', supported: false, reason: '' },
        { kind: 'BCACHE', supported: false, reason: 'not implemented' },
      ],
      providers: [
        { kind: 'DISKLESS', supported: true },
        { kind: 'FILE', supported: true },
        { kind: 'FILE_THIN', supported: true },
        { kind: 'LVM', supported: true, version: '2.03.16' },
        { kind: 'LVM_THIN', supported: true, version: '2.03.16' },
        { kind: 'ZFS', supported: false, reason: 'zfs kernel module not loaded' },
        { kind: 'ZFS_THIN', supported: false, reason: 'zfs kernel module not loaded' },
      ],
    },
  ],
  ['NodeCapabilities empty', { type: 'NodeCapabilities', hostname: '', osName: '', osRelease: '', osDistribution: '', layers: [], providers: [] }],
  [
    'FullSync',
    {
      type: 'FullSync',
      syncId: 42,
      nodeName: 'node-a',
      nodeProps: { 'Aux/rack': 'r1', 'CurStltConnName': 'default' },
      storPools: [
        { name: 'DfltStorPool', providerKind: 'FILE_THIN', props: { 'StorDriver/FileDir': '/var/lib/blockyard/pool' }, deleted: false },
        { name: 'DfltDisklessStorPool', providerKind: 'DISKLESS', props: {}, deleted: false },
        { name: 'old', providerKind: 'LVM', props: { 'StorDriver/LvmVg': 'vg0' }, deleted: true },
      ],
      resources: [
        {
          name: 'pvc-1',
          generation: 7n,
          deleted: false,
          layers: ['DRBD', 'STORAGE'],
          flags: [],
          props: { 'DrbdOptions/Net/protocol': 'C' },
          volumes: [
            {
              number: 0,
              netSizeKib: 65536,
              grossSizeKib: 65540,
              storPoolName: 'DfltStorPool',
              providerKind: 'FILE_THIN',
              storPoolProps: { 'StorDriver/FileDir': '/var/lib/blockyard/pool' },
              props: {},
              drbdMinor: 1000,
              newReplicasZeroed: true,
            },
          ],
          drbd: {
            nodeId: 0,
            address: '127.0.0.11',
            port: 7000,
            peerSlots: 7,
            sharedSecret: 's3cr3t',
            peers: [
              { nodeName: 'node-b', nodeId: 1, address: '127.0.0.12', port: 7000, diskless: false },
              { nodeName: 'node-c', nodeId: 2, address: 'fd00::13', port: 7001, diskless: true },
            ],
          },
        },
        { name: 'gone', generation: 3n, deleted: true, layers: ['STORAGE'], flags: ['DELETE'], props: {}, volumes: [] },
      ],
    },
  ],
  ['FullSync empty', { type: 'FullSync', syncId: 0, nodeName: 'n', nodeProps: {}, storPools: [], resources: [] }],
  ['FullSyncApplied', { type: 'FullSyncApplied', syncId: 42 }],
  ['FullSyncApplied max', { type: 'FullSyncApplied', syncId: MAX }],
  [
    'ResourceDesired',
    {
      type: 'ResourceDesired',
      name: 'pvc-2',
      generation: 1n,
      deleted: false,
      layers: ['STORAGE'],
      flags: [],
      props: {},
      volumes: [
        { number: 0, netSizeKib: 1024, grossSizeKib: 1024, storPoolName: 'DfltStorPool', providerKind: 'FILE', storPoolProps: { 'StorDriver/FileDir': '/srv/p' }, props: {} },
        { number: 1, netSizeKib: 2048, grossSizeKib: 2048, storPoolName: 'DfltStorPool', providerKind: 'FILE', storPoolProps: { 'StorDriver/FileDir': '/srv/p' }, props: { 'Vlm/x': 'y' } },
      ],
    },
  ],
  [
    'ResourceDesired edge values',
    {
      type: 'ResourceDesired',
      name: LONG,
      generation: 0xffff_ffff_ffff_ffffn,
      deleted: true,
      layers: ['DRBD', 'LUKS', 'NVME', 'WRITECACHE', 'CACHE', 'BCACHE', 'STORAGE'],
      flags: ['DRBD_DISKLESS', 'TIE_BREAKER', 'INACTIVE'],
      props: { [UNICODE]: HUGE, '': '' },
      volumes: [
        {
          number: 0xffff_ffff,
          netSizeKib: MAX,
          grossSizeKib: MAX,
          storPoolName: HUGE,
          providerKind: 'ZFS_THIN',
          storPoolProps: {},
          props: {},
          drbdMinor: 0,
        },
        { number: 0, netSizeKib: 0, grossSizeKib: 0, storPoolName: '', providerKind: 'DISKLESS', storPoolProps: {}, props: {}, drbdMinor: 0xffff_ffff },
      ],
      drbd: { nodeId: 255, address: '', port: 65535, peerSlots: 255, peers: [] },
    },
  ],
  ['ResourceDesired generation 0', { type: 'ResourceDesired', name: 'r0', generation: 0n, deleted: false, layers: [], flags: [], props: {}, volumes: [] }],
  ['StorPoolDesired', { type: 'StorPoolDesired', name: 'DfltStorPool', providerKind: 'FILE_THIN', props: { 'StorDriver/FileDir': '/var/lib/blockyard/pool' }, deleted: false }],
  ['StorPoolDesired deleted', { type: 'StorPoolDesired', name: 'p', providerKind: 'ZFS', props: { 'StorDriver/ZPool': 'tank' }, deleted: true }],
  [
    'ResourceObserved',
    {
      type: 'ResourceObserved',
      name: 'pvc-1',
      generation: 7n,
      state: 'READY',
      inUse: true,
      volumes: [
        {
          number: 0,
          devicePath: '/dev/drbd1000',
          allocatedKib: 8192,
          usableKib: 65536,
          diskState: 'UpToDate',
          peers: [
            { peerNodeName: 'node-b', replicationState: 'Established', peerDiskState: 'UpToDate' },
            { peerNodeName: 'node-c', replicationState: 'SyncSource', peerDiskState: 'Inconsistent', syncPercent: 33.3 },
          ],
          errors: [],
        },
      ],
      connections: [
        { peerNodeName: 'node-b', state: 'Connected' },
        { peerNodeName: 'node-c', state: 'Connecting' },
      ],
      errors: [],
      mayPromote: false,
      promotionScore: 10102,
    },
  ],
  [
    'ResourceObserved failed',
    {
      type: 'ResourceObserved',
      name: 'pvc-3',
      generation: 0xffff_ffff_ffff_ffffn,
      state: 'FAILED',
      inUse: false,
      volumes: [
        {
          number: 3,
          allocatedKib: 0,
          usableKib: 0,
          peers: [{ peerNodeName: 'b', replicationState: 'SyncTarget', peerDiskState: 'UpToDate', syncPercent: 0 }],
          errors: [
            {
              message: 'cannot attach /var/lib/blockyard/pool/pvc-3_00003.img to a loop device',
              code: 'EBUSY',
              syscall: 'ioctl(LOOP_CONFIGURE)',
              errno: 16,
              terminal: false,
            },
          ],
        },
        { number: 4, peers: [], errors: [] },
      ],
      connections: [],
      errors: [
        {
          message: 'drbdadm adjust failed',
          command: ['drbdadm', 'adjust', 'pvc-3'],
          exitCode: 10,
          terminal: true,
          details: 'pvc-3: Failure: (114) Lower device is already claimed.\n',
        },
        { message: 'exit 0 and errno 0 are values too', exitCode: 0, errno: 0, terminal: false },
        { message: 'negative', exitCode: -1, errno: -2147483648, terminal: true, code: '', syscall: '', details: '' },
      ],
      mayPromote: true,
      promotionScore: 0,
    },
  ],
  ['ResourceObserved states', { type: 'ResourceObserved', name: 'g', generation: 0n, state: 'GONE', inUse: false, volumes: [], connections: [], errors: [] }],
  [
    'CapacityReport',
    {
      type: 'CapacityReport',
      storPools: [
        { name: 'DfltStorPool', freeKib: 10_485_760, totalKib: 20_971_520, errors: [] },
        { name: 'DfltDisklessStorPool', freeKib: MAX, totalKib: MAX, errors: [] },
        { name: 'broken', errors: [{ message: 'statvfs failed', syscall: 'statvfs', errno: 2, code: 'ENOENT', terminal: false, details: '/srv/missing' }] },
        { name: 'zero', freeKib: 0, totalKib: 0, errors: [] },
      ],
    },
  ],
  ['CapacityReport empty', { type: 'CapacityReport', storPools: [] }],
]

/** decode(), returning the ProtocolError it throws (failing the test on any other outcome). */
function refused(t: Test, frame: Uint8Array | ArrayBuffer, reason?: ProtocolErrorReason, message?: RegExp): ProtocolError | undefined {
  try {
    decode(frame)
  } catch (err) {
    if (!(err instanceof ProtocolError)) {
      t.fail(`not a ProtocolError: ${String(err)}`)
      return undefined
    }
    if (reason !== undefined) t.equal(err.reason, reason, `reason ${reason}: ${err.message}`)
    if (message !== undefined) t.match(err.message, message)
    return err
  }
  t.fail('decoded without error')
  return undefined
}

/** decode() outcome for fuzzing: 'ok', a ProtocolError reason, or 'CRASH: …' for anything else. */
function outcome(frame: Uint8Array): string {
  try {
    decode(frame)
    return 'ok'
  } catch (err) {
    return err instanceof ProtocolError ? err.reason : `CRASH: ${err instanceof Error ? err.stack : String(err)}`
  }
}

/** Builds an envelope by hand, to make frames encode() refuses to make. */
function rawEnvelope(o: { version?: number; seq?: bigint; tag: number; body?: (b: Builder) => number; ident?: string; sizePrefix?: boolean }): Uint8Array {
  const b = new Builder(64)
  const body = o.body ? o.body(b) : 0
  fb.Envelope.startEnvelope(b)
  b.forceDefaults(true)
  fb.Envelope.addProtocolVersion(b, o.version ?? PROTOCOL_VERSION)
  b.forceDefaults(false)
  fb.Envelope.addSeq(b, o.seq ?? 1n)
  fb.Envelope.addMessageType(b, o.tag)
  if (body) fb.Envelope.addMessage(b, body)
  b.finish(fb.Envelope.endEnvelope(b), o.ident ?? 'BYRD', o.sizePrefix ?? true)
  return b.asUint8Array().slice()
}

const ping = (b: Builder): number => fb.Ping.createPing(b, 5n)

t.test('round trip of every message kind', async (t) => {
  const seen = new Set<string>()
  let seq = 1
  for (const [label, msg] of SAMPLES) {
    const frame: Frame = { seq: seq++, msg }
    const wire = encode(frame)
    t.ok(wire instanceof Uint8Array, label)
    t.strictSame(decode(wire), frame, label)
    t.strictSame(decode(new Uint8Array(wire).buffer), frame, `${label} (ArrayBuffer)`)
    seen.add(msg.type)
  }
  t.strictSame([...seen].sort(), [...MESSAGE_TYPES].sort(), 'the samples cover every message type')
  for (const status of LINK_STATUSES) {
    const msg: Message = { type: 'LinkResult', status, message: status }
    t.strictSame(decode(encode({ seq: 1, msg })).msg, msg, status)
  }
  for (const state of RESOURCE_STATES) {
    const msg: Message = { type: 'ResourceObserved', name: 'r', generation: 1n, state, inUse: false, volumes: [], connections: [], errors: [] }
    t.strictSame(decode(encode({ seq: 1, msg })).msg, msg, state)
  }
})

t.test('sequence numbers, encoding is deterministic, results own their memory', async (t) => {
  const msg: Message = { type: 'Ping', sentAtUs: 1 }
  for (const seq of [0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) t.equal(decode(encode({ seq, msg })).seq, seq)
  const [, hello] = SAMPLES[0]!
  const a = encode({ seq: 9, msg: hello })
  t.strictSame(encode({ seq: 9, msg: hello }), a, 'same bytes every time')
  const copy = a.slice()
  const decoded = decode(copy)
  copy.fill(0)
  t.strictSame(decoded, decode(a), 'decoded values do not alias the frame')
  const big = encode({ seq: 1, msg: SAMPLES.find(([l]) => l === 'ResourceDesired edge values')![1] })
  t.ok(big.length > 1 << 17, 'a large frame')
  const sync: Message = { type: 'FullSync', syncId: 1, nodeName: 'n', nodeProps: { big: 'p'.repeat(3 << 20) }, storPools: [], resources: [] }
  const huge = encode({ seq: 1, msg: sync })
  t.ok(huge.length > 3 << 20, 'a frame of several MiB')
  t.strictSame(decode(huge).msg, sync)
  t.strictSame(decode(encode({ seq: 1, msg })).msg, msg, 'the encoder works after a large frame')
})

t.test('absent and present-but-zero optional fields stay distinct', async (t) => {
  const msg: Message = {
    type: 'CapacityReport',
    storPools: [
      { name: 'a', errors: [] },
      { name: 'b', freeKib: 0, totalKib: 0, errors: [{ message: '', errno: 0, exitCode: 0, terminal: false }] },
    ],
  }
  const back = decode(encode({ seq: 1, msg })).msg
  t.strictSame(back, msg)
  if (back.type !== 'CapacityReport') throw new Error('type')
  t.notOk('freeKib' in back.storPools[0]!, 'absent stays absent (no undefined-valued key)')
  t.equal(back.storPools[1]!.freeKib, 0)
  // An empty argv is "not a command".
  const e: Message = { type: 'CapacityReport', storPools: [{ name: 'c', errors: [{ message: 'm', command: [], terminal: false }] }] }
  const got = decode(encode({ seq: 1, msg: e })).msg
  t.strictSame(got, { type: 'CapacityReport', storPools: [{ name: 'c', errors: [{ message: 'm', terminal: false }] }] })
})

t.test('encode refuses malformed messages before writing anything', async (t) => {
  const okHello = SAMPLES[0]![1]
  const cases: Array<[string, unknown, RegExp]> = [
    ['not a frame', null, /frame must be/],
    ['no msg', { seq: 1 }, /frame must be/],
    ['unknown type', { seq: 1, msg: { type: 'Nope' } }, /not a message type/],
    ['negative seq', { seq: -1, msg: okHello }, /seq must be an integer/],
    ['fractional seq', { seq: 1.5, msg: okHello }, /seq must be/],
    ['unsafe seq', { seq: 2 ** 53, msg: okHello }, /seq must be/],
    ['short challenge', { seq: 1, msg: { ...okHello, challenge: new Uint8Array(31) } }, /Hello\.challenge must be a Uint8Array of 32 bytes/],
    ['challenge not bytes', { seq: 1, msg: { ...okHello, challenge: 'x'.repeat(32) } }, /Hello\.challenge/],
    ['name not a string', { seq: 1, msg: { ...okHello, nodeName: 7 } }, /Hello\.nodeName must be a string/],
    ['unknown status', { seq: 1, msg: { type: 'LinkResult', status: 'MAYBE', message: '' } }, /"MAYBE" is not a link status/],
    ['size beyond 2^53', { seq: 1, msg: { type: 'Ping', sentAtUs: 2 ** 60 } }, /Ping\.sentAtUs/],
    ['negative size', { seq: 1, msg: { type: 'Ping', sentAtUs: -1 } }, /Ping\.sentAtUs/],
    ['generation not bigint', { seq: 1, msg: { type: 'ResourceDesired', name: 'r', generation: 1, deleted: false, layers: [], flags: [], props: {}, volumes: [] } }, /generation must be a bigint/],
    ['generation beyond uint64', { seq: 1, msg: { type: 'ResourceDesired', name: 'r', generation: 2n ** 64n, deleted: false, layers: [], flags: [], props: {}, volumes: [] } }, /generation/],
    ['negative generation', { seq: 1, msg: { type: 'ResourceDesired', name: 'r', generation: -1n, deleted: false, layers: [], flags: [], props: {}, volumes: [] } }, /generation/],
    ['unknown layer', { seq: 1, msg: { type: 'ResourceDesired', name: 'r', generation: 1n, deleted: false, layers: ['SPDK'], flags: [], props: {}, volumes: [] } }, /layers\[0\]: "SPDK" is not a layer kind/],
    ['layers not an array', { seq: 1, msg: { type: 'ResourceDesired', name: 'r', generation: 1n, deleted: false, layers: 'STORAGE', flags: [], props: {}, volumes: [] } }, /layers must be an array/],
    ['__proto__ prop', { seq: 1, msg: { type: 'StorPoolDesired', name: 'p', providerKind: 'FILE', props: JSON.parse('{"__proto__":"x"}'), deleted: false } }, /__proto__ is refused/],
    ['prop value not a string', { seq: 1, msg: { type: 'StorPoolDesired', name: 'p', providerKind: 'FILE', props: { a: 1 }, deleted: false } }, /props\["a"\] must be a string/],
    ['props an array', { seq: 1, msg: { type: 'StorPoolDesired', name: 'p', providerKind: 'FILE', props: [], deleted: false } }, /props must be an object/],
    ['unknown provider', { seq: 1, msg: { type: 'StorPoolDesired', name: 'p', providerKind: 'SPDK', props: {}, deleted: false } }, /not a provider kind/],
    ['deleted not a boolean', { seq: 1, msg: { type: 'StorPoolDesired', name: 'p', providerKind: 'FILE', props: {}, deleted: 0 } }, /deleted must be a boolean/],
    ['port out of range', { seq: 1, msg: { type: 'ResourceDesired', name: 'r', generation: 1n, deleted: false, layers: [], flags: [], props: {}, volumes: [], drbd: { nodeId: 0, address: 'a', port: 65536, peerSlots: 7, peers: [] } } }, /drbd\.port must be an integer in 0\.\.65535/],
    ['errno not int32', { seq: 1, msg: { type: 'CapacityReport', storPools: [{ name: 'p', errors: [{ message: 'm', errno: 2 ** 31, terminal: false }] }] } }, /errno must be a 32-bit integer/],
    ['NaN percent', { seq: 1, msg: { type: 'ResourceObserved', name: 'r', generation: 1n, state: 'READY', inUse: false, volumes: [{ number: 0, peers: [{ peerNodeName: 'b', replicationState: 'x', peerDiskState: 'y', syncPercent: NaN }], errors: [] }], connections: [], errors: [] } }, /syncPercent must be a finite number/],
    ['unknown state', { seq: 1, msg: { type: 'ResourceObserved', name: 'r', generation: 1n, state: 'DONE', inUse: false, volumes: [], connections: [], errors: [] } }, /not a resource state/],
  ]
  for (const [label, frame, message] of cases) {
    t.throws(() => encode(frame as Frame), message, label)
  }
  t.throws(() => encode({ seq: 1, msg: okHello }, { protocolVersion: -1 }), RangeError)
  t.strictSame(decode(encode({ seq: 1, msg: okHello })).msg, okHello, 'the encoder recovers after refusing')
})

t.test('decode refuses what is not bytes as a programming error', async (t) => {
  t.throws(() => decode('BYRD' as unknown as Uint8Array), TypeError)
  t.throws(() => decode([1, 2, 3] as unknown as Uint8Array), TypeError)
})

t.test('a frame from another protocol version is a clear VERSION_MISMATCH', async (t) => {
  for (const version of [PROTOCOL_VERSION + 1, 0, 0xffff_ffff]) {
    const wire = encode({ seq: 1, msg: SAMPLES[0]![1] }, { protocolVersion: version })
    const err = refused(t, wire, 'VERSION_MISMATCH', new RegExp(`protocol version ${version}.*speaks ${PROTOCOL_VERSION}`))
    t.equal(err?.peerVersion, version, 'the error carries the peer version')
  }
  // A future version's message type we do not know, still refused for its version first.
  refused(t, rawEnvelope({ version: PROTOCOL_VERSION + 1, tag: 250 }), 'VERSION_MISMATCH')
  // A Hello claiming another version than its envelope.
  const hello = { ...(SAMPLES[0]![1] as Message & { type: 'Hello' }), protocolVersion: PROTOCOL_VERSION + 1 }
  refused(t, encode({ seq: 1, msg: hello }), 'INVALID_VALUE', /Hello\.protocolVersion is 2 but the envelope says 1/)
})

t.test('truncated frames, at every length', async (t) => {
  let checked = 0
  for (const [label, msg] of SAMPLES) {
    const wire = encode({ seq: 1, msg })
    if (wire.length > 4096) continue // the huge samples: the rule is the same, the loop would be slow
    for (let n = 0; n < wire.length; n++) {
      const r = outcome(wire.subarray(0, n))
      if (r !== 'TRUNCATED') t.fail(`${label}: ${n} of ${wire.length} bytes gave ${r}`)
      checked++
    }
    // The same, with the size prefix patched to match, so the inner checks must catch it.
    for (let n = 12; n < wire.length; n++) {
      const cut = wire.slice(0, n)
      new DataView(cut.buffer).setUint32(0, n - 4, true)
      const r = outcome(cut)
      if (r.startsWith('CRASH')) t.fail(`${label}: re-prefixed ${n} of ${wire.length} bytes: ${r}`)
      checked++
    }
  }
  t.ok(checked > 5000, `${checked} truncations refused cleanly`)
  refused(t, new Uint8Array(0), 'TRUNCATED', /frame of 0 bytes is shorter than the 12-byte header/)
  const padded = new Uint8Array([...encode({ seq: 1, msg: { type: 'Ping', sentAtUs: 1 } }), 0])
  refused(t, padded, 'MALFORMED', /says it holds/)
})

t.test('random garbage, many seeds', async (t) => {
  // Three kinds: garbage as is; with a correct size prefix; and behind a whole valid header (size
  // prefix, root offset, "BYRD"), so that every check past the header is reached.
  const counts = { raw: new Map<string, number>(), sized: new Map<string, number>(), framed: new Map<string, number>() }
  for (let seed = 1; seed <= 3000; seed++) {
    const rand = rng(seed)
    const garbage = bytes(Math.floor(rand() * 600), () => Math.floor(rand() * 256))
    const sized = garbage.length >= 4 ? garbage.slice() : bytes(4, () => 0)
    new DataView(sized.buffer).setUint32(0, sized.length - 4, true)
    const framed = garbage.length >= 16 ? garbage.slice() : bytes(16, () => Math.floor(rand() * 256))
    const dv = new DataView(framed.buffer)
    dv.setUint32(0, framed.length - 4, true)
    dv.setUint32(4, 8 + 4 * Math.floor(rand() * ((framed.length - 12) / 4)), true)
    framed.set([0x42, 0x59, 0x52, 0x44], 8)
    for (const [kind, frame] of [['raw', garbage], ['sized', sized], ['framed', framed]] as const) {
      const r = outcome(frame)
      if (r.startsWith('CRASH') || r === 'ok') t.fail(`seed ${seed}, ${kind}: ${r}`)
      counts[kind].set(r, (counts[kind].get(r) ?? 0) + 1)
    }
  }
  const shown = (m: Map<string, number>): string => JSON.stringify(Object.fromEntries(m))
  t.ok(counts.raw.has('TRUNCATED'), `raw: ${shown(counts.raw)}`)
  t.ok(counts.sized.has('BAD_IDENTIFIER'), `sized: ${shown(counts.sized)}`)
  t.ok(counts.framed.size > 0, `framed: ${shown(counts.framed)}`)
})

t.test('random corruption of valid frames, many seeds', async (t) => {
  const frames = SAMPLES.map(([, msg]) => encode({ seq: 3, msg })).filter((f) => f.length < 8192)
  const counts = new Map<string, number>()
  for (let seed = 1; seed <= 4000; seed++) {
    const rand = rng(seed)
    const frame = frames[seed % frames.length]!.slice()
    const edits = 1 + Math.floor(rand() * 8)
    for (let i = 0; i < edits; i++) frame[12 + Math.floor(rand() * (frame.length - 12))] = Math.floor(rand() * 256)
    const r = outcome(frame)
    if (r.startsWith('CRASH')) t.fail(`seed ${seed}: ${r}`)
    counts.set(r, (counts.get(r) ?? 0) + 1)
  }
  t.pass(`outcomes: ${JSON.stringify(Object.fromEntries(counts))}`)
})

t.test('every single-bit flip of a valid frame: a ProtocolError or a well-typed frame', async (t) => {
  const msg = SAMPLES.find(([l]) => l === 'FullSync')![1]
  const wire = encode({ seq: 1, msg })
  const counts = new Map<string, number>()
  for (let bit = 0; bit < wire.length * 8; bit++) {
    const flipped = wire.slice()
    flipped[bit >> 3]! ^= 1 << (bit & 7)
    const r = outcome(flipped)
    if (r.startsWith('CRASH')) t.fail(`bit ${bit}: ${r}`)
    if (bit < 96 && r === 'ok') t.fail(`bit ${bit} of the header went unnoticed`)
    counts.set(r, (counts.get(r) ?? 0) + 1)
  }
  t.ok((counts.get('ok') ?? 0) < wire.length * 8, `${wire.length * 8} flips: ${JSON.stringify(Object.fromEntries(counts))}`)
})

t.test('hand-made hostile frames get the right reason', async (t) => {
  refused(t, rawEnvelope({ tag: 1, body: ping, ident: 'BYRE' }), 'BAD_IDENTIFIER', /file identifier is \[42 59 52 45\], expected "BYRD"/)
  refused(t, rawEnvelope({ tag: 0 }), 'UNKNOWN_MESSAGE', /no message/)
  refused(t, rawEnvelope({ tag: MESSAGE_TYPES.length + 1, body: ping }), 'UNKNOWN_MESSAGE', new RegExp(`message type ${MESSAGE_TYPES.length + 1} is unknown to protocol version ${PROTOCOL_VERSION}`))
  refused(t, rawEnvelope({ tag: 255, body: ping }), 'UNKNOWN_MESSAGE')
  refused(t, rawEnvelope({ tag: fb.Message.Ping }), 'MALFORMED', /Ping body is missing/)
  refused(t, rawEnvelope({ seq: 2n ** 53n, tag: fb.Message.Ping, body: ping }), 'INVALID_VALUE', /Envelope\.seq: 9007199254740992 exceeds 2\^53 - 1/)
  t.equal(decode(rawEnvelope({ seq: 2n ** 53n - 1n, tag: fb.Message.Ping, body: ping })).seq, Number.MAX_SAFE_INTEGER)

  // A member whose type does not match the tag reads garbage fields but never crashes.
  t.ok(['ok', 'MALFORMED', 'OUT_OF_BOUNDS', 'INVALID_VALUE'].includes(outcome(rawEnvelope({ tag: fb.Message.Hello, body: ping }))))

  // Root offset pointing past the end / into the header.
  const wire = encode({ seq: 1, msg: { type: 'Ping', sentAtUs: 1 } })
  const far = wire.slice()
  new DataView(far.buffer).setUint32(4, 0xfffffff0, true)
  refused(t, far, 'OUT_OF_BOUNDS', /root offset/)
  const near = wire.slice()
  new DataView(near.buffer).setUint32(4, 0, true)
  refused(t, near, 'OUT_OF_BOUNDS', /root offset 4/)

  // Missing required fields (built without the generated end…(), which would refuse).
  const bare = (b: Builder, fields: number, fill: (b: Builder) => void): number => {
    b.startObject(fields)
    fill(b)
    return b.endObject()
  }
  refused(t, rawEnvelope({ tag: fb.Message.LinkResult, body: (b) => bare(b, 2, (b) => b.addFieldInt8(0, fb.LinkStatus.ACCEPTED, 0)) }), 'MALFORMED', /LinkResult\.message is missing/)
  refused(t, rawEnvelope({ tag: fb.Message.SatelliteAuth, body: (b) => bare(b, 1, () => {}) }), 'MALFORMED', /SatelliteAuth\.proof is missing/)
  refused(t, rawEnvelope({ tag: fb.Message.Hello, body: (b) => bare(b, 4, () => {}) }), 'MALFORMED', /Hello\.nodeName is missing/)

  // Values outside their domain.
  const msgStr = (b: Builder): number => b.createString('m')
  refused(t, rawEnvelope({ tag: fb.Message.LinkResult, body: (b) => fb.LinkResult.createLinkResult(b, 0, msgStr(b)) }), 'INVALID_VALUE', /LinkResult\.status: 0 is not a link status/)
  refused(t, rawEnvelope({ tag: fb.Message.LinkResult, body: (b) => fb.LinkResult.createLinkResult(b, 99 as fb.LinkStatus, msgStr(b)) }), 'INVALID_VALUE', /99/)
  refused(t, rawEnvelope({ tag: fb.Message.SatelliteAuth, body: (b) => fb.SatelliteAuth.createSatelliteAuth(b, b.createByteVector(new Uint8Array(33))) }), 'INVALID_VALUE', /SatelliteAuth\.proof has 33 bytes, expected 32/)
  refused(t, rawEnvelope({ tag: fb.Message.Ping, body: (b) => fb.Ping.createPing(b, 2n ** 64n - 1n) }), 'INVALID_VALUE', /Ping\.sentAtUs: 18446744073709551615 exceeds 2\^53 - 1/)
  refused(
    t,
    rawEnvelope({ tag: fb.Message.ResourceObserved, body: (b) => resourceObserved(b, { state: 9 }) }),
    'INVALID_VALUE',
    /ResourceObserved\.state: 9 is not a resource state/,
  )
  refused(
    t,
    rawEnvelope({ tag: fb.Message.ResourceDesired, body: (b) => resourceDesired(b, { layers: [fb.LayerKind.STORAGE, 0] }) }),
    'INVALID_VALUE',
    /ResourceDesired\.layers\[1\]: 0 is not a layer kind/,
  )
  refused(
    t,
    rawEnvelope({ tag: fb.Message.ResourceDesired, body: (b) => resourceDesired(b, { props: [['a', '1'], ['a', '2']] }) }),
    'MALFORMED',
    /ResourceDesired\.props: duplicate key "a"/,
  )
  refused(
    t,
    rawEnvelope({ tag: fb.Message.ResourceDesired, body: (b) => resourceDesired(b, { props: [['__proto__', '1']] }) }),
    'INVALID_VALUE',
    /__proto__ is refused/,
  )
  refused(
    t,
    rawEnvelope({
      tag: fb.Message.ResourceObserved,
      body: (b) => resourceObserved(b, { volume: (b) => volumeObserved(b, { allocated: 2n ** 60n }) }),
    }),
    'INVALID_VALUE',
    /ResourceObserved\.volumes\[0\]\.allocatedKib: 1152921504606846976 exceeds/,
  )
  refused(
    t,
    rawEnvelope({
      tag: fb.Message.ResourceObserved,
      body: (b) => resourceObserved(b, { volume: (b) => volumeObserved(b, { percent: Infinity }) }),
    }),
    'INVALID_VALUE',
    /syncPercent: Infinity is not a finite number/,
  )
})

t.test('strings: invalid UTF-8 and a missing NUL are refused', async (t) => {
  const wire = encode({ seq: 1, msg: { type: 'LinkResult', status: 'ACCEPTED', message: 'abcdef' } })
  const at = Buffer.from(wire).indexOf('abcdef')
  t.ok(at > 0)
  const bad = wire.slice()
  bad[at + 2] = 0xff
  refused(t, bad, 'MALFORMED', /not valid UTF-8/)
  const overlong = wire.slice()
  overlong.set([0xc0, 0x80], at) // an overlong NUL: invalid UTF-8, not a string terminator
  refused(t, overlong, 'MALFORMED', /not valid UTF-8/)
  const noNul = wire.slice()
  noNul[at + 6] = 0x21
  refused(t, noNul, 'MALFORMED', /lacks its terminating NUL/)
  const long = wire.slice()
  new DataView(long.buffer).setUint32(at - 4, 0x7fffffff, true)
  refused(t, long, 'OUT_OF_BOUNDS', /string of 2147483647 bytes/)
})

t.test('shared offsets cannot multiply the work (decompression bomb)', async (t) => {
  // 2,000 flags that all point at one 10 KiB string: a 30 KiB frame that would decode to 20 MB.
  const frame = rawEnvelope({
    tag: fb.Message.ResourceDesired,
    body: (b) => {
      const s = b.createString('f'.repeat(10_240))
      return resourceDesired(b, { flags: new Array<number>(2000).fill(s) })
    },
  })
  t.ok(frame.length < 32 * 1024)
  refused(t, frame, 'MALFORMED', /references more data than it holds/)
  // A vector claiming more elements than the frame has bytes.
  const wire = encode({ seq: 1, msg: { type: 'ResourceDesired', name: 'r', generation: 1n, deleted: false, layers: ['STORAGE'], flags: [], props: {}, volumes: [] } })
  const patched = wire.slice()
  // layers is a 1-byte vector holding STORAGE (7) after its uint32 length 1.
  const at = findVector(patched, [1, 0, 0, 0, 7])
  new DataView(patched.buffer).setUint32(at, 1e9, true)
  refused(t, patched, 'OUT_OF_BOUNDS', /vector of 1000000000 elements/)
})

t.test('vtables and field offsets are checked', async (t) => {
  const wire = encode({ seq: 1, msg: { type: 'Ping', sentAtUs: 0x0102030405 } })
  const root = 4 + new DataView(wire.buffer).getUint32(4, true)
  const dv = (b: Uint8Array): DataView => new DataView(b.buffer)
  const vtable = root - dv(wire).getInt32(root, true)
  const cases: Array<[string, (b: Uint8Array) => void, ProtocolErrorReason, RegExp]> = [
    ['vtable before the frame', (b) => dv(b).setInt32(root, root + 100, true), 'OUT_OF_BOUNDS', /vtable/],
    ['vtable past the end', (b) => dv(b).setInt32(root, -100000, true), 'OUT_OF_BOUNDS', /vtable/],
    ['odd vtable size', (b) => dv(b).setUint16(vtable, 7, true), 'MALFORMED', /vtable at offset \d+ has an invalid size 7/],
    ['tiny vtable', (b) => dv(b).setUint16(vtable, 2, true), 'MALFORMED', /invalid size 2/],
    ['huge vtable', (b) => dv(b).setUint16(vtable, 0xfffe, true), 'OUT_OF_BOUNDS', /vtable/],
    ['tiny table', (b) => dv(b).setUint16(vtable + 2, 1, true), 'MALFORMED', /table at offset \d+ has an invalid size 1/],
    ['table past the end', (b) => dv(b).setUint16(vtable + 2, 0xfff0, true), 'OUT_OF_BOUNDS', /table at offset/],
    ['field outside its table', (b) => dv(b).setUint16(vtable + 4, 0x7000, true), 'OUT_OF_BOUNDS', /lies outside its \d+ bytes/],
    ['field inside the soffset', (b) => dv(b).setUint16(vtable + 4, 2, true), 'OUT_OF_BOUNDS', /lies outside/],
  ]
  for (const [label, patch, reason, message] of cases) {
    const b = wire.slice()
    patch(b)
    refused(t, b, reason, message)
  }
})

// ── helpers that build bodies encode() would refuse to build ───────────────────────────────────────

function findVector(b: Uint8Array, pattern: number[]): number {
  outer: for (let i = 12; i <= b.length - pattern.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (b[i + j] !== pattern[j]) continue outer
    return i
  }
  throw new Error('pattern not found')
}

function kvs(b: Builder, entries: ReadonlyArray<readonly [string, string]>): number {
  const offs = entries.map(([k, v]) => fb.KeyValue.createKeyValue(b, b.createString(k), b.createString(v)))
  return fb.ResourceDesired.createPropsVector(b, offs)
}

function resourceDesired(b: Builder, o: { layers?: number[]; flags?: number[]; props?: ReadonlyArray<readonly [string, string]> }): number {
  const name = b.createString('r')
  const layers = fb.ResourceDesired.createLayersVector(b, o.layers ?? [fb.LayerKind.STORAGE])
  const flags = fb.ResourceDesired.createFlagsVector(b, o.flags ?? [])
  const props = kvs(b, o.props ?? [])
  const volumes = fb.ResourceDesired.createVolumesVector(b, [])
  fb.ResourceDesired.startResourceDesired(b)
  fb.ResourceDesired.addName(b, name)
  fb.ResourceDesired.addGeneration(b, 1n)
  fb.ResourceDesired.addLayers(b, layers)
  fb.ResourceDesired.addFlags(b, flags)
  fb.ResourceDesired.addProps(b, props)
  fb.ResourceDesired.addVolumes(b, volumes)
  return fb.ResourceDesired.endResourceDesired(b)
}

function volumeObserved(b: Builder, o: { allocated?: bigint; percent?: number }): number {
  const peers: number[] = []
  if (o.percent !== undefined) {
    const p = fb.DrbdPeerVolumeObserved.createDrbdPeerVolumeObserved(b, b.createString('b'), b.createString('x'), b.createString('y'), o.percent)
    peers.push(p)
  }
  const peerVec = fb.VolumeObserved.createPeersVector(b, peers)
  const errors = fb.VolumeObserved.createErrorsVector(b, [])
  return fb.VolumeObserved.createVolumeObserved(b, 0, 0, o.allocated ?? null, null, 0, peerVec, errors)
}

function resourceObserved(b: Builder, o: { state?: number; volume?: (b: Builder) => number }): number {
  const name = b.createString('r')
  const vlms = fb.ResourceObserved.createVolumesVector(b, o.volume ? [o.volume(b)] : [])
  const conns = fb.ResourceObserved.createConnectionsVector(b, [])
  const errors = fb.ResourceObserved.createErrorsVector(b, [])
  return fb.ResourceObserved.createResourceObserved(b, name, 1n, o.state ?? fb.ResourceState.READY, false, vlms, conns, errors, null, null)
}
