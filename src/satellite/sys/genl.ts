/**
 * Generic netlink (DESIGN.md §2.6): the encoding and decoding of `nlmsghdr`, `genlmsghdr` and
 * `nlattr` (`<linux/netlink.h>`, `<linux/genetlink.h>`), requests with sequence numbers, multi-part
 * dumps, errors as {@link SysError}, and the controller's CTRL_CMD_GETFAMILY to resolve a family's id
 * and multicast groups. The addon only opens the socket, sends and reads datagrams (native.ts
 * `genlOpen`); a family's own commands and attributes live with their layer (layers/drbd/drbd-genl.ts).
 */
import { EventEmitter } from 'node:events'
import { constants } from 'node:os'
import { logger } from '../../common/log.js'
import { native, SysError, type GenlSocket } from './native.js'

const log = logger('sys.genl')
const { EBADF, EINTR, EMSGSIZE } = constants.errno

/** nlmsghdr: len u32, type u16, flags u16, seq u32, pid u32. */
export const NLMSG_HDRLEN = 16
/** genlmsghdr: cmd u8, version u8, reserved u16. */
export const GENL_HDRLEN = 4
/** nlattr: len u16, type u16. */
export const NLA_HDRLEN = 4

/** Netlink's control message types (below NLMSG_MIN_TYPE, 0x10, where families start). */
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const

/** nlmsghdr flags. */
export const NLM_F = {
  REQUEST: 0x1,
  /** One part of a multi-part reply; the last is NLMSG_DONE. */
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  /** The dump was interrupted by a change: what came is inconsistent. */
  DUMP_INTR: 0x10,
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
} as const

/** nla_type bits above the type itself. */
export const NLA_F_NESTED = 0x8000
export const NLA_F_NET_BYTEORDER = 0x4000
export const NLA_TYPE_MASK = 0x3fff

/** The generic netlink controller (`<linux/genetlink.h>`): its fixed family id and what it answers. */
export const GENL_ID_CTRL = 0x10
export const CTRL_CMD_GETFAMILY = 3
export const CTRL_ATTR = { FAMILY_ID: 1, FAMILY_NAME: 2, VERSION: 3, HDRSIZE: 4, MAXATTR: 5, OPS: 6, MCAST_GROUPS: 7 } as const
export const CTRL_ATTR_OP = { ID: 1, FLAGS: 2 } as const
export const CTRL_ATTR_MCAST_GRP = { NAME: 1, ID: 2 } as const

/** Netlink aligns headers and attributes to 4 bytes (NLMSG_ALIGN, NLA_ALIGN). */
export function align4(n: number): number {
  return (n + 3) & ~3
}

/** One netlink message of a datagram. */
export interface NetlinkMessage {
  type: number
  flags: number
  seq: number
  /** nlmsg_pid: the requester's port on unicast replies, 0 on the kernel's multicast notifications. */
  port: number
  /** What follows the nlmsghdr, up to nlmsg_len. */
  payload: Buffer
}

/** A malformed message or attribute: the kernel never sends one, so this is a bug or a bad capture. */
export class NetlinkFormatError extends Error {}
Object.defineProperty(NetlinkFormatError.prototype, 'name', { value: 'NetlinkFormatError', writable: true, enumerable: false, configurable: true })

/** Packs one message; `port` 0 lets the kernel fill in the sender. */
export function encodeNetlinkMessage(m: { type: number; flags: number; seq: number; port?: number; payload: Buffer }): Buffer {
  const len = NLMSG_HDRLEN + m.payload.length
  const out = Buffer.alloc(align4(len))
  out.writeUInt32LE(len, 0)
  out.writeUInt16LE(m.type, 4)
  out.writeUInt16LE(m.flags, 6)
  out.writeUInt32LE(m.seq >>> 0, 8)
  out.writeUInt32LE(m.port ?? 0, 12)
  m.payload.copy(out, NLMSG_HDRLEN)
  return out
}

/** Splits a datagram into its messages (NLMSG_NEXT). Throws NetlinkFormatError on a bad length. */
export function decodeNetlinkMessages(datagram: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = []
  let off = 0
  while (off + NLMSG_HDRLEN <= datagram.length) {
    const len = datagram.readUInt32LE(off)
    if (len < NLMSG_HDRLEN || off + len > datagram.length) {
      throw new NetlinkFormatError(`netlink message at ${off}: length ${len} does not fit the ${datagram.length}-byte datagram`)
    }
    out.push({
      type: datagram.readUInt16LE(off + 4),
      flags: datagram.readUInt16LE(off + 6),
      seq: datagram.readUInt32LE(off + 8),
      port: datagram.readUInt32LE(off + 12),
      payload: datagram.subarray(off + NLMSG_HDRLEN, off + len),
    })
    off += align4(len)
  }
  if (off < datagram.length) throw new NetlinkFormatError(`${datagram.length - off} bytes after the last netlink message`)
  return out
}

/**
 * The errno of an NLMSG_ERROR message (`struct nlmsgerr`: a negative errno, then the request's
 * header): 0 for an acknowledgement.
 */
export function netlinkErrno(m: NetlinkMessage): number {
  if (m.payload.length < 4) throw new NetlinkFormatError(`NLMSG_ERROR of ${m.payload.length} bytes`)
  return -m.payload.readInt32LE(0)
}

/** One attribute. */
export interface NlAttr {
  /** nla_type without the NESTED and NET_BYTEORDER bits. */
  type: number
  /** NLA_F_NESTED was set (the kernel sets it only where a family asks; DRBD's do not). */
  nested: boolean
  payload: Buffer
}

/** Packs one attribute, padded to 4 bytes. */
export function encodeAttr(type: number, payload: Buffer, nested = false): Buffer {
  const len = NLA_HDRLEN + payload.length
  const out = Buffer.alloc(align4(len))
  out.writeUInt16LE(len, 0)
  out.writeUInt16LE((type & NLA_TYPE_MASK) | (nested ? NLA_F_NESTED : 0), 2)
  payload.copy(out, NLA_HDRLEN)
  return out
}

/** Attribute payload builders (host byte order, as the kernel's nla_put_u32 and friends). */
export const attr = {
  u8: (type: number, v: number): Buffer => encodeAttr(type, Buffer.from([v])),
  u16: (type: number, v: number): Buffer => {
    const b = Buffer.alloc(2)
    b.writeUInt16LE(v)
    return encodeAttr(type, b)
  },
  u32: (type: number, v: number): Buffer => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(v >>> 0)
    return encodeAttr(type, b)
  },
  u64: (type: number, v: bigint): Buffer => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(v)
    return encodeAttr(type, b)
  },
  /** NUL-terminated, as NLA_NUL_STRING and nla_put_string. */
  string: (type: number, v: string): Buffer => encodeAttr(type, Buffer.from(`${v}\0`, 'utf8')),
  /** A flag is an attribute without payload. */
  flag: (type: number): Buffer => encodeAttr(type, Buffer.alloc(0)),
  /** `children` are encoded attributes; `flagNested` sets NLA_F_NESTED (the kernel's strict policies want it). */
  nested: (type: number, children: Buffer[], flagNested = true): Buffer => encodeAttr(type, Buffer.concat(children), flagNested),
}

/** Splits an attribute stream (nla_for_each_attr). Throws NetlinkFormatError on a bad length. */
export function decodeAttrs(buf: Buffer): NlAttr[] {
  const out: NlAttr[] = []
  let off = 0
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off)
    const type = buf.readUInt16LE(off + 2)
    if (len < NLA_HDRLEN || off + len > buf.length) {
      throw new NetlinkFormatError(`attribute ${type & NLA_TYPE_MASK} at ${off}: length ${len} does not fit ${buf.length} bytes`)
    }
    out.push({ type: type & NLA_TYPE_MASK, nested: (type & NLA_F_NESTED) !== 0, payload: buf.subarray(off + NLA_HDRLEN, off + len) })
    off += align4(len)
  }
  // Trailing bytes shorter than a header are the last attribute's padding, which may be cut off.
  return out
}

/** Attributes by type; for a repeated type the last wins, as nla_parse. */
export function attrMap(buf: Buffer): Map<number, NlAttr> {
  return new Map(decodeAttrs(buf).map((a) => [a.type, a]))
}

function need(a: NlAttr, bytes: number, what: string): void {
  if (a.payload.length < bytes) throw new NetlinkFormatError(`attribute ${a.type}: ${what} needs ${bytes} bytes, has ${a.payload.length}`)
}

/** Attribute payload readers. */
export const read = {
  u8: (a: NlAttr): number => (need(a, 1, 'u8'), a.payload.readUInt8(0)),
  u16: (a: NlAttr): number => (need(a, 2, 'u16'), a.payload.readUInt16LE(0)),
  u32: (a: NlAttr): number => (need(a, 4, 'u32'), a.payload.readUInt32LE(0)),
  s32: (a: NlAttr): number => (need(a, 4, 's32'), a.payload.readInt32LE(0)),
  u64: (a: NlAttr): bigint => (need(a, 8, 'u64'), a.payload.readBigUInt64LE(0)),
  /** Up to the first NUL (or the end). */
  string: (a: NlAttr): string => {
    const nul = a.payload.indexOf(0)
    return a.payload.subarray(0, nul < 0 ? a.payload.length : nul).toString('utf8')
  },
  nested: (a: NlAttr): Map<number, NlAttr> => attrMap(a.payload),
}

/** A generic netlink message: the netlink header's fields, genlmsghdr, the family's header, attributes. */
export interface GenlMessage {
  /** The family id (nlmsg_type). */
  family: number
  flags: number
  seq: number
  port: number
  cmd: number
  version: number
  /** The family's fixed header (its `hdrsize` bytes after genlmsghdr). */
  header: Buffer
  /** The attribute stream after it, undecoded. */
  attrs: Buffer
}

/** Packs a request: nlmsghdr, genlmsghdr, the family's header, then attributes. */
export function encodeGenlRequest(r: { family: number; cmd: number; version: number; flags: number; seq: number; header?: Buffer; attrs?: Buffer[] }): Buffer {
  const genl = Buffer.alloc(GENL_HDRLEN)
  genl.writeUInt8(r.cmd, 0)
  genl.writeUInt8(r.version, 1)
  const header = r.header ?? Buffer.alloc(0)
  const payload = Buffer.concat([genl, header, Buffer.alloc(align4(header.length) - header.length), ...(r.attrs ?? [])])
  return encodeNetlinkMessage({ type: r.family, flags: r.flags, seq: r.seq, payload })
}

/** Reads genlmsghdr and `headerSize` bytes of family header from a message. */
export function decodeGenl(m: NetlinkMessage, headerSize = 0): GenlMessage {
  const start = GENL_HDRLEN + align4(headerSize)
  if (m.payload.length < GENL_HDRLEN + headerSize) {
    throw new NetlinkFormatError(`generic netlink message of ${m.payload.length} bytes, needs ${GENL_HDRLEN + headerSize}`)
  }
  return {
    family: m.type,
    flags: m.flags,
    seq: m.seq,
    port: m.port,
    cmd: m.payload.readUInt8(0),
    version: m.payload.readUInt8(1),
    header: m.payload.subarray(GENL_HDRLEN, GENL_HDRLEN + headerSize),
    attrs: m.payload.subarray(Math.min(start, m.payload.length)),
  }
}

/** A family as the controller describes it. */
export interface GenlFamily {
  name: string
  id: number
  version: number
  /** The size of the family's fixed header. */
  hdrSize: number
  /** Commands the family answers. */
  ops: number[]
  /** Multicast group name → id. */
  groups: Map<string, number>
}

/** Reads a CTRL_CMD_NEWFAMILY reply. */
export function decodeFamily(m: GenlMessage): GenlFamily {
  const a = attrMap(m.attrs)
  const id = a.get(CTRL_ATTR.FAMILY_ID)
  const name = a.get(CTRL_ATTR.FAMILY_NAME)
  if (id === undefined || name === undefined) throw new NetlinkFormatError('CTRL_CMD_GETFAMILY reply without family id or name')
  const version = a.get(CTRL_ATTR.VERSION)
  const hdrSize = a.get(CTRL_ATTR.HDRSIZE)
  const ops = [...decodeAttrs(a.get(CTRL_ATTR.OPS)?.payload ?? Buffer.alloc(0))].flatMap((op) => {
    const opId = read.nested(op).get(CTRL_ATTR_OP.ID)
    return opId === undefined ? [] : [read.u32(opId)]
  })
  const groups = new Map<string, number>()
  for (const g of decodeAttrs(a.get(CTRL_ATTR.MCAST_GROUPS)?.payload ?? Buffer.alloc(0))) {
    const ga = read.nested(g)
    const gname = ga.get(CTRL_ATTR_MCAST_GRP.NAME)
    const gid = ga.get(CTRL_ATTR_MCAST_GRP.ID)
    if (gname !== undefined && gid !== undefined) groups.set(read.string(gname), read.u32(gid))
  }
  return {
    name: read.string(name),
    id: read.u16(id),
    version: version === undefined ? 0 : read.u32(version),
    hdrSize: hdrSize === undefined ? 0 : read.u32(hdrSize),
    ops,
    groups,
  }
}

/** The request that resolves `name`. */
export function encodeGetFamily(name: string, seq: number): Buffer {
  return encodeGenlRequest({ family: GENL_ID_CTRL, cmd: CTRL_CMD_GETFAMILY, version: 1, flags: NLM_F.REQUEST | NLM_F.ACK, seq, attrs: [attr.string(CTRL_ATTR.FAMILY_NAME, name)] })
}

interface Pending {
  target: string
  dump: boolean
  replies: NetlinkMessage[]
  resolve(replies: NetlinkMessage[]): void
  reject(err: Error): void
}

/**
 * Folds one reply into its request: returns the finished result (the replies, or the error) once
 * the request is complete, else undefined. A dump ends with NLMSG_DONE (whose payload is an int
 * error, like NLMSG_ERROR's); any request may end with NLMSG_ERROR; a plain request asked with
 * NLM_F_ACK ends with the acknowledgement (an NLMSG_ERROR of 0).
 */
export function settleReply(p: { target: string; dump: boolean; replies: NetlinkMessage[] }, m: NetlinkMessage): NetlinkMessage[] | Error | undefined {
  if (m.type === NLMSG.ERROR || (m.type === NLMSG.DONE && m.payload.length >= 4)) {
    const errno = netlinkErrno(m)
    if (errno !== 0) return new SysError(errno, p.dump ? 'netlink dump' : 'netlink request', p.target)
    if (m.type === NLMSG.DONE || !p.dump) return p.replies
    return undefined // an acknowledgement in the middle of a dump: keep reading
  }
  if (m.type === NLMSG.DONE) return p.replies
  if (m.type === NLMSG.NOOP) return undefined
  if ((m.flags & NLM_F.DUMP_INTR) !== 0) return new SysError(EINTR, 'netlink dump', p.target)
  p.replies.push(m)
  return undefined
}

export interface GenlConnectionOptions {
  /** SO_RCVBUFFORCE bytes when running as root (event bursts); 0 keeps the default. */
  rcvbufBytes?: number
  /** Keep the process alive while open and idle (default true); requests in flight always do. */
  ref?: boolean
}

/**
 * A generic netlink socket: `request()` and `dump()` match replies to requests by sequence number
 * and port; everything else the kernel sends — multicast notifications, from port 0, on groups
 * joined with `join()` — is emitted as `'notification'` (NetlinkMessage). `'overflow'` (SysError
 * ENOBUFS): notifications were lost, listeners must observe afresh. `'error'`: reading failed
 * otherwise; pending requests are rejected with it.
 */
export class GenlConnection extends EventEmitter {
  #socket: GenlSocket | null
  #seq = 0
  readonly #pending = new Map<number, Pending>()
  /** Whether an idle socket keeps the process alive; one with requests in flight always does. */
  #ref: boolean
  /** Datagrams dropped: not from the kernel, truncated, or malformed. */
  dropped = 0

  constructor(options: GenlConnectionOptions = {}) {
    super()
    const rcvbuf = process.getuid?.() === 0 ? (options.rcvbufBytes ?? 0) : 0
    this.#socket = native().genlOpen(rcvbuf, (err, message, port, _uid, truncated) => this.#receive(err, message, port, truncated))
    this.#ref = options.ref !== false
    if (!this.#ref) this.#socket.unref()
  }

  // A request waits on the socket alone: it keeps the process alive until answered.
  #updateRef(): void {
    if (this.#ref || this.#pending.size > 0) this.#socket?.ref()
    else this.#socket?.unref()
  }

  #receive(err: SysError | null, datagram: Buffer | null, senderPort: number, truncated: boolean): void {
    if (err !== null) {
      if (err.code === 'ENOBUFS') {
        // Replies to a pending dump may be among what was lost: it cannot complete.
        this.#rejectAll(err)
        log.warn('generic netlink socket overflowed: messages were lost', { error: err.message })
        this.emit('overflow', err)
      } else {
        this.#rejectAll(err)
        this.emit('error', err)
      }
      return
    }
    if (datagram === null) return
    // Only the kernel (port 0) answers requests and multicasts; a datagram cut short cannot be parsed.
    if (senderPort !== 0 || truncated) {
      this.dropped++
      log.debug('dropped a generic netlink datagram', { senderPort, truncated, bytes: datagram.length })
      if (truncated) this.#rejectAll(new SysError(EMSGSIZE, 'recvmsg', 'NETLINK_GENERIC'))
      return
    }
    let messages: NetlinkMessage[]
    try {
      messages = decodeNetlinkMessages(datagram)
    } catch (e) {
      this.dropped++
      log.warn('dropped a malformed generic netlink datagram', { error: (e as Error).message })
      return
    }
    for (const m of messages) {
      // Replies carry the requester's port; notifications port 0 and a sequence of their family's own.
      const pending = m.port !== 0 ? this.#pending.get(m.seq) : undefined
      if (pending === undefined) {
        this.emit('notification', m)
        continue
      }
      let result: NetlinkMessage[] | Error | undefined
      try {
        result = settleReply(pending, m)
      } catch (e) {
        result = e as Error
      }
      if (result === undefined) continue
      this.#pending.delete(m.seq)
      this.#updateRef()
      if (result instanceof Error) pending.reject(result)
      else pending.resolve(result)
    }
  }

  #rejectAll(err: Error): void {
    const all = [...this.#pending.values()]
    this.#pending.clear()
    this.#updateRef()
    for (const p of all) p.reject(err)
  }

  /** The next sequence number: 1…2^32-1, never 0 (which the kernel's own messages use). */
  nextSeq(): number {
    this.#seq = (this.#seq % 0xffffffff) + 1
    return this.#seq
  }

  #send(build: (seq: number) => Buffer, target: string, dump: boolean): Promise<NetlinkMessage[]> {
    const socket = this.#socket
    if (socket === null) return Promise.reject(new SysError(EBADF, 'sendto', 'NETLINK_GENERIC'))
    const seq = this.nextSeq()
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { target, dump, replies: [], resolve, reject })
      this.#updateRef()
      try {
        socket.send(build(seq))
      } catch (e) {
        this.#pending.delete(seq)
        this.#updateRef()
        reject(e as Error)
      }
    })
  }

  /**
   * Sends a request built for sequence number `seq` and resolves with its replies once the kernel
   * acknowledged it (`build` must set NLM_F_ACK), or rejects with the SysError of its NLMSG_ERROR.
   * `target` names what the request is about in that error.
   */
  request(build: (seq: number) => Buffer, target: string): Promise<NetlinkMessage[]> {
    return this.#send(build, target, false)
  }

  /**
   * Sends a dump request (`build` must set NLM_F_DUMP) and resolves with every part up to NLMSG_DONE.
   * A dump the kernel marks interrupted (NLM_F_DUMP_INTR: the objects changed while it ran) is
   * started again, up to `attempts` times in all, then rejected with SysError EINTR.
   */
  async dump(build: (seq: number) => Buffer, target: string, attempts = 3): Promise<NetlinkMessage[]> {
    for (let i = 1; ; i++) {
      try {
        return await this.#send(build, target, true)
      } catch (e) {
        if (!(e instanceof SysError && e.code === 'EINTR') || i >= attempts) throw e
      }
    }
  }

  /** Resolves a family by name (CTRL_CMD_GETFAMILY); SysError ENOENT when its module is not loaded. */
  async family(name: string): Promise<GenlFamily> {
    const replies = await this.#send((seq) => encodeGetFamily(name, seq), `generic netlink family ${name}`, false)
    const reply = replies.find((m) => m.type === GENL_ID_CTRL)
    if (reply === undefined) throw new NetlinkFormatError(`no CTRL_CMD_NEWFAMILY reply for ${name}`)
    return decodeFamily(decodeGenl(reply))
  }

  /** Joins multicast group `group` (an id from {@link GenlFamily.groups}); throws SysError. */
  join(group: number): void {
    if (this.#socket === null) throw new SysError(EBADF, 'setsockopt(NETLINK_ADD_MEMBERSHIP)', 'NETLINK_GENERIC')
    this.#socket.addMembership(group)
  }

  get closed(): boolean {
    return this.#socket === null
  }

  /** Closes the socket and rejects pending requests with SysError EBADF; idempotent. */
  close(): void {
    if (this.#socket === null) return
    this.#socket.close()
    this.#socket = null
    this.#rejectAll(new SysError(EBADF, 'recvmsg', 'NETLINK_GENERIC'))
  }

  /** Whether the open socket keeps the process alive while no request is in flight (default: it does). */
  ref(): void {
    this.#ref = true
    this.#updateRef()
  }

  unref(): void {
    this.#ref = false
    this.#updateRef()
  }
}
