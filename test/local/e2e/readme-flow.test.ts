// The README's main command on real loop devices: `blockyard combined` brings up one node with its
// FILE_THIN pool; resource-definition create, volume-definition create 64M and resource create through
// REST give a /dev/loopN of exactly 64 MiB that takes mkfs.ext4 and a mount; deleting it detaches the
// loop device and removes the file. A restarted combined node keeps its node, pool and devices.
import t from 'tap'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { deviceBytes, E2eEnv, Rest, severity, volumeFile } from '../../helpers/e2e.js'
import { loopSkipReason } from '../../helpers/loop-env.js'

const skip = loopSkipReason()
const NODE = 'e2e-readme'

t.test('combined node: the README flow', { skip }, async (t) => {
  const env = await E2eEnv.create(t, 'readme')
  const state = env.dir('state')
  const pool = join(state, 'pools', 'DfltStorPool')
  let node = await env.combined(state, ['--node-name', NODE])
  let api = new Rest(node.url)

  const n = (await api.get(`/v1/nodes/${NODE}`)).body
  t.equal(n.connection_status, 'ONLINE', 'the node is online once `combined node ready` is logged')
  t.equal(n.type, 'COMBINED')
  t.match(n.net_interfaces, [{ name: 'default', address: '127.0.0.1', is_active: true }])
  const sp = (await api.get(`/v1/nodes/${NODE}/storage-pools/DfltStorPool`)).body
  t.match(sp, { provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': pool } }, 'DfltStorPool is FILE_THIN under the state directory')
  t.ok(statSync(pool).isDirectory(), 'its directory exists')

  await api.must('POST', '/v1/resource-definitions', { resource_definition: { name: 'demo' } })
  await api.must('POST', '/v1/resource-definitions/demo/volume-definitions', { volume_definition: { size_kib: 64 * 1024 } })
  const created = await api.must('POST', '/v1/resource-definitions/demo/resources', [{ resource: { node_name: NODE } }])
  t.equal(created.status, 201)
  t.same(created.retCodes.map(severity).filter((s) => s !== 'SUCCESS' && s !== 'INFO'), [], 'no warning: the satellite reported the resource ready before the reply')

  // The reply came after READY: the device is there now, not eventually.
  const vol = await api.volume('demo', NODE)
  const device = vol?.device_path ?? ''
  t.match(device, /^\/dev\/loop\d+$/, `a loop device: ${device}`)
  t.equal(vol?.state?.disk_state, 'UpToDate')
  t.equal(vol?.usable_size_kib, 64 * 1024)
  t.equal(deviceBytes(device), 64 * 1024 * 1024, 'exactly 64 MiB')
  const file = volumeFile(pool, 'demo')
  t.same(await env.loopsOf(file), [device], `bound to ${file}, once`)
  env.formatAndMount(device, 'demo')
  t.pass('mkfs.ext4, mount, write, umount')

  // A restart keeps everything: the node and pool as they were, the device as it is.
  const before = { node: n.uuid as string, pool: sp.uuid as string, inode: statSync(file).ino }
  await env.stop(node)
  node = await env.combined(state, ['--node-name', NODE])
  api = new Rest(node.url)
  t.equal((await api.get(`/v1/nodes/${NODE}`)).body.uuid, before.node, 'restart: the same node')
  t.equal((await api.get(`/v1/nodes/${NODE}/storage-pools/DfltStorPool`)).body.uuid, before.pool, 'restart: the same pool')
  t.equal(await api.untilDevice('demo', NODE), device, 'restart: the same device')
  t.same(await env.loopsOf(file), [device], 'restart: no second loop device')
  t.equal(statSync(file).ino, before.inode, 'restart: the same file')

  const deleted = await api.must('DELETE', `/v1/resource-definitions/demo/resources/${NODE}`)
  t.same(deleted.retCodes.map(severity).filter((s) => s !== 'SUCCESS' && s !== 'INFO'), [], 'deleted without warning')
  t.same(await env.loopsOf(file), [], 'the loop device is detached')
  t.notOk(existsSync(file), 'the file is removed')
  t.equal((await api.get('/v1/resource-definitions/demo/resources')).body.length, 0, 'and the resource is gone')
})
