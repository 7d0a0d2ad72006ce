// What the satellite tells the controller about LVM where device-mapper is missing (this kind of
// host): both providers unsupported, with the reason — what placement then keeps LVM volumes away
// from (test/unit/controller/placement/place.test.ts: a node whose satellite lacks the provider).
import { existsSync } from 'node:fs'
import t from 'tap'
import { lvmThinUnavailable, lvmUnavailable, nodeCapabilities } from '../../../../src/satellite/capabilities.js'

t.test('no device-mapper: LVM and LVM_THIN unsupported, saying why', { skip: existsSync('/dev/mapper/control') && 'device-mapper is here: checked in the VM' }, async (t) => {
  t.match(lvmUnavailable(), /^\/dev\/mapper\/control is not usable \(ENOENT\): LVM needs root and device-mapper$/)
  t.equal(lvmThinUnavailable(), lvmUnavailable(), 'LVM_THIN needs LVM first')
  const providers = nodeCapabilities().providers
  for (const kind of ['LVM', 'LVM_THIN'] as const) {
    t.same(providers.find((p) => p.kind === kind), { kind, supported: false, reason: lvmUnavailable() }, kind)
  }
})
