// Interactive mode, and through it every client command in its short form in one child process
// (`blockyard interactive` with commands on stdin: each command's output follows its prompt).
import { PassThrough } from 'node:stream'
import t from 'tap'
import { splitWords, runInteractive } from '../../../src/cli/interactive.js'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startTestController } from '../../helpers/controller.js'

t.test('words as a shell splits them', async (t) => {
  t.same(splitWords('  n   l  '), ['n', 'l'])
  t.same(splitWords(`kv m app note "two words" 'it''s' a\\ b ""`), ['kv', 'm', 'app', 'note', 'two words', 'its', 'a b', ''])
  t.same(splitWords('x "a\\"b"'), ['x', 'a"b'])
  t.throws(() => splitWords('kv m app "open'), /unclosed " quote/)
})

t.test('every command in its short form, in one interactive session', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const steps: [string, RegExp][] = [
    ['n c alpha 127.0.0.1', /^SUCCESS:\n    New node 'alpha' registered\./],
    ['n c beta 127.0.0.2', /New node 'beta' registered/],
    ['sp c lvmthin alpha pool1 vg0/thin', /New storage pool 'pool1' on node 'alpha' registered/],
    ['sp c lvmthin beta pool1 vg0/thin', /New storage pool 'pool1' on node 'beta' registered/],
    ['spd c spare', /SUCCESS:/],
    ['rg c web --place-count 2 --storage-pool pool1', /New resource group 'web' created/],
    ['vg c web', /New volume group with number '0'/],
    ['rg spawn web site1 64M', /Resource 'site1' on node 'beta' created/],
    ['rd c r1', /New resource definition 'r1' created/],
    ['vd c r1 64M', /New volume definition with number '0' of resource definition 'r1' created/],
    ['r c r1 --auto-place 2', /Resource 'r1' on node 'alpha' created/],
    ['s c r1 s1', /New snapshot 's1' of resource 'r1'/],
    ['kv m app owner web', /SUCCESS:/],
    ['c sp --aux site berlin', /Successfully updated controller config/],
    ['n sp alpha Aux/rack r1', /SUCCESS:/],
    ['n l', /\| alpha \| SATELLITE \| 127\.0\.0\.1:3366 \(PLAIN\) \| OFFLINE \|/],
    ['sp l', /\| pool1 +\| beta +\| LVM_THIN \|/],
    ['spd l', /\| spare +\|/],
    ['rg l', /\| web +\| PlaceCount: 2 +\| 0 +\|/],
    ['vg l web', /\| 0 +\| +\|/],
    ['rd l', /\| r1 +\| DfltRscGrp +\| DRBD,STORAGE \| ok +\|/],
    ['vd l', /\| site1 +\| 0 +\| \d+ +\| 64 MiB \|/],
    ['r l', /\| r1 +\| beta +\| DRBD,STORAGE \|/],
    ['r lv', /\| site1 +\| alpha \| pool1 +\| +0 \|/],
    ['s l', /\| r1 +\| s1 +\| alpha, beta \|/],
    ['kv l', /\| app +\|/],
    ['kv s app', /\| owner \| web +\|/],
    ['c lp', /\| Aux\/site \| berlin \|/],
    ['c v', /^blockyard controller /],
    ['n lp alpha', /\| Aux\/rack +\| r1 +\|/],
    ['n i l alpha', /\| \+ StltCon \| default +\|/],
    ['-m rd l', /^\[\n  \[\n    \{\n      "name": "r1",/],
    ['rg m web --place-count 1', /SUCCESS:/],
    ['rg sp web Aux/t g', /SUCCESS:/],
    ['rg lp web', /\| Aux\/t \| g +\|/],
    ['vg sp web 0 Aux/v 1', /SUCCESS:/],
    ['vg lp web 0', /\| Aux\/v \| 1 +\|/],
    ['rd m --peer-slots 5 r1', /SUCCESS:/],
    ['rd sp r1 Aux/x 1', /SUCCESS:/],
    ['rd lp r1', /\| Aux\/x \| 1 +\|/],
    ['vd size r1 0 128M', /SUCCESS:/],
    ['vd sp r1 0 Aux/y 2', /SUCCESS:/],
    ['vd lp r1 0', /\| Aux\/y +\| 2 +\|/],
    ['r sp alpha r1 Aux/z 3', /SUCCESS:/],
    ['r lp alpha r1', /\| Aux\/z +\| 3 +\|/],
    ['sp sp alpha pool1 Aux/p 4', /SUCCESS:/],
    ['sp lp alpha pool1', /\| Aux\/p +\| 4 +\|/],
    ['spd sp spare Aux/q 5', /SUCCESS:/],
    ['spd lp spare', /\| Aux\/q \| 5 +\|/],
    ['s sp r1 s1 Aux/s 6', /SUCCESS:/],
    ['s lp r1 s1', /\| Aux\/s \| 6 +\|/],
    ['n i c alpha data 127.1.0.1', /SUCCESS:/],
    ['n i m --ip 127.1.0.9 alpha data', /SUCCESS:/],
    ['n i d alpha data', /SUCCESS:/],
    ['n m -t satellite beta', /SUCCESS:/],
    ['rd c r1copy', /SUCCESS:/],
    ['s vd rst --fr r1 --fs s1 --tr r1copy', /SUCCESS:/],
    ['s r rst --fr r1 --fs s1 --tr r1copy', /^ERROR:\n/],
    ['s rb r1 s1', /^ERROR:\n/],
    ['rd ap r1 --place-count 2', /(SUCCESS|INFO|WARNING):/],
    ['s d r1 s1', /SUCCESS:/],
    ['r d alpha beta r1', /Resource 'r1' on node 'alpha' (deleted|marked)[^]*Resource 'r1' on node 'beta'/],
    ['vd d r1 0', /SUCCESS:/],
    ['rd d r1 r1copy site1', /SUCCESS:[^]*SUCCESS:[^]*SUCCESS:/],
    ['vg d web 0', /SUCCESS:/],
    ['rg d web', /SUCCESS:/],
    ['sp d alpha beta pool1', /SUCCESS:[^]*SUCCESS:/],
    ['spd d spare', /SUCCESS:/],
    ['kv d app', /SUCCESS:/],
    ['n d alpha', /SUCCESS:/],
    ['n lo beta', /SUCCESS:/],
    ['-m n l', /^\[\n  \[\]\n\]\n$/],
  ]
  const home = t.testdir()
  // stdin piped (spawnBlockyard ignores it): the commands are the session's input.
  const child = spawn(process.execPath, [
    ...process.execArgv.filter((a) => a.startsWith('--import') && a.includes('typescript')),
    new URL('../../helpers/run-cli.ts', import.meta.url).pathname,
    'interactive',
  ], { env: { ...process.env, LS_CONTROLLERS: tc.url, NO_COLOR: '', HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  child.stdin.end([...steps.map(([line]) => line), 'exit', ''].join('\n'))
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  t.equal(code, 0, err)
  t.ok(existsSync(join(home, '.config', 'blockyard', 'client.history')), 'history kept')
  const outputs = out.split('blockyard ==> ').slice(1)
  t.equal(outputs.length, steps.length + 1, 'one prompt per command, and one for exit')
  steps.forEach(([line, expected], i) => {
    t.match(outputs[i], expected, line)
    if (!/^ERROR/.test(String(expected).slice(2))) t.notMatch(outputs[i], /ERROR:/, `${line}: no error`)
  })
})

t.test('in-process: tab completion, help, errors, history, exit on a lost controller', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const input = new PassThrough()
  const output = new PassThrough()
  let shown = ''
  output.on('data', (d: Buffer) => (shown += d.toString()))
  let out = ''
  let err = ''
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s), stdoutTTY: false, stderrTTY: false, env: { LS_CONTROLLERS: tc.url } }
  const history = join(t.testdir(), 'history')
  const done = runInteractive(io, input, output, history)
  input.write('n l\n')
  input.write('help\n')
  input.write('kv m app note "two words"\n')
  input.write('kv s app\n')
  input.write('say "unclosed\n')
  input.write('\n')
  input.end('quit\n')
  t.equal(await done, 0)
  t.match(out, /\| Node \| NodeType \| Addresses \| State \|/)
  t.match(out, /Usage: blockyard \[options\] \[command\]/)
  t.match(out, /\| note \| two words \|/)
  t.match(err, /Error: unclosed " quote/)
  t.match(shown, /blockyard ==> /)

  t.match(readFileSync(history, 'utf8'), /^n l\nhelp\n[^]*\nquit\n$/, 'history, oldest first')

  // No controller ends the session with exit 20, as linstor's does.
  const input2 = new PassThrough()
  let err2 = ''
  const done2 = runInteractive({ ...io, env: { LS_CONTROLLERS: '127.0.0.1:9' }, err: (s: string) => void (err2 += s) }, input2, new PassThrough(), history)
  input2.write('n l\n')
  t.equal(await done2, 20)
  t.match(err2, /Unable to connect to/)
})
