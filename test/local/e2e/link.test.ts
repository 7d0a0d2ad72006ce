// The controller–satellite link across failures, with real processes and loop devices: a controller
// killed and restarted (state kept, link back, nothing made again), a satellite that stops answering
// (node OFFLINE, changes made meanwhile, ONLINE again and converged), and a satellite with another
// cluster secret (AUTHENTICATION_ERROR, nothing made there).
import t from 'tap'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { deviceBytes, E2eEnv, Rest, severity, stablePort, until, volumeFile, type Daemon } from '../../helpers/e2e.js'
import { loopSkipReason } from '../../helpers/loop-env.js'

const skip = loopSkipReason()
const MiB = 1024 * 1024

/** A controller and one satellite on a port of its own, registered with a FILE_THIN pool DfltStorPool. */
async function cluster(env: E2eEnv, node: string): Promise<{ ctrl: Daemon; api: Rest; ctrlState: string; pool: string; satellite: () => Promise<Daemon> }> {
  const ctrlState = env.dir('ctrl')
  const ctrl = await env.controller(ctrlState)
  const api = new Rest(ctrl.url)
  const port = await stablePort('127.0.0.1')
  const satellite = () => env.satellite({ nodeName: node, stateDir: env.dir('sat'), secretFile: join(ctrlState, 'cluster-secret'), listen: `127.0.0.1:${port}` })
  const pool = env.dir('pool')
  await api.node(node, '127.0.0.1', port, { name: 'DfltStorPool', kind: 'FILE_THIN', dir: pool })
  return { ctrl, api, ctrlState, pool, satellite }
}

t.test('controller restart: state kept, link re-established, nothing made again', { skip }, async (t) => {
  const env = await E2eEnv.create(t, 'ctrl-restart')
  const NODE = 'e2e-ctrl'
  const c = await cluster(env, NODE)
  const sat = await c.satellite()
  await c.api.untilStatus(NODE, 'ONLINE')
  await c.api.rscDfn('keep', 16 * 1024)
  await c.api.must('POST', '/v1/resource-definitions/keep/resources', [{ resource: { node_name: NODE } }])
  const file = volumeFile(c.pool, 'keep')
  const device = (await c.api.volume('keep', NODE))?.device_path ?? ''
  const inode = statSync(file).ino

  // SIGKILL: the harder case (no orderly close); the satellite keeps running.
  const old = (await c.api.get('/v1/nodes')).body.length
  await env.stop(c.ctrl, 'SIGKILL')
  const again = await env.controller(c.ctrlState)
  const api = new Rest(again.url)
  t.equal((await api.get('/v1/nodes')).body.length, old, 'the restarted controller has its nodes')
  await api.untilStatus(NODE, 'ONLINE')
  t.pass('the link is re-established')
  t.equal(await api.untilDevice('keep', NODE), device, 'the resource is UpToDate on the same device')
  t.same(await env.loopsOf(file), [device], 'no second loop device')
  t.equal(statSync(file).ino, inode, 'the file was not made again')
  t.ok(sat.child.exitCode === null && sat.child.signalCode === null, 'the satellite ran on throughout')

  // And the link works both ways after it.
  await api.rscDfn('after', 16 * 1024)
  await api.must('POST', '/v1/resource-definitions/after/resources', [{ resource: { node_name: NODE } }])
  t.equal(deviceBytes((await api.volume('after', NODE))?.device_path ?? ''), 16 * MiB, 'a new resource is made')
  await api.must('DELETE', '/v1/resource-definitions/keep')
  t.same(await env.loopsOf(file), [], 'an old one is deleted')
})

t.test('dropped link: OFFLINE, changes meanwhile, ONLINE again and converged', { skip }, async (t) => {
  const env = await E2eEnv.create(t, 'dropped')
  const NODE = 'e2e-dropped'
  const c = await cluster(env, NODE)
  const sat = await c.satellite()
  await c.api.untilStatus(NODE, 'ONLINE')
  for (const r of ['stays', 'goes']) {
    await c.api.rscDfn(r, 16 * 1024)
    await c.api.must('POST', `/v1/resource-definitions/${r}/resources`, [{ resource: { node_name: NODE } }])
  }
  await c.api.rscDfn('comes', 16 * 1024)
  const staysDevice = (await c.api.volume('stays', NODE))?.device_path

  // SIGSTOP: the process is there, its socket open, but nothing answers (a hung node, a cut cable).
  sat.child.kill('SIGSTOP')
  try {
    await c.api.untilStatus(NODE, 'OFFLINE', 20_000)
    t.pass('no Pong: the node goes OFFLINE')
    const created = await c.api.must('POST', '/v1/resource-definitions/comes/resources', [{ resource: { node_name: NODE } }])
    t.ok(created.retCodes.some((rc) => severity(rc) === 'WARN'), 'a create while it is offline is committed with a warning')
    await c.api.must('DELETE', `/v1/resource-definitions/goes/resources/${NODE}`)
    t.ok(existsSync(volumeFile(c.pool, 'goes')), 'while offline nothing happens on the node')
  } finally {
    sat.child.kill('SIGCONT')
  }
  await c.api.untilStatus(NODE, 'ONLINE')
  t.pass('the controller reconnects: ONLINE again')
  await c.api.untilDevice('comes', NODE)
  t.equal((await env.loopsOf(volumeFile(c.pool, 'comes'))).length, 1, 'what was created meanwhile is made')
  await until('the deleted resource to go', async () => !existsSync(volumeFile(c.pool, 'goes')) && (await env.loopsOf(volumeFile(c.pool, 'goes'))).length === 0)
  t.pass('what was deleted meanwhile is removed')
  t.equal((await c.api.volume('stays', NODE))?.device_path, staysDevice, 'what stayed is untouched')
  t.same(readdirSync(c.pool).sort(), ['comes_00000.img', 'stays_00000.img'], 'the pool holds exactly what the controller wants')
})

t.test('a satellite with another secret refuses the controller', { skip }, async (t) => {
  const env = await E2eEnv.create(t, 'secret')
  const NODE = 'e2e-secret'
  const ctrl = await env.controller(env.dir('ctrl'))
  const api = new Rest(ctrl.url)
  const port = await stablePort('127.0.0.1')
  const sat = await env.satellite({ nodeName: NODE, stateDir: env.dir('sat'), secretFile: env.secretFile('other-secret', 'ab'.repeat(32)), listen: `127.0.0.1:${port}` })
  const pool = env.dir('pool')
  await api.node(NODE, '127.0.0.1', port, { name: 'DfltStorPool', kind: 'FILE_THIN', dir: pool })
  await api.untilStatus(NODE, 'AUTHENTICATION_ERROR')
  t.pass('the node shows AUTHENTICATION_ERROR')
  const link = (await api.get(`/v1/x-blockyard/nodes/${NODE}/link`)).body
  t.match(link, { connection_status: 'AUTHENTICATION_ERROR', reason: /secret|proof|authenticat/i }, `and says why: ${link.reason}`)
  await api.rscDfn('never', 16 * 1024)
  const r = await api.must('POST', '/v1/resource-definitions/never/resources', [{ resource: { node_name: NODE } }])
  t.ok(r.retCodes.some((rc) => severity(rc) === 'WARN'), 'a resource create warns that the node is not connected')
  // Long enough for a reconnect or two: the status stays, nothing reaches the node.
  await new Promise((r) => setTimeout(r, 1500))
  t.equal(await api.nodeStatus(NODE), 'AUTHENTICATION_ERROR', 'it stays refused')
  t.same(readdirSync(pool), [], 'nothing was made on the node')
  t.same(await env.loops(), [], 'no loop device')
  t.ok(sat.child.exitCode === null && sat.child.signalCode === null, 'the satellite keeps running')
})

