// The guest agent (integration/image/agent.c) compiled for this host and driven over a socket by the
// harness's AgentClient, the same code the VMs use: argv passed verbatim with no shell, exit codes,
// stdout and stderr apart, spawn failures, timeouts that kill the process group, commands at once,
// output larger than a frame. Skipped where no C compiler is installed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { AgentClient } from '../../../integration/harness/agent-client.js'
import { RECIPE_DIR } from '../../../integration/harness/image.js'

const hasCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0
const skip = process.platform !== 'linux' ? `the agent is Linux's (this is ${process.platform})` : hasCc ? false : 'no C compiler (cc) to build the agent'

let dir = ''
let bin = ''
t.before(() => {
  if (skip) return
  dir = mkdtempSync(join(tmpdir(), 'blockyard-agent-test-'))
  bin = join(dir, 'agent')
})
t.teardown(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

t.test('agent.c compiles without warnings', { skip }, async (t) => {
  const build = spawnSync('cc', ['-O1', '-Wall', '-Wextra', '-Werror', '-o', bin, join(RECIPE_DIR, 'agent.c')], { encoding: 'utf8' })
  t.equal(build.status, 0, build.stderr)
})

/** An agent on the host whose channel is a socket, and a client attached to the other end. */
async function startAgent(): Promise<{ client: AgentClient; child: ChildProcess; exited: Promise<number | null> }> {
  const sockPath = join(dir, `a${Math.random().toString(36).slice(2)}.sock`)
  const server = createServer()
  await new Promise<void>((res) => server.listen(sockPath, res))
  const accepted = new Promise<Socket>((res) => server.once('connection', res))
  const childEnd = createConnection(sockPath)
  await new Promise<void>((res) => childEnd.once('connect', res))
  const hostEnd = await accepted
  server.close()
  // The agent's stdin is its end of the socket ("-": channel on fd 0).
  const child = spawn(bin, ['-'], { stdio: [childEnd, 'ignore', 'inherit'] })
  childEnd.destroy()
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)))
  const client = new AgentClient('host-agent')
  client.attach(hostEnd)
  return { client, child, exited }
}

t.test('agent on a socket', { skip }, async (t) => {
  const { client, child, exited } = await startAgent()
  t.teardown(async () => {
    client.fail(new Error('test over'))
    if (child.exitCode === null) child.kill('SIGKILL')
    await exited
  })
  const ready = await client.ready(10_000)
  t.equal(ready.version, 1)
  t.equal(ready.initErrors, '')

  t.test('argv reaches the program verbatim: no shell', async (t) => {
    const args = ['two words', '', "it's", '$(echo no)', ';', '*', 'ünï', 'a\nb']
    const r = await client.run(['printf', '%s|', ...args])
    t.equal(r.exitCode, 0)
    t.equal(r.stdout, args.map((a) => `${a}|`).join(''))
    t.equal(r.stderr, '')
  })

  t.test('exit code, stdout and stderr apart', async (t) => {
    const r = await client.run(['sh', '-c', 'echo out; echo err >&2; exit 3'])
    t.match(r, { exitCode: 3, signal: 0, timedOut: false, stdout: 'out\n', stderr: 'err\n' })
    t.ok(r.ms >= 0)
  })

  t.test('stdin is /dev/null', async (t) => {
    t.match(await client.run(['cat']), { exitCode: 0, stdout: '' })
  })

  t.test('a program that cannot be started rejects with exec\'s reason', async (t) => {
    await t.rejects(client.run(['/nonexistent/program', 'x']), /exec \/nonexistent\/program: No such file or directory/)
    t.match(await client.run(['true']), { exitCode: 0 }, 'the agent goes on')
  })

  t.test('a timeout kills the whole process group', async (t) => {
    const started = performance.now()
    const r = await client.run(['sh', '-c', 'sleep 30 & sleep 30'], { timeoutMs: 300 })
    t.match(r, { exitCode: -1, signal: 9, timedOut: true })
    t.ok(performance.now() - started < 5000, 'the background sleep did not keep it waiting')
  })

  t.test('a daemon holding the output pipes does not hold the result', async (t) => {
    const r = await client.run(['sh', '-c', 'sleep 3 & echo started'])
    t.match(r, { exitCode: 0, stdout: 'started\n', timedOut: false })
    t.ok(r.ms < 2900, `answered after the grace period (${r.ms.toFixed(0)} ms), not when the daemon ended`)
  })

  t.test('commands run at once', async (t) => {
    const started = performance.now()
    const rs = await Promise.all([1, 2, 3, 4].map((i) => client.run(['sh', '-c', `sleep 0.5; echo ${i}`])))
    t.same(rs.map((r) => r.stdout), ['1\n', '2\n', '3\n', '4\n'])
    t.ok(performance.now() - started < 1900, 'in parallel, not one after another')
  })

  t.test('output of many frames', async (t) => {
    const r = await client.run(['head', '-c', '3000000', '/dev/zero'])
    t.equal(r.exitCode, 0)
    t.equal(r.stdout.length, 3_000_000)
  })

  t.test('argv is checked before anything is sent', async (t) => {
    await t.rejects(async () => client.run(['echo', 'a\0b']), TypeError)
    t.match(await client.run(['echo', 'still']), { stdout: 'still\n' })
  })
})

t.test('a closed channel ends the agent, and waiting runs fail', { skip }, async (t) => {
  const { client, exited } = await startAgent()
  await client.ready(10_000)
  const pending = client.run(['sleep', '1'])
  client.fail(new Error('closing'))
  await t.rejects(pending, /closing/)
  t.equal(await exited, 0)
  await t.rejects(client.run(['true']), /closing/, 'later runs fail with the same reason')
})
