// What the satellite tells the controller it can do. LVM where device-mapper is missing (this kind of
// host): both providers unsupported, with the reason — what placement then keeps LVM volumes away
// from (test/unit/controller/placement/place.test.ts: a node whose satellite lacks the provider).
// DRBD: what the satellite found when it opened its DRBD layer.
import { existsSync } from 'node:fs'
import t from 'tap'
import { lvmThinUnavailable, lvmUnavailable, nodeCapabilities } from '../../../src/satellite/capabilities.js'

t.test('no device-mapper: LVM and LVM_THIN unsupported, saying why', { skip: existsSync('/dev/mapper/control') && 'device-mapper is here: checked in the VM' }, async (t) => {
  t.match(lvmUnavailable(), /^\/dev\/mapper\/control is not usable \(ENOENT\): LVM needs root and device-mapper; the dm_mod kernel module (does not load|is not loaded)/)
  t.equal(lvmThinUnavailable(), lvmUnavailable(), 'LVM_THIN needs LVM first')
  const providers = nodeCapabilities().providers
  for (const kind of ['LVM', 'LVM_THIN'] as const) {
    t.same(providers.find((p) => p.kind === kind), { kind, supported: false, reason: lvmUnavailable() }, kind)
  }
})

t.test('the DRBD layer as the satellite found it; unsupported, with a reason, when it was not opened', async (t) => {
  const drbd = (c: ReturnType<typeof nodeCapabilities>) => c.layers.find((l) => l.kind === 'DRBD')
  t.same(drbd(nodeCapabilities()), { kind: 'DRBD', supported: false, reason: 'the DRBD layer was not opened' })
  t.same(drbd(nodeCapabilities({ kind: 'DRBD', supported: true, version: '8.4.11' })), { kind: 'DRBD', supported: true, version: '8.4.11' })
  const missing = { kind: 'DRBD', supported: false, reason: 'the drbd kernel module does not load: FATAL: Module drbd not found' } as const
  t.same(drbd(nodeCapabilities(missing)), missing)
  t.same(nodeCapabilities().layers.find((l) => l.kind === 'STORAGE'), { kind: 'STORAGE', supported: true })
})
