// A controller killed with SIGKILL in the middle of a stream of writes leaves a database that opens, is
// consistent, and holds every change that was acknowledged (DESIGN.md §2.2).
import t from 'tap'
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnController } from '../helpers/cli.js'
import { callApi } from '../helpers/controller.js'

const dir = mkdtempSync(join(tmpdir(), 'blockyard-kill-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('SIGKILL during writes', async (t) => {
  const { child, url } = await spawnController(dir)
  const acked = new Set<string>()
  let stop = false
  // Eight clients writing as fast as they can: nodes with interfaces, and key-value entries.
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const name = `w${w}-n${i}`
      try {
        const r = await callApi(url, 'POST', '/v1/nodes', { name, type: 'Satellite', net_interfaces: [{ name: 'default', address: `127.${w}.${(i >> 8) & 255}.${i & 255}` }] })
        if (r.status === 201) acked.add(name)
      } catch {
        return // connection refused/reset: the controller is gone
      }
    }
  }
  const writers = Array.from({ length: 8 }, (_, w) => writer(w))
  // Kill once a few hundred writes were acknowledged, at a moment the writers do not choose.
  while (acked.size < 300) await new Promise((r) => setTimeout(r, 5))
  child.kill('SIGKILL')
  await new Promise((r) => child.once('exit', r))
  stop = true
  await Promise.all(writers)

  const db = new Database(join(dir, 'controller.db'))
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'integrity_check')
  t.same(db.pragma('foreign_key_check'), [], 'no row without its parent')
  const names = new Set((db.prepare('SELECT name FROM nodes').pluck().all() as string[]))
  const lost = [...acked].filter((n) => !names.has(n.toUpperCase()))
  t.same(lost, [], `every acknowledged write survived (${acked.size} acknowledged, ${names.size} stored)`)
  db.close()

  // And the controller starts again on it, with everything.
  const again = await spawnController(dir)
  t.teardown(() => again.child.kill('SIGKILL'))
  const list = await callApi(again.url, 'GET', '/v1/nodes')
  t.equal(list.body.length, names.size, 'restart serves every stored node')
})
