// The desired store: full sync replaces, generations only move forward, deletions are forgotten once done.
import t from 'tap'
import type { ResourceDesired } from '../../../src/proto/messages.js'
import { DesiredStore } from '../../../src/satellite/desired-store.js'

const r = (name: string, generation: bigint, deleted = false): ResourceDesired => ({ name, generation, deleted, layers: ['STORAGE'], flags: [], props: {}, volumes: [] })

t.test('full sync replaces everything and names the resources to reconcile', async (t) => {
  const s = new DesiredStore()
  s.setResource(r('old', 9n))
  const keys = s.replace({
    type: 'FullSync', syncId: 1, nodeName: 'n', nodeProps: { a: 'b' },
    storPools: [
      { name: 'p1', providerKind: 'FILE_THIN', props: {}, deleted: false },
      { name: 'gone', providerKind: 'FILE', props: {}, deleted: true },
    ],
    resources: [r('Res1', 3n), r('res2', 1n, true)],
  })
  t.same(keys, ['RES1', 'RES2'])
  t.same([...s.resources.keys()], ['RES1', 'RES2'], 'resources not listed are no longer held')
  t.same([...s.pools.keys()], ['P1'], 'a deleted pool is not held')
  t.same(s.nodeProps, { a: 'b' })
  // A full sync is the controller's whole truth: even a lower generation is taken.
  s.replace({ type: 'FullSync', syncId: 2, nodeName: 'n', nodeProps: {}, storPools: [], resources: [r('res1', 1n)] })
  t.equal(s.resources.get('RES1')!.generation, 1n)
})

t.test('incremental desired state: stale generations are ignored, names are case-insensitive', async (t) => {
  const s = new DesiredStore()
  t.equal(s.setResource(r('Abc', 5n)), 'ABC')
  t.equal(s.setResource(r('abc', 4n)), null, 'lower generation ignored')
  t.equal(s.resources.get('ABC')!.generation, 5n)
  t.equal(s.setResource(r('ABC', 5n)), 'ABC', 'the same generation again is taken (idempotent)')
  t.equal(s.setResource(r('abc', 6n)), 'ABC')
  t.equal(s.resources.get('ABC')!.name, 'abc')
})

t.test('a finished deletion is forgotten only if nothing newer arrived', async (t) => {
  const s = new DesiredStore()
  const del = r('x', 2n, true)
  s.setResource(del)
  const newer = r('x', 3n)
  s.setResource(newer)
  s.forgetIfSame('X', del)
  t.equal(s.resources.get('X'), newer, 'the re-creation stays')
  s.forgetIfSame('X', newer)
  t.equal(s.resources.has('X'), false)
})

t.test('pools: set and forget', async (t) => {
  const s = new DesiredStore()
  s.setPool({ name: 'p', providerKind: 'FILE', props: { k: 'v' }, deleted: false })
  t.same(s.pools.get('P')!.props, { k: 'v' })
  s.setPool({ name: 'P', providerKind: 'FILE', props: {}, deleted: true })
  t.equal(s.pools.size, 0)
})
