// Loop devices on the real kernel through src/satellite/sys (and so through the native addon): attach,
// size, I/O, grow, find by backing file, detach, concurrency, races with other processes, errors.
import t from 'tap'
import { spawn, execFileSync } from 'node:child_process'
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { attachLoop, blockSize, detachLoop, findLoopByBackingFile, listLoops, loopStatus, resizeLoop } from '../../../../src/satellite/sys/loop.js'
import { SysError } from '../../../../src/satellite/sys/native.js'
import { loopSkipReason } from '../../../helpers/loop-env.js'
import { holdLoopLock } from '../../../helpers/loop-lock.js'

const MiB = 1024 * 1024
const skip = loopSkipReason()

t.test('loop devices', { skip }, async (t) => {
  // Other tests' loop devices must not come and go under this one's checks (loop-lock.ts).
  await holdLoopLock(t)
  const dir = mkdtempSync(join(tmpdir(), 'blockyard-loop-'))
  // Every device this test got is detached at the end, whatever happened: by the device, never by a
  // search that could touch someone else's.
  const attached = new Set<string>()
  t.teardown(async () => {
    for (const dev of attached) await detachLoop(dev).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })
  const sparse = (name: string, size: number): string => {
    const p = join(dir, name)
    writeFileSync(p, '')
    truncateSync(p, size)
    return p
  }
  const attach = async (path: string, opts?: Parameters<typeof attachLoop>[1]): Promise<string> => {
    const dev = await attachLoop(path, opts)
    attached.add(dev)
    return dev
  }
  const detach = async (dev: string): Promise<void> => {
    await detachLoop(dev)
    attached.delete(dev)
  }

  await t.test('attach, size, status, I/O, grow, find, detach', async (t) => {
    const file = sparse('vol_00000.img', 64 * MiB)
    const dev = await attach(file, { directIo: true })
    t.match(dev, /^\/dev\/loop\d+$/, `attached as ${dev}`)
    t.equal(await blockSize(dev), 64 * MiB, 'BLKGETSIZE64 is the file size')

    const st = statSync(file, { bigint: true })
    const s = await loopStatus(dev)
    t.ok(s, 'bound')
    t.equal(s!.fileName, file, 'lo_file_name is the path')
    t.equal(s!.backingDevice, st.dev, 'backing st_dev')
    t.equal(s!.backingInode, st.ino, 'backing st_ino')
    t.equal(s!.offset, 0)
    t.equal(s!.sizeLimit, 0)
    t.equal(s!.autoclear, false, 'no autoclear: the device outlives our descriptors')
    t.equal(s!.partscan, false, 'no partition scan')
    t.equal(s!.readOnly, false)
    // ext4 and tmpfs (>= 6.6) do O_DIRECT; the flag shows what the kernel accepted.
    t.equal(s!.directIo, true, 'direct I/O accepted on this filesystem')

    // Write through the device, read it back through the device and through the file.
    const pattern = Buffer.alloc(4096)
    for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7 + 3) & 0xff
    const at = 5 * MiB
    const fd = openSync(dev, 'r+')
    try {
      t.equal(writeSync(fd, pattern, 0, pattern.length, at), pattern.length)
      fsyncSync(fd)
      const back = Buffer.alloc(pattern.length)
      readSync(fd, back, 0, back.length, at)
      t.same(back, pattern, 'read back through the device')
    } finally {
      closeSync(fd)
    }
    const ffd = openSync(file, 'r')
    try {
      const fromFile = Buffer.alloc(pattern.length)
      readSync(ffd, fromFile, 0, fromFile.length, at)
      t.same(fromFile, pattern, 'the bytes are in the backing file')
    } finally {
      closeSync(ffd)
    }

    // Grow the file, then the device.
    truncateSync(file, 96 * MiB)
    t.equal(await blockSize(dev), 64 * MiB, 'the device keeps its size until told')
    t.equal(await resizeLoop(dev), 96 * MiB, 'resizeLoop returns the new size')
    t.equal(await blockSize(dev), 96 * MiB, 'BLKGETSIZE64 after LOOP_SET_CAPACITY')

    t.equal(await findLoopByBackingFile(file), dev, 'found by its backing file')
    t.ok((await listLoops()).some((l) => l.device === dev && l.backingFile === file), 'listed with its backing file')
    t.equal(await findLoopByBackingFile(join(dir, 'no-such.img')), null, 'a missing file has no loop device')
    t.equal(await findLoopByBackingFile(sparse('other.img', MiB)), null, 'an unattached file has none')

    await detach(dev)
    t.equal(await loopStatus(dev), null, 'unbound after detach')
    t.equal(await findLoopByBackingFile(file), null, 'not found after detach')
    t.equal(await blockSize(dev), 0, 'an unbound loop device has size 0')
  })

  await t.test('found by identity, not by a name reused for another file', async (t) => {
    const a = sparse('a.img', 8 * MiB)
    const dev = await attach(a)
    const b = join(dir, 'b.img')
    renameSync(a, b) // the binding follows the file…
    sparse('a.img', 8 * MiB) // …and a new file takes the old name
    t.equal(await findLoopByBackingFile(b), dev, 'found under the new name')
    t.equal(await findLoopByBackingFile(a), null, 'the new file under the old name is not bound')
    await detach(dev)
  })

  await t.test('size limit and read-only', async (t) => {
    const file = sparse('limited.img', 32 * MiB)
    const dev = await attach(file, { sizeLimit: 16 * MiB, readOnly: true })
    t.equal(await blockSize(dev), 16 * MiB, 'the size limit is the size')
    const s = await loopStatus(dev)
    t.equal(s?.sizeLimit, 16 * MiB)
    t.equal(s?.readOnly, true)
    t.equal(s?.directIo, false, 'no direct I/O unless asked')
    await detach(dev)
  })

  await t.test('a long path is cut in lo_file_name but found through sysfs', async (t) => {
    const deep = join(dir, 'x'.repeat(40), 'y'.repeat(40))
    execFileSync('mkdir', ['-p', deep])
    const file = join(deep, 'vol_00001.img')
    writeFileSync(file, '')
    truncateSync(file, MiB)
    const dev = await attach(file)
    const s = await loopStatus(dev)
    t.equal(s?.fileName, file.slice(0, 63), 'lo_file_name holds 63 bytes')
    t.equal(await findLoopByBackingFile(file), dev)
    await detach(dev)
  })

  await t.test('concurrent attaches get distinct devices', async (t) => {
    const files = Array.from({ length: 12 }, (_, i) => sparse(`c${i}.img`, 4 * MiB))
    const devs = await Promise.all(files.map((f) => attach(f)))
    t.equal(new Set(devs).size, devs.length, `distinct: ${devs.join(' ')}`)
    for (let i = 0; i < files.length; i++) t.equal(await findLoopByBackingFile(files[i]!), devs[i], `${files[i]} on ${devs[i]}`)
    await Promise.all(devs.map((d) => detach(d)))
  })

  await t.test('attaching while another process attaches with losetup', { skip: existsSync('/usr/sbin/losetup') || existsSync('/sbin/losetup') ? false : 'no losetup to race with' }, async (t) => {
    const n = 10
    const theirs: string[] = []
    const child = spawn('sh', ['-c', `for i in $(seq ${n}); do losetup -f --show "$1"; done`, 'sh', sparse('theirs.img', MiB)], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.setEncoding('utf8')
    let out = ''
    child.stdout.on('data', (d: string) => (out += d))
    t.teardown(() => {
      for (const dev of out.split('\n').filter(Boolean)) execFileSync('losetup', ['-d', dev], { stdio: 'ignore' })
    })
    const files = Array.from({ length: n }, (_, i) => sparse(`r${i}.img`, MiB))
    const ours = await Promise.all(files.map((f) => attach(f)))
    const [code] = (await once(child, 'exit')) as [number]
    theirs.push(...out.split('\n').filter(Boolean))
    t.equal(code, 0, 'losetup attached all of its own')
    t.equal(new Set([...ours, ...theirs]).size, ours.length + theirs.length, 'no device was given twice')
    for (let i = 0; i < n; i++) t.equal(await findLoopByBackingFile(files[i]!), ours[i])
    await Promise.all(ours.map((d) => detach(d)))
  })

  await t.test('a device locked by someone else is waited for, not stolen', { skip: existsSync('/usr/bin/flock') ? false : 'no flock(1)' }, async (t) => {
    // Hold the lock on the device LOOP_CTL_GET_FREE will name next, as a binder mid-setup would.
    const probe = sparse('probe.img', MiB)
    const next = await attach(probe)
    await detach(next) // now `next` is the lowest free device again (unless another process takes it)
    const holder = spawn('flock', ['-x', next, '-c', 'echo locked; sleep 0.3'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = once(holder, 'exit')
    await once(holder.stdout, 'data')
    const started = Date.now()
    const dev = await attach(sparse('after-lock.img', MiB))
    const waited = Date.now() - started
    await exited
    t.ok(dev !== next || waited >= 200, `got ${dev} after ${waited} ms (the locked one was ${next})`)
    await detach(dev)
  })

  await t.test('errors are SysErrors with errno, code, syscall and target', async (t) => {
    const missing = join(dir, 'missing.img')
    await t.rejects(attachLoop(missing), { name: 'SysError', errno: 2, code: 'ENOENT', syscall: 'open', target: missing }, 'attach a missing file')
    await t.rejects(detachLoop('/dev/null'), { errno: 25, code: 'ENOTTY', syscall: 'ioctl(LOOP_CLR_FD)', target: '/dev/null' }, 'detach a non-loop device')
    const free = await attach(sparse('free.img', MiB))
    await detach(free)
    await t.rejects(detachLoop(free), { errno: 6, code: 'ENXIO', syscall: 'ioctl(LOOP_CLR_FD)', target: free }, 'detach an unbound loop device')
    await t.rejects(blockSize(join(dir, 'nope')), { code: 'ENOENT', syscall: 'open' })
    await t.rejects(resizeLoop('/dev/null'), { code: 'ENOTTY', syscall: 'ioctl(LOOP_SET_CAPACITY)' })
    const err = await detachLoop('/dev/null').catch((e: unknown) => e)
    t.ok(err instanceof SysError && err instanceof Error, 'instanceof SysError and Error')
    t.match((err as Error).message, /^ioctl\(LOOP_CLR_FD\) \/dev\/null: ENOTTY/)
    // Misuse is refused before any I/O.
    await t.rejects(attachLoop('relative.img'), TypeError)
    await t.rejects(attachLoop(join(dir, 'x'), { sizeLimit: -1 }), RangeError)
  })
})
