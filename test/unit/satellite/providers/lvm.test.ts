// LvmProvider against a fake runner that keeps a VG in memory and answers reports in the JSON shape
// captured in the VM: the argv it runs, adoption, idempotent steps, errors, space, and one report
// per VG for observers that arrive together.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { allocatedKib, LvmProvider, parsePoolName, parseVgReport, poolSpace } from '../../../../src/satellite/providers/lvm.js'
import { volumeName } from '../../../../src/satellite/providers/provider.js'
import type { PoolRef } from '../../../../src/satellite/providers/provider.js'
import { TerminalError } from '../../../../src/satellite/reconcile/errors.js'
import { LvmCommandError, reportRows, type LvmOutput, type LvmRunner } from '../../../../src/satellite/sys/lvm.js'

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/lvm/${name}`, import.meta.url), 'utf8')
const ERRORS = JSON.parse(fixture('errors.json')) as Record<string, string>

interface FakeLv { name: string; sizeKib: number; attr: string; pool: string; dataPercent: string }

/** One VG 'vg' of 4 GiB with thin pool 'tp'; records every argv. */
function fakeVg(): { runner: LvmRunner; ran: string[][]; lvs: Map<string, FakeLv>; fail: Map<string, string> } {
  const ran: string[][] = []
  const lvs = new Map<string, FakeLv>([['tp', { name: 'tp', sizeKib: 262144, attr: 'twi-aotz--', pool: '', dataPercent: '25.00' }]])
  const fail = new Map<string, string>()
  const row = (lv?: FakeLv): string => JSON.stringify({ vg_name: 'vg', vg_size: String(4 * 1024 ** 3), vg_free: String(3 * 1024 ** 3), vg_extent_size: String(4 * 1024 ** 2), ...(lv !== undefined ? { lv_name: lv.name, lv_size: String(lv.sizeKib * 1024), lv_attr: lv.attr, pool_lv: lv.pool, data_percent: lv.dataPercent } : {}) })
  const runner: LvmRunner = {
    inProcess: true,
    close() {},
    async run(argv): Promise<LvmOutput> {
      ran.push([...argv])
      const err = fail.get(argv[0]!)
      if (err !== undefined) throw new LvmCommandError(argv, 5, err)
      const opt = (name: string): string => argv[argv.indexOf(name) + 1]!
      switch (argv[0]) {
        case 'vgs': {
          if (argv.at(-1) !== 'vg') throw new LvmCommandError(argv, 5, ERRORS['vgs nosuchvg']!)
          const rows = argv.includes('lv_name') || opt('-o').includes('lv_name') ? [...lvs.values()].map(row) : [row()]
          return { report: `{"report":[{"vg":[${rows.join(',')}]}]}`, messages: [] }
        }
        case 'lvcreate': {
          const name = opt('--name')
          if (lvs.has(name)) throw new LvmCommandError(argv, 5, `Logical Volume "${name}" already exists in volume group "vg"`)
          const thin = argv.includes('--thinpool')
          lvs.set(name, { name, sizeKib: parseInt(opt(thin ? '--virtualsize' : '--size')), attr: thin ? 'Vwi-a-tz--' : '-wi-a-----', pool: thin ? opt('--thinpool') : '', dataPercent: thin ? '0.00' : '' })
          return { report: '', messages: [`Logical volume "${name}" created.`] }
        }
        case 'lvextend': {
          const lv = lvs.get(argv.at(-1)!.split('/')[1]!)!
          const size = parseInt(opt('--size'))
          if (size <= lv.sizeKib) throw new LvmCommandError(argv, 5, ERRORS['lvextend --size 8192k vgc/r1_00000']!)
          lv.sizeKib = size
          return { report: '', messages: [] }
        }
        case 'lvremove': {
          const name = argv.at(-1)!.split('/')[1]!
          if (!lvs.delete(name)) throw new LvmCommandError(argv, 5, ERRORS['lvremove --yes vgc/nosuch']!)
          return { report: '', messages: [] }
        }
        case 'lvchange': {
          const lv = lvs.get(argv.at(-1)!.split('/')[1]!)!
          lv.attr = `${lv.attr.slice(0, 4)}a${lv.attr.slice(5)}`
          return { report: '', messages: [] }
        }
      }
      throw new Error(`unexpected ${argv.join(' ')}`)
    },
  }
  return { runner, ran, lvs, fail }
}

/** The end of this event-loop turn: a report finished in it is not taken again after. */
const later = (): Promise<void> => new Promise((res) => setImmediate(res))

const thick: PoolRef = { name: 'thick', kind: 'LVM', props: { 'StorDriver/StorPoolName': 'vg' } }
const thin: PoolRef = { name: 'thin', kind: 'LVM_THIN', props: { 'StorDriver/StorPoolName': 'vg/tp' } }

t.test('pool names', async (t) => {
  t.same(parsePoolName(thick), { vg: 'vg' })
  t.same(parsePoolName(thin), { vg: 'vg', thinPool: 'tp' })
  for (const [kind, value] of [['LVM', undefined], ['LVM', 'vg/tp'], ['LVM_THIN', 'vg'], ['LVM', 'v g'], ['LVM_THIN', 'vg/-x']] as const) {
    const props: Record<string, string> = value === undefined ? {} : { 'StorDriver/StorPoolName': value }
    t.throws(() => parsePoolName({ name: 'p', kind, props }), TerminalError, `${kind} ${value}`)
  }
  t.equal(volumeName('rsc', 7), 'rsc_00007')
})

t.test('the report captured in the VM', async (t) => {
  const vg = parseVgReport(reportRows(fixture('vgs-lv-fields.json'), 'vg'))
  t.equal(vg.sizeKib, 4190208)
  t.equal(vg.freeKib, 3911680)
  const r2 = vg.lvs.get('r2_00000')!
  t.same(r2, { name: 'r2_00000', sizeKib: 1048576, attr: 'Vwi-a-tz--', pool: 'tp', dataPercent: 0.49 })
  t.equal(allocatedKib(r2), 5139, 'thin: the written share, rounded up')
  t.equal(allocatedKib(vg.lvs.get('r1_00000')!), 8192, 'thick: all of it')
  t.same(poolSpace(vg, { vg: 'vgc' }), { freeKib: 3911680, totalKib: 4190208 }, 'LVM: the VG')
  t.same(poolSpace(vg, { vg: 'vgc', thinPool: 'tp' }), { freeKib: 257032, totalKib: 262144 }, 'LVM_THIN: the pool data')
  t.throws(() => poolSpace(vg, { vg: 'vgc', thinPool: 'nope' }), TerminalError)
  const empty = parseVgReport(reportRows(fixture('vgs-lv-fields-empty-vg.json'), 'vg'), reportRows(fixture('vgs-vg-fields.json'), 'vg'))
  t.same(empty, { sizeKib: 4190208, freeKib: 4190208, extentKib: 4096, lvs: new Map() })
  t.equal(vg.extentKib, 4096, "LVM's default extent, 4 MiB")
  t.throws(() => parseVgReport([]), SyntaxError)
})

/** A provider on a fresh fake VG, the pool checked and the path of volume `number` of 'r' named. */
async function volumeIn(pool: PoolRef, number: number) {
  const f = fakeVg()
  const p = new LvmProvider({ runner: f.runner, deviceTimeoutMs: 50 })
  const loc = await p.checkPool(pool)
  return { f, p, loc, path: p.volumePath(loc, 'r', number) }
}

t.test('thick volume: create, adopt, grow, attach, remove', async (t) => {
  const { f, p, loc, path } = await volumeIn(thick, 0)
  t.equal(loc, 'vg')
  t.equal(path, '/dev/vg/r_00000')
  t.same(await p.observe(thick, loc, 'r'), [])
  f.ran.length = 0
  await p.create('LVM', path, 8192)
  t.same(f.ran, [['lvcreate', '--size', '8192k', '--name', 'r_00000', '--wipesignatures', 'y', '--yes', 'vg']])
  const seen = await p.observe(thick, loc, 'r')
  t.same(seen, [{ number: 0, kind: 'LVM', path, sizeKib: 8192, allocatedKib: 8192 }], 'no device node on this host: no device')
  t.same(await p.observe(thin, 'vg/tp', 'r'), [], 'a thick LV is not in the thin pool')
  await p.create('LVM', path, 16384)
  t.equal(f.lvs.get('r_00000')!.sizeKib, 16384, 'create of an existing smaller LV grows it')
  await p.create('LVM', path, 8192)
  t.equal(f.lvs.get('r_00000')!.sizeKib, 16384, 'and never shrinks it')
  await p.grow('LVM', path, 16384)
  await p.grow('LVM', path, 32768)
  t.equal(f.lvs.get('r_00000')!.sizeKib, 32768)
  f.lvs.get('r_00000')!.attr = '-wi-------'
  await later()
  f.ran.length = 0
  await t.rejects(p.attach(path), { code: 'ETIMEDOUT' }, 'activated, then waits for the node (none here)')
  t.same(f.ran.filter((a) => a[0] === 'lvchange'), [['lvchange', '--activate', 'y', 'vg/r_00000']])
  await p.detach(path, path)
  await p.observe(thick, loc, 'r')
  f.lvs.get('r_00000')!.attr = '-wi-ao----'
  t.equal(await p.inUse(path), true, 'an open is seen at once, not from the report of a moment ago')
  await t.rejects(p.detach(path, path), { code: 'EBUSY' })
  f.lvs.get('r_00000')!.attr = '-wi-a-----'
  await later()
  await p.remove(path)
  await p.remove(path)
  t.equal(f.lvs.has('r_00000'), false, 'removed; removing again is fine')
})

t.test("sizes are compared as LVM makes them: rounded up to the VG's extents, thin volumes too", async (t) => {
  const { p, loc } = await volumeIn(thick, 0)
  t.equal(await p.allocationKib(loc, 8192), 8192, 'a whole number of 4 MiB extents stays')
  t.equal(await p.allocationKib(loc, 8193), 12288, 'one KiB more takes another extent')
  t.equal(await p.allocationKib('vg/tp', 1), 4096)
})

t.test('thin volume: created in the pool that volumePath named', async (t) => {
  const { f, p, loc, path } = await volumeIn(thin, 1)
  t.equal(loc, 'vg/tp')
  await p.create('LVM_THIN', path, 1048576)
  t.same(f.ran.at(-1), ['lvcreate', '--virtualsize', '1048576k', '--thinpool', 'tp', '--name', 'r_00001', '--yes', 'vg'])
  f.lvs.get('r_00001')!.dataPercent = '50.00'
  await later()
  t.same(await p.observe(thin, loc, 'r'), [{ number: 1, kind: 'LVM_THIN', path, sizeKib: 1048576, allocatedKib: 524288 }])
  t.same(await p.space(thin, loc), { freeKib: 196608, totalKib: 262144 })
  t.same(await p.space(thick, 'vg'), { freeKib: 3 * 1024 ** 2, totalKib: 4 * 1024 ** 2 })
  await t.rejects(new LvmProvider({ runner: f.runner }).create('LVM_THIN', '/dev/vg/x_00000', 8), /which thin pool/)
})

t.test('pools that are not there, and no space, are terminal', async (t) => {
  const f = fakeVg()
  const p = new LvmProvider({ runner: f.runner })
  await t.rejects(p.checkPool({ ...thick, props: { 'StorDriver/StorPoolName': 'other' } }), TerminalError)
  await t.rejects(p.checkPool({ ...thin, props: { 'StorDriver/StorPoolName': 'vg/nope' } }), TerminalError)
  f.lvs.set('plain', { name: 'plain', sizeKib: 8, attr: '-wi-a-----', pool: '', dataPercent: '' })
  await later()
  await t.rejects(p.checkPool({ ...thin, props: { 'StorDriver/StorPoolName': 'vg/plain' } }), { message: /is not a thin pool/ })
  f.fail.set('lvcreate', ERRORS['lvextend --size 99999999k vgc/r1_00000']!)
  await t.rejects(p.create('LVM', '/dev/vg/big_00000', 99999999), TerminalError)
  f.fail.set('lvcreate', 'something else')
  const err = await p.create('LVM', '/dev/vg/big_00000', 8).then(() => null, (e: unknown) => e)
  t.ok(err instanceof LvmCommandError && !(err instanceof TerminalError), 'other failures are retried')
  t.throws(() => p.volumePath('vg', 'bad name', 0), RangeError)
})

t.test('observers that arrive together share one report; a finished change needs a new one', async (t) => {
  const f = fakeVg()
  const p = new LvmProvider({ runner: f.runner })
  f.lvs.set('a_00000', { name: 'a_00000', sizeKib: 8, attr: '-wi-------', pool: '', dataPercent: '' })
  f.lvs.set('b_00000', { name: 'b_00000', sizeKib: 8, attr: '-wi-------', pool: '', dataPercent: '' })
  const reports = (): number => f.ran.filter((a) => a[0] === 'vgs').length
  const [loc] = await Promise.all([p.checkPool(thick), p.checkPool(thin)])
  const [a, b] = await Promise.all([p.observe(thick, loc!, 'a'), p.observe(thick, loc!, 'b'), p.space(thick, loc!)])
  t.equal(reports(), 1, 'two pools of one VG checked, two resources observed, space: one report')
  t.equal(a.length + b.length, 2)
  await later()
  await p.observe(thick, loc!, 'a')
  t.equal(reports(), 2, 'a later pass: a new report')
  await p.create('LVM', p.volumePath(loc!, 'c', 0), 8)
  t.equal((await p.observe(thick, loc!, 'c')).length, 1, 'sees its own change')
  t.equal(reports(), 3, 'the report of before the create is not taken after it, even in the same turn')
})

t.test('a VG without LVs: its figures from a second report of VG fields only', async (t) => {
  const f = fakeVg()
  f.lvs.clear()
  const p = new LvmProvider({ runner: f.runner })
  t.same(await p.space(thick, await p.checkPool(thick)), { freeKib: 3 * 1024 ** 2, totalKib: 4 * 1024 ** 2 })
  t.same(f.ran.map((a) => a[a.indexOf('-o') + 1]), ['vg_name,vg_size,vg_free,vg_extent_size,lv_name,lv_size,lv_attr,pool_lv,data_percent', 'vg_name,vg_size,vg_free,vg_extent_size'], 'the check and space share it')
})
