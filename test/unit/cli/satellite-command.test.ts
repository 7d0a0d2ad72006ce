// `blockyard satellite`: help, flag and secret errors (exit 2), and a running daemon on loopback.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnBlockyard } from '../../helpers/cli.js'
import { spawnSatellite, TestController } from '../../helpers/satellite-link.js'

const dir = mkdtempSync(join(tmpdir(), 'blockyard-satcli-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawnBlockyard(args, env)
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })))
}

t.test('help and errors', async (t) => {
  const usage = await run(['--help'])
  t.match(usage.out, /satellite +run a satellite/)
  const help = await run(['satellite', '--help'])
  t.equal(help.code, 0)
  for (const flag of ['--node-name', '--listen', '--state-dir', '--cluster-secret-file', '--log-level']) t.match(help.out, flag)
  const badListen = await run(['satellite', '--listen', 'x'])
  t.equal(badListen.code, 2)
  t.match(badListen.err, /blockyard satellite: --listen: 'x' is not HOST:PORT/)
  const noSecret = await run(['satellite', '--state-dir', join(dir, 'nosecret')], { BLOCKYARD_CLUSTER_SECRET: '' })
  t.equal(noSecret.code, 2)
  t.match(noSecret.err, /no cluster secret/)
  const unknown = await run(['satellite', '--frob'])
  t.equal(unknown.code, 2)
})

t.test('the daemon links with the right secret and refuses a wrong one', async (t) => {
  const secretFile = join(dir, 'secret')
  writeFileSync(secretFile, 'c0ffee'.repeat(10), { mode: 0o600 })
  const sat = await spawnSatellite({ nodeName: 'cli-node', stateDir: join(dir, 'state'), secretFile })
  t.teardown(() => {
    sat.child.kill('SIGKILL')
  })
  const bad = await TestController.connect(sat.url)
  await t.rejects(bad.handshake('wrong'))
  t.match(bad.received.find((m) => m.type === 'LinkResult'), { status: 'AUTHENTICATION_FAILED' })
  const good = await TestController.connect(sat.url)
  const hello = await good.handshake('c0ffee'.repeat(10))
  t.equal(hello.nodeName, 'cli-node')
  await good.next('NodeCapabilities')
  await good.close()
  sat.child.kill('SIGTERM')
  const code = await new Promise((r) => sat.child.once('exit', (c) => r(c)))
  t.equal(code, 0, 'SIGTERM stops it cleanly')
  t.notMatch(sat.stderr(), /c0ffeec0ffee/, 'the secret is not logged')
})
