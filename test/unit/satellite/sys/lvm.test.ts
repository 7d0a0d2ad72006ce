// sys/lvm.ts without LVM: command lines as lvm2's lvm_split reads them back, name rules, JSON
// reports captured in the VM, per-VG serialization of changes, and which runner is chosen.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { LibLvm, Lvm, LvmCommandError, lvmCommandLine, lvmNameProblem, openLvm, reportRows, ToolLvm, type LvmOutput, type LvmRunner } from '../../../../src/satellite/sys/lvm.js'

const libraryInstalled = ((): boolean => {
  try {
    readFileSync('/usr/lib/x86_64-linux-gnu/liblvm2cmd.so.2.03')
    return true
  } catch {
    return false
  }
})()

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/lvm/${name}`, import.meta.url), 'utf8')

/** lvm2 tools/lvmcmdline.c lvm_split, transcribed: what lvm2_run makes of a command line. */
function lvmSplit(line: string): string[] {
  const out: string[] = []
  const isSpace = (c: string | undefined): boolean => c !== undefined && ' \t\n\v\f\r'.includes(c)
  let b = 0
  while (b < line.length) {
    while (b < line.length && isSpace(line[b])) b++
    if (b >= line.length || line[b] === '#') break
    let quote: string | null = null
    if (line[b] === "'" || line[b] === '"') quote = line[b++]!
    let e = b
    while (e < line.length && (quote !== null ? line[e] !== quote : !isSpace(line[e]))) e++
    out.push(line.slice(b, e))
    if (e >= line.length) break
    b = e + 1
  }
  return out
}

t.test('command lines survive lvm_split', async (t) => {
  const cases: string[][] = [
    ['lvcreate', '--size', '8192k', '--name', 'r_00000', '--yes', 'vg'],
    ['lvs', '--config', 'global{thin_check_executable=""}', 'vg'],
    ['x', '', 'a b', "it's here", '#hash', '"q', "'q", 'tab\there', 'mid"quote', "mid'quote"],
    ['x', 'line\nbreak', 'both\'and"'],
  ]
  for (const argv of cases) t.same(lvmSplit(lvmCommandLine(argv)), argv, argv.join(' | '))
  t.equal(lvmCommandLine(['lvs', 'a b']), "lvs 'a b'")
  t.throws(() => lvmCommandLine(['x', 'a b\'"']), RangeError, 'white space and both quotes cannot be written')
  t.throws(() => lvmCommandLine([]), RangeError)
  t.throws(() => lvmCommandLine(['x', 'nul\0']), RangeError)
})

t.test('LVM name rules', async (t) => {
  for (const ok of ['vg0', 'r_00000', 'a.b+c-d', 'x'.repeat(127)]) t.equal(lvmNameProblem(ok), null, ok)
  for (const bad of ['', '.', '..', '-x', 'a b', 'a/b', "a'b", 'x'.repeat(128), 'ü']) t.not(lvmNameProblem(bad), null, JSON.stringify(bad))
})

t.test('reports captured in the VM', async (t) => {
  const rows = reportRows(fixture('vgs-lv-fields.json'), 'vg')
  t.equal(rows.length, 3)
  t.same(rows[2], { vg_name: 'vgc', vg_size: '4290772992', vg_free: '4005560320', vg_extent_size: '4194304', lv_name: 'r2_00000', lv_size: '1073741824', lv_attr: 'Vwi-a-tz--', pool_lv: 'tp', data_percent: '0.49' })
  t.same(reportRows(fixture('vgs-lv-fields-empty-vg.json'), 'vg'), [], 'a VG without LVs has no row when LV fields are asked')
  t.equal(reportRows(fixture('vgs-vg-fields.json'), 'vg')[0]!.vg_free, '4290772992')
  t.same(reportRows('', 'vg'), [], 'a command that reports nothing')
  t.same(reportRows(fixture('vgs-lv-fields.json'), 'lv'), [], 'another report')
  t.throws(() => reportRows('{"x":1}', 'vg'), SyntaxError)
  t.throws(() => reportRows('{"report":[{"vg":3}]}', 'vg'), SyntaxError)
})

/** A runner whose commands finish when the test says so. */
function gatedRunner(): { runner: LvmRunner; finish: (name: string) => void; started: string[] } {
  const started: string[] = []
  const gates = new Map<string, () => void>()
  const runner: LvmRunner = {
    inProcess: false,
    run(argv) {
      started.push(argv[1]!)
      return new Promise<LvmOutput>((resolve) => gates.set(argv[1]!, () => resolve({ report: '', messages: [] })))
    },
    close() {},
  }
  return { runner, started, finish: (name) => gates.get(name)!() }
}

t.test('changes of one VG run one at a time, of different VGs at once', async (t) => {
  const g = gatedRunner()
  const lvm = new Lvm(g.runner)
  const a1 = lvm.change('a', ['lvcreate', 'a1'])
  const a2 = lvm.change('a', ['lvcreate', 'a2'])
  const b1 = lvm.change('b', ['lvcreate', 'b1'])
  const r = lvm.run(['vgs', 'a'])
  await new Promise((res) => setImmediate(res))
  t.same([...g.started].sort(), ['a', 'a1', 'b1'], 'a2 waits for a1; b1 and a report do not')
  g.finish('a1')
  await a1
  await new Promise((res) => setImmediate(res))
  t.equal(g.started.at(-1), 'a2', 'a2 once a1 is done')
  for (const n of ['a2', 'b1', 'a']) g.finish(n)
  await Promise.all([a2, b1, r])
})

t.test('a failed change does not stop the next one', async (t) => {
  let n = 0
  const lvm = new Lvm({ inProcess: false, close() {}, run: async (argv) => { if (n++ === 0) throw new LvmCommandError(argv, 5, 'boom'); return { report: '', messages: [] } } })
  await t.rejects(lvm.change('a', ['lvcreate', 'x']), { message: 'lvm lvcreate x failed (5): boom', exitCode: 5, code: 'ELVM' })
  await lvm.change('a', ['lvcreate', 'y'])
})

t.test('the tool is the runner where the library does not load', async (t) => {
  const tool = await openLvm({ prefer: 'tool' })
  t.equal(tool.inProcess, false)
  t.ok(tool instanceof ToolLvm)
  const dflt = await openLvm()
  t.equal(dflt.inProcess, libraryInstalled, 'library only where it is installed')
  dflt.close()
})


t.test('the library worker says why it cannot start', { skip: libraryInstalled && 'liblvm2cmd is installed here: its start is checked in the VM (integration/guest/lvm-check.ts)' }, async (t) => {
  await t.rejects(LibLvm.open(new ToolLvm()), { message: /liblvm2cmd\.so\.2\.03/ })
})

t.test('the tool: a failure carries stderr, a missing tool says so', async (t) => {
  const path = process.env.PATH
  t.teardown(() => { process.env.PATH = path })
  process.env.PATH = '/nonexistent'
  const err = await new ToolLvm(5_000).run(['vgs']).then(() => null, (e: unknown) => e)
  t.ok(err instanceof LvmCommandError, 'LvmCommandError')
  t.match((err as LvmCommandError).message, /^lvm vgs failed/)
})
