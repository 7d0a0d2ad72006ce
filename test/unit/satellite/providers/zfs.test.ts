// ZfsProvider against a fake runner that keeps datasets in memory and answers in the shape and words
// captured from zfs 2.1.11 in the VM (test/fixtures/zfs): the argv it runs, adoption, idempotent steps,
// open zvols never destroyed, capacity, and one `zfs list` per dataset for observers that come together.
import { readFileSync } from 'node:fs'
import t from 'tap'
import type { PoolRef } from '../../../../src/satellite/providers/provider.js'
import { allocatedKib, DEFAULT_VOLBLOCKSIZE, parsePool, poolSpace, roundToBlocks, ZfsProvider, zvolDataset } from '../../../../src/satellite/providers/zfs.js'
import { TerminalError } from '../../../../src/satellite/reconcile/errors.js'
import { LIST_PROPS, listArgv, parseList, ZfsCommandError, type ZfsRunner } from '../../../../src/satellite/sys/zfs.js'

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/zfs/${name}`, import.meta.url), 'utf8')
const MiB = 1024 * 1024

interface FakeDataset {
  type: 'filesystem' | 'volume'
  volsize?: number
  referenced: number
  quota?: number
  refreservation: number
  volblocksize?: number
}

/** zpool 'tank' (1 GiB) with the filesystem 'tank/thin' under a 512 MiB quota; records every argv. */
function fakeZfs() {
  const ran: string[][] = []
  const ds = new Map<string, FakeDataset>([
    ['tank', { type: 'filesystem', referenced: 24576, quota: 0, refreservation: 0 }],
    ['tank/thin', { type: 'filesystem', referenced: 24576, quota: 512 * MiB, refreservation: 0 }],
  ])
  /** Next failure of a subcommand, by its name ('create', 'destroy'…): the stderr zfs printed. */
  const fail = new Map<string, string>()
  const available = (): number => 900 * MiB - [...ds.values()].reduce((n, d) => n + Math.max(d.refreservation, d.referenced), 0)
  const row = (name: string, d: FakeDataset): string => {
    const v: Record<(typeof LIST_PROPS)[number], string> = {
      name, type: d.type, volsize: d.volsize === undefined ? '-' : String(d.volsize), referenced: String(d.referenced), available: String(available()),
      quota: d.quota === undefined ? '-' : String(d.quota), refreservation: String(d.refreservation), volblocksize: d.volblocksize === undefined ? '-' : String(d.volblocksize),
    }
    return LIST_PROPS.map((p) => v[p]).join('\t')
  }
  const runner: ZfsRunner = async (tool, argv) => {
    ran.push([tool, ...argv])
    const err = fail.get(argv[0]!)
    if (err !== undefined) {
      fail.delete(argv[0]!)
      throw new ZfsCommandError([tool, ...argv], 1, err)
    }
    const target = argv.at(-1)!
    if (tool === 'zpool') return `tank\t${1020 * MiB}\n`
    switch (argv[0]) {
      case 'list': {
        if (!ds.has(target)) throw new ZfsCommandError([tool, ...argv], 1, fixture('stderr-list-no-dataset.txt'))
        const rows = [...ds].filter(([n]) => n === target || (n.startsWith(`${target}/`) && !n.slice(target.length + 1).includes('/')))
        return rows.map(([n, d]) => `${row(n, d)}\n`).join('')
      }
      case 'create': {
        if (ds.has(target)) throw new ZfsCommandError([tool, ...argv], 1, `cannot create '${target}': dataset already exists\n`)
        const size = parseInt(argv[argv.indexOf('-V') + 1]!) * 1024
        const b = argv.indexOf('-b')
        ds.set(target, { type: 'volume', volsize: size, referenced: 12288, refreservation: argv.includes('-s') ? 0 : size + 8 * MiB, volblocksize: b < 0 ? 16384 : parseInt(argv[b + 1]!) * 1024 })
        return ''
      }
      case 'set': {
        const d = ds.get(target)!
        const size = parseInt(argv[1]!.slice('volsize='.length)) * 1024
        if (size < d.volsize!) throw new ZfsCommandError([tool, ...argv], 1, `cannot set property for '${target}': volume size cannot be decreased\n`)
        if (d.refreservation > 0) d.refreservation = size + 8 * MiB
        d.volsize = size
        return ''
      }
      case 'destroy': {
        if (!ds.delete(target)) throw new ZfsCommandError([tool, ...argv], 1, fixture('stderr-list-no-dataset.txt'))
        return ''
      }
    }
    throw new Error(`the fake does not know ${argv.join(' ')}`)
  }
  return { runner, ran, ds, fail }
}

const THICK: PoolRef = { name: 'zfs', kind: 'ZFS', props: { 'StorDriver/StorPoolName': 'tank' } }
const THIN: PoolRef = { name: 'zfsthin', kind: 'ZFS_THIN', props: { 'StorDriver/StorPoolName': 'tank/thin', 'StorDriver/ZfscreateOptions': '-b 32K -o compression=lz4' } }

t.test('the pool: its zpool or dataset, its create options, refused with the reason', async (t) => {
  t.same(parsePool(THIN), { dataset: 'tank/thin', options: { argv: ['-b', '32K', '-o', 'compression=lz4'], volblocksize: 32768 } })
  t.throws(() => parsePool({ ...THICK, props: {} }), new TerminalError("storage pool 'zfs' (ZFS) has no zpool: its property StorDriver/StorPoolName is not set"))
  t.throws(() => parsePool({ ...THICK, props: { 'StorDriver/StorPoolName': 'tank/a b' } }), TerminalError)
  t.throws(() => parsePool({ ...THICK, props: { 'StorDriver/StorPoolName': 'tank', 'StorDriver/ZfscreateOptions': '-s' } }), /StorDriver\/ZfscreateOptions: '-s' is not allowed/)
  const { runner } = fakeZfs()
  const p = new ZfsProvider({ runner })
  t.equal(await p.checkPool(THICK), 'tank')
  t.equal(await p.checkPool(THIN), 'tank/thin')
  await t.rejects(p.checkPool({ ...THICK, props: { 'StorDriver/StorPoolName': 'tank/nope' } }), { name: 'TerminalError', message: /ZFS dataset tank\/nope does not exist/ })
})

t.test('paths, and sizes rounded up to whole volblocks', async (t) => {
  const { runner } = fakeZfs()
  const p = new ZfsProvider({ runner })
  t.equal(p.volumePath('tank', 'r1', 3), '/dev/zvol/tank/r1_00003')
  t.throws(() => p.volumePath('tank', 'r 1', 0), RangeError)
  t.equal(zvolDataset('/dev/zvol/tank/thin/r1_00000'), 'tank/thin/r1_00000')
  t.throws(() => zvolDataset('/dev/tank/r1_00000'), RangeError)
  t.throws(() => zvolDataset('/dev/zvol/tank'), RangeError, 'a zvol is under its zpool')
  t.equal(roundToBlocks(64 * 1024 + 4), 64 * 1024 + 16, `the default rounds to ${DEFAULT_VOLBLOCKSIZE / 1024} KiB`)
  t.equal(roundToBlocks(64 * 1024), 64 * 1024)
  await p.checkPool(THICK)
  await p.checkPool(THIN)
  t.equal(await p.allocationKib('tank', 65540), 65552)
  t.equal(await p.allocationKib('tank/thin', 65540), 65568, 'the thin pool\'s -b 32K')
})

t.test('create, observe, grow, remove: argv, kinds kept apart, allocated sizes', async (t) => {
  const { runner, ran, ds } = fakeZfs()
  const p = new ZfsProvider({ runner })
  await p.checkPool(THICK)
  await p.checkPool(THIN)
  ran.length = 0
  await p.create('ZFS', p.volumePath('tank', 'r1', 0), 65552)
  await p.create('ZFS_THIN', p.volumePath('tank/thin', 'r1', 0), 65568)
  t.same(ran, [
    ['zfs', 'create', '-V', '65552K', 'tank/r1_00000'],
    ['zfs', 'create', '-s', '-V', '65568K', '-b', '32K', '-o', 'compression=lz4', 'tank/thin/r1_00000'],
  ])
  ds.get('tank/thin/r1_00000')!.referenced = 8 * MiB + 12288
  const thick = await p.observe(THICK, 'tank', 'r1')
  t.match(thick, [{ number: 0, kind: 'ZFS', path: '/dev/zvol/tank/r1_00000', sizeKib: 65552, allocatedKib: 65552 }])
  t.equal(thick[0]!.device, undefined, 'no device where no link answers (no ZFS on this host)')
  t.match(await p.observe(THIN, 'tank/thin', 'r1'), [{ kind: 'ZFS_THIN', sizeKib: 65568, allocatedKib: 8 * 1024 + 12 }])
  t.same(await p.observe(THICK, 'tank', 'r2'), [], 'another resource\'s volumes are not ours')
  // A sparse zvol in the thick pool's dataset belongs to a ZFS_THIN pool, and the other way round.
  ds.set('tank/r3_00000', { type: 'volume', volsize: MiB, referenced: 0, refreservation: 0, volblocksize: 16384 })
  await new Promise((r) => setImmediate(r)) // made behind the provider's back: the list of a moment ago does not have it
  t.same(await p.observe(THICK, 'tank', 'r3'), [], 'a ZFS pool leaves sparse zvols alone')
  t.equal((await p.observe({ ...THIN, props: { 'StorDriver/StorPoolName': 'tank' } }, 'tank', 'r3')).length, 1, 'a ZFS_THIN pool on the same dataset sees it')

  ran.length = 0
  await p.grow('ZFS', '/dev/zvol/tank/r1_00000', 131072)
  t.same(ran, [['zfs', 'set', 'volsize=131072K', 'tank/r1_00000']])
  t.equal(ds.get('tank/r1_00000')!.volsize, 128 * MiB)
  await p.grow('ZFS', '/dev/zvol/tank/r1_00000', 65552)
  t.pass('a grow to less than it has is done already (an earlier pass grew it)')

  ran.length = 0
  await p.detach('/dev/zvol/tank/r1_00000', '/dev/zvol/tank/r1_00000')
  await p.remove('/dev/zvol/tank/r1_00000')
  await p.remove('/dev/zvol/tank/r1_00000')
  t.same(ran.filter((a) => a[1] === 'destroy'), [['zfs', 'destroy', 'tank/r1_00000'], ['zfs', 'destroy', 'tank/r1_00000']], 'removing what is gone is fine')
  t.notOk(ds.has('tank/r1_00000'))
})

t.test('adoption: a create that finds its zvol keeps it, growing it when smaller', async (t) => {
  const { runner, ran, ds } = fakeZfs()
  const p = new ZfsProvider({ runner })
  await p.checkPool(THICK)
  ds.set('tank/r1_00000', { type: 'volume', volsize: 32 * MiB, referenced: 4096, refreservation: 40 * MiB, volblocksize: 16384 })
  ran.length = 0
  await p.create('ZFS', '/dev/zvol/tank/r1_00000', 65536)
  t.same(ran.map((a) => a[1]), ['create', 'list', 'set'], 'create refused, listed afresh, grown')
  t.equal(ds.get('tank/r1_00000')!.volsize, 64 * MiB)
  ran.length = 0
  await p.create('ZFS', '/dev/zvol/tank/r1_00000', 65536)
  t.same(ran.map((a) => a[1]), ['create', 'list'], 'of the size already: kept as it is')
})

t.test('errors: out of space is terminal; an open zvol is refused with what to close, and nothing is destroyed', async (t) => {
  const { runner, fail, ds } = fakeZfs()
  const p = new ZfsProvider({ runner })
  await p.checkPool(THICK)
  fail.set('create', fixture('stderr-create-out-of-space.txt'))
  await t.rejects(p.create('ZFS', '/dev/zvol/tank/big_00000', 100 * 1024 * 1024), TerminalError)

  ds.set('tank/busy_00000', { type: 'volume', volsize: MiB, referenced: 0, refreservation: 2 * MiB, volblocksize: 16384 })
  fail.set('destroy', fixture('stderr-destroy-busy.txt'))
  const e = (await p.remove('/dev/zvol/tank/busy_00000').then(() => null, (x: unknown) => x)) as NodeJS.ErrnoException
  t.equal(e.code, 'EBUSY', 'retried once the holder lets go, not terminal')
  t.match(e.message, /^zvol tank\/busy_00000 is open .*not destroyed while open\. Close it — `drbdadm down <resource>` for DRBD, umount, or end the program holding it — and the delete goes on\.$/)
  t.type(e.cause, ZfsCommandError, 'with zfs\'s own words as the details')
  t.ok(ds.has('tank/busy_00000'), 'the zvol is still there')

  fail.set('destroy', 'cannot destroy: something unexpected\n')
  await t.rejects(p.remove('/dev/zvol/tank/busy_00000'), ZfsCommandError, 'another failure, with the zvol still there, is passed on')
})

t.test('one zfs list per dataset for the observers of one moment; a finished change makes the next one list afresh', async (t) => {
  const { runner, ran } = fakeZfs()
  const p = new ZfsProvider({ runner })
  await Promise.all([p.checkPool(THICK), p.observe(THICK, 'tank', 'a'), p.observe(THICK, 'tank', 'b'), p.space(THICK, 'tank')])
  t.same(ran.filter((a) => a[0] === 'zfs'), [['zfs', ...listArgv('tank')]], 'one zfs list served the check, two observers and the space')
  await new Promise((r) => setImmediate(r))
  await p.create('ZFS', '/dev/zvol/tank/a_00000', 1024)
  ran.length = 0
  t.equal((await p.observe(THICK, 'tank', 'a')).length, 1, 'the new zvol is seen')
  t.same(ran, [['zfs', ...listArgv('tank')]], 'listed afresh after the create')
})

t.test('space as LINSTOR reports it: available free; total the quota, else the zpool\'s size', async (t) => {
  const { runner, ran } = fakeZfs()
  const p = new ZfsProvider({ runner })
  const thick = await p.space(THICK, 'tank')
  t.same(thick, { freeKib: 900 * 1024 - 48, totalKib: 1020 * 1024 })
  t.ok(ran.some((a) => a[0] === 'zpool'), 'the zpool asked for its size')
  ran.length = 0
  await new Promise((r) => setImmediate(r))
  t.same(await p.space(THIN, 'tank/thin'), { freeKib: 900 * 1024 - 48, totalKib: 512 * 1024 })
  t.notOk(ran.some((a) => a[0] === 'zpool'), 'a quota needs no zpool size')

  const [own] = parseList(fixture('list-tank.txt'))
  t.same(await poolSpace(own!, async () => 1024 * MiB), { freeKib: Math.floor(own!.available / 1024), totalKib: 1024 * 1024 }, 'from the captured zpool row')
  const [sparse] = parseList(fixture('list-tank-thin.txt')).filter((r) => r.type === 'volume')
  t.equal(allocatedKib(sparse!, 'ZFS_THIN'), Math.ceil(sparse!.referenced / 1024), 'thin: what is referenced')
  t.equal(allocatedKib(sparse!, 'ZFS'), sparse!.volsize! / 1024, 'thick: all of it')
})
