// Parsing and trust of kernel uevents, on datagrams captured from Linux 6.18 (loop device attach and
// LOOP_CTL_ADD/REMOVE). No socket, no root.
import t from 'tap'
import { isTrustedUevent, parseUevent } from '../../../../src/satellite/sys/uevent.js'

const captured = {
  // LOOP_CONFIGURE on an existing loop0
  change: 'change@/devices/virtual/block/loop0\0ACTION=change\0DEVPATH=/devices/virtual/block/loop0\0SUBSYSTEM=block\0MAJOR=7\0MINOR=0\0DEVNAME=loop0\0DEVTYPE=disk\0DISKSEQ=13\0SEQNUM=826\0',
  // LOOP_CTL_ADD 42
  add: 'add@/devices/virtual/block/loop42\0ACTION=add\0DEVPATH=/devices/virtual/block/loop42\0SUBSYSTEM=block\0MAJOR=7\0MINOR=42\0DEVNAME=loop42\0DEVTYPE=disk\0DISKSEQ=21\0SEQNUM=839\0',
  // …and its backing-dev-info, which has no device node
  bdi: 'add@/devices/virtual/bdi/7:42\0ACTION=add\0DEVPATH=/devices/virtual/bdi/7:42\0SUBSYSTEM=bdi\0SEQNUM=838\0',
  // detach: the kernel also says the media changed
  media: 'change@/devices/virtual/block/loop0\0ACTION=change\0DEVPATH=/devices/virtual/block/loop0\0SUBSYSTEM=block\0DISK_MEDIA_CHANGE=1\0MAJOR=7\0MINOR=0\0DEVNAME=loop0\0DEVTYPE=disk\0DISKSEQ=13\0SEQNUM=828\0',
}

t.test('kernel uevents parse', async (t) => {
  const add = parseUevent(Buffer.from(captured.add))
  t.match(add, { action: 'add', devpath: '/devices/virtual/block/loop42', subsystem: 'block', devname: 'loop42', devtype: 'disk', seqnum: 839n })
  t.equal(add?.env.get('MAJOR'), '7')
  t.equal(add?.env.get('DISKSEQ'), '21')
  t.match(parseUevent(Buffer.from(captured.change)), { action: 'change', devname: 'loop0', seqnum: 826n })
  t.equal(parseUevent(Buffer.from(captured.media))?.env.get('DISK_MEDIA_CHANGE'), '1')
  const bdi = parseUevent(Buffer.from(captured.bdi))
  t.match(bdi, { action: 'add', subsystem: 'bdi', devname: undefined, devtype: undefined })
  // Values may contain '=' (only the first one splits).
  t.equal(parseUevent(Buffer.from('add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=s\0SEQNUM=1\0K=a=b\0'))?.env.get('K'), 'a=b')
  // No trailing NUL is fine too.
  t.ok(parseUevent(Buffer.from('add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=s\0SEQNUM=1')))
})

t.test('anything else is refused', async (t) => {
  const refused: Record<string, string> = {
    'udev format': 'libudev\0\xfe\xed\xca\xfe' + captured.add.slice(captured.add.indexOf('\0')),
    empty: '',
    'no @ in header': 'add\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=s\0SEQNUM=1\0',
    'devpath not absolute': 'add@x\0ACTION=add\0DEVPATH=x\0SUBSYSTEM=s\0SEQNUM=1\0',
    'no ACTION': 'add@/x\0DEVPATH=/x\0SUBSYSTEM=s\0SEQNUM=1\0',
    'no DEVPATH': 'add@/x\0ACTION=add\0SUBSYSTEM=s\0SEQNUM=1\0',
    'no SUBSYSTEM': 'add@/x\0ACTION=add\0DEVPATH=/x\0SEQNUM=1\0',
    'no SEQNUM': 'add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=s\0',
    'SEQNUM not a number': 'add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=s\0SEQNUM=1x\0',
    'header action differs': 'remove@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=s\0SEQNUM=1\0',
    'header devpath differs': 'add@/y\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=s\0SEQNUM=1\0',
    'field without =': 'add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=s\0SEQNUM=1\0JUNK\0',
    'field with empty key': 'add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=s\0SEQNUM=1\0=v\0',
  }
  for (const [why, text] of Object.entries(refused)) t.equal(parseUevent(Buffer.from(text, 'latin1')), null, why)
  // A truncated capture loses its tail: here SEQNUM, so it is refused rather than half-read.
  t.equal(parseUevent(Buffer.from(captured.add.slice(0, captured.add.indexOf('SEQNUM')))), null, 'cut before SEQNUM')
})

t.test('only whole datagrams from the kernel are trusted', async (t) => {
  t.equal(isTrustedUevent({ port: 0, uid: 0, truncated: false }), true, 'kernel')
  t.equal(isTrustedUevent({ port: 4242, uid: 0, truncated: false }), false, 'a root process (port != 0)')
  t.equal(isTrustedUevent({ port: 0, uid: 1000, truncated: false }), false, 'uid != 0')
  t.equal(isTrustedUevent({ port: 0, uid: -1, truncated: false }), false, 'no credentials')
  t.equal(isTrustedUevent({ port: 0, uid: 0, truncated: true }), false, 'truncated')
})
