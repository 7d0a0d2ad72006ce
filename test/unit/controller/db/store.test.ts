import t from 'tap'
import { closeSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../../../src/controller/db/store.js'
import { Tx } from '../../../../src/controller/db/tx.js'
import { Model } from '../../../../src/controller/model/model.js'
import { setLogSink } from '../../../../src/common/log.js'
import type { Node } from '../../../../src/controller/model/types.js'

setLogSink(null)
const dir = mkdtempSync(join(tmpdir(), 'blockyard-store-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const node = (name: string): Node => ({ name, type: 'Satellite', flags: [], props: { a: name }, netInterfaces: [], uuid: name + '-uuid' })

t.test('WAL, our own sync, foreign keys and migrations', async (t) => {
  const s = new Store(join(dir, 'a.db'))
  t.equal(s.db.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(s.db.pragma('synchronous', { simple: true }), 1, 'NORMAL: the store syncs the WAL before acknowledging')
  t.equal(s.db.pragma('foreign_keys', { simple: true }), 1)
  t.ok((s.db.pragma('user_version', { simple: true }) as number) >= 1)
  s.close()
  const again = new Store(join(dir, 'a.db'))
  t.ok(again.loadAll(), 're-opening applies nothing twice')
  again.close()
})

t.test('one controller per database: a second store on the same file is refused, clearly', async (t) => {
  const path = join(dir, 'locked.db')
  const first = new Store(path)
  t.equal(first.db.pragma('locking_mode', { simple: true }), 'exclusive')
  t.throws(() => new Store(path), { message: `the database ${path} is in use by another controller` })
  first.close()
  const next = new Store(path)
  t.ok(next.loadAll(), 'free again once the first is closed')
  next.close()
})

t.test('units committed in one event-loop turn share one SQLite transaction', async (t) => {
  const s = new Store(join(dir, 'b.db'))
  const m = new Model()
  const units = Array.from({ length: 50 }, (_, i) => {
    const tx = new Tx()
    m.putNode(tx, node(`n${i}`))
    return s.commit(tx)
  })
  await Promise.all(units)
  t.equal(s.stats.commits, 1)
  t.equal(s.stats.units, 50)
  const rows = s.loadAll()
  t.equal(rows.objects.node.length, 50)
  t.same(rows.objects.node.find((n) => n.name === 'n7'), node('n7'), 'round trip, props included')
  s.close()
})

t.test('groups written while a sync is in flight are acknowledged by the next, in revision order', async (t) => {
  const s = new Store(join(dir, 'pipe.db'))
  const m = new Model()
  const acked: number[] = []
  const listened: number[] = []
  s.onCommit({ committed: (g) => listened.push(...g.map((c) => c.revision)) })
  const base = s.revision
  const unit = (name: string): Promise<void> => {
    const tx = new Tx()
    m.putNode(tx, node(name))
    return s.commit(tx)
  }
  const all: Promise<void>[] = []
  for (let turn = 0; turn < 5; turn++) {
    const rev = base + turn * 2
    all.push(unit(`p${turn}a`).then(() => void acked.push(rev + 1)), unit(`p${turn}b`).then(() => void acked.push(rev + 2)))
    await new Promise((r) => setImmediate(r)) // the next turn: this one's group is written, maybe not synced
  }
  await Promise.all(all)
  const expected = Array.from({ length: 10 }, (_, i) => base + i + 1)
  t.same(acked, expected, 'every caller acknowledged, in revision order')
  t.same(listened, expected, 'listeners follow the same order, before the callers')
  t.equal(s.stats.commits, 5, 'one SQLite transaction per turn, whatever the syncs')
  s.close()
  t.equal(new Store(join(dir, 'pipe.db')).loadAll().objects.node.length, 10)
})

t.test('a failed sync is fatal: nothing written since the last sync is acknowledged', async (t) => {
  const s = new Store(join(dir, 'badsync.db'))
  let fatal: Error | null = null
  s.onFatal = (e) => {
    fatal = e
  }
  // The WAL's descriptor closed behind the store's back: fdatasync fails (EBADF), as a failing disk would.
  closeSync((s as unknown as { walFd: number }).walFd)
  const m = new Model()
  const tx = new Tx()
  m.putNode(tx, node('lost'))
  await t.rejects(s.commit(tx), { code: 'EBADF' })
  t.match(fatal, { code: 'EBADF' }, 'onFatal called: the controller stops')
  s.db.close()
})

t.test('a unit writes an object once, with its last value; deletes remove rows', async (t) => {
  const s = new Store(join(dir, 'c.db'))
  const m = new Model()
  const tx = new Tx()
  const n = node('x1')
  m.putNode(tx, n)
  n.props = { b: '2' }
  m.putNode(tx, n)
  t.equal(tx.size, 1)
  await s.commit(tx)
  t.same(s.loadAll().objects.node[0]!.props, { b: '2' })
  const del = new Tx()
  m.deleteNode(del, n)
  await s.commit(del)
  t.equal(s.loadAll().objects.node.length, 0)
  s.close()
})

t.test('a commit that breaks a foreign key fails whole and reports fatally', async (t) => {
  const s = new Store(join(dir, 'd.db'))
  let fatal: Error | null = null
  s.onFatal = (e) => {
    fatal = e
  }
  const m = new Model()
  const ok = new Tx()
  m.putNode(ok, node('keep'))
  const bad = new Tx()
  m.putStorPool(bad, { nodeName: 'missing', name: 'p', providerKind: 'FILE', props: {}, sharedSpace: null, externalLocking: false, uuid: 'u' })
  const r1 = s.commit(ok)
  const r2 = s.commit(bad)
  await t.rejects(r1)
  await t.rejects(r2)
  t.ok(fatal)
  t.equal(s.loadAll().objects.node.length, 0, 'the whole group rolled back')
  s.close()
})

t.test('cluster revision: one per committed unit, in commit order, written with it; listeners see every unit', async (t) => {
  const path = join(dir, 'rev.db')
  const s = new Store(path)
  const base = s.revision
  const inTx: number[][] = []
  const seen: [number, string[]][] = []
  const off = s.onCommit({
    inTransaction: (g) => inTx.push(g.map((c) => c.revision)),
    committed: (g) => {
      for (const c of g) seen.push([c.revision, [...c.tx.changes()].map((op) => `${op.kind}:${op.value === null ? 'del' : 'put'}`)])
      throw new Error('a listener bug is logged, not fatal')
    },
  })
  const m = new Model()
  const n = node('rv1')
  const a = new Tx()
  m.putNode(a, n)
  const b = new Tx()
  m.putKvs(b, { name: 'kv', props: {} })
  await Promise.all([s.commit(a), s.commit(b), s.commit(new Tx())])
  t.same(inTx, [[base + 1, base + 2]], 'one group, inside its transaction; an empty unit gets no revision')
  t.same(seen, [[base + 1, ['node:put']], [base + 2, ['kvs:put']]])
  t.equal(s.revision, base + 2)
  const del = new Tx()
  m.deleteNode(del, n)
  const [op] = [...del.changes()]
  t.same(op, { kind: 'node', key: ['RV1'], value: null, old: n }, 'a deletion carries the deleted object')
  await s.commit(del)
  off()
  const c = new Tx()
  m.putKvs(c, { name: 'kv', props: { a: '1' } })
  await s.commit(c)
  t.equal(seen.length, 3, 'no more calls after unsubscribing')
  s.close()
  const again = new Store(path)
  t.equal(again.revision, base + 4, 'persisted')
  again.close()
})

t.test('a listener failing inside the transaction fails the commit: no change, no revision', async (t) => {
  const s = new Store(join(dir, 'rev2.db'))
  let fatal: Error | null = null
  s.onFatal = (e) => {
    fatal = e
  }
  const base = s.revision
  s.onCommit({ inTransaction: () => { throw new Error('tombstone write failed') } })
  const tx = new Tx()
  new Model().putNode(tx, node('x'))
  await t.rejects(s.commit(tx), { message: 'tombstone write failed' })
  t.ok(fatal)
  t.equal(s.revision, base)
  t.equal(s.loadAll().objects.node.length, 0)
  s.close()
})
