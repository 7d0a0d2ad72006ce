// DRBD resource files rendered from desired state (src/satellite/layers/drbd/res-file.ts), compared byte
// for byte with golden files under test/fixtures/drbd/, each of which the real drbdadm must parse.
//
// After a deliberate change to the output, rewrite the golden files with
//   UPDATE_GOLDEN=1 npx tap test/unit/satellite/layers/drbd/res-file.test.ts
// and read the diff before committing it.
//
// The drbdadm check needs drbd-utils (Debian package `drbd-utils`, 9.22 in bookworm) and no kernel
// module: __DRBD_NODE__ makes drbdadm take the file's first host for itself (it otherwise looks for
// `uname -n`), DRBD_DRIVER_VERSION_OVERRIDE stands in for the module's version, which is how drbdadm
// picks its DRBD 9 parser or its 8.4 one (/usr/lib/drbd/drbdadm-84). Without drbdadm it skips.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { renderResFile, type ResFileInput } from '../../../../../src/satellite/layers/drbd/res-file.js'
import type { DrbdPeer, ResourceDesired, VolumeDesired } from '../../../../../src/proto/messages.js'
import { TerminalError } from '../../../../../src/satellite/reconcile/errors.js'

const FIXTURES = new URL('../../../../fixtures/drbd/', import.meta.url)
const UPDATE = process.env.UPDATE_GOLDEN === '1'

function volume(number: number, minor: number, props: Record<string, string> = {}): VolumeDesired {
  return { number, netSizeKib: 1048576, grossSizeKib: 1048840, storPoolName: 'thin', providerKind: 'LVM_THIN', storPoolProps: {}, props, drbdMinor: minor }
}

function peer(nodeName: string, nodeId: number, address: string, diskless = false): DrbdPeer {
  return { nodeName, nodeId, address, port: 7000, diskless }
}

interface Rsc {
  name?: string
  flags?: string[]
  props?: Record<string, string>
  volumes?: VolumeDesired[]
  nodeId?: number
  address?: string
  sharedSecret?: string
  peers: DrbdPeer[]
}

/** A resource on node "alpha" (10.0.0.1:7000) with volume 0 on minor 1000 unless told otherwise. */
function input(r: Rsc, extra: Partial<ResFileInput> = {}): ResFileInput {
  const volumes = r.volumes ?? [volume(0, 1000)]
  const rsc: ResourceDesired = {
    name: r.name ?? 'pvc-data',
    generation: 7n,
    deleted: false,
    layers: ['DRBD', 'STORAGE'],
    flags: r.flags ?? [],
    props: r.props ?? {},
    volumes,
    drbd: {
      nodeId: r.nodeId ?? 0,
      address: r.address ?? '10.0.0.1',
      port: 7000,
      peerSlots: 7,
      ...(r.sharedSecret !== undefined ? { sharedSecret: r.sharedSecret } : {}),
      peers: r.peers,
    },
  }
  const backingDisks = new Map(volumes.map((v) => [v.number, `/dev/thin/${rsc.name}_${String(v.number).padStart(5, '0')}`]))
  return { nodeName: 'alpha', rsc, backingDisks, ...extra }
}

const BETA = peer('beta', 1, '10.0.0.2')

/** A valid value for every option Blockyard renders (DrbdOptions/<key>), to show drbdadm takes each where it lands. */
const EVERY_OPTION: Record<string, string> = {
  'Disk/al-extents': '6007',
  'Disk/al-updates': 'yes',
  'Disk/disable-write-same': 'no',
  'Disk/discard-zeroes-if-aligned': 'yes',
  'Disk/disk-barrier': 'no',
  'Disk/disk-drain': 'yes',
  'Disk/disk-flushes': 'no',
  'Disk/disk-timeout': '0',
  'Disk/md-flushes': 'no',
  'Disk/on-io-error': 'detach',
  'Disk/read-balancing': 'least-pending',
  'Disk/rs-discard-granularity': '65536',
  'Handlers/after-resync-target': '/usr/lib/drbd/unsnapshot-resync-target-lvm.sh',
  'Handlers/before-resync-source': '/bin/true',
  'Handlers/before-resync-target': '/usr/lib/drbd/snapshot-resync-target-lvm.sh -p 15 -- -c 16k',
  'Handlers/disconnected': '/bin/true',
  'Handlers/fence-peer': '/usr/lib/drbd/crm-fence-peer.9.sh',
  'Handlers/initial-split-brain': '/bin/true',
  'Handlers/local-io-error': '/usr/lib/drbd/notify-io-error.sh; /usr/lib/drbd/notify-emergency-shutdown.sh',
  'Handlers/out-of-sync': '/usr/lib/drbd/notify-out-of-sync.sh root',
  'Handlers/pri-lost': '/usr/lib/drbd/notify-pri-lost.sh',
  'Handlers/pri-lost-after-sb': '/usr/lib/drbd/notify-pri-lost-after-sb.sh',
  'Handlers/pri-on-incon-degr': '/usr/lib/drbd/notify-pri-on-incon-degr.sh',
  'Handlers/quorum-lost': '/usr/lib/drbd/notify-quorum-lost.sh',
  'Handlers/split-brain': '/usr/lib/drbd/notify-split-brain.sh root',
  'Handlers/unfence-peer': '/usr/lib/drbd/crm-unfence-peer.9.sh',
  'Net/after-sb-0pri': 'discard-zero-changes',
  'Net/after-sb-1pri': 'discard-secondary',
  'Net/after-sb-2pri': 'disconnect',
  'Net/allow-remote-read': 'no',
  'Net/allow-two-primaries': 'yes',
  'Net/always-asbp': 'yes',
  'Net/congestion-extents': '1000',
  'Net/congestion-fill': '1G',
  'Net/connect-int': '5',
  'Net/cram-hmac-alg': 'sha256',
  'Net/csums-after-crash-only': 'yes',
  'Net/csums-alg': 'crc32c',
  'Net/data-integrity-alg': 'crc32c',
  'Net/fencing': 'resource-only',
  'Net/ko-count': '7',
  'Net/max-buffers': '36864',
  'Net/max-epoch-size': '20000',
  'Net/on-congestion': 'pull-ahead',
  'Net/ping-int': '5',
  'Net/ping-timeout': '10',
  'Net/protocol': 'B',
  'Net/rcvbuf-size': '10485760',
  'Net/rr-conflict': 'disconnect',
  'Net/sndbuf-size': '0',
  'Net/socket-check-timeout': '5',
  'Net/tcp-cork': 'no',
  'Net/timeout': '90',
  'Net/use-rle': 'yes',
  'Net/verify-alg': 'sha1',
  'PeerDevice/bitmap': 'no',
  'PeerDevice/c-delay-target': '10',
  'PeerDevice/c-fill-target': '1M',
  'PeerDevice/c-max-rate': '720M',
  'PeerDevice/c-min-rate': '250k',
  'PeerDevice/c-plan-ahead': '20',
  'PeerDevice/resync-rate': '250M',
  'Resource/auto-promote': 'no',
  'Resource/auto-promote-timeout': '20',
  'Resource/cpu-mask': '3',
  'Resource/max-io-depth': '8000',
  'Resource/on-no-data-accessible': 'suspend-io',
  'Resource/on-no-quorum': 'io-error',
  'Resource/on-suspended-primary-outdated': 'force-secondary',
  'Resource/peer-ack-delay': '100',
  'Resource/peer-ack-window': '2M',
  'Resource/quorum': '2',
  'Resource/quorum-minimum-redundancy': 'majority',
  'Resource/twopc-retry-timeout': '1',
  'Resource/twopc-timeout': '300',
}

/** The options DRBD 8.4 lacks. */
const NOT_IN_84 = [
  'Handlers/before-resync-source',
  'Handlers/disconnected',
  'Handlers/quorum-lost',
  'Net/allow-remote-read',
  'PeerDevice/bitmap',
  'Resource/auto-promote',
  'Resource/auto-promote-timeout',
  'Resource/max-io-depth',
  'Resource/on-no-quorum',
  'Resource/on-suspended-primary-outdated',
  'Resource/peer-ack-delay',
  'Resource/peer-ack-window',
  'Resource/quorum',
  'Resource/quorum-minimum-redundancy',
  'Resource/twopc-retry-timeout',
  'Resource/twopc-timeout',
]

function drbdOptions(keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [`DrbdOptions/${k}`, EVERY_OPTION[k]!]))
}

const ALL_KEYS = Object.keys(EVERY_OPTION)
const KEYS_84 = ALL_KEYS.filter((k) => !NOT_IN_84.includes(k))

interface Golden {
  file: string
  version: 8 | 9
  input: ResFileInput
}

const GOLDEN: Golden[] = [
  { file: 'every-option-9.res', version: 9, input: input({ props: drbdOptions(ALL_KEYS), peers: [BETA] }) },
  { file: 'every-option-84.res', version: 8, input: input({ props: drbdOptions(KEYS_84), peers: [BETA] }) },
  {
    file: 'two-node-84.res',
    version: 8,
    input: input({
      sharedSecret: 'Zq8vN3rT5xKp2LmW7yHc',
      volumes: [volume(0, 1000), volume(1, 1001)],
      props: {
        'DrbdOptions/Net/fencing': 'resource-only',
        'DrbdOptions/PeerDevice/resync-rate': '100M',
        'DrbdOptions/Handlers/fence-peer': '/usr/lib/drbd/crm-fence-peer.sh',
        'DrbdOptions/Resource/on-no-data-accessible': 'suspend-io',
      },
      peers: [BETA],
    }),
  },
  { file: 'two-node-9.res', version: 9, input: input({ peers: [BETA] }) },
  {
    // LINSTOR's auto-quorum on three nodes, the third an automatic diskless tiebreaker.
    file: 'three-node-tiebreaker-9.res',
    version: 9,
    input: input({
      sharedSecret: 'Zq8vN3rT5xKp2LmW7yHc',
      props: { 'DrbdOptions/Resource/quorum': 'majority', 'DrbdOptions/Resource/on-no-quorum': 'io-error' },
      peers: [peer('gamma', 2, '10.0.0.3', true), BETA],
    }),
  },
  {
    // This node is the tiebreaker: no disk, and no connection to the other diskless node.
    file: 'tiebreaker-local-9.res',
    version: 9,
    input: input({
      flags: ['DRBD_DISKLESS', 'TIE_BREAKER'],
      nodeId: 2,
      address: '10.0.0.3',
      props: { 'DrbdOptions/Resource/quorum': 'majority' },
      peers: [peer('delta', 0, '10.0.0.4'), peer('client', 3, '10.0.0.5', true), peer('beta', 1, '10.0.0.2')],
    }),
  },
  {
    file: 'multi-volume-9.res',
    version: 9,
    input: input({
      address: 'fd00::1',
      volumes: [volume(2, 1002, { 'DrbdOptions/Disk/disk-flushes': 'no' }), volume(0, 1000), volume(1, 1001, { 'DrbdOptions/Disk/al-extents': '6007' })],
      props: { 'DrbdOptions/Disk/al-extents': '1237', 'DrbdOptions/Disk/disk-flushes': 'yes' },
      peers: [peer('beta', 1, 'fd00::2')],
    }),
  },
  {
    file: 'multi-nic-9.res',
    version: 9,
    input: input(
      { peers: [BETA, peer('gamma', 2, '10.0.0.3')] },
      {
        paths: {
          beta: [
            { localAddress: '10.0.0.1', peerAddress: '10.0.0.2' },
            { localAddress: '192.168.7.1', peerAddress: '192.168.7.2' },
          ],
        },
      },
    ),
  },
  {
    file: 'options-9.res',
    version: 9,
    input: input({
      sharedSecret: 'Zq8vN3rT5xKp2LmW7yHc',
      props: {
        'DrbdOptions/Resource/auto-promote': 'no',
        'DrbdOptions/Resource/cpu-mask': 'ff',
        'DrbdOptions/Net/protocol': 'A',
        'DrbdOptions/Net/cram-hmac-alg': 'sha256',
        'DrbdOptions/Net/max-buffers': '8000',
        'DrbdOptions/Net/verify-alg': 'crct10dif-pclmul',
        'DrbdOptions/Disk/on-io-error': 'detach',
        'DrbdOptions/PeerDevice/c-max-rate': '4194304',
        'DrbdOptions/PeerDevice/c-plan-ahead': '0',
        'DrbdOptions/Handlers/split-brain': '/usr/lib/drbd/notify-split-brain.sh root',
        // LINSTOR's own keys under DrbdOptions/ are not options of the file.
        'DrbdOptions/PeerSlots': '7',
        'DrbdOptions/auto-quorum': 'io-error',
        'StorDriver/StorPoolName': 'thin',
      },
      peers: [BETA],
    }),
  },
]

t.test('golden files', async (t) => {
  for (const g of GOLDEN) {
    const url = new URL(g.file, FIXTURES)
    const text = renderResFile(g.input, g.version)
    if (UPDATE) writeFileSync(url, text)
    t.equal(text, readFileSync(url, 'utf8'), g.file)
  }
})

t.test('the output depends only on the desired state, not on the order it lists things in', async (t) => {
  const g = GOLDEN.find((x) => x.file === 'options-9.res')!
  const props = Object.fromEntries(Object.entries(g.input.rsc.props).reverse())
  const drbd = { ...g.input.rsc.drbd!, peers: [...g.input.rsc.drbd!.peers].reverse() }
  const shuffled = { ...g.input, rsc: { ...g.input.rsc, props, drbd } }
  t.equal(renderResFile(shuffled, 9), renderResFile(g.input, 9))
  const tb = GOLDEN.find((x) => x.file === 'tiebreaker-local-9.res')!
  const reversed = { ...tb.input, rsc: { ...tb.input.rsc, drbd: { ...tb.input.rsc.drbd!, peers: [...tb.input.rsc.drbd!.peers].reverse() } } }
  t.equal(renderResFile(reversed, 9), renderResFile(tb.input, 9))
})

t.test('options resolve most-specific-first: a volume overrides the resource, in its own volume only', async (t) => {
  const text = renderResFile(GOLDEN.find((x) => x.file === 'multi-volume-9.res')!.input, 9)
  t.match(text, /^ {4}disk \{\n {8}al-extents 1237;\n {8}disk-flushes yes;\n {4}\}$/m, 'resource level')
  t.match(text, /volume 1 \{\n(?: {12}.*\n)* {12}disk \{\n {16}al-extents 6007;\n {12}\}/, 'volume 1 overrides al-extents')
  t.match(text, /volume 2 \{\n(?: {12}.*\n)* {12}disk \{\n {16}disk-flushes no;\n {12}\}/, 'volume 2 overrides disk-flushes')
  t.notMatch(text, /volume 0 \{\n(?: {12}.*\n)* {12}disk \{/, 'volume 0 sets nothing of its own')
})

const BAD_TEXT = ['"', '\\', '\n', '\r', '\0', '\t', '\x7f']

/** Each case: what to change in the two-node input, the version, and what the error must say. */
const REFUSED: [string, 8 | 9, () => ResFileInput, RegExp][] = [
  ['8.4 with three nodes', 8, () => input({ peers: [BETA, peer('gamma', 2, '10.0.0.3')] }), /DRBD 8\.4 takes exactly two nodes, this resource has 3/],
  ['8.4 alone', 8, () => input({ peers: [] }), /DRBD 8\.4 takes exactly two nodes, this resource has 1/],
  ['8.4 with a diskless peer', 8, () => input({ peers: [peer('beta', 1, '10.0.0.2', true)] }), /node 'beta' is diskless/],
  ['8.4 diskless here', 8, () => input({ flags: ['DRBD_DISKLESS'], peers: [BETA] }), /node 'alpha' is diskless/],
  ['8.4 with paths', 8, () => input({ peers: [BETA] }, { paths: { beta: [{ localAddress: '10.0.0.1', peerAddress: '10.0.0.2' }] } }), /multiple network paths need DRBD 9/],
  ['8.4 with quorum', 8, () => input({ props: { 'DrbdOptions/Resource/quorum': 'majority' }, peers: [BETA] }), /DrbdOptions\/Resource\/quorum does not exist in DRBD 8\.4/],
  ['a DRBD 9 choice in 8.4', 8, () => input({ props: { 'DrbdOptions/Net/rr-conflict': 'retry-connect' }, peers: [BETA] }), /rr-conflict = "retry-connect": must be one of disconnect, call-pri-lost, violently$/],
  ['a DRBD 9 range in 8.4', 8, () => input({ props: { 'DrbdOptions/PeerDevice/c-max-rate': '100' }, peers: [BETA] }), /c-max-rate = "100": must be an integer from 250 to 4194304/],
  ['an unknown option', 9, () => input({ props: { 'DrbdOptions/Net/bogus': '1' }, peers: [BETA] }), /DrbdOptions\/Net\/bogus is not a DRBD option/],
  ['an unknown volume option', 9, () => input({ volumes: [volume(0, 1000, { 'DrbdOptions/Disk/bogus': 'x' })], peers: [BETA] }), /DrbdOptions\/Disk\/bogus is not a DRBD option/],
  ['a number out of range', 9, () => input({ props: { 'DrbdOptions/Net/ko-count': '201' }, peers: [BETA] }), /ko-count = "201": must be an integer from 0 to 200$/],
  ['a unit on an unscaled number', 9, () => input({ props: { 'DrbdOptions/Net/timeout': '60k' }, peers: [BETA] }), /timeout = "60k"/],
  ['a bad boolean', 9, () => input({ props: { 'DrbdOptions/Net/tcp-cork': 'true' }, peers: [BETA] }), /must be 'yes' or 'no'/],
  ['a bad quorum', 9, () => input({ props: { 'DrbdOptions/Resource/quorum': '33' }, peers: [BETA] }), /must be one of off, majority, all or an integer from 1 to 32/],
  ['a statement smuggled into a choice', 9, () => input({ props: { 'DrbdOptions/Net/protocol': 'C; allow-two-primaries yes' }, peers: [BETA] }), /protocol = .*must be one of A, B, C/],
  ['a section smuggled into a number', 9, () => input({ props: { 'DrbdOptions/Net/timeout': '60; } on x {' }, peers: [BETA] }), /timeout = /],
  ...BAD_TEXT.map((c): [string, 8 | 9, () => ResFileInput, RegExp] => [
    `${JSON.stringify(c)} in a handler`,
    9,
    () => input({ props: { 'DrbdOptions/Handlers/split-brain': `/bin/true${c}x` }, peers: [BETA] }),
    /split-brain = .*which a \.res file cannot carry/,
  ]),
  ['an empty text option', 9, () => input({ props: { 'DrbdOptions/Net/verify-alg': '' }, peers: [BETA] }), /verify-alg = "": must not be empty/],
  ['a quote in the shared secret', 9, () => input({ sharedSecret: 'a"b', peers: [BETA] }), /the shared secret contains/],
  ['a shared secret over 64 bytes', 9, () => input({ sharedSecret: 'x'.repeat(65), peers: [BETA] }), /longer than DRBD's 64 bytes/],
  ['a quote in a node name', 9, () => input({ peers: [peer('be"ta', 1, '10.0.0.2')] }), /character '"' is not allowed/],
  ['a space in this node\'s name', 9, () => input({ peers: [BETA] }, { nodeName: 'al pha' }), /character ' ' is not allowed/],
  ['a brace in the resource name', 9, () => input({ name: 'r0}', peers: [BETA] }), /character '}' is not allowed/],
  ['a semicolon in a backing disk', 9, () => input({ peers: [BETA] }, { backingDisks: new Map([[0, '/dev/x";disk none']]) }), /backing disk of volume 0 contains "\\""/],
  ['a relative backing disk', 9, () => input({ peers: [BETA] }, { backingDisks: new Map([[0, 'dev/x']]) }), /"dev\/x", is not an absolute path/],
  ['a host name as address', 9, () => input({ peers: [peer('beta', 1, 'beta.example')] }), /address "beta\.example" is not an IPv4 or IPv6 address/],
  ['an address with a brace', 9, () => input({ address: '10.0.0.1}', peers: [BETA] }), /is not an IPv4 or IPv6 address/],
  ['an IPv6 zone', 9, () => input({ address: 'fe80::1%eth0', peers: [BETA] }), /"fe80::1%eth0" is not an IPv4 or IPv6 address/],
  ['a bad path address', 9, () => input({ peers: [BETA] }, { paths: { beta: [{ localAddress: '10.0.0.1', peerAddress: 'x' }] } }), /path 1 to 'beta': node 'beta''s address "x"/],
  ['port 0', 9, () => input({ peers: [{ ...BETA, port: 0 }] }), /node 'beta''s port must be an integer from 1 to 65535, got 0/],
  ['node id 32', 9, () => input({ peers: [peer('beta', 32, '10.0.0.2')] }), /node id of 'beta' must be an integer from 0 to 31, got 32/],
  ['a node id twice', 9, () => input({ peers: [peer('beta', 0, '10.0.0.2')] }), /node id 0 appears more than once/],
  ['a node twice', 9, () => input({ peers: [BETA, peer('BETA', 2, '10.0.0.3')] }), /node name BETA appears more than once/],
  ['this node as its own peer', 9, () => input({ peers: [peer('Alpha', 1, '10.0.0.2')] }), /node name ALPHA appears more than once/],
  ['a minor twice', 9, () => input({ volumes: [volume(0, 1000), volume(1, 1000)], peers: [BETA] }), /minor 1000 appears more than once/],
  ['a volume twice', 9, () => input({ volumes: [volume(0, 1000), volume(0, 1001)], peers: [BETA] }), /volume number 0 appears more than once/],
  ['a minor past 20 bits', 9, () => input({ volumes: [volume(0, 1 << 20)], peers: [BETA] }), /minor of volume 0 must be an integer from 0 to 1048575/],
  ['a volume without minor', 9, () => input({ volumes: [{ ...volume(0, 1000), drbdMinor: undefined } as unknown as VolumeDesired], peers: [BETA] }), /volume 0 has no DRBD minor/],
  ['paths to a stranger', 9, () => input({ peers: [BETA] }, { paths: { gamma: [{ localAddress: '10.0.0.1', peerAddress: '10.0.0.3' }] } }), /paths are given for 'gamma', which is not a peer/],
  ['an empty list of paths', 9, () => input({ peers: [BETA] }, { paths: { beta: [] } }), /the list of paths to 'beta' is empty/],
]

t.test('refused desired states are TerminalErrors that say why', async (t) => {
  for (const [what, version, make, message] of REFUSED) {
    t.throws(() => renderResFile(make(), version), TerminalError, what)
    t.throws(() => renderResFile(make(), version), { message }, what)
  }
})

t.test('DRBD 9 options are refused for 8.4, one by one', async (t) => {
  for (const k of NOT_IN_84) {
    t.throws(() => renderResFile(input({ props: drbdOptions([k]), peers: [BETA] }), 8), { message: `DRBD resource file for 'pvc-data': DrbdOptions/${k} does not exist in DRBD 8.4` }, k)
  }
})

t.test('misuse is a TypeError', async (t) => {
  const ok = input({ peers: [BETA] })
  t.throws(() => renderResFile(ok, 7 as 9), TypeError, 'version')
  const { drbd: _drbd, ...noDrbd } = ok.rsc
  t.throws(() => renderResFile({ ...ok, rsc: noDrbd }, 9), { name: 'TypeError', message: /has no DRBD data/ })
  t.throws(() => renderResFile({ ...ok, rsc: { ...ok.rsc, deleted: true } }, 9), { name: 'TypeError', message: /is being deleted/ })
  t.throws(() => renderResFile({ ...ok, backingDisks: new Map() }, 9), { name: 'TypeError', message: /volume 0: no backing disk given/ })
  t.doesNotThrow(() => renderResFile({ ...input({ flags: ['DRBD_DISKLESS'], peers: [BETA] }), backingDisks: new Map() }, 9), 'a diskless node needs no backing disk')
})

// ── the real parser ──────────────────────────────────────────────────────────────────────────────────

const DRBDADM = ['/usr/sbin/drbdadm', '/sbin/drbdadm'].find((p) => existsSync(p))
const DRIVER_VERSION = { 8: '8.4.11', 9: '9.2.0' } as const

/** drbdadm's exit status and stderr for `dump` of `file`, as the first `on` host, for DRBD `version`. */
function drbdadmDump(file: string, rsc: string, host: string, version: 8 | 9): { status: number | null; stderr: string } {
  const r = spawnSync(DRBDADM!, ['-c', file, 'dump', rsc], {
    env: { ...process.env, __DRBD_NODE__: host, DRBD_DRIVER_VERSION_OVERRIDE: DRIVER_VERSION[version], DRBD_DONT_WARN_ON_VERSION_MISMATCH: '1' },
    encoding: 'utf8',
    timeout: 10_000,
  })
  // drbdadm asks `modinfo` about the module through a shell even when told its version; drop that noise.
  const stderr = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/modinfo: not found|__DRBD_NODE__|PRETENDING/.test(l)).join('\n')
  return { status: r.status, stderr }
}

t.test('drbdadm parses every golden file', { skip: DRBDADM === undefined ? 'drbdadm not installed (Debian package drbd-utils)' : false }, async (t) => {
  for (const g of GOLDEN) {
    const file = new URL(g.file, FIXTURES).pathname
    const r = drbdadmDump(file, g.input.rsc.name, g.input.nodeName, g.version)
    t.equal(r.status, 0, `${g.file} (DRBD ${g.version})`, { stderr: r.stderr })
  }
  // The check can fail: DRBD 8.4's parser refuses a DRBD 9 file (node-id, connection sections).
  const nine = new URL('two-node-9.res', FIXTURES).pathname
  t.not(drbdadmDump(nine, 'pvc-data', 'alpha', 8).status, 0, 'the 8.4 parser refuses a DRBD 9 file')
})
