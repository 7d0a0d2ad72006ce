import t from 'tap'
import { SharedRead } from '../../../../src/satellite/providers/_shared-read.js'

t.test('callers of one moment share a read per scope; a finished change, a later turn or fresh make a new one', async (t) => {
  const runs: string[] = []
  const reads = new SharedRead(async (scope: string) => {
    runs.push(scope)
    return `${scope}#${runs.length}`
  })
  const [a, b, c] = await Promise.all([reads.get('vg0'), reads.get('vg0'), reads.get('vg1')])
  t.equal(a, b, 'the same scope at once: one read')
  t.not(a, c)
  t.same(runs, ['vg0', 'vg1'])
  t.equal(await reads.get('vg0', { fresh: true }), 'vg0#3', 'fresh: a new read')
  reads.changed('vg0')
  t.equal(await reads.get('vg0'), 'vg0#4', 'after a change: a new read')
  await new Promise((r) => setImmediate(r))
  t.equal(await reads.get('vg0'), 'vg0#5', 'a later turn: a new read')
})

t.test('a failed read is not kept', async (t) => {
  let n = 0
  const reads = new SharedRead(async () => {
    if (++n === 1) throw new Error('no such VG')
    return n
  })
  await t.rejects(reads.get('vg0'), /no such VG/)
  await new Promise((r) => setImmediate(r))
  t.equal(await reads.get('vg0'), 2)
})
