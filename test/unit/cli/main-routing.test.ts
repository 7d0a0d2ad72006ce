// `blockyard` (src/cli/main.ts) routes everything that is not a daemon to the client command tree:
// run as a child process from the sources, as a user runs it.
import t from 'tap'
import { spawnBlockyard } from '../../helpers/cli.js'
import { cliRunner, machine } from '../../helpers/cli-run.js'
import { startTestController } from '../../helpers/controller.js'

t.test('client commands through the blockyard entry point', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const { run } = cliRunner(t, tc.url)
  const [version, short, created, help, daemonHelp] = await Promise.all([
    run(['controller', 'version']),
    run(['c', 'v']),
    run(['rd', 'c', 'site1']),
    run(['--help']),
    run(['controller', '--help']),
  ])
  t.equal(version.code, 0)
  t.match(version.out, /^blockyard controller \d+\.\d+\.\d+; /, '`controller version` is the client command')
  t.equal(short.out, version.out)
  t.equal(created.code, 0)
  t.match(created.out, "SUCCESS:\n    New resource definition 'site1' created.\n")
  t.match(help.out, /client commands \(LINSTOR's command tree and short forms/)
  t.match(daemonHelp.out, /--rest-listen/, '`controller --help` is still the daemon')
  const [list, json, missing] = await Promise.all([run(['resource-definition', 'list']), run(['-m', 'rd', 'l']), run(['n', 'd', 'gamma'])])
  t.match(list.out, /\| site1 +\| DfltRscGrp +\|/)
  t.equal(machine(json)[0][0].name, 'site1')
  t.equal(missing.code, 10)
  t.match(missing.out, /ERROR:\nDescription:\n    Node 'gamma' not found\.\nCorrection:\n/)
})

t.test('exit 20 naming the address when no controller answers; exit 2 on usage errors', async (t) => {
  const { run } = cliRunner(t, null)
  const [down, unknown] = await Promise.all([run(['--controllers', '127.0.0.1:9', 'node', 'list']), run(['frobnicate'])])
  t.equal(down.code, 20)
  t.match(down.err, /^Error: Unable to connect to http:\/\/127\.0\.0\.1:9: /)
  t.equal(unknown.code, 2)
  t.match(unknown.err, /unknown command 'frobnicate'/)
})

t.test('a reader that goes away (`blockyard … | head`) ends the command quietly', async (t) => {
  // Closed before the child has written anything (it takes longer than this to start): every write of
  // the completion script then fails with EPIPE.
  const child = spawnBlockyard(['completion', 'bash'], { HOME: cliRunner(t, null).home })
  child.stdout!.destroy()
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const code = await new Promise((resolve) => child.once('close', resolve))
  t.equal(code, 0, 'exit 0')
  t.equal(err, '', 'no error, no stack trace')
})
