// Generic netlink on the real kernel, through the binding: the controller resolves its own family and
// refuses an unknown one, a CTRL_CMD_GETFAMILY dump of every family arrives in parts up to NLMSG_DONE,
// a multicast group can be joined, and a closed socket fails with EBADF. Needs no root; skips where
// the kernel has no generic netlink (or the addon is not built).
import t from 'tap'
import { native, SysError } from '../../../../src/satellite/sys/native.js'
import { CTRL_CMD_GETFAMILY, decodeFamily, decodeGenl, encodeGenlRequest, GENL_ID_CTRL, GenlConnection, NLM_F } from '../../../../src/satellite/sys/genl.js'

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'generic netlink is Linux only'
  try {
    native().genlOpen(0, () => undefined).close()
    return false
  } catch (e) {
    return `no generic netlink socket here: ${(e as Error).message}`
  }
}

t.test('generic netlink', { skip: skipReason() }, async (t) => {
  const conn = new GenlConnection({ ref: false })
  t.teardown(() => conn.close())

  const ctrl = await conn.family('nlctrl')
  t.match(ctrl, { name: 'nlctrl', id: GENL_ID_CTRL })
  t.ok(ctrl.ops.includes(CTRL_CMD_GETFAMILY))
  const notify = ctrl.groups.get('notify')
  t.type(notify, 'number')

  // (a name of GENL_NAMSIZ, 16, or more is EINVAL instead)
  const unknown = await conn.family('by-nosuchfam').then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(unknown instanceof SysError)
  t.match(unknown, { code: 'ENOENT', target: 'generic netlink family by-nosuchfam' })

  // Every family, in as many datagrams as the kernel likes; nlctrl is among them.
  const all = await conn.dump(
    (seq) => encodeGenlRequest({ family: GENL_ID_CTRL, cmd: CTRL_CMD_GETFAMILY, version: 1, flags: NLM_F.REQUEST | NLM_F.DUMP, seq }),
    'generic netlink families',
  )
  const names = all.map((m) => decodeFamily(decodeGenl(m)).name)
  t.ok(names.includes('nlctrl'), `dump lists ${names.length} families`)
  t.ok(all.every((m) => (m.flags & NLM_F.MULTI) !== 0), 'each part is NLM_F_MULTI')

  // Requests in flight at once are told apart by sequence number.
  const [a, b] = await Promise.all([conn.family('nlctrl'), conn.family('nlctrl')])
  t.same(a, b)

  conn.join(notify!)
  t.throws(() => conn.join(0xfffffff0), { code: 'EINVAL', syscall: 'setsockopt(NETLINK_ADD_MEMBERSHIP)', target: 'NETLINK_GENERIC' })

  const other = new GenlConnection({ ref: false })
  const pending = other.family('nlctrl')
  other.close()
  // The reply is read on a later turn of the loop: close() comes first and rejects the request.
  await t.rejects(pending, { code: 'EBADF' })
  await t.rejects(other.family('nlctrl'), { code: 'EBADF' })
  t.throws(() => other.join(notify!), { code: 'EBADF' })
  t.ok(other.closed)

  // The raw socket: send() on a closed one, and a bad argument.
  const raw = native().genlOpen(0, () => undefined)
  raw.close()
  t.throws(() => raw.send(Buffer.alloc(16)), { code: 'EBADF', syscall: 'sendto' })
  const raw2 = native().genlOpen(0, () => undefined)
  t.teardown(() => raw2.close())
  t.throws(() => raw2.send('x' as unknown as Buffer), TypeError)
})
