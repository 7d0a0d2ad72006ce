// A real satellite process, driven over the real link by a controller-side test client, making real
// loop devices (STYLE.md §6: skipped with the reason where this cannot run): FILE_THIN and FILE volumes
// of exactly the size asked, that take mkfs.ext4 and a mount; grow; delete (refused while mounted);
// pool capacities from statfs; errors with syscall and errno; and a satellite killed with SIGKILL in
// the middle of applying that adopts what exists after its restart.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import type { FullSync, ResourceDesired, ResourceObserved, StorPoolDesired, VolumeDesired } from '../../../src/proto/messages.js'
import { blockSize, detachLoop, listLoops, loopStatus } from '../../../src/satellite/sys/loop.js'
import { loopSkipReason } from '../../helpers/loop-env.js'
import { holdLoopLock } from '../../helpers/loop-lock.js'
import { spawnSatellite, TestController } from '../../helpers/satellite-link.js'

const skip = loopSkipReason()
const MiB = 1024 * 1024
const SECRET = 'f00d'.repeat(16)
const NODE = 'local-sat'
const DIR_KEY = 'StorDriver/StorPoolName'

t.test('satellite on real loop devices', { skip }, async (t) => {
  // Other tests' loop devices must not come and go under this one's checks (loop-lock.ts).
  await holdLoopLock(t)
  const root = mkdtempSync(join(tmpdir(), 'blockyard-sat-'))
  const stateDir = join(root, 'state')
  const thinDir = join(root, 'thin')
  const thickDir = join(root, 'thick')
  mkdirSync(thinDir)
  mkdirSync(thickDir)
  const secretFile = join(root, 'cluster-secret')
  writeFileSync(secretFile, SECRET + '\n', { mode: 0o600 })

  // Everything made here is undone by what we got: mounts by their directory, devices by their name
  // (from the satellite's reports, and from sysfs for files under `root` a killed satellite attached).
  const mounts = new Set<string>()
  const children = new Set<ChildProcess>()
  t.teardown(async () => {
    for (const m of mounts) {
      try {
        execFileSync('umount', [m])
      } catch {}
    }
    for (const c of children) c.kill('SIGKILL')
    for (const l of await listLoops()) if (l.backingFile.startsWith(root + '/')) await detachLoop(l.device).catch(() => {})
    rmSync(root, { recursive: true, force: true })
  })

  const pools: StorPoolDesired[] = [
    { name: 'thin', providerKind: 'FILE_THIN', props: { [DIR_KEY]: thinDir }, deleted: false },
    { name: 'thick', providerKind: 'FILE', props: { [DIR_KEY]: thickDir }, deleted: false },
    { name: 'nowhere', providerKind: 'FILE_THIN', props: { [DIR_KEY]: join(root, 'no-such-dir') }, deleted: false },
    { name: 'DfltDisklessStorPool', providerKind: 'DISKLESS', props: {}, deleted: false },
  ]
  const poolOf = (name: string): StorPoolDesired => pools.find((p) => p.name === name)!
  const vol = (number: number, sizeKib: number, pool: string): VolumeDesired => {
    const p = poolOf(pool)
    return { number, netSizeKib: sizeKib, grossSizeKib: sizeKib, storPoolName: p.name, providerKind: p.providerKind, storPoolProps: p.props, props: {} }
  }
  const rsc = (name: string, generation: bigint, volumes: VolumeDesired[], deleted = false): ResourceDesired => ({
    name,
    generation,
    deleted,
    layers: ['STORAGE'],
    flags: [],
    props: {},
    volumes,
  })
  const fullSync = (syncId: number, resources: ResourceDesired[]): FullSync => ({ type: 'FullSync', syncId, nodeName: NODE, nodeProps: {}, storPools: pools, resources })
  const push = (c: TestController, r: ResourceDesired): void => c.send({ type: 'ResourceDesired', ...r })
  const observed = (c: TestController, name: string, generation: bigint, states: string[] = ['READY', 'GONE', 'FAILED']): Promise<ResourceObserved> =>
    c.until('ResourceObserved', (m) => m.name === name && m.generation === generation && states.includes(m.state), 30_000)

  const start = async (): Promise<{ child: ChildProcess; url: string; stderr: () => string }> => {
    const s = await spawnSatellite({ nodeName: NODE, stateDir, secretFile, extra: ['--log-level', 'debug'] })
    children.add(s.child)
    s.child.once('exit', () => children.delete(s.child))
    return s
  }
  const link = async (url: string): Promise<TestController> => {
    const c = await TestController.connect(url)
    await c.handshake(SECRET)
    // The controller pings every second; so does this one, so the satellite never finds it silent.
    const ping = setInterval(() => c.ws.readyState === c.ws.OPEN && c.send({ type: 'Ping', sentAtUs: Date.now() * 1000 }), 1000)
    void c.closed.then(() => clearInterval(ping))
    return c
  }

  let sat = await start()
  let c = await link(sat.url)

  await t.test('a wrong secret is refused by the process', async (t) => {
    const bad = await TestController.connect(sat.url)
    await t.rejects(bad.handshake('0'.repeat(64)))
    t.match(bad.received.find((m) => m.type === 'LinkResult'), { status: 'AUTHENTICATION_FAILED' })
  })

  await t.test('capabilities, capacities from statfs, errors with syscall and errno', async (t) => {
    const caps = await c.next('NodeCapabilities')
    t.match(caps.providers.find((p) => p.kind === 'FILE_THIN'), { supported: true })
    t.match(caps.providers.find((p) => p.kind === 'FILE'), { supported: true })
    t.match(caps.layers.find((l) => l.kind === 'STORAGE'), { supported: true })
    // This host's kernel has no DRBD: the layer is unsupported, and the reason names the module.
    t.match(caps.layers.find((l) => l.kind === 'DRBD'), { supported: false, reason: /drbd/ })
    c.send(fullSync(1, []))
    const cap = await c.next('CapacityReport')
    t.equal((await c.next('FullSyncApplied')).syncId, 1, 'FullSyncApplied follows the capacity report')
    const fs = statfsSync(thinDir)
    const thin = cap.storPools.find((p) => p.name === 'thin')!
    t.equal(thin.totalKib, Math.floor((fs.blocks * fs.bsize) / 1024), 'total from statfs')
    t.ok(Math.abs(thin.freeKib! - (fs.bavail * fs.bsize) / 1024) < 256 * 1024, 'free from statfs (within what others wrote meanwhile)')
    t.same(thin.errors, [])
    t.match(cap.storPools.find((p) => p.name === 'nowhere'), { errors: [{ code: 'ENOENT', syscall: 'stat', errno: 2, terminal: true }] })
    t.notOk('freeKib' in cap.storPools.find((p) => p.name === 'nowhere')!, 'no number where none could be read')
    t.match(cap.storPools.find((p) => p.name === 'DfltDisklessStorPool'), { name: 'DfltDisklessStorPool', errors: [] })
  })

  let thinDev = ''
  let thickDev = ''
  await t.test('FullSync: a FILE_THIN and a FILE volume become loop devices of exactly their size', async (t) => {
    c.send(fullSync(2, [rsc('thinvol', 10n, [vol(0, 64 * 1024, 'thin')]), rsc('thickvol', 11n, [vol(0, 32 * 1024, 'thick')])]))
    t.equal((await c.next('FullSyncApplied')).syncId, 2)
    const a = await observed(c, 'thinvol', 10n)
    const b = await observed(c, 'thickvol', 11n)
    t.equal(a.state, 'READY', JSON.stringify(a.errors))
    t.equal(b.state, 'READY', JSON.stringify(b.volumes))
    thinDev = a.volumes[0]!.devicePath!
    thickDev = b.volumes[0]!.devicePath!
    t.match(thinDev, /^\/dev\/loop\d+$/)
    t.match(a.volumes[0], { number: 0, usableKib: 64 * 1024, diskState: 'UpToDate', errors: [] })
    t.match(b.volumes[0], { number: 0, usableKib: 32 * 1024, diskState: 'UpToDate', errors: [] })
    t.equal(await blockSize(thinDev), 64 * MiB, 'BLKGETSIZE64: exactly 64 MiB')
    t.equal(await blockSize(thickDev), 32 * MiB, 'BLKGETSIZE64: exactly 32 MiB')
    const thinFile = join(thinDir, 'thinvol_00000.img')
    const thickFile = join(thickDir, 'thickvol_00000.img')
    t.equal((await loopStatus(thinDev))!.fileName, thinFile, 'LINSTOR file naming')
    t.equal((await loopStatus(thickDev))!.fileName, thickFile)
    t.equal((await loopStatus(thinDev))!.directIo, true, 'direct I/O on ext4')
    t.ok(statSync(thinFile).blocks * 512 < MiB, 'FILE_THIN is sparse')
    t.ok(statSync(thickFile).blocks * 512 >= 32 * MiB, 'FILE is allocated')
    t.ok(a.volumes[0]!.allocatedKib! < 1024 && b.volumes[0]!.allocatedKib! >= 32 * 1024, 'allocated sizes reported')
    t.equal(a.inUse, false)
    const cap = await c.next('CapacityReport')
    t.ok(cap.storPools.some((p) => p.name === 'thick'), 'capacities follow a change of storage')
  })

  await t.test('mkfs.ext4 and a mount work; grow; the device is held while mounted', async (t) => {
    execFileSync('mkfs.ext4', ['-q', '-F', thinDev])
    const mnt = mkdtempSync(join(tmpdir(), 'blockyard-mnt-'))
    execFileSync('mount', [thinDev, mnt])
    mounts.add(mnt)
    writeFileSync(join(mnt, 'hello'), 'world')
    push(c, rsc('thinvol', 12n, [vol(0, 96 * 1024, 'thin')]))
    const grown = await observed(c, 'thinvol', 12n)
    t.equal(grown.state, 'READY')
    t.equal(grown.volumes[0]!.usableKib, 96 * 1024)
    t.equal(grown.volumes[0]!.devicePath, thinDev, 'same device, grown in place')
    t.equal(await blockSize(thinDev), 96 * MiB, 'BLKGETSIZE64 after grow')
    t.equal(grown.inUse, true, 'mounted: in use')
    t.equal(statSync(join(thinDir, 'thinvol_00000.img')).size, 96 * MiB)

    // Deleting a mounted volume waits for the mount to go rather than pull the device away.
    push(c, rsc('thinvol', 13n, [vol(0, 96 * 1024, 'thin')], true))
    const busy = await observed(c, 'thinvol', 13n, ['DELETING'])
    t.match(busy.volumes[0]!.errors[0], { code: 'EBUSY', syscall: 'open', errno: 16, terminal: false, message: /in use/ })
    t.ok(existsSync(join(thinDir, 'thinvol_00000.img')), 'the file is still there')
    execFileSync('umount', [mnt])
    mounts.delete(mnt)
    rmSync(mnt, { recursive: true })
    const done = await observed(c, 'thinvol', 13n)
    t.equal(done.state, 'GONE', 'deleted once unmounted (retried with backoff)')
    t.same(done.volumes, [])
    t.equal(await loopStatus(thinDev), null, 'the loop device is detached')
    t.notOk(existsSync(join(thinDir, 'thinvol_00000.img')), 'the file is removed')
  })

  await t.test('delete a FILE volume; errors of a pool that does not exist; shrink refused', async (t) => {
    push(c, rsc('thickvol', 14n, [], true))
    t.equal((await observed(c, 'thickvol', 14n)).state, 'GONE')
    t.equal(await loopStatus(thickDev), null)
    t.notOk(existsSync(join(thickDir, 'thickvol_00000.img')))

    push(c, rsc('lost', 15n, [vol(0, 1024, 'nowhere')]))
    const lost = await observed(c, 'lost', 15n)
    t.equal(lost.state, 'FAILED')
    t.match(lost.errors[0], { code: 'ENOENT', syscall: 'stat', errno: 2, terminal: true, message: /no-such-dir is not usable/ })

    push(c, rsc('small', 16n, [vol(0, 2048, 'thin')]))
    const small = await observed(c, 'small', 16n)
    t.equal(small.state, 'READY')
    push(c, rsc('small', 17n, [vol(0, 1024, 'thin')]))
    const refused = await observed(c, 'small', 17n)
    t.equal(refused.state, 'FAILED')
    t.match(refused.volumes[0]!.errors[0], { terminal: true, message: /never shrinks/ })
    t.equal(refused.volumes[0]!.devicePath, small.volumes[0]!.devicePath, 'the volume is untouched')
    push(c, rsc('small', 18n, [], true))
    t.equal((await observed(c, 'small', 18n)).state, 'GONE')

    push(c, { ...rsc('drbdvol', 19n, [vol(0, 1024, 'thin')]), layers: ['DRBD', 'STORAGE'] })
    t.match((await observed(c, 'drbdvol', 19n)).errors[0], { terminal: true, message: /layer stack DRBD,STORAGE is not supported/ })
    t.notOk(existsSync(join(thinDir, 'drbdvol_00000.img')), 'nothing made for a stack it cannot build')
  })

  await t.test('SIGKILL in the middle of applying: the restarted satellite adopts what exists', async (t) => {
    const N = 40
    const many = Array.from({ length: N }, (_, i) => rsc(`kill${i}`, 100n + BigInt(i), [vol(0, 8 * 1024, i % 4 === 0 ? 'thick' : 'thin')]))
    c.send(fullSync(3, many))
    await c.next('FullSyncApplied')
    await c.until('ResourceObserved', (m) => m.name.startsWith('kill'), 30_000)
    sat.child.kill('SIGKILL')
    await c.closed
    await new Promise((r) => sat.child.exitCode !== null || sat.child.signalCode !== null ? r(null) : sat.child.once('exit', r))
    const reported = new Set(c.received.filter((m): m is Extract<typeof m, { type: 'ResourceObserved' }> => m.type === 'ResourceObserved' && m.name.startsWith('kill')).map((m) => m.name))

    // What the killed run left: files (by inode) and the loop devices bound to them.
    const fileOf = (i: number): string => join(i % 4 === 0 ? thickDir : thinDir, `kill${i}_00000.img`)
    const inodes = new Map<number, bigint>()
    for (let i = 0; i < N; i++) if (existsSync(fileOf(i))) inodes.set(i, statSync(fileOf(i), { bigint: true }).ino)
    const loopsBefore = new Map((await listLoops()).filter((l) => l.backingFile.startsWith(root + '/')).map((l) => [l.backingFile, l.device]))
    t.ok(reported.size < N, `killed mid-apply: ${reported.size} of ${N} reported, ${inodes.size} files and ${loopsBefore.size} devices there`)

    sat = await start()
    c = await link(sat.url)
    c.send(fullSync(4, many))
    await c.next('FullSyncApplied')
    const results = await Promise.all(many.map((r) => observed(c, r.name, r.generation)))
    t.ok(results.every((r) => r.state === 'READY'), 'every resource READY after the restart')
    const loopsAfter = (await listLoops()).filter((l) => l.backingFile.startsWith(root + '/'))
    const perFile = new Map<string, number>()
    for (const l of loopsAfter) perFile.set(l.backingFile, (perFile.get(l.backingFile) ?? 0) + 1)
    t.equal(loopsAfter.length, N, 'one loop device per volume')
    t.ok([...perFile.values()].every((n) => n === 1), 'no file has a second loop device')
    for (const [file, device] of loopsBefore) t.equal(loopsAfter.find((l) => l.backingFile === file)?.device, device, `${file}: its device adopted`)
    for (const [i, ino] of inodes) t.equal(statSync(fileOf(i), { bigint: true }).ino, ino, `kill${i}: its file adopted, not recreated`)
    for (let i = 0; i < N; i++) t.equal(await blockSize(results[i]!.volumes[0]!.devicePath!), 8 * MiB)

    c.send(fullSync(5, many.map((r, i) => ({ ...r, generation: 200n + BigInt(i), deleted: true }))))
    const gone = await Promise.all(many.map((r, i) => observed(c, r.name, 200n + BigInt(i))))
    t.ok(gone.every((r) => r.state === 'GONE'), 'all deleted')
    t.equal((await listLoops()).filter((l) => l.backingFile.startsWith(root + '/')).length, 0, 'no loop device left')
  })

  await t.test('resources a full sync does not list are left alone', async (t) => {
    push(c, rsc('keep', 300n, [vol(0, 1024, 'thin')]))
    const kept = await observed(c, 'keep', 300n)
    c.send(fullSync(6, []))
    await c.next('FullSyncApplied')
    push(c, rsc('other', 301n, [vol(0, 1024, 'thin')]))
    await observed(c, 'other', 301n)
    t.equal((await loopStatus(kept.volumes[0]!.devicePath!))?.fileName, join(thinDir, 'keep_00000.img'), 'still attached')
    push(c, rsc('keep', 302n, [], true))
    push(c, rsc('other', 303n, [], true))
    await observed(c, 'keep', 302n)
    await observed(c, 'other', 303n)
  })

  await c.close()
  sat.child.kill('SIGTERM')
})
