/** Every REST API module, registered on one router. One file per LINSTOR object (STYLE.md §1). */
import type { Core } from '../core.js'
import type { Router } from '../http/router.js'
import type { MetricsRegistry } from '../metrics/registry.js'
import { registerControllerApi } from './controller.js'
import { registerHealthApi } from './health.js'
import { registerKvsApi } from './key-value-store.js'
import { registerMetricsApi } from './metrics.js'
import { registerNodeApi } from './nodes.js'
import { registerResourceDefinitionApi } from './resource-definitions.js'
import { registerResourceApi } from './resources.js'
import { registerVolumeDefinitionApi } from './volume-definitions.js'
import { registerResourceGroupApi } from './resource-groups.js'
import { registerVolumeGroupApi } from './volume-groups.js'
import { registerStorPoolDfnApi } from './storage-pool-definitions.js'
import { registerStorPoolApi } from './storage-pools.js'
import { registerSnapshotApi } from './snapshots.js'
import { registerNodeLinkApi } from './node-links.js'

/** `metrics`: the registry GET /metrics exposes (no such route without it). */
export function registerApis(r: Router, core: Core, metrics?: MetricsRegistry): void {
  registerControllerApi(r, core)
  registerHealthApi(r, core)
  registerKvsApi(r, core)
  registerNodeApi(r, core)
  registerResourceDefinitionApi(r, core)
  registerResourceApi(r, core)
  registerVolumeDefinitionApi(r, core)
  registerStorPoolDfnApi(r, core)
  registerStorPoolApi(r, core)
  registerResourceGroupApi(r, core)
  registerVolumeGroupApi(r, core)
  registerSnapshotApi(r, core)
  registerNodeLinkApi(r, core)
  if (metrics !== undefined) registerMetricsApi(r, metrics)
}
