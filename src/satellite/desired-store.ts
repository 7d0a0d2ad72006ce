/**
 * What the controller wants of this node, as last told: the storage pools and the resources, keyed by
 * upper-cased name (names are case-insensitive). Held in memory only: after a restart the controller's
 * full sync fills it again, and until then the satellite leaves its devices as they are.
 */
import { nameKey } from '../common/names.js'
import type { FullSync, Props, ResourceDesired, StorPoolDesired } from '../proto/messages.js'

export class DesiredStore {
  nodeProps: Props = {}
  readonly pools = new Map<string, StorPoolDesired>()
  readonly resources = new Map<string, ResourceDesired>()

  /**
   * Replaces everything with `sync` (FullSync: the complete desired state). Resources it does not
   * list are no longer this store's concern — their devices are left alone. Generations are taken as
   * sent: a full sync is the controller's whole truth, even one older than what was held. Returns the
   * keys of the resources to reconcile.
   */
  replace(sync: FullSync): string[] {
    this.nodeProps = sync.nodeProps
    this.pools.clear()
    for (const p of sync.storPools) if (!p.deleted) this.pools.set(nameKey(p.name), p)
    this.resources.clear()
    for (const r of sync.resources) this.resources.set(nameKey(r.name), r)
    return [...this.resources.keys()]
  }

  /**
   * Takes one resource's new desired state. Returns its key, or null when `r` is older than what is
   * held (a generation lower than the stored one is stale: the schema's rule).
   */
  setResource(r: ResourceDesired): string | null {
    const key = nameKey(r.name)
    const held = this.resources.get(key)
    if (held !== undefined && r.generation < held.generation) return null
    this.resources.set(key, r)
    return key
  }

  /** Forgets the resource `key` if it is still `r` (called once `r`, a deletion, is done). */
  forgetIfSame(key: string, r: ResourceDesired): void {
    if (this.resources.get(key) === r) this.resources.delete(key)
  }

  /** Takes one pool's desired state; `deleted` forgets it (its data is never touched). */
  setPool(p: StorPoolDesired): void {
    if (p.deleted) this.pools.delete(nameKey(p.name))
    else this.pools.set(nameKey(p.name), p)
  }
}
