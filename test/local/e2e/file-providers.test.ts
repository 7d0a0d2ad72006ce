// FILE and FILE_THIN through REST on a combined node, on real loop devices: create (a preallocated or a
// sparse file, a loop device of exactly the size), grow (volume-definition modify: the file and the
// device grow, the data stays), delete (device detached, file removed).
import t from 'tap'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { deviceBytes, E2eEnv, Rest, until, volumeFile } from '../../helpers/e2e.js'
import { loopSkipReason } from '../../helpers/loop-env.js'

const skip = loopSkipReason()
const NODE = 'e2e-files'
const MiB = 1024 * 1024

t.test('FILE and FILE_THIN: create, grow, delete through REST', { skip }, async (t) => {
  const env = await E2eEnv.create(t, 'files')
  const state = env.dir('state')
  const node = await env.combined(state, ['--node-name', NODE])
  const api = new Rest(node.url)
  const thickDir = env.dir('thick')
  await api.pool(NODE, { name: 'thick', kind: 'FILE', dir: thickDir })
  // Growing a thick volume needs the pool's free space, which the satellite reports a moment (its
  // debounce) after it learns of the pool; until then the controller counts it as none, as LINSTOR does.
  await until('the satellite to report the FILE pool\'s capacity', async () => typeof (await api.get(`/v1/nodes/${NODE}/storage-pools/thick`)).body.free_capacity === 'number')
  const dirs = { FILE_THIN: join(state, 'pools', 'DfltStorPool'), FILE: thickDir }
  const pools = { FILE_THIN: 'DfltStorPool', FILE: 'thick' }

  for (const kind of ['FILE_THIN', 'FILE'] as const) {
    await t.test(kind, async (t) => {
      const rsc = `vol_${kind.toLowerCase()}`
      const file = volumeFile(dirs[kind], rsc)
      await api.rscDfn(rsc, 32 * 1024)
      await api.must('POST', `/v1/resource-definitions/${rsc}/resources`, [{ resource: { node_name: NODE, props: { StorPoolName: pools[kind] } } }])
      const vol = await api.volume(rsc, NODE)
      const device = vol?.device_path ?? ''
      t.match(device, /^\/dev\/loop\d+$/, `created: ${device}`)
      t.equal(deviceBytes(device), 32 * MiB, 'the device has exactly the size asked')
      t.same(await env.loopsOf(file), [device], 'bound to its file, once')
      const st = statSync(file)
      t.equal(st.size, 32 * MiB, 'the file has the size')
      if (kind === 'FILE') t.ok(st.blocks * 512 >= 32 * MiB, `FILE is preallocated (${st.blocks * 512} bytes allocated)`)
      else t.ok(st.blocks * 512 < MiB, `FILE_THIN is sparse (${st.blocks * 512} bytes allocated)`)
      // Something to find again after the grow.
      execFileSync('dd', ['if=/dev/urandom', `of=${device}`, 'bs=4096', 'count=16', 'oflag=direct', 'status=none'])
      const head = execFileSync('dd', [`if=${device}`, 'bs=4096', 'count=16', 'iflag=direct', 'status=none'])

      await api.must('PUT', `/v1/resource-definitions/${rsc}/volume-definitions/0`, { size_kib: 48 * 1024 })
      await until('the device to grow to 48 MiB', () => deviceBytes(device) === 48 * MiB)
      t.pass('grown: the same device, 48 MiB')
      t.equal(statSync(file).size, 48 * MiB, 'the file grew')
      if (kind === 'FILE') t.ok(statSync(file).blocks * 512 >= 48 * MiB, 'FILE: the new part is preallocated too')
      t.ok(head.equals(execFileSync('dd', [`if=${device}`, 'bs=4096', 'count=16', 'iflag=direct', 'status=none'])), 'the data written before the grow is still there')
      await until('the view to show 48 MiB', async () => (await api.volume(rsc, NODE))?.usable_size_kib === 48 * 1024)
      t.pass('the view shows the new size')
      env.formatAndMount(device, rsc)
      t.pass('mkfs.ext4 and mount work on it')

      await api.must('DELETE', `/v1/resource-definitions/${rsc}`)
      t.same(await env.loopsOf(file), [], 'deleted: the loop device is detached')
      t.notOk(existsSync(file), 'deleted: the file is removed')
    })
  }
})
