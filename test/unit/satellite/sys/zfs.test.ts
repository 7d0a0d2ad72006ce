// The zfs/zpool command lines and the parsing of their output, on output and error messages captured
// from zfs 2.1.11 in the VM (test/fixtures/zfs), and the waits for a zvol's link.
import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  assertZfsName, createArgv, destroyArgv, isBusy, isNoSuchDataset, LIST_PROPS, listArgv, parseBlockSize, parseCreateOptions, parseList,
  parseZpoolSize, resizeArgv, shellSplit, toolRunner, waitForZvol, ZfsCommandError, zfsNameProblem, zpoolSizeArgv,
} from '../../../../src/satellite/sys/zfs.js'
import { DeviceWaitTimeoutError } from '../../../../src/satellite/sys/uevent.js'

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/zfs/${name}`, import.meta.url), 'utf8')

t.test('dataset names: what zfs accepts, minus what would not stay one argument or would read as an option', async (t) => {
  for (const ok of ['tank', 'tank/thin', 'tank/a.b:c-d_e/rsc_00000', 'T1']) t.equal(zfsNameProblem(ok), null, ok)
  const bad: Array<[string, RegExp]> = [
    ['', /is empty/],
    ['-tank', /must start with a letter/],
    ['1tank', /must start with a letter/],
    ['tank//x', /empty component/],
    ['tank/', /empty component/],
    ['/tank', /empty component/],
    ['tank/..', /component '\.\.'/],
    ['tank/a b', /may only contain/],
    ['tank/a@snap', /may only contain/],
    ["tank/a'b", /may only contain/],
    ['mirror1', /reserves/],
    ['raidz', /reserves/],
    [`tank/${'x'.repeat(260)}`, /at most 255/],
  ]
  for (const [name, why] of bad) t.match(zfsNameProblem(name), why, JSON.stringify(name))
  // ZFS allows a component to start with '-'; on a command line only the first character of the
  // argument matters, and that is the pool's letter.
  t.equal(zfsNameProblem('tank/-o'), null, 'a later component starting with - is still no option')
  t.throws(() => assertZfsName('a b'), RangeError)
})

t.test('argv: list, zpool size, create (sparse for thin, options before the name), resize, destroy', async (t) => {
  t.same(listArgv('tank/thin'), ['list', '-Hp', '-d', '1', '-t', 'filesystem,volume', '-o', LIST_PROPS.join(','), 'tank/thin'])
  t.same(zpoolSizeArgv('tank'), ['list', '-Hp', '-o', 'name,size', 'tank'])
  t.throws(() => zpoolSizeArgv('tank/thin'), RangeError, 'a dataset is no zpool')
  t.same(createArgv('tank/r_00000', 65552, false, []), ['create', '-V', '65552K', 'tank/r_00000'])
  t.same(createArgv('tank/r_00000', 65536, true, ['-b', '32K', '-o', 'compression=lz4']), ['create', '-s', '-V', '65536K', '-b', '32K', '-o', 'compression=lz4', 'tank/r_00000'])
  t.throws(() => createArgv('tank/r_00000', 0, false, []), RangeError)
  t.throws(() => createArgv('tank/r_00000', 1.5, false, []), RangeError)
  t.throws(() => createArgv('tank/r 0', 8, false, []), RangeError)
  t.same(resizeArgv('tank/r_00000', 131072), ['set', 'volsize=131072K', 'tank/r_00000'])
  t.throws(() => resizeArgv('tank/r_00000', -1), RangeError)
  t.same(destroyArgv('tank/r_00000'), ['destroy', 'tank/r_00000'])
  t.throws(() => destroyArgv('tank/../x'), RangeError)
})

t.test('zfs list -Hp output captured in the VM: the dataset, a thick zvol, a sparse one, a child filesystem', async (t) => {
  const tank = parseList(fixture('list-tank.txt'))
  const own = tank[0]!
  t.match(own, { name: 'tank', type: 'filesystem', volsize: null, volblocksize: null })
  t.ok(own.available > 0 && own.referenced > 0, 'the zpool\'s available and referenced bytes')
  t.equal(own.quota, 0, 'no quota on the zpool')
  const thick = tank.find((r) => r.name === 'tank/cap_00000')!
  t.match(thick, { type: 'volume', volsize: 64 * 1024 * 1024, quota: null })
  t.ok(thick.refreservation >= thick.volsize!, 'a thick zvol reserves at least its size')
  t.match(tank.find((r) => r.name === 'tank/thin'), { type: 'filesystem', quota: 512 * 1024 * 1024 })

  const thin = parseList(fixture('list-tank-thin.txt'))
  const sparse = thin.find((r) => r.name === 'tank/thin/cap_00001')!
  t.match(sparse, { type: 'volume', volsize: 256 * 1024 * 1024, refreservation: 0, volblocksize: 32 * 1024 })
  // 8 MiB were written just before the list: ZFS counts them once their transaction group is synced.
  t.ok(sparse.referenced > 0 && sparse.referenced <= 8 * 1024 * 1024 + 65536, `a sparse zvol references what was written (${sparse.referenced})`)
  t.same(parseList(fixture('list-tank-empty.txt')).map((r) => r.name), ['tank', 'tank/thin'], 'after the destroys: only the filesystems')
  t.same(parseList(''), [])
  t.throws(() => parseList('tank\tfilesystem\t-\n'), SyntaxError, 'a short row')
  t.throws(() => parseList('tank\tsnapshot\t-\t1\t1\t0\t0\t-\n'), SyntaxError, 'a type it did not ask for')
  t.throws(() => parseList('tank\tfilesystem\t-\t1k\t1\t0\t0\t-\n'), SyntaxError, 'a size without -p')
})

t.test('zpool list: the size of the zpool asked for', async (t) => {
  const bytes = parseZpoolSize(fixture('zpool-list-size.txt'), 'tank')
  t.ok(bytes > 900 * 1024 * 1024 && bytes <= 1024 * 1024 * 1024, `the 1 GiB disk's zpool: ${bytes} bytes`)
  t.throws(() => parseZpoolSize(fixture('zpool-list-size.txt'), 'other'), SyntaxError)
})

t.test('errors as zfs words them: no such dataset, busy (an open zvol), out of space', async (t) => {
  const err = (file: string): ZfsCommandError => new ZfsCommandError(['zfs'], 1, fixture(file))
  t.ok(isNoSuchDataset(err('stderr-list-no-dataset.txt')))
  t.notOk(isBusy(err('stderr-list-no-dataset.txt')))
  t.ok(isBusy(err('stderr-destroy-busy.txt')))
  t.notOk(isNoSuchDataset(err('stderr-destroy-busy.txt')))
  t.match(fixture('stderr-create-out-of-space.txt'), /out of space/)
  t.notOk(isBusy(new Error('dataset is busy')), 'only a zfs command\'s error')
  t.match(new ZfsCommandError(['zfs', 'destroy', 'x'], 1, ' \n').message, /^zfs destroy x failed \(exit 1\): no message$/)
})

t.test('ZfscreateOptions: split as a shell would, -o property=value and -b only', async (t) => {
  t.same(parseCreateOptions(undefined), { argv: [] })
  t.same(parseCreateOptions('  '), { argv: [] })
  t.same(parseCreateOptions('-o compression=lz4 -b 64K'), { argv: ['-o', 'compression=lz4', '-b', '64K'], volblocksize: 65536 })
  t.same(parseCreateOptions("-o volblocksize=16k -o 'org.test:note=a b'"), { argv: ['-o', 'volblocksize=16k', '-o', 'org.test:note=a b'], volblocksize: 16384 })
  for (const [text, why] of [
    ['-s', /'-s' is not allowed/],
    ['-V 1G', /'-V' is not allowed/],
    ['tank/other', /not allowed/],
    ['-o', /needs a value/],
    ['-o compression', /not property=value/],
    ['-o =x', /not property=value/],
    ['-o Compression=x', /not property=value/],
    ['-o volsize=1G', /provider's to set/],
    ['-o refreservation=none', /provider's to set/],
    ['-b 3K', /power of two/],
    ['-b 256', /power of two/],
    ['-o "x=1', /unterminated/],
  ] as const) {
    t.throws(() => parseCreateOptions(text), why, text)
  }
  t.equal(parseBlockSize('1M'), 1024 * 1024)
  t.equal(parseBlockSize('512'), 512)
  t.equal(parseBlockSize('8KB'), null)
})

t.test('shellSplit: quotes and backslashes group, blanks separate', async (t) => {
  t.same(shellSplit(`a  'b c' "d \\"e\\"" f\\ g ''`), ['a', 'b c', 'd "e"', 'f g', ''])
  t.same(shellSplit('"a\\n"'), ['a\\n'], 'a backslash before other characters stays in double quotes')
  t.same(shellSplit(''), [])
})

t.test('toolRunner: argv as given, stdout back, the command and stderr in the error', async (t) => {
  // `zfs` is not on this host (no ZFS here): the runner's failure says which command could not run.
  const run = toolRunner(5_000)
  const e = await run('zfs', ['list', '-Hp']).then(() => null, (err: unknown) => err)
  t.type(e, ZfsCommandError)
  t.match((e as ZfsCommandError).message, /^zfs list -Hp failed/)
})

t.test('waitForZvol: only for /dev/zvol links; a timeout when the link never appears', async (t) => {
  await t.rejects(waitForZvol('/dev/tank/x', 10), RangeError)
  await t.rejects(waitForZvol('/dev/zvol/notank-blockyard-test/x', 200), DeviceWaitTimeoutError, 'nothing appears: the timeout')
})
