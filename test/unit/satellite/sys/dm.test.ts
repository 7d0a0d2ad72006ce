// Device-mapper packing and unpacking against the kernel's layout (include/uapi/linux/dm-ioctl.h) and
// against replies captured from a real kernel (test/fixtures/dm/, with what dmsetup said at the same
// moment); the calls' requests, retries and error mapping over a fake addon. The real ioctls run in a
// VM: integration/guest/dm-check.ts.
import t, { type Test } from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import * as realNative from '../../../../src/satellite/sys/native.js'
import {
  callWithRoom,
  checkDmName,
  checkDmUuid,
  decodeDev,
  dmDevicePath,
  deviceInfoOf,
  DM_FLAGS,
  MAX_REPLY_BYTES,
  packDmIoctl,
  packTargetMsg,
  packTargets,
  unpackDmIoctl,
  unpackNameList,
  unpackTargets,
  unpackTargetVersions,
  type DmCall,
} from '../../../../src/satellite/sys/dm.js'

const { SysError } = realNative

interface Captured {
  bytes: number
  reply: string
  dmsetup: string
}
const fixtures = (JSON.parse(readFileSync(new URL('../../../fixtures/dm/replies.json', import.meta.url), 'utf8')) as { replies: Record<string, Captured> }).replies

/** A captured reply in a buffer of the size it was asked with (the fixture keeps up to data_size). */
function captured(what: string): Buffer {
  const f = fixtures[what]!
  const buf = Buffer.alloc(f.bytes)
  Buffer.from(f.reply, 'base64').copy(buf)
  return buf
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().replace(/\s+/, ' '))
    .filter((l) => l !== '')
}

t.test('packDmIoctl lays out struct dm_ioctl as dm-ioctl.h', async (t) => {
  const payload = Buffer.from('payload')
  const b = packDmIoctl({ name: 'vol', uuid: 'U-1', flags: DM_FLAGS.UUID | DM_FLAGS.READONLY, eventNr: 7, targetCount: 2, payload })
  t.equal(b.length, 312 + payload.length, 'header then payload')
  t.same([b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8)], [4, 0, 0], 'asks for interface 4.0.0')
  t.equal(b.readUInt32LE(12), b.length, 'data_size is the whole buffer')
  t.equal(b.readUInt32LE(16), 312, 'data_start right after the header')
  t.equal(b.readUInt32LE(20), 2, 'target_count')
  t.equal(b.readUInt32LE(28), DM_FLAGS.UUID | DM_FLAGS.READONLY, 'flags')
  t.equal(b.readUInt32LE(32), 7, 'event_nr')
  t.equal(b.toString('utf8', 48, 52), 'vol\0', 'name at 48')
  t.equal(b.toString('utf8', 176, 180), 'U-1\0', 'uuid at 176')
  t.equal(b.subarray(312).toString(), 'payload')
  const roomy = packDmIoctl({ bytes: 4096 })
  t.equal(roomy.length, 4096, 'room for a reply')
  t.equal(roomy.readUInt32LE(12), 4096)
  t.equal(packDmIoctl({ payload, bytes: 100 }).length, 312 + payload.length, 'never smaller than header and payload')
  t.same(Object.values(DM_FLAGS).map(Math.log2), [0, 1, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 16, 17], 'flag bits as the header numbers them')
})

/** Why the built addon cannot be used in this process, or undefined when it can. */
function addonSkip(): string | undefined {
  try {
    realNative.native()
    return undefined
  } catch (e) {
    return `addon not loadable: ${(e as Error).message}`
  }
}

t.test('the layout agrees with the header the addon was compiled against', { skip: addonSkip() }, async (t) => {
  const abi = realNative.native().DM_ABI
  t.equal(packDmIoctl({}).length, abi.ioctlSize, 'sizeof(struct dm_ioctl)')
  t.equal(packDmIoctl({ name: 'n' })[abi.nameOffset], 'n'.charCodeAt(0), 'name')
  t.equal(packDmIoctl({ uuid: 'u' })[abi.uuidOffset], 'u'.charCodeAt(0), 'uuid')
  t.ok(abi.dataOffset <= abi.ioctlSize && abi.ioctlSize - abi.dataOffset < 8, 'data_start is data aligned to 8')
  t.equal(packTargets([{ sectorStart: 0, length: 1, type: 'zero', params: 'p' }])[abi.targetSpecSize], 'p'.charCodeAt(0), 'params after dm_target_spec')
  t.equal(packTargetMsg(0, 'm')[abi.targetMsgMessageOffset], 'm'.charCodeAt(0), 'message after the sector')
  t.equal(abi.nameListNameOffset, 12, 'dm_name_list.name')
  t.equal(abi.targetVersionsNameOffset, 16, 'dm_target_versions.name')
})

t.test('unpackDmIoctl', async (t) => {
  const b = packDmIoctl({ name: 'x', bytes: 400 })
  b.writeInt32LE(3, 24) // open_count
  b.writeUInt32LE(253 << 8, 40) // dev 253:0
  b.writeUInt32LE(330, 12) // data_size: 18 bytes of data
  const r = unpackDmIoctl(b)
  t.match(r, { version: [4, 0, 0], openCount: 3, dev: 253 << 8, name: 'x', uuid: '' })
  t.equal(r.data.length, 18)
  b.writeUInt32LE(305, 12) // offsetof(struct dm_ioctl, data): what replies without data say
  t.equal(unpackDmIoctl(b).data.length, 0, 'no data when data_size ends before data_start')
  t.throws(() => unpackDmIoctl(Buffer.alloc(311)), RangeError)
  b.writeUInt32LE(401, 12)
  t.throws(() => unpackDmIoctl(b), /outside its 400 bytes/)
  b.writeUInt32LE(400, 12)
  b.writeUInt32LE(500, 16)
  t.throws(() => unpackDmIoctl(b), /outside/)
})

t.test('names and uuids', async (t) => {
  for (const good of ['a', 'x'.repeat(127), 'vg0-lv_00000', 'é'.repeat(63)]) t.doesNotThrow(() => checkDmName(good), good)
  for (const bad of ['', 'x'.repeat(128), 'é'.repeat(64), 'a/b', '/', '.', '..', 'control', 'a\0b']) t.throws(() => checkDmName(bad), RangeError, JSON.stringify(bad))
  t.throws(() => checkDmName(42), TypeError)
  t.doesNotThrow(() => checkDmUuid('LVM-' + 'x'.repeat(124)))
  t.throws(() => checkDmUuid('x'.repeat(129)), RangeError)
  t.throws(() => checkDmUuid(undefined), TypeError)
})

t.test('decodeDev undoes the kernel new_encode_dev', async (t) => {
  const encode = (major: number, minor: number): number => (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)
  for (const [major, minor] of [
    [253, 0],
    [253, 255],
    [253, 256],
    [254, 16],
    [4095, 1048575],
  ] as const) {
    t.same(decodeDev(encode(major, minor)), { major, minor }, `${major}:${minor}`)
  }
})

t.test('dmDevicePath names the devtmpfs node by minor', async (t) => {
  t.equal(dmDevicePath(decodeDev((253 << 8) | 7)), '/dev/dm-7')
})

t.test('packTargets: specs padded to 8, next from each spec to the next', async (t) => {
  const b = packTargets([
    { sectorStart: 0, length: 1024, type: 'zero', params: '' },
    { sectorStart: 1024, length: 2048, type: 'linear', params: '/dev/vdb 0' },
  ])
  t.equal(b.length, 48 + 56)
  t.equal(b.readBigUInt64LE(0), 0n)
  t.equal(b.readBigUInt64LE(8), 1024n)
  t.equal(b.readUInt32LE(20), 48, 'next of the first: 40 + "\\0" padded')
  t.equal(b.toString('utf8', 24, 29), 'zero\0')
  t.equal(b.readBigUInt64LE(48), 1024n)
  t.equal(b.readBigUInt64LE(56), 2048n)
  t.equal(b.readUInt32LE(48 + 20), 56, '40 + 11 bytes of params padded')
  t.equal(b.toString('utf8', 48 + 40, 48 + 51), '/dev/vdb 0\0')
  t.throws(() => packTargets([{ sectorStart: -1, length: 1, type: 'zero', params: '' }]), RangeError)
  t.throws(() => packTargets([{ sectorStart: 0, length: 0, type: 'zero', params: '' }]), RangeError)
  t.throws(() => packTargets([{ sectorStart: 0, length: 1, type: '', params: '' }]), RangeError)
  t.throws(() => packTargets([{ sectorStart: 0, length: 1, type: 'x'.repeat(16), params: '' }]), /longer than 15 bytes/)
  t.throws(() => packTargets([{ sectorStart: 0, length: 1, type: 'zero', params: 'a\0b' }]), /NUL/)
})

t.test('packTargetMsg', async (t) => {
  const b = packTargetMsg(0, 'create_thin 3')
  t.equal(b.length, 8 + 13 + 1)
  t.equal(b.readBigUInt64LE(0), 0n)
  t.equal(b.toString('utf8', 8), 'create_thin 3\0')
  t.throws(() => packTargetMsg(-1, 'x'), RangeError)
  t.throws(() => packTargetMsg(0, ''), RangeError)
})

t.test('replies captured from Linux 6.1 decode to what dmsetup said', async (t) => {
  t.test('DM_VERSION', async (t) => {
    const r = unpackDmIoctl(captured('version'))
    t.equal(r.version.join('.'), /Driver version:\s+(\S+)/.exec(fixtures.version!.dmsetup)?.[1])
  })
  t.test('DM_LIST_DEVICES with uuids', async (t) => {
    const devices = unpackNameList(unpackDmIoctl(captured('list-devices')).data)
    t.same(
      devices.map((d) => `${d.name} (${d.major}:${d.minor})`),
      lines(fixtures['list-devices']!.dmsetup),
    )
    t.equal(devices.find((d) => d.name === 'bydmck-uuid')?.uuid, 'BLOCKYARD-dmcheck-0001')
    t.equal(devices.filter((d) => d.uuid !== undefined).length, 1, 'only the one with a uuid has one')
    t.ok(devices.every((d) => d.eventNr === 0), 'event numbers are there')
  })
  t.test('DM_LIST_DEVICES that did not fit', async (t) => {
    const r = unpackDmIoctl(captured('list-devices-small'))
    t.ok(r.flags & DM_FLAGS.BUFFER_FULL, 'the kernel set DM_BUFFER_FULL_FLAG')
    t.equal(r.data.length, 0)
  })
  t.test('DM_LIST_VERSIONS', async (t) => {
    const targets = unpackTargetVersions(unpackDmIoctl(captured('list-versions')).data)
    t.same(
      targets.map((v) => `${v.name} v${v.version.join('.')}`),
      lines(fixtures['list-versions']!.dmsetup),
    )
  })
  t.test('DM_DEV_STATUS of a thin pool in use', async (t) => {
    const i = deviceInfoOf(unpackDmIoctl(captured('dev-status-pool')))
    const [name, major, minor, open, segments, events, uuid, suspended, readOnly, tables] = fixtures['dev-status-pool']!.dmsetup.trim().split('|')
    t.same(
      [i.name, i.major, i.minor, i.openCount, i.targetCount, i.eventNr, i.uuid, i.suspended, i.readOnly, i.activeTable, i.inactiveTable],
      [name, Number(major), Number(minor), Number(open), Number(segments), Number(events), uuid, suspended === 'Suspended', readOnly === 'Read-only', tables === 'Live', false],
    )
  })
  t.test('DM_TABLE_STATUS: a three-line table', async (t) => {
    const r = unpackDmIoctl(captured('table-multi'))
    const targets = unpackTargets(r.data, r.targetCount)
    t.same(
      targets.map((x) => `${x.sectorStart} ${x.length} ${x.type} ${x.params}`.trim()),
      lines(fixtures['table-multi']!.dmsetup).map((l) => l.replace(/\s+/g, ' ')),
    )
    t.throws(() => unpackTargets(r.data.subarray(0, 60), r.targetCount), /truncated/)
  })
  t.test('DM_TABLE_STATUS: a thin pool status', async (t) => {
    const r = unpackDmIoctl(captured('status-pool'))
    const [pool] = unpackTargets(r.data, r.targetCount)
    t.equal(`${pool!.sectorStart} ${pool!.length} ${pool!.type} ${pool!.params}`.trim(), fixtures['status-pool']!.dmsetup.trim())
  })
})

t.test('unpackNameList edge cases', async (t) => {
  t.same(unpackNameList(Buffer.alloc(0)), [], 'no data')
  t.same(unpackNameList(Buffer.alloc(16)), [], 'dev 0: no devices')
  // An older kernel ends each record after its name, padded from offset 16: here 8 bytes the newer
  // format would read as event number and flags.
  const old = Buffer.alloc(48)
  old.writeUInt32LE(253 << 8, 0)
  old.writeUInt32LE(24, 8)
  old.write('old', 12)
  old.writeUInt32LE((253 << 8) | 1, 24)
  old.write('older', 36)
  t.same(unpackNameList(old), [
    { name: 'old', major: 253, minor: 0 },
    { name: 'older', major: 253, minor: 1 },
  ])
  const cut = Buffer.from(unpackDmIoctl(captured('list-devices')).data.subarray(0, 40))
  t.throws(() => unpackNameList(cut), /truncated/)
})

t.test('callWithRoom doubles the buffer while the kernel says it is full', async (t) => {
  const sizes: number[] = []
  const fits: DmCall = async (req) => {
    sizes.push(req.length)
    const reply = Buffer.from(req)
    if (req.length < 64 * 1024) reply.writeUInt32LE(reply.readUInt32LE(28) | DM_FLAGS.BUFFER_FULL, 28)
    return reply
  }
  const r = await callWithRoom(fits, { name: 'big', flags: DM_FLAGS.UUID })
  t.same(sizes, [16384, 32768, 65536])
  t.equal(r.flags, DM_FLAGS.UUID, 'the request flags come back without BUFFER_FULL')
  sizes.length = 0
  const never: DmCall = async (req) => {
    sizes.push(req.length)
    const reply = Buffer.from(req.subarray(0, 312))
    reply.writeUInt32LE(312, 12)
    reply.writeUInt32LE(DM_FLAGS.BUFFER_FULL, 28)
    return reply
  }
  await t.rejects(callWithRoom(never, { name: 'huge' }, 1024 * 1024), { name: 'RangeError', message: /huge needs more than 67108864 bytes/ })
  t.equal(sizes.at(-1), MAX_REPLY_BYTES, 'up to the largest buffer the addon takes')
})

/** dm.ts over a fake addon: each dm* export answers from `answers`, every request recorded. */
async function withFakeAddon(t: Test, answers: Partial<Record<string, (req: Buffer) => Buffer>>) {
  const requests: Array<{ call: string; req: ReturnType<typeof unpackDmIoctl>; bytes: number }> = []
  const fake = new Proxy(
    {},
    {
      get: (_, call: string) => async (req: Buffer) => {
        requests.push({ call, req: unpackDmIoctl(req), bytes: req.length })
        const answer = answers[call]
        if (answer === undefined) return Buffer.from(req)
        return answer(req)
      },
    },
  )
  const dm = await t.mockImport<typeof import('../../../../src/satellite/sys/dm.js')>('../../../../src/satellite/sys/dm.js', {
    '../../../../src/satellite/sys/native.js': { ...realNative, native: () => fake },
  })
  return { dm, requests }
}

const sysError = (errno: number, call: string, target: string): InstanceType<typeof SysError> => new SysError(errno, call, target)
const ENXIO = 6
const EBUSY = 16
const EINVAL = 22

t.test('the calls: requests, replies, errors', async (t) => {
  t.test('listDevices asks again with more room', async (t) => {
    const { dm, requests } = await withFakeAddon(t, { dmListDevices: (req) => (req.length < 32768 ? captured('list-devices-small') : captured('list-devices')) })
    // The first buffer (16 KiB) gets the small reply here, to force a retry.
    const devices = await dm.listDevices()
    t.equal(devices.length, 13)
    t.same(
      requests.map((r) => [r.call, r.bytes, r.req.flags]),
      [
        ['dmListDevices', 16384, DM_FLAGS.UUID],
        ['dmListDevices', 32768, DM_FLAGS.UUID],
      ],
    )
  })
  t.test('dmVersion and listTargets', async (t) => {
    const { dm } = await withFakeAddon(t, { dmVersion: () => captured('version'), dmListVersions: () => captured('list-versions') })
    t.same(await dm.dmVersion(), [4, 47, 0])
    t.same((await dm.listTargets()).map((v) => v.name), ['zero', 'thin-pool', 'thin', 'striped', 'linear', 'error'])
  })
  t.test('deviceInfo: null for no such device, other errors thrown', async (t) => {
    const { dm, requests } = await withFakeAddon(t, {
      dmDevStatus: (req) => {
        const name = unpackDmIoctl(req).name
        if (name === 'gone') throw sysError(ENXIO, 'ioctl(DM_DEV_STATUS)', name)
        if (name === 'busy') throw sysError(EBUSY, 'ioctl(DM_DEV_STATUS)', name)
        return captured('dev-status-pool')
      },
    })
    t.match(await dm.deviceInfo('bydmck-pool'), { name: 'bydmck-pool', major: 253, minor: 9, openCount: 2, activeTable: true })
    t.equal(await dm.deviceInfo('gone'), null)
    await t.rejects(dm.deviceInfo('busy'), { code: 'EBUSY' })
    await dm.deviceInfo('x', { inactive: true })
    t.equal(requests.at(-1)?.req.flags, DM_FLAGS.QUERY_INACTIVE_TABLE)
    await t.rejects(dm.deviceInfo('a/b'), RangeError, 'checked before any call')
    t.equal(requests.length, 4)
  })
  t.test('isNoSuchDevice is only the kernel’s ENXIO from a dm ioctl', async (t) => {
    const { dm } = await withFakeAddon(t, {})
    t.equal(dm.isNoSuchDevice(sysError(ENXIO, 'ioctl(DM_DEV_REMOVE)', 'v')), true)
    t.equal(dm.isNoSuchDevice(sysError(ENXIO, 'open', '/dev/mapper/control')), false)
    t.equal(dm.isNoSuchDevice(sysError(EBUSY, 'ioctl(DM_DEV_REMOVE)', 'v')), false)
    t.equal(dm.isNoSuchDevice(new Error('ENXIO')), false)
  })
  t.test('create, load, suspend, resume, remove send what the kernel expects', async (t) => {
    const { dm, requests } = await withFakeAddon(t, {})
    await dm.createDevice('v', { uuid: 'U' })
    await dm.loadTable('v', [{ sectorStart: 0, length: 8, type: 'zero', params: '' }], { readOnly: true })
    await dm.suspendDevice('v', { noflush: true, skipLockfs: true })
    await dm.resumeDevice('v')
    await dm.removeDevice('v', { deferred: true })
    t.same(
      requests.map((r) => [r.call, r.req.name, r.req.uuid, r.req.flags, r.req.targetCount, r.req.eventNr, r.req.data.length]),
      [
        ['dmDevCreate', 'v', 'U', 0, 0, 0, 0],
        ['dmTableLoad', 'v', '', DM_FLAGS.READONLY, 1, 0, 48],
        ['dmDevSuspend', 'v', '', DM_FLAGS.SUSPEND | DM_FLAGS.NOFLUSH | DM_FLAGS.SKIP_LOCKFS, 0, 0, 0],
        ['dmDevSuspend', 'v', '', 0, 0, 0, 0],
        ['dmDevRemove', 'v', '', DM_FLAGS.DEFERRED_REMOVE, 0, 0, 0],
      ],
      'no udev cookie anywhere (event_nr 0)',
    )
    await t.rejects(dm.loadTable('v', []), RangeError)
    await t.rejects(dm.createDevice('v', { uuid: 'x'.repeat(200) }), RangeError)
  })
  t.test('activateDevice removes a half-made device and reports the first error', async (t) => {
    const { dm, requests } = await withFakeAddon(t, {
      dmTableLoad: (req) => {
        throw sysError(EINVAL, 'ioctl(DM_TABLE_LOAD)', unpackDmIoctl(req).name)
      },
      dmDevRemove: (req) => {
        throw sysError(EBUSY, 'ioctl(DM_DEV_REMOVE)', unpackDmIoctl(req).name)
      },
    })
    await t.rejects(dm.activateDevice('v', [{ sectorStart: 0, length: 8, type: 'bad', params: '' }]), { code: 'EINVAL', syscall: 'ioctl(DM_TABLE_LOAD)' })
    t.same(
      requests.map((r) => r.call),
      ['dmDevCreate', 'dmTableLoad', 'dmDevRemove'],
    )
  })
  t.test('activateDevice resolves with the resumed device', async (t) => {
    const { dm, requests } = await withFakeAddon(t, { dmDevSuspend: () => captured('dev-status-pool') })
    t.match(await dm.activateDevice('bydmck-pool', [{ sectorStart: 0, length: 8, type: 'zero', params: '' }]), { minor: 9, activeTable: true })
    t.same(
      requests.map((r) => r.call),
      ['dmDevCreate', 'dmTableLoad', 'dmDevSuspend'],
    )
  })
  t.test('deviceTable and deviceStatus', async (t) => {
    const { dm, requests } = await withFakeAddon(t, {
      dmTableStatus: (req) => (unpackDmIoctl(req).flags & DM_FLAGS.STATUS_TABLE ? captured('table-multi') : captured('status-pool')),
    })
    t.equal((await dm.deviceTable('bydmck-multi')).length, 3)
    t.equal((await dm.deviceTable('bydmck-multi', { inactive: true })).length, 3)
    t.match(await dm.deviceStatus('bydmck-pool', { noflush: true }), [{ type: 'thin-pool' }])
    await dm.deviceStatus('bydmck-pool')
    t.same(
      requests.map((r) => r.req.flags),
      [DM_FLAGS.STATUS_TABLE, DM_FLAGS.STATUS_TABLE | DM_FLAGS.QUERY_INACTIVE_TABLE, DM_FLAGS.NOFLUSH, 0],
    )
  })
  t.test('targetMessage: the payload, and an answer only with DM_DATA_OUT_FLAG', async (t) => {
    const { dm, requests } = await withFakeAddon(t, {
      dmTargetMsg: (req) => {
        const reply = Buffer.from(req)
        if (unpackDmIoctl(req).name === 'stats') {
          reply.writeUInt32LE(DM_FLAGS.DATA_OUT, 28)
          reply.write('0: 0+8 1 dm-stats\n\0', 312)
        }
        return reply
      },
    })
    t.equal(await dm.targetMessage('pool', 0, 'create_thin 0'), null)
    const sent = requests[0]!.req.data
    t.equal(sent.readBigUInt64LE(0), 0n)
    t.equal(sent.toString('utf8', 8, 22), 'create_thin 0\0')
    t.equal(await dm.targetMessage('stats', 0, '@stats_list'), '0: 0+8 1 dm-stats\n')
  })
  t.test('dmUnavailable says why', async (t) => {
    const broken = await t.mockImport<typeof import('../../../../src/satellite/sys/dm.js')>('../../../../src/satellite/sys/dm.js', {
      '../../../../src/satellite/sys/native.js': {
        ...realNative,
        native: () => {
          throw new Error('addon missing')
        },
      },
    })
    t.equal(broken.dmUnavailable(), 'addon missing')
  })
  t.test('dmUnavailable without the control node', { skip: existsSync('/dev/mapper/control') && 'this machine has /dev/mapper/control' }, async (t) => {
    const { dm } = await withFakeAddon(t, {})
    t.match(dm.dmUnavailable(), /^\/dev\/mapper\/control is not usable \(ENOENT\): device-mapper needs root and the dm_mod module$/)
  })
})

t.test('the real addon without device-mapper fails with a SysError', { skip: existsSync('/dev/mapper/control') ? 'this machine has device-mapper (the VM check covers it)' : addonSkip() }, async (t) => {
  const { dmVersion } = await import('../../../../src/satellite/sys/dm.js')
  await t.rejects(dmVersion(), { name: 'SysError', code: 'ENOENT', syscall: 'open', target: '/dev/mapper/control' })
  t.throws(() => realNative.native().dmVersion(Buffer.alloc(312)), { name: 'RangeError', message: /data_size is its length/ }, 'a header whose data_size lies never reaches the kernel')
})
