/**
 * The DRBD resource file (`/etc/drbd.d/<rsc>.res`) of one resource on this node, rendered from its
 * desired state for DRBD 9 (LINSTOR's target) or DRBD 8.4 (every stock kernel; two replicas only).
 * Pure: no I/O. The layout follows LINSTOR's `ConfFileBuilder` so `drbdadm` sees what it would see under
 * LINSTOR: one `on` section per node (this node first, then the peers by name), one explicit
 * `connection` per peer (never `connection-mesh`: a connection between two diskless nodes is left out,
 * and each connection may have its own paths), `DrbdOptions/*` props in the section drbdsetup lists them
 * under. The output depends only on the input (nothing like LINSTOR's time stamp in the header), so
 * comparing a rendered file with the one on disk tells whether `drbdadm adjust` has anything to do.
 *
 * Everything that goes into the file is checked first: names, addresses, paths and option values can
 * carry no quote, brace, semicolon or line break into drbdadm's parser. A desired state this renderer
 * refuses is a {@link TerminalError}: the controller sent something that retrying cannot fix.
 */
import { isIP } from 'node:net'
import { checkName, nameKey } from '../../../common/names.js'
import type { DrbdPeer, Props, ResourceDesired } from '../../../proto/messages.js'
import { TerminalError } from '../../reconcile/errors.js'

/** One network path between this node and a peer (multi-NIC): the two ends' addresses. */
export interface DrbdPath {
  /** This node's address on this path (IPv4 or IPv6 literal). */
  localAddress: string
  /** The peer's address on this path. */
  peerAddress: string
}

/**
 * What a resource file is rendered from.
 *
 * - `nodeName`: this node, as the controller names it (`FullSync.nodeName`). drbdadm finds "its" `on`
 *   section by comparing host names with `uname -n`, so node names must be the hosts' names (LINSTOR's
 *   default, when no `NodeUname` prop says otherwise).
 * - `rsc`: the resource's desired state; `rsc.drbd` must be present and every volume needs `drbdMinor`.
 *   `DrbdOptions/*` resolve most-specific-first: a volume's props (volume over volume definition, merged
 *   by the controller) over the resource's (resource, definition, group, controller, merged likewise).
 * - `backingDisks`: the device under DRBD for each volume number, from the layer below; unused (and may
 *   be empty) when the resource is diskless here (`DRBD_DISKLESS` or `TIE_BREAKER` flag).
 * - `paths`: per peer node name, the network paths to it when there are several NICs (DRBD 9 only).
 *   A peer without an entry is reached on the single address pair of `rsc.drbd` and the peer.
 */
export interface ResFileInput {
  nodeName: string
  rsc: ResourceDesired
  backingDisks: ReadonlyMap<number, string>
  paths?: Readonly<Record<string, readonly DrbdPath[]>>
}

/** DRBD major versions whose configuration syntax Blockyard renders. */
export type DrbdVersion = 8 | 9

type Section = 'options' | 'net' | 'disk' | 'handlers'

/** How an option's value is checked and written. */
interface ValueRule {
  /** Whether the value is written in double quotes (free text). */
  quoted: boolean
  /** Why `value` is not acceptable, or undefined when it is. */
  problem(value: string): string | undefined
}

const BOOL: ValueRule = { quoted: false, problem: (v) => (v === 'yes' || v === 'no' ? undefined : "must be 'yes' or 'no'") }

/** Free text (an algorithm name, a CPU mask, a handler's command line): quoted, so only `"`, `\` and controls are refused. */
const TEXT: ValueRule = { quoted: true, problem: (v) => textProblem(v) }

function oneOf(...values: string[]): ValueRule {
  return { quoted: false, problem: (v) => (values.includes(v) ? undefined : `must be one of ${values.join(', ')}`) }
}

/**
 * An integer in [min, max]; `scaled` options (sizes and rates, whose drbdsetup unit is not 1) may also
 * carry a unit suffix (`100M`), which drbdadm converts and range-checks itself.
 */
function num(min: number, max: number, scaled = false): ValueRule {
  const suffix = scaled ? ', optionally with a unit suffix k, M or G' : ''
  return {
    quoted: false,
    problem(v) {
      if (scaled && /^[0-9]{1,10}[kKmMgG]$/.test(v)) return undefined
      if (/^-?[0-9]{1,10}$/.test(v) && Number(v) >= min && Number(v) <= max) return undefined
      return `must be an integer from ${min} to ${max}${suffix}`
    },
  }
}

/** A number in [min, max] or one of the symbols (quorum: `majority`, `all`, `off` or a node count). */
function numOr(min: number, max: number, ...symbols: string[]): ValueRule {
  const n = num(min, max)
  return {
    quoted: false,
    problem: (v) => (symbols.includes(v) || n.problem(v) === undefined ? undefined : `must be one of ${symbols.join(', ')} or an integer from ${min} to ${max}`),
  }
}

interface OptionPlace {
  section: Section
  rule: ValueRule
}

/** An option's place in DRBD 8.4: as in 9, none, or another section (and rule, when its range differs). */
const SAME = 'same'
const NOT_IN_84 = 'not in 8.4'
type In84 = typeof SAME | typeof NOT_IN_84 | [Section, ValueRule?]

/**
 * The DRBD options Blockyard renders, keyed by their LINSTOR prop name below `DrbdOptions/`. LINSTOR
 * names each namespace after the drbdsetup command that takes the option (`resource-options` →
 * Resource, `net-options` → Net, `disk-options` → Disk, `peer-device-options` → PeerDevice); the
 * ranges and choices are those of `drbdsetup xml-help <command>` of drbd-utils 9.22 for DRBD 9 and of
 * its `drbdsetup-84` for 8.4 (the last column). A .res file takes peer-device options in its `disk`
 * section; in 8.4, `fencing` is a disk option too. `resync-after` is left out: in a .res file it names another
 * resource, which a prop shared by resources cannot do.
 */
const OPTIONS: ReadonlyMap<string, { v9: OptionPlace; v84?: OptionPlace }> = new Map(
  (
    [
      ['Disk/al-extents', 'disk', num(67, 65534), SAME],
      ['Disk/al-updates', 'disk', BOOL, SAME],
      ['Disk/disable-write-same', 'disk', BOOL, SAME],
      ['Disk/discard-zeroes-if-aligned', 'disk', BOOL, SAME],
      ['Disk/disk-barrier', 'disk', BOOL, SAME],
      ['Disk/disk-drain', 'disk', BOOL, SAME],
      ['Disk/disk-flushes', 'disk', BOOL, SAME],
      ['Disk/disk-timeout', 'disk', num(0, 6000), SAME],
      ['Disk/md-flushes', 'disk', BOOL, SAME],
      ['Disk/on-io-error', 'disk', oneOf('pass_on', 'call-local-io-error', 'detach'), SAME],
      ['Disk/read-balancing', 'disk', oneOf('prefer-local', 'prefer-remote', 'round-robin', 'least-pending', 'when-congested-remote', '32K-striping', '64K-striping', '128K-striping', '256K-striping', '512K-striping', '1M-striping'), SAME],
      ['Disk/rs-discard-granularity', 'disk', num(0, 1048576), SAME],
      ['Net/after-sb-0pri', 'net', oneOf('disconnect', 'discard-younger-primary', 'discard-older-primary', 'discard-zero-changes', 'discard-least-changes', 'discard-local', 'discard-remote'), SAME],
      ['Net/after-sb-1pri', 'net', oneOf('disconnect', 'consensus', 'discard-secondary', 'call-pri-lost-after-sb', 'violently-as0p'), SAME],
      ['Net/after-sb-2pri', 'net', oneOf('disconnect', 'call-pri-lost-after-sb', 'violently-as0p'), SAME],
      ['Net/allow-remote-read', 'net', BOOL, NOT_IN_84],
      ['Net/allow-two-primaries', 'net', BOOL, SAME],
      ['Net/always-asbp', 'net', BOOL, SAME],
      ['Net/congestion-extents', 'net', num(67, 65534), SAME],
      ['Net/congestion-fill', 'net', num(0, 20971520, true), SAME],
      ['Net/connect-int', 'net', num(1, 120), SAME],
      ['Net/cram-hmac-alg', 'net', TEXT, SAME],
      ['Net/csums-after-crash-only', 'net', BOOL, SAME],
      ['Net/csums-alg', 'net', TEXT, SAME],
      ['Net/data-integrity-alg', 'net', TEXT, SAME],
      ['Net/fencing', 'net', oneOf('dont-care', 'resource-only', 'resource-and-stonith'), ['disk']],
      ['Net/ko-count', 'net', num(0, 200), SAME],
      ['Net/max-buffers', 'net', num(32, 131072), SAME],
      ['Net/max-epoch-size', 'net', num(1, 20000), SAME],
      ['Net/on-congestion', 'net', oneOf('block', 'pull-ahead', 'disconnect'), SAME],
      ['Net/ping-int', 'net', num(1, 120), SAME],
      ['Net/ping-timeout', 'net', num(1, 300), SAME],
      ['Net/protocol', 'net', oneOf('A', 'B', 'C'), SAME],
      ['Net/rcvbuf-size', 'net', num(0, 10485760), SAME],
      ['Net/rr-conflict', 'net', oneOf('disconnect', 'call-pri-lost', 'violently', 'retry-connect', 'auto-discard'), ['net', oneOf('disconnect', 'call-pri-lost', 'violently')]],
      ['Net/sndbuf-size', 'net', num(0, 10485760), SAME],
      ['Net/socket-check-timeout', 'net', num(0, 300), SAME],
      ['Net/tcp-cork', 'net', BOOL, SAME],
      ['Net/timeout', 'net', num(1, 600), SAME],
      ['Net/use-rle', 'net', BOOL, SAME],
      ['Net/verify-alg', 'net', TEXT, SAME],
      ['PeerDevice/bitmap', 'disk', BOOL, NOT_IN_84],
      ['PeerDevice/c-delay-target', 'disk', num(1, 100), SAME],
      ['PeerDevice/c-fill-target', 'disk', num(0, 1048576, true), SAME],
      ['PeerDevice/c-max-rate', 'disk', num(0, 4194304, true), ['disk', num(250, 4194304, true)]],
      ['PeerDevice/c-min-rate', 'disk', num(0, 4194304, true), SAME],
      ['PeerDevice/c-plan-ahead', 'disk', num(0, 300), SAME],
      ['PeerDevice/resync-rate', 'disk', num(1, 8388608, true), ['disk', num(1, 4194304, true)]],
      ['Resource/auto-promote', 'options', BOOL, NOT_IN_84],
      ['Resource/auto-promote-timeout', 'options', num(0, 600), NOT_IN_84],
      ['Resource/cpu-mask', 'options', TEXT, SAME],
      ['Resource/max-io-depth', 'options', num(4, 4294967295), NOT_IN_84],
      ['Resource/on-no-data-accessible', 'options', oneOf('io-error', 'suspend-io'), SAME],
      ['Resource/on-no-quorum', 'options', oneOf('io-error', 'suspend-io'), NOT_IN_84],
      ['Resource/on-suspended-primary-outdated', 'options', oneOf('disconnect', 'force-secondary'), NOT_IN_84],
      ['Resource/peer-ack-delay', 'options', num(1, 10000), NOT_IN_84],
      ['Resource/peer-ack-window', 'options', num(2048, 204800, true), NOT_IN_84],
      ['Resource/quorum', 'options', numOr(1, 32, 'off', 'majority', 'all'), NOT_IN_84],
      ['Resource/quorum-minimum-redundancy', 'options', numOr(1, 32, 'off', 'majority', 'all'), NOT_IN_84],
      ['Resource/twopc-retry-timeout', 'options', num(1, 50), NOT_IN_84],
      ['Resource/twopc-timeout', 'options', num(50, 600), NOT_IN_84],
      // Handlers are drbdadm's, not drbdsetup's (drbd.conf(5), drbd.conf-8.4(5)): command lines.
      ['Handlers/after-resync-target', 'handlers', TEXT, SAME],
      ['Handlers/before-resync-source', 'handlers', TEXT, NOT_IN_84],
      ['Handlers/before-resync-target', 'handlers', TEXT, SAME],
      ['Handlers/disconnected', 'handlers', TEXT, NOT_IN_84],
      ['Handlers/fence-peer', 'handlers', TEXT, SAME],
      ['Handlers/initial-split-brain', 'handlers', TEXT, SAME],
      ['Handlers/local-io-error', 'handlers', TEXT, SAME],
      ['Handlers/out-of-sync', 'handlers', TEXT, SAME],
      ['Handlers/pri-lost', 'handlers', TEXT, SAME],
      ['Handlers/pri-lost-after-sb', 'handlers', TEXT, SAME],
      ['Handlers/pri-on-incon-degr', 'handlers', TEXT, SAME],
      ['Handlers/quorum-lost', 'handlers', TEXT, NOT_IN_84],
      ['Handlers/split-brain', 'handlers', TEXT, SAME],
      ['Handlers/unfence-peer', 'handlers', TEXT, SAME],
    ] as [string, Section, ValueRule, In84][]
  ).map(([key, section, rule, in84]): [string, { v9: OptionPlace; v84?: OptionPlace }] => {
    const v9 = { section, rule }
    if (in84 === NOT_IN_84) return [key, { v9 }]
    if (in84 === SAME) return [key, { v9, v84: v9 }]
    return [key, { v9, v84: { section: in84[0], rule: in84[1] ?? rule } }]
  }),
)

const PROP_PREFIX = 'DrbdOptions/'
/** The prop namespaces rendered into the file; other `DrbdOptions/*` props are the controller's (PeerSlots, auto-quorum…). */
const RENDERED_NAMESPACES = ['Disk/', 'Handlers/', 'Net/', 'PeerDevice/', 'Resource/']

/** LINSTOR's authentication algorithm for the shared secret (ConfFileBuilder writes it unconditionally). */
const DEFAULT_CRAM_HMAC_ALG = 'sha1'
/** Protocol C (synchronous) unless a prop says otherwise, as LINSTOR. */
const DEFAULT_PROTOCOL = 'C'
/**
 * drbdadm insists on a `disk` in every diskful volume of every `on` section but uses only this node's;
 * LINSTOR writes this placeholder for a peer's (whose real path only the peer's own file needs).
 */
const PEER_DISK_PLACEHOLDER = '/dev/drbd/this/is/not/used'
/** Flags under which this node has no disk of its own for the resource (LINSTOR's). */
const DISKLESS_FLAGS = ['DRBD_DISKLESS', 'TIE_BREAKER']

// DRBD's limits (drbd_limits.h, drbd_config.h): node ids 0–31, minors are 20 bits, volume numbers 16
// bits, the shared secret at most 64 bytes.
const MAX_NODE_ID = 31
const MAX_MINOR = (1 << 20) - 1
const MAX_VOLUME_NUMBER = 65535
const MAX_SECRET_BYTES = 64

/** Why `v` cannot stand in double quotes in a .res file, or undefined when it can. */
function textProblem(v: string): string | undefined {
  if (v === '') return 'must not be empty'
  // A quote or a line break would end the string or the statement, a backslash starts an escape in
  // drbdadm's scanner; no prop value needs them, so refusing is simpler than escaping. Controls and DEL
  // have no business in any value.
  const bad = [...v].find((c) => c === '"' || c === '\\' || c < ' ' || c === '\x7f')
  return bad === undefined ? undefined : `contains ${JSON.stringify(bad)}, which a .res file cannot carry`
}

function refuse(rsc: string, what: string): never {
  throw new TerminalError(`DRBD resource file for '${rsc}': ${what}`)
}

function checkNodeName(rsc: string, name: string): string {
  try {
    return checkName('node', name)
  } catch (err) {
    throw new TerminalError(`DRBD resource file for '${rsc}': ${(err as Error).message}`, { cause: err })
  }
}

function checkInt(rsc: string, what: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) refuse(rsc, `${what} must be an integer from ${min} to ${max}, got ${v}`)
  return v
}

/** `ipv4 a.b.c.d:port` or `ipv6 [addr]:port`, as drbdadm writes addresses. */
function address(rsc: string, what: string, addr: string, port: number): string {
  checkInt(rsc, `${what}'s port`, port, 1, 65535)
  const family = isIP(addr)
  if (family === 4) return `ipv4 ${addr}:${port}`
  // Zone ids (fe80::1%eth0) are refused: isIP accepts them, drbdadm does not.
  if (family === 6 && !addr.includes('%')) return `ipv6 [${addr}]:${port}`
  refuse(rsc, `${what}'s address ${JSON.stringify(addr)} is not an IPv4 or IPv6 address`)
}

function quote(rsc: string, what: string, v: string): string {
  const problem = textProblem(v)
  if (problem !== undefined) refuse(rsc, `${what} ${problem}`)
  return `"${v}"`
}

/** An option as written: its name below its namespace and its value, ready for the file. */
type OptionLine = [name: string, value: string]

/**
 * The options of `namespaces` that `props` set, grouped by the section they go to for `version`, each
 * sorted by prop name. Unknown keys in a rendered namespace, values out of range and options the
 * version lacks are refused.
 */
function drbdOptions(rscName: string, props: Props, version: DrbdVersion, namespaces = RENDERED_NAMESPACES): Map<Section, OptionLine[]> {
  const chosen: [rel: string, value: string][] = []
  for (const [key, value] of Object.entries(props)) {
    const rel = key.startsWith(PROP_PREFIX) ? key.slice(PROP_PREFIX.length) : undefined
    if (rel !== undefined && namespaces.some((ns) => rel.startsWith(ns))) chosen.push([rel, value])
  }
  const out = new Map<Section, OptionLine[]>()
  for (const [rel, value] of chosen.sort(([a], [b]) => compare(a, b))) {
    const spec = OPTIONS.get(rel)
    if (spec === undefined) refuse(rscName, `${PROP_PREFIX}${rel} is not a DRBD option Blockyard knows`)
    const place = version === 9 ? spec.v9 : spec.v84
    if (place === undefined) refuse(rscName, `${PROP_PREFIX}${rel} does not exist in DRBD 8.4`)
    const problem = place.rule.problem(value)
    if (problem !== undefined) refuse(rscName, `${PROP_PREFIX}${rel} = ${JSON.stringify(value)}: ${problem}`)
    const name = rel.slice(rel.indexOf('/') + 1)
    const lines = out.get(place.section) ?? []
    lines.push([name, place.rule.quoted ? `"${value}"` : value])
    out.set(place.section, lines)
  }
  return out
}

/** Writes nested `name { … }` blocks with four-space indents. */
class Writer {
  readonly #lines: string[] = []
  #depth = 0

  line(text: string): void {
    this.#lines.push(text === '' ? '' : '    '.repeat(this.#depth) + text)
  }

  block(head: string, body: () => void): void {
    this.line(`${head} {`)
    this.#depth++
    body()
    this.#depth--
    this.line('}')
  }

  /** A section of `name value;` lines; nothing at all without lines. */
  options(head: string, lines: readonly OptionLine[] | undefined): void {
    if (lines === undefined) return
    this.block(head, () => {
      for (const [name, value] of lines) this.line(`${name} ${value};`)
    })
  }

  text(): string {
    return this.#lines.join('\n') + '\n'
  }
}

interface Host {
  name: string
  nodeId: number
  address: string
  port: number
  diskless: boolean
  /** `address` and `port` as drbdadm reads them. */
  endpoint: string
}

/**
 * The `.res` file of `input.rsc` on this node for DRBD `version`. Throws a TypeError when called
 * without what it needs (a resource without DRBD data, a diskful volume without its backing disk), and
 * a {@link TerminalError} naming the problem when the desired state cannot be rendered: a bad name,
 * address, port, node id, minor or option value, duplicate nodes, ids or minors, and for DRBD 8.4
 * anything but exactly two diskful nodes on one path.
 */
export function renderResFile(input: ResFileInput, version: DrbdVersion): string {
  if (version !== 8 && version !== 9) throw new TypeError(`DRBD version must be 8 or 9, got ${String(version)}`)
  const { rsc } = input
  const drbd = rsc.drbd
  if (drbd === undefined) throw new TypeError(`resource '${rsc.name}' has no DRBD data: DRBD is not in its layer stack`)
  if (rsc.deleted) throw new TypeError(`resource '${rsc.name}' is being deleted: it has no resource file`)
  try {
    checkName('rsc', rsc.name)
  } catch (err) {
    throw new TerminalError(`DRBD resource file: ${(err as Error).message}`, { cause: err })
  }
  const name = rsc.name
  const localDiskless = rsc.flags.some((f) => DISKLESS_FLAGS.includes(f))

  const host = (nodeName: string, h: Omit<DrbdPeer, 'nodeName'>): Host => {
    const hostName = checkNodeName(name, nodeName)
    checkInt(name, `the node id of '${hostName}'`, h.nodeId, 0, MAX_NODE_ID)
    return { ...h, name: hostName, endpoint: address(name, `node '${hostName}'`, h.address, h.port) }
  }
  const local = host(input.nodeName, { nodeId: drbd.nodeId, address: drbd.address, port: drbd.port, diskless: localDiskless })
  const peers = [...drbd.peers].sort((a, b) => compare(nameKey(a.nodeName), nameKey(b.nodeName))).map((p) => host(p.nodeName, p))
  const hosts = [local, ...peers]
  checkUnique(name, 'node name', hosts.map((h) => nameKey(h.name)))
  checkUnique(name, 'node id', hosts.map((h) => String(h.nodeId)))

  const volumes = [...rsc.volumes].sort((a, b) => a.number - b.number)
  for (const v of volumes) {
    checkInt(name, 'volume number', v.number, 0, MAX_VOLUME_NUMBER)
    if (v.drbdMinor === undefined) refuse(name, `volume ${v.number} has no DRBD minor`)
    checkInt(name, `the minor of volume ${v.number}`, v.drbdMinor, 0, MAX_MINOR)
  }
  checkUnique(name, 'volume number', volumes.map((v) => String(v.number)))
  checkUnique(name, 'minor', volumes.map((v) => String(v.drbdMinor)))
  const localDisk = (vlmNr: number): string => {
    const disk = input.backingDisks.get(vlmNr)
    if (disk === undefined) throw new TypeError(`resource '${name}' volume ${vlmNr}: no backing disk given for a diskful volume`)
    if (!disk.startsWith('/')) refuse(name, `the backing disk of volume ${vlmNr}, ${JSON.stringify(disk)}, is not an absolute path`)
    return quote(name, `the backing disk of volume ${vlmNr}`, disk)
  }

  const paths = input.paths ?? {}
  for (const peerName of Object.keys(paths)) {
    if (!peers.some((p) => nameKey(p.name) === nameKey(peerName))) refuse(name, `paths are given for '${peerName}', which is not a peer`)
  }
  const pathsTo = (peer: Host): readonly DrbdPath[] | undefined => {
    const key = Object.keys(paths).find((k) => nameKey(k) === nameKey(peer.name))
    const list = key === undefined ? undefined : paths[key]
    if (list !== undefined && list.length === 0) refuse(name, `the list of paths to '${peer.name}' is empty`)
    return list
  }

  if (version === 8) {
    if (peers.length !== 1) refuse(name, `DRBD 8.4 takes exactly two nodes, this resource has ${hosts.length} (Blockyard uses 8.4 for two replicas only; more need DRBD 9)`)
    const diskless = hosts.find((h) => h.diskless)
    if (diskless !== undefined) refuse(name, `node '${diskless.name}' is diskless: with DRBD 8.4 Blockyard keeps two replicas, both with a disk`)
    if (pathsTo(peers[0]!) !== undefined) refuse(name, 'DRBD 8.4 has one path per connection: multiple network paths need DRBD 9')
  }

  const options = drbdOptions(name, rsc.props, version)
  const net = new Map(options.get('net') ?? [])
  if (!net.has('protocol')) net.set('protocol', DEFAULT_PROTOCOL)
  if (drbd.sharedSecret !== undefined) {
    if (Buffer.byteLength(drbd.sharedSecret) > MAX_SECRET_BYTES) refuse(name, `the shared secret is longer than DRBD's ${MAX_SECRET_BYTES} bytes`)
    net.set('shared-secret', quote(name, 'the shared secret', drbd.sharedSecret))
    if (!net.has('cram-hmac-alg')) net.set('cram-hmac-alg', `"${DEFAULT_CRAM_HMAC_ALG}"`)
  }

  const w = new Writer()
  w.line(`# Generated by Blockyard from the desired state of resource "${name}" on node "${local.name}".`)
  w.line('# Do not edit: it is rewritten whenever that state changes.')
  w.line('')
  w.block(`resource "${name}"`, () => {
    w.options('options', options.get('options'))
    w.options('handlers', options.get('handlers'))
    w.options('net', [...net].sort(([a], [b]) => compare(a, b)))
    w.options('disk', options.get('disk'))
    for (const h of hosts) {
      w.block(`on "${h.name}"`, () => {
        if (version === 9) w.line(`node-id ${h.nodeId};`)
        for (const v of volumes) {
          w.block(`volume ${v.number}`, () => {
            w.line(`device minor ${v.drbdMinor};`)
            if (h.diskless) {
              w.line('disk none;')
              return
            }
            w.line(`disk ${h === local ? localDisk(v.number) : `"${PEER_DISK_PLACEHOLDER}"`};`)
            w.line('meta-disk internal;')
            // The most specific value wins: what the volume's props set here overrides, through drbdadm's
            // own inheritance, the resource's disk section (where all other volumes get theirs).
            if (h === local) w.options('disk', drbdOptions(name, v.props, version, ['Disk/']).get('disk'))
          })
        }
        if (version === 8) w.line(`address ${h.endpoint};`)
      })
    }
    if (version === 8) return
    for (const peer of peers) {
      // Two diskless nodes have no data to exchange (LINSTOR leaves their connection out too).
      if (local.diskless && peer.diskless) continue
      const list = pathsTo(peer)
      w.block('connection', () => {
        if (list === undefined) {
          w.line(`host "${local.name}" address ${local.endpoint};`)
          w.line(`host "${peer.name}" address ${peer.endpoint};`)
          return
        }
        list.forEach((p, i) => {
          const what = `path ${i + 1} to '${peer.name}'`
          w.block('path', () => {
            w.line(`host "${local.name}" address ${address(name, `${what}: node '${local.name}'`, p.localAddress, local.port)};`)
            w.line(`host "${peer.name}" address ${address(name, `${what}: node '${peer.name}'`, p.peerAddress, peer.port)};`)
          })
        })
      })
    }
  })
  return w.text()
}

/** Code-unit order, the same on every host (no locale). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function checkUnique(rsc: string, what: string, keys: readonly string[]): void {
  const seen = new Set<string>()
  for (const k of keys) {
    if (seen.has(k)) refuse(rsc, `${what} ${k} appears more than once`)
    seen.add(k)
  }
}
