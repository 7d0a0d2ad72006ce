// A satellite killed with SIGKILL in the middle of applying a burst of creates, on real loop devices:
// restarted, it adopts what the killed one made (the same loop devices, the same files, no second
// device on any file, no file made again) and the node converges to what the controller wants.
import t from 'tap'
import { readdirSync, statSync, watch } from 'node:fs'
import { join } from 'node:path'
import { deviceBytes, E2eEnv, Rest, stablePort, until, volumeFile } from '../../helpers/e2e.js'
import { loopSkipReason } from '../../helpers/loop-env.js'

const skip = loopSkipReason()
const NODE = 'e2e-adopt'
const COUNT = 24
const MiB = 1024 * 1024

t.test('satellite SIGKILL mid-apply: adoption', { skip }, async (t) => {
  const env = await E2eEnv.create(t, 'adopt')
  const ctrl = await env.controller(env.dir('ctrl'))
  const api = new Rest(ctrl.url)
  const satState = env.dir('sat')
  const secretFile = join(env.root, 'ctrl', 'cluster-secret')
  const port = await stablePort('127.0.0.1')
  const listen = `127.0.0.1:${port}`
  let sat = await env.satellite({ nodeName: NODE, stateDir: satState, secretFile, listen })
  const thin = env.dir('thin')
  const thick = env.dir('thick')
  await api.node(NODE, '127.0.0.1', port, { name: 'thin', kind: 'FILE_THIN', dir: thin })
  await api.pool(NODE, { name: 'thick', kind: 'FILE', dir: thick })
  await api.untilStatus(NODE, 'ONLINE')

  // Half thin, half preallocated, so that passes of both kinds are under way at the kill.
  const rscs = Array.from({ length: COUNT }, (_, i) => ({ name: `adopt${i}`, pool: i % 2 === 0 ? 'thin' : 'thick', dir: i % 2 === 0 ? thin : thick }))
  for (const r of rscs) await api.rscDfn(r.name, 16 * 1024)

  // Kill once the satellite has made a third of the files (told by inotify, not by timing): some
  // volumes are done then, some have a file but no device yet, some nothing.
  const third = new Promise<void>((resolve) => {
    const seen = new Set<string>()
    const ws = [thin, thick].map((d) => watch(d, (_event, f) => {
      if (f !== null) seen.add(join(d, f))
      if (seen.size < COUNT / 3) return
      for (const w of ws) w.close()
      resolve()
    }))
  })
  const creates = rscs.map((r) => api.call('POST', `/v1/resource-definitions/${r.name}/resources`, [{ resource: { node_name: NODE, props: { StorPoolName: r.pool } } }]))
  await third
  sat.child.kill('SIGKILL')
  await new Promise((r) => sat.child.once('exit', r))

  const filesAtKill = new Map<string, number>()
  for (const d of [thin, thick]) for (const f of readdirSync(d)) filesAtKill.set(join(d, f), statSync(join(d, f)).ino)
  const loopsAtKill = await env.loops()
  t.comment(`at the kill: ${filesAtKill.size} of ${COUNT} files, ${loopsAtKill.length} loop devices`)
  t.ok(filesAtKill.size >= 1 && loopsAtKill.length < COUNT, 'killed in the middle of the burst')
  const replies = await Promise.all(creates)
  t.ok(replies.every((r) => r.status === 201), 'every create was committed (the node just did not confirm them all)')

  sat = await env.satellite({ nodeName: NODE, stateDir: satState, secretFile, listen })
  await api.untilStatus(NODE, 'ONLINE')
  for (const r of rscs) await api.untilDevice(r.name, NODE)
  t.pass('after the restart every resource is UpToDate')

  for (const r of rscs) {
    const file = volumeFile(r.dir, r.name)
    const loops = await env.loopsOf(file)
    const vol = await api.volume(r.name, NODE)
    if (loops.length !== 1 || vol?.device_path !== loops[0]) t.fail(`${r.name}: one loop device, the one reported`, { loops, reported: vol?.device_path })
    if (deviceBytes(loops[0]!) !== 16 * MiB) t.fail(`${r.name}: 16 MiB`)
    const ino = filesAtKill.get(file)
    if (ino !== undefined && statSync(file).ino !== ino) t.fail(`${file} was made again`)
  }
  for (const l of loopsAtKill) t.same(await env.loopsOf(l.backingFile), [l.device], `${l.device} (made before the kill) adopted, not attached twice`)
  t.equal((await env.loops()).length, COUNT, `${COUNT} loop devices in all: one per volume`)
  t.equal(readdirSync(thin).length + readdirSync(thick).length, COUNT, 'one file per volume')

  for (const r of rscs) await api.must('DELETE', `/v1/resource-definitions/${r.name}`)
  await until('every device gone', async () => (await env.loops()).length === 0)
  t.same([...readdirSync(thin), ...readdirSync(thick)], [], 'deleted: no file left')
})
