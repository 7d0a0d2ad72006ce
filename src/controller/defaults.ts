/**
 * LINSTOR's default objects, created on first start (and re-created if someone managed to lose them):
 * storage pool definitions DfltStorPool and DfltDisklessStorPool, resource group DfltRscGrp with place
 * count 2.
 */
import { randomUUID } from 'node:crypto'
import type { Core } from './core.js'
import { DFLT_DISKLESS_STOR_POOL, DFLT_RSC_GRP, DFLT_STOR_POOL } from './model/model.js'

export async function ensureDefaults(core: Core): Promise<void> {
  await core.mutate((tx, m) => {
    for (const name of [DFLT_STOR_POOL, DFLT_DISKLESS_STOR_POOL]) {
      if (!m.getStorPoolDfn(name)) m.putStorPoolDfn(tx, { name, props: {}, uuid: randomUUID() })
    }
    if (!m.getRscGrp(DFLT_RSC_GRP)) {
      m.putRscGrp(tx, { name: DFLT_RSC_GRP, description: '', props: {}, selectFilter: { place_count: 2 }, peerSlots: null, vlmGrps: [], uuid: randomUUID() })
    }
  })
}
