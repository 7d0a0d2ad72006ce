// The pure diff, table-driven: desired volumes and found volumes in, ordered steps and refusals out.
import t from 'tap'
import { diff, type ActualVolume, type DesiredResource, type Diff, type DesiredVolume } from '../../../../src/satellite/reconcile/diff.js'

const P = (n: number, dir = '/pool'): string => `${dir}/r_${String(n).padStart(5, '0')}.img`
const want = (number: number, sizeKib: number, kind: DesiredVolume['kind'] = 'FILE_THIN', dir?: string): DesiredVolume => ({ number, kind, sizeKib, path: P(number, dir) })
const have = (number: number, sizeKib: number, device?: string, deviceSizeKib = sizeKib, kind: ActualVolume['kind'] = 'FILE_THIN', dir?: string): ActualVolume => ({
  number,
  kind,
  path: P(number, dir),
  sizeKib,
  ...(device !== undefined ? { device, deviceSizeKib } : {}),
})
const live = (...volumes: DesiredVolume[]): DesiredResource => ({ deleted: false, volumes })
const gone = (...volumes: DesiredVolume[]): DesiredResource => ({ deleted: true, volumes })

const cases: Array<[string, DesiredResource, ActualVolume[], Diff]> = [
  ['nothing wanted, nothing there', live(), [], { steps: [], refusals: [] }],
  ['new volume: create then attach', live(want(0, 1024)), [], {
    steps: [
      { op: 'create', number: 0, kind: 'FILE_THIN', path: P(0), sizeKib: 1024 },
      { op: 'attach', number: 0, kind: 'FILE_THIN', path: P(0) },
    ],
    refusals: [],
  }],
  ['converged: no steps', live(want(0, 1024)), [have(0, 1024, '/dev/loop3')], { steps: [], refusals: [] }],
  ['file left without device (adoption): attach only, never create', live(want(0, 1024)), [have(0, 1024)], {
    steps: [{ op: 'attach', number: 0, kind: 'FILE_THIN', path: P(0) }],
    refusals: [],
  }],
  ['file cut short by a crash, no device: grow then attach', live(want(0, 1024, 'FILE')), [have(0, 512, undefined, undefined, 'FILE')], {
    steps: [
      { op: 'grow', number: 0, kind: 'FILE', path: P(0), fromKib: 512, toKib: 1024 },
      { op: 'attach', number: 0, kind: 'FILE', path: P(0) },
    ],
    refusals: [],
  }],
  ['grow: file then device', live(want(0, 2048)), [have(0, 1024, '/dev/loop3')], {
    steps: [
      { op: 'grow', number: 0, kind: 'FILE_THIN', path: P(0), fromKib: 1024, toKib: 2048 },
      { op: 'resizeDevice', number: 0, kind: 'FILE_THIN', path: P(0), device: '/dev/loop3' },
    ],
    refusals: [],
  }],
  ['file grown, device not yet (crash between the two): resize device', live(want(0, 2048)), [have(0, 2048, '/dev/loop3', 1024)], {
    steps: [{ op: 'resizeDevice', number: 0, kind: 'FILE_THIN', path: P(0), device: '/dev/loop3' }],
    refusals: [],
  }],
  ['shrink refused, nothing done to that volume', live(want(0, 512)), [have(0, 1024, '/dev/loop3')], {
    steps: [],
    refusals: [{ number: 0, message: 'volume 0 is 1024 KiB but 512 KiB are desired: Blockyard never shrinks a volume' }],
  }],
  ['deleted: detach every device, then remove every file', gone(want(0, 1024), want(1, 1024)), [have(1, 1024, '/dev/loop5'), have(0, 1024, '/dev/loop4')], {
    steps: [
      { op: 'detach', number: 0, kind: 'FILE_THIN', path: P(0), device: '/dev/loop4' },
      { op: 'detach', number: 1, kind: 'FILE_THIN', path: P(1), device: '/dev/loop5' },
      { op: 'remove', number: 0, kind: 'FILE_THIN', path: P(0) },
      { op: 'remove', number: 1, kind: 'FILE_THIN', path: P(1) },
    ],
    refusals: [],
  }],
  ['deleted, half gone already (crash mid-delete): only what is left', gone(want(0, 1024), want(1, 1024)), [have(1, 1024)], {
    steps: [{ op: 'remove', number: 1, kind: 'FILE_THIN', path: P(1) }],
    refusals: [],
  }],
  ['deleted and nothing there: done', gone(want(0, 1024)), [], { steps: [], refusals: [] }],
  ['volume dropped from the resource: it comes down, the other stays', live(want(0, 1024)), [have(0, 1024, '/dev/loop3'), have(1, 1024, '/dev/loop4')], {
    steps: [
      { op: 'detach', number: 1, kind: 'FILE_THIN', path: P(1), device: '/dev/loop4' },
      { op: 'remove', number: 1, kind: 'FILE_THIN', path: P(1) },
    ],
    refusals: [],
  }],
  ['removals come before creations (space first)', live(want(1, 1024)), [have(0, 1024)], {
    steps: [
      { op: 'remove', number: 0, kind: 'FILE_THIN', path: P(0) },
      { op: 'create', number: 1, kind: 'FILE_THIN', path: P(1), sizeKib: 1024 },
      { op: 'attach', number: 1, kind: 'FILE_THIN', path: P(1) },
    ],
    refusals: [],
  }],
  ['a volume moved to another pool directory: the old one comes down, the new one is made', live(want(0, 1024, 'FILE', '/b')), [have(0, 1024, '/dev/loop3', 1024, 'FILE_THIN', '/a')], {
    steps: [
      { op: 'detach', number: 0, kind: 'FILE_THIN', path: P(0, '/a'), device: '/dev/loop3' },
      { op: 'remove', number: 0, kind: 'FILE_THIN', path: P(0, '/a') },
      { op: 'create', number: 0, kind: 'FILE', path: P(0, '/b'), sizeKib: 1024 },
      { op: 'attach', number: 0, kind: 'FILE', path: P(0, '/b') },
    ],
    refusals: [],
  }],
  ['a DISKLESS volume needs nothing', live({ number: 0, kind: 'DISKLESS', sizeKib: 1024 }), [], { steps: [], refusals: [] }],
  ['several volumes in ascending number, each create+attach', live(want(2, 10), want(0, 10)), [], {
    steps: [
      { op: 'create', number: 0, kind: 'FILE_THIN', path: P(0), sizeKib: 10 },
      { op: 'attach', number: 0, kind: 'FILE_THIN', path: P(0) },
      { op: 'create', number: 2, kind: 'FILE_THIN', path: P(2), sizeKib: 10 },
      { op: 'attach', number: 2, kind: 'FILE_THIN', path: P(2) },
    ],
    refusals: [],
  }],
  ['the same file seen twice (two pools, one directory) counts once', live(want(0, 1024)), [have(0, 1024, '/dev/loop3'), have(0, 1024, '/dev/loop3')], { steps: [], refusals: [] }],
]

for (const [name, desired, actual, expected] of cases) {
  t.test(name, async (t) => {
    const before = JSON.stringify([desired, actual])
    t.strictSame(diff(desired, actual), expected)
    t.equal(JSON.stringify([desired, actual]), before, 'inputs untouched')
  })
}

t.test('applying the steps on a model of the node converges', async (t) => {
  // A tiny model: apply each step to a copy of `actual`, then the diff must be empty.
  const apply = (actual: ActualVolume[], d: Diff): ActualVolume[] => {
    let vols = actual.map((v) => ({ ...v }))
    let next = 10
    for (const s of d.steps) {
      const v = vols.find((x) => x.path === s.path)
      switch (s.op) {
        case 'create': vols.push({ number: s.number, kind: s.kind, path: s.path, sizeKib: s.sizeKib }); break
        case 'grow': v!.sizeKib = s.toKib; break
        case 'attach': v!.device = `/dev/loop${next++}`; v!.deviceSizeKib = v!.sizeKib; break
        case 'resizeDevice': v!.deviceSizeKib = v!.sizeKib; break
        case 'detach': delete v!.device; delete v!.deviceSizeKib; break
        case 'remove': vols = vols.filter((x) => x.path !== s.path); break
      }
    }
    return vols
  }
  for (const [name, desired, actual, expected] of cases) {
    if (expected.refusals.length > 0) continue
    const after = apply(actual, diff(desired, actual))
    t.strictSame(diff(desired, after), { steps: [], refusals: [] }, name)
  }
})
