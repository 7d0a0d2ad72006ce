import t from 'tap'
import { spawnBlockyard } from '../../helpers/cli.js'

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawnBlockyard(args, env)
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })))
}

t.test('usage, version, unknown commands', async (t) => {
  const help = await run(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /usage: blockyard <command>/)
  const v = await run(['version'])
  t.match(v.out, /^\d+\.\d+\.\d+\n$/)
  const bad = await run(['frobnicate'])
  t.equal(bad.code, 2)
  t.match(bad.err, /unknown command 'frobnicate'/)
})

t.test('controller flags: help and clear errors, exit 2', async (t) => {
  const help = await run(['controller', '--help'])
  t.equal(help.code, 0)
  t.match(help.out, /--rest-listen/)
  t.match(help.out, /--state-dir/)
  const badAddr = await run(['controller', '--rest-listen', 'nowhere'])
  t.equal(badAddr.code, 2)
  t.match(badAddr.err, /--rest-listen: 'nowhere' is not HOST:PORT/)
  const badEnv = await run(['controller'], { BLOCKYARD_REST_LISTEN: 'x:y' })
  t.equal(badEnv.code, 2)
  t.match(badEnv.err, /BLOCKYARD_REST_LISTEN/)
  const unknown = await run(['controller', '--no-such-flag'])
  t.equal(unknown.code, 2)
  t.match(unknown.err, /no-such-flag/)
})
