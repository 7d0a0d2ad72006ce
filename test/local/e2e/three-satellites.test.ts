// Three satellites on one machine, on 127.0.0.2–4 with state directories of their own, under one
// controller: `resource create --auto-place 2` with a STORAGE-only layer stack makes the volume on
// exactly two of them, each on a loop device of its own over a file in that node's pool.
import t from 'tap'
import { join } from 'node:path'
import { readdirSync } from 'node:fs'
import { deviceBytes, E2eEnv, Rest, stablePort, until, volumeFile } from '../../helpers/e2e.js'
import { loopSkipReason } from '../../helpers/loop-env.js'

const skip = loopSkipReason()
const MiB = 1024 * 1024

t.test('three satellites on 127.0.0.2–4: auto-place 2, STORAGE only', { skip }, async (t) => {
  const env = await E2eEnv.create(t, 'three')
  const ctrlState = env.dir('ctrl')
  const api = new Rest((await env.controller(ctrlState)).url)
  const nodes = [2, 3, 4].map((i) => ({ name: `sat${i}`, address: `127.0.0.${i}`, state: env.dir(`sat${i}`), pool: env.dir(`sat${i}`, 'pool') }))
  await Promise.all(nodes.map(async (n) => {
    const port = await stablePort(n.address)
    await env.satellite({ nodeName: n.name, stateDir: n.state, secretFile: join(ctrlState, 'cluster-secret'), listen: `${n.address}:${port}` })
    await api.node(n.name, n.address, port, { name: 'DfltStorPool', kind: 'FILE_THIN', dir: n.pool })
  }))
  for (const n of nodes) await api.untilStatus(n.name, 'ONLINE')
  t.pass('three nodes ONLINE')
  // Placement needs each pool's free space, which arrives with the satellites' capacity reports.
  await until('capacity of every pool', async () => (await api.get('/v1/view/storage-pools?storage_pools=DfltStorPool')).body.every((p: { free_capacity?: number }) => typeof p.free_capacity === 'number'))

  await api.must('POST', '/v1/resource-definitions', { resource_definition: { name: 'spread' } })
  await api.must('POST', '/v1/resource-definitions/spread/volume-definitions', { volume_definition: { size_kib: 20 * 1024 } })
  const r = await api.must('POST', '/v1/resource-definitions/spread/autoplace', { select_filter: { place_count: 2, layer_stack: ['STORAGE'] } })
  t.equal(r.status, 201, 'auto-placed')

  const placed = (await api.get('/v1/resource-definitions/spread/resources')).body as { node_name: string; layer_object: { type: string; children: unknown[] } }[]
  t.equal(placed.length, 2, 'on two nodes')
  t.ok(placed.every((x) => x.layer_object.type === 'STORAGE' && x.layer_object.children.length === 0), 'with a STORAGE-only layer stack')
  const devices = new Set<string>()
  for (const n of nodes) {
    const here = placed.some((x) => x.node_name === n.name)
    const file = volumeFile(n.pool, 'spread')
    const loops = await env.loopsOf(file)
    if (!here) {
      t.same(readdirSync(n.pool), [], `${n.name}: not placed there, no file`)
      continue
    }
    const dev = (await api.volume('spread', n.name))?.device_path ?? ''
    t.same(loops, [dev], `${n.name}: ${dev} over ${file}`)
    t.equal(deviceBytes(dev), 20 * MiB, `${n.name}: 20 MiB`)
    devices.add(dev)
  }
  t.equal(devices.size, 2, 'two distinct loop devices')

  await api.must('DELETE', '/v1/resource-definitions/spread')
  t.same(await env.loops(), [], 'deleted on both nodes: no loop device')
  for (const n of nodes) t.same(readdirSync(n.pool), [], `${n.name}: no file`)
})
