// Generic netlink encoding and decoding against messages captured from Linux 6.18 (this machine:
// the controller's answer about `nlctrl`, its acknowledgement, and its error for a family that does
// not exist) and from Debian's 6.1 in the VM (the `drbd` family, test/fixtures/genl/). No socket.
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { SysError } from '../../../../src/satellite/sys/native.js'
import {
  align4,
  attr,
  attrMap,
  CTRL_ATTR,
  CTRL_CMD_GETFAMILY,
  decodeAttrs,
  decodeFamily,
  decodeGenl,
  decodeNetlinkMessages,
  encodeAttr,
  encodeGenlRequest,
  encodeGetFamily,
  encodeNetlinkMessage,
  GENL_ID_CTRL,
  NetlinkFormatError,
  netlinkErrno,
  NLA_F_NESTED,
  NLM_F,
  NLMSG,
  read,
  settleReply,
  type NetlinkMessage,
} from '../../../../src/satellite/sys/genl.js'

const b64 = (s: string): Buffer => Buffer.from(s, 'base64')

// encodeGetFamily('nlctrl', 7), then encodeGetFamily('nosuchfamily', 8), sent on one socket; the
// kernel's three datagrams in order (Linux 6.18.44).
const captured = {
  nlctrl: b64(
    'iAAAABAAAAAHAAAAgDYAAAECAAALAAIAbmxjdHJsAAAGAAEAEAAAAAgAAwACAAAACAAEAAAAAAAIAAUAAAAAACwABgAUAAEACAABAAMAAAAIAAIADgAAABQAAgAIAAEACgAAAAgAAgAMAAAAHAAHABgAAQAIAAIAEAAAAAsAAQBub3RpZnkAAA==',
  ),
  ack: b64('JAAAAAIAAAEHAAAAgDYAAAAAAAAgAAAAEAAFAAcAAAAAAAAA'),
  enoent: b64('PAAAAAIAAAAIAAAAgDYAAP7///8oAAAAEAAFAAgAAAAAAAAAAwEAABEAAgBub3N1Y2hmYW1pbHkAAAAA'),
}

t.test('a CTRL_CMD_GETFAMILY request is laid out as the kernel reads it', async (t) => {
  const req = encodeGetFamily('nlctrl', 7)
  t.equal(req.length, 16 + 4 + align4(4 + 7), 'nlmsghdr, genlmsghdr, one padded attribute')
  t.equal(req.readUInt32LE(0), req.length, 'nlmsg_len counts attribute padding, as nla_put reserves it')
  t.equal(req.readUInt16LE(4), GENL_ID_CTRL)
  t.equal(req.readUInt16LE(6), NLM_F.REQUEST | NLM_F.ACK)
  t.equal(req.readUInt32LE(8), 7)
  t.equal(req.readUInt32LE(12), 0, 'port 0: the kernel fills in the sender')
  t.equal(req.readUInt8(16), CTRL_CMD_GETFAMILY)
  t.equal(req.readUInt8(17), 1)
  t.same([...req.subarray(20, 24)], [11, 0, CTRL_ATTR.FAMILY_NAME, 0], 'nla_len 11, nla_type FAMILY_NAME')
  t.equal(req.subarray(24, 31).toString(), 'nlctrl\0')
  t.same([...req.subarray(31)], [0], 'padded with zeros to 4 bytes')
  // The kernel echoes the request's header in its acknowledgement (struct nlmsgerr).
  const [ack] = decodeNetlinkMessages(captured.ack)
  t.same(ack!.payload.subarray(4, 20), req.subarray(0, 16))
})

t.test('the controller answer decodes into the family', async (t) => {
  const messages = decodeNetlinkMessages(captured.nlctrl)
  t.equal(messages.length, 1)
  const m = messages[0]!
  t.match(m, { type: GENL_ID_CTRL, flags: 0, seq: 7 })
  t.not(m.port, 0, 'a unicast reply carries the requester port')
  const g = decodeGenl(m)
  t.equal(g.cmd, 1, 'CTRL_CMD_NEWFAMILY')
  t.same(decodeFamily(g), { name: 'nlctrl', id: GENL_ID_CTRL, version: 2, hdrSize: 0, ops: [3, 10], groups: new Map([['notify', 0x10]]) })
})

t.test('acknowledgements and errors', async (t) => {
  const [ack] = decodeNetlinkMessages(captured.ack)
  t.equal(ack!.type, NLMSG.ERROR)
  t.equal(netlinkErrno(ack!), 0)
  const [err] = decodeNetlinkMessages(captured.enoent)
  t.equal(netlinkErrno(err!), 2, 'ENOENT')
  // A plain request ends at its acknowledgement with the replies before it, or at its error.
  const [reply] = decodeNetlinkMessages(captured.nlctrl)
  const p = { target: 'generic netlink family nlctrl', dump: false, replies: [] as NetlinkMessage[] }
  t.equal(settleReply(p, reply!), undefined)
  t.same(settleReply(p, ack!), [reply])
  const e = settleReply({ target: 'generic netlink family nosuchfamily', dump: false, replies: [] }, err!)
  t.ok(e instanceof SysError)
  t.match(e, { errno: 2, code: 'ENOENT', syscall: 'netlink request', target: 'generic netlink family nosuchfamily' })
  t.throws(() => netlinkErrno({ type: NLMSG.ERROR, flags: 0, seq: 1, port: 1, payload: Buffer.alloc(2) }), NetlinkFormatError)
})

t.test('multi-part dumps end at NLMSG_DONE, fail on an error or an interrupted dump', async (t) => {
  const part = (flags: number): NetlinkMessage => ({ type: 0x1a, flags: NLM_F.MULTI | flags, seq: 5, port: 9, payload: Buffer.alloc(4) })
  const done = (errno: number): NetlinkMessage => {
    const payload = Buffer.alloc(4)
    payload.writeInt32LE(-errno)
    return { type: NLMSG.DONE, flags: NLM_F.MULTI, seq: 5, port: 9, payload }
  }
  const p = { target: 'drbd', dump: true, replies: [] as NetlinkMessage[] }
  t.equal(settleReply(p, part(0)), undefined)
  t.equal(settleReply(p, part(0)), undefined)
  t.equal(settleReply(p, { type: NLMSG.NOOP, flags: 0, seq: 5, port: 9, payload: Buffer.alloc(0) }), undefined, 'NOOP is skipped')
  t.same(settleReply(p, done(0)), [part(0), part(0)])
  t.same(settleReply({ ...p, replies: [] }, { ...done(0), payload: Buffer.alloc(0) }), [], 'a DONE without payload (old kernels)')
  t.match(settleReply({ ...p, replies: [] }, done(22)), { code: 'EINVAL', syscall: 'netlink dump', target: 'drbd' })
  t.match(settleReply({ ...p, replies: [] }, part(NLM_F.DUMP_INTR)), { code: 'EINTR' })
  // An acknowledgement inside a dump (NLM_F_ACK on a dump request) does not end it.
  const [ack] = decodeNetlinkMessages(captured.ack)
  t.equal(settleReply({ ...p, replies: [] }, ack!), undefined)
})

t.test('several messages in one datagram, and malformed ones', async (t) => {
  const one = encodeNetlinkMessage({ type: 0x20, flags: NLM_F.MULTI, seq: 3, port: 4, payload: Buffer.from([1, 2, 3]) })
  t.equal(one.length, 20, 'padded to 4 bytes')
  const two = Buffer.concat([one, encodeNetlinkMessage({ type: NLMSG.DONE, flags: NLM_F.MULTI, seq: 3, port: 4, payload: Buffer.alloc(4) })])
  const ms = decodeNetlinkMessages(two)
  t.same(
    ms.map((m) => [m.type, m.seq, m.port, [...m.payload]]),
    [
      [0x20, 3, 4, [1, 2, 3]],
      [NLMSG.DONE, 3, 4, [0, 0, 0, 0]],
    ],
  )
  const tooLong = Buffer.from(one)
  tooLong.writeUInt32LE(64, 0)
  t.throws(() => decodeNetlinkMessages(tooLong), NetlinkFormatError)
  const tooShort = Buffer.from(one)
  tooShort.writeUInt32LE(8, 0)
  t.throws(() => decodeNetlinkMessages(tooShort), NetlinkFormatError)
  t.throws(() => decodeNetlinkMessages(Buffer.concat([one, Buffer.alloc(3)])), NetlinkFormatError, 'trailing bytes')
  t.same(decodeNetlinkMessages(Buffer.alloc(0)), [])
})

t.test('attributes: alignment, nesting, flag bits, readers', async (t) => {
  const nested = attr.nested(7, [attr.u32(1, 0xdeadbeef), attr.string(2, 'r0'), attr.u8(3, 1), attr.u64(4, 1n << 40n), attr.flag(5), attr.u16(6, 513)])
  t.equal(nested.readUInt16LE(2), 7 | NLA_F_NESTED)
  t.equal(nested.length % 4, 0)
  t.equal(attr.nested(7, [], false).readUInt16LE(2), 7, 'without NLA_F_NESTED when asked')
  const [outer] = decodeAttrs(nested)
  t.match(outer, { type: 7, nested: true })
  const fields = read.nested(outer!)
  t.equal(read.u32(fields.get(1)!), 0xdeadbeef)
  t.equal(read.string(fields.get(2)!), 'r0')
  t.equal(read.u8(fields.get(3)!), 1)
  t.equal(read.u64(fields.get(4)!), 1n << 40n)
  t.equal(fields.get(5)!.payload.length, 0)
  t.equal(read.u16(fields.get(6)!), 513)
  t.equal(read.s32(encodeAttrOf(1, -5)), -5)
  t.equal(read.string({ type: 1, nested: false, payload: Buffer.from('abc') }), 'abc', 'a string without NUL')
  // DRBD marks mandatory fields with bit 14 (NLA_F_NET_BYTEORDER's bit): the type is the low 14 bits.
  const mandatory = encodeAttr(2, Buffer.from('x\0'))
  mandatory.writeUInt16LE(2 | 0x4000, 2)
  t.equal(decodeAttrs(mandatory)[0]!.type, 2)
  // Repeated types: the last wins, as nla_parse.
  t.equal(read.u32(attrMap(Buffer.concat([attr.u32(1, 1), attr.u32(1, 2)])).get(1)!), 2)
  t.throws(() => read.u32({ type: 1, nested: false, payload: Buffer.alloc(2) }), NetlinkFormatError)
  const bad = attr.u32(1, 1)
  bad.writeUInt16LE(12, 0)
  t.throws(() => decodeAttrs(bad), NetlinkFormatError)
  t.same(decodeAttrs(Buffer.alloc(2)), [], 'a stub shorter than a header is padding')
})

function encodeAttrOf(type: number, v: number): { type: number; nested: boolean; payload: Buffer } {
  const b = Buffer.alloc(4)
  b.writeInt32LE(v)
  return { type, nested: false, payload: b }
}

t.test('a generic netlink request with a family header', async (t) => {
  const header = Buffer.from([1, 2, 3, 4, 5, 6])
  const req = encodeGenlRequest({ family: 0x1b, cmd: 30, version: 2, flags: NLM_F.REQUEST | NLM_F.DUMP, seq: 9, header, attrs: [attr.u32(1, 5)] })
  const [m] = decodeNetlinkMessages(req)
  const g = decodeGenl(m!, 6)
  t.match(g, { family: 0x1b, cmd: 30, version: 2, seq: 9, flags: NLM_F.REQUEST | NLM_F.DUMP })
  t.same([...g.header], [1, 2, 3, 4, 5, 6])
  t.equal(read.u32(attrMap(g.attrs).get(1)!), 5, 'attributes start after the header, aligned')
  t.throws(() => decodeGenl({ ...m!, payload: m!.payload.subarray(0, 6) }, 6), NetlinkFormatError)
})

t.test('the drbd family as Debian 6.1 announced it', async (t) => {
  const snap = JSON.parse(readFileSync(new URL('../../../fixtures/genl/connected-vm1.json', import.meta.url), 'utf8')) as { familyReply: string[] }
  const [reply] = decodeNetlinkMessages(b64(snap.familyReply[0]!))
  const family = decodeFamily(decodeGenl(reply!))
  t.match(family, { name: 'drbd', version: 1, hdrSize: 8 })
  t.ok(family.groups.has('events'))
  t.ok([30, 31, 32, 33, 38].every((op) => family.ops.includes(op)), 'the events2 dumps are there in 8.4.11')
})

// GenlConnection over a fake socket: each request is answered by `reply(request)` with datagrams
// delivered on a later turn of the loop, as the kernel's through uv_poll.
type Deliver = (err: Error | null, datagram: Buffer | null, port: number, uid: number, truncated: boolean) => void

async function fakeConnection(t: Test, reply: (m: NetlinkMessage) => Buffer[], options: { ref?: boolean } = {}) {
  const calls: string[] = []
  let deliver: Deliver = () => undefined
  const socket = {
    close: () => calls.push('close'),
    ref: () => calls.push('ref'),
    unref: () => calls.push('unref'),
    addMembership: (g: number) => calls.push(`join ${g}`),
    send(request: Buffer) {
      const [m] = decodeNetlinkMessages(request)
      calls.push(`send ${m!.seq}`)
      if (m!.type === 0xdead) throw new SysError(1, 'sendto', 'NETLINK_GENERIC')
      const answers = reply(m!)
      setImmediate(() => {
        for (const a of answers) deliver(null, a, 0, 0, false)
      })
    },
  }
  const realNative = await import('../../../../src/satellite/sys/native.js')
  const { GenlConnection } = await t.mockImport<typeof import('../../../../src/satellite/sys/genl.js')>('../../../../src/satellite/sys/genl.js', {
    '../../../../src/satellite/sys/native.js': {
      ...realNative,
      native: () => ({
        genlOpen: (_rcvbuf: number, cb: Deliver) => {
          deliver = cb
          return socket
        },
      }),
    },
  })
  const conn = new GenlConnection(options)
  return { conn, calls, deliver: (...a: Parameters<Deliver>) => deliver(...a) }
}

/** A message of the reply to `m`, from the kernel to its port. */
const replyTo = (m: NetlinkMessage, type: number, flags: number, payload: Buffer): Buffer => encodeNetlinkMessage({ type, flags, seq: m.seq, port: 4242, payload })
const errnoPayload = (errno: number): Buffer => {
  const b = Buffer.alloc(20)
  b.writeInt32LE(-errno)
  return b
}

t.test('GenlConnection: requests, dumps, notifications, errors', async (t) => {
  let interrupted = 1
  const { conn, calls, deliver } = await fakeConnection(
    t,
    (m) => {
      if (m.type === GENL_ID_CTRL && (m.flags & NLM_F.DUMP) === 0) {
        // The captured answer about nlctrl, then its acknowledgement, renumbered to this request.
        const [reply] = decodeNetlinkMessages(captured.nlctrl)
        return [encodeNetlinkMessage({ ...reply!, seq: m.seq, port: 4242 }), replyTo(m, NLMSG.ERROR, 0x100, errnoPayload(0))]
      }
      if (m.type === 0x30) return [replyTo(m, NLMSG.ERROR, 0, errnoPayload(1))]
      // A dump: interrupted once, then two parts in one datagram and NLMSG_DONE in the next.
      if (interrupted-- > 0) return [replyTo(m, 0x31, NLM_F.MULTI | NLM_F.DUMP_INTR, Buffer.alloc(4))]
      return [
        Buffer.concat([replyTo(m, 0x31, NLM_F.MULTI, Buffer.alloc(4)), replyTo(m, 0x31, NLM_F.MULTI, Buffer.alloc(4))]),
        replyTo(m, NLMSG.DONE, NLM_F.MULTI, Buffer.alloc(4)),
      ]
    },
    { ref: false },
  )
  t.same(calls, ['unref'])
  const family = await conn.family('nlctrl')
  t.equal(family.name, 'nlctrl')
  t.same(calls, ['unref', 'ref', 'send 1', 'unref'], 'referenced only while the request was in flight')

  const parts = await conn.dump((seq) => encodeGenlRequest({ family: 0x31, cmd: 1, version: 1, flags: NLM_F.REQUEST | NLM_F.DUMP, seq }), 'test')
  t.equal(parts.length, 2, 'the interrupted dump was asked again')
  t.ok(calls.includes('send 2') && calls.includes('send 3'))
  interrupted = 5
  await t.rejects(conn.dump((seq) => encodeGenlRequest({ family: 0x31, cmd: 1, version: 1, flags: NLM_F.REQUEST | NLM_F.DUMP, seq }), 'test', 2), { code: 'EINTR' })
  await t.rejects(conn.request((seq) => encodeGenlRequest({ family: 0x30, cmd: 1, version: 1, flags: NLM_F.REQUEST | NLM_F.ACK, seq }), 'thing'), { code: 'EPERM', target: 'thing' })
  await t.rejects(conn.request((seq) => encodeGenlRequest({ family: 0xdead, cmd: 1, version: 1, flags: NLM_F.REQUEST, seq }), 'thing'), { code: 'EPERM', syscall: 'sendto' }, 'a failed send')

  // Port 0 is the kernel's multicast: a notification even when its sequence matches a request.
  const notes: NetlinkMessage[] = []
  conn.on('notification', (m: NetlinkMessage) => notes.push(m))
  deliver(null, encodeNetlinkMessage({ type: 0x31, flags: 0, seq: 1, port: 0, payload: Buffer.alloc(4) }), 0, 0, false)
  deliver(null, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]), 0, 0, false)
  t.equal(notes.length, 1)
  t.equal(conn.dropped, 1, 'a malformed datagram is dropped')
  t.equal(conn.nextSeq() > 0, true)

  // Not from the kernel (port 77) or cut short: dropped; a truncated datagram fails what is pending.
  const inFlight = conn.request(() => encodeGenlRequest({ family: 0x77, cmd: 1, version: 1, flags: NLM_F.REQUEST, seq: 999 }), 'x')
  deliver(null, encodeNetlinkMessage({ type: 0x31, flags: 0, seq: 2, port: 0, payload: Buffer.alloc(4) }), 77, 0, false)
  deliver(null, encodeNetlinkMessage({ type: 0x31, flags: 0, seq: 2, port: 0, payload: Buffer.alloc(4) }), 0, 0, true)
  t.equal(conn.dropped, 3)
  t.equal(notes.length, 1)
  await t.rejects(inFlight, { code: 'EMSGSIZE' })
  // ENOBUFS: notifications were lost ('overflow'); any other error is 'error'. Both fail what is pending.
  const events: string[] = []
  conn.on('overflow', (e: SysError) => events.push(`overflow ${e.code}`))
  conn.on('error', (e: SysError) => events.push(`error ${e.code}`))
  const lost = conn.request(() => encodeGenlRequest({ family: 0x77, cmd: 1, version: 1, flags: NLM_F.REQUEST, seq: 998 }), 'x')
  deliver(new SysError(105, 'recvmsg', 'NETLINK_GENERIC'), null, 0, -1, false)
  await t.rejects(lost, { code: 'ENOBUFS' })
  deliver(new SysError(22, 'uv_poll', 'NETLINK_GENERIC'), null, 0, -1, false)
  deliver(null, null, 0, -1, false)
  t.same(events, ['overflow ENOBUFS', 'error EINVAL'])

  conn.join(16)
  t.ok(calls.includes('join 16'))
  conn.ref()
  conn.unref()
  t.same(calls.slice(-2), ['ref', 'unref'])
  conn.close()
  conn.close()
  t.equal(calls.filter((c) => c === 'close').length, 1, 'close is idempotent')
  t.throws(() => conn.join(16), { code: 'EBADF' })
  await t.rejects(conn.family('nlctrl'), { code: 'EBADF' })
})
