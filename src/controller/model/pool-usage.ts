/**
 * Space reserved in each storage pool by the resources placed in it, kept up to date by the Model as
 * resources and definitions are put and deleted. Auto-placement reads it on every call; summing it over
 * every resource each time cost ~37 ms at 30,000 resources (bench/controller-scale.ts), against a 2 ms
 * target for the whole placement.
 *
 * Like the DRBD allocators it is derived state: rebuilt from the objects at load, never stored. Each
 * resource's contribution is remembered, so replacing or removing it is exact even when the object was
 * changed in place before being put again.
 */
import { grossSizeKib } from '../../common/drbd-md.js'
import type { LayerKind } from '../../common/layer-stack.js'
import { nameKey } from '../../common/names.js'
import type { Resource, RscDfn } from './types.js'

/** Flags that make a resource diskless (LINSTOR: DISKLESS for any client, DRBD_DISKLESS for DRBD's). */
export const DISKLESS_FLAGS = ['DISKLESS', 'DRBD_DISKLESS']
/** Whether a resource has no local disk (LINSTOR Resource.isDiskless). */
export const isDiskless = (r: { flags: readonly string[] }): boolean => r.flags.some((f) => DISKLESS_FLAGS.includes(f))

/** Gross KiB a volume of `sizeKib` takes in its storage pool under `stack` (DRBD adds internal metadata). */
export function allocatedKib(rd: RscDfn, stack: readonly LayerKind[], sizeKib: number, grossFlag: boolean): number {
  if (!stack.includes('DRBD') || grossFlag) return sizeKib
  const d = rd.drbd
  return grossSizeKib(sizeKib, d?.peerSlots ?? 7, d?.alStripes ?? 1, d?.alStripeSizeKib ?? 32)
}

/** The pool key used by {@link PoolUsage.kib}: `NODE\0POOL`, both upper-cased. */
export const poolUsageKey = (nodeName: string, poolName: string): string => nameKey(nodeName) + '\0' + nameKey(poolName)

/** What one resource reserves: [pool key, KiB] per diskful volume that has its volume definition. */
type Contribution = [string, number][]

export class PoolUsage {
  private readonly byPool = new Map<string, number>()
  private readonly byResource = new Map<string, Contribution>()

  /** KiB reserved per pool ({@link poolUsageKey}); a pool nothing is placed in is absent. Read only. */
  get kib(): ReadonlyMap<string, number> {
    return this.byPool
  }

  /**
   * Set what `r` reserves, replacing what it reserved before: its diskful volumes' gross sizes under its
   * layer stack, per the volume definitions of `rd` (nothing when `rd` is undefined or `r` is diskless).
   */
  set(r: Resource, rd: RscDfn | undefined): void {
    this.remove(r)
    if (rd === undefined || isDiskless(r)) return
    const c: Contribution = []
    for (const v of r.volumes) {
      const vd = rd.vlmDfns.find((x) => x.vlmNr === v.vlmNr)
      if (vd === undefined) continue
      c.push([poolUsageKey(r.nodeName, v.storPoolName), allocatedKib(rd, r.layerStack, vd.sizeKib, vd.flags.includes('GROSS_SIZE'))])
    }
    if (c.length === 0) return
    this.byResource.set(resourceKey(r), c)
    for (const [pool, kib] of c) this.byPool.set(pool, (this.byPool.get(pool) ?? 0) + kib)
  }

  /** Forget what `r` reserves. */
  remove(r: Resource): void {
    const k = resourceKey(r)
    const c = this.byResource.get(k)
    if (c === undefined) return
    this.byResource.delete(k)
    for (const [pool, kib] of c) {
      const left = this.byPool.get(pool)! - kib
      if (left === 0) this.byPool.delete(pool)
      else this.byPool.set(pool, left)
    }
  }
}

const resourceKey = (r: Resource): string => nameKey(r.rscName) + '\0' + nameKey(r.nodeName)
