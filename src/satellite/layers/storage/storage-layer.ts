/**
 * The STORAGE layer (LINSTOR's StorageLayer): the bottom of every stack, handing each volume to the
 * provider of its pool. It turns desired volumes into the diff's terms (where each volume lives),
 * observes what exists of a resource in every pool it may have used, and carries out the steps.
 */
import { logger } from '../../../common/log.js'
import { nameKey } from '../../../common/names.js'
import type { ProviderKind, ResourceDesired, StorPoolDesired } from '../../../proto/messages.js'
import type { DesiredVolume, Step } from '../../reconcile/diff.js'
import { TerminalError } from '../../reconcile/errors.js'
import type { PoolRef, PoolSpace, Provider, VolumeFacts } from '../../providers/provider.js'

const log = logger('satellite.storage')

export interface StorageObservation {
  /** Desired volumes with the place each one should live (none for a deleted resource). */
  desired: DesiredVolume[]
  /** Volumes of the resource found, once each even where pools share a directory. */
  actual: VolumeFacts[]
  /** Where each pool checked lives (pool key → location), for a re-observation in the same pass. */
  locations: ReadonlyMap<string, string>
}

export class StorageLayer {
  readonly #providers = new Map<ProviderKind, Provider>()

  constructor(providers: readonly Provider[]) {
    for (const p of providers) for (const k of p.kinds) this.#providers.set(k, p)
  }

  /** Whether `kind` has a provider here. */
  supports(kind: ProviderKind): boolean {
    return this.#providers.has(kind)
  }

  /**
   * Observes `rsc` now. The pools looked in are those its volumes name and every other pool of the
   * node (a volume the controller dropped, or a whole deleted resource, may live in any of them).
   * A pool the desired volumes need but that is unusable is a TerminalError; a pool only searched is
   * skipped when unusable (nothing of the resource can be in a directory that does not exist).
   * `checked`: the locations of an observation made earlier in the same pass, taken as they are
   * instead of checking those pools again (the volumes themselves are always observed afresh).
   */
  async observe(rsc: ResourceDesired, nodePools: Iterable<StorPoolDesired>, checked?: ReadonlyMap<string, string>): Promise<StorageObservation> {
    const needed = new Map<string, PoolRef>()
    if (!rsc.deleted) {
      for (const v of rsc.volumes) {
        if (!this.supports(v.providerKind)) {
          throw new TerminalError(`volume ${v.number} is in storage pool '${v.storPoolName}' of provider ${v.providerKind}, which this satellite does not support`)
        }
        needed.set(nameKey(v.storPoolName), { name: v.storPoolName, kind: v.providerKind, props: v.storPoolProps })
      }
    }
    const searched = new Map<string, PoolRef>()
    for (const p of nodePools) {
      const key = nameKey(p.name)
      if (!needed.has(key) && this.supports(p.providerKind)) searched.set(key, { name: p.name, kind: p.providerKind, props: p.props })
    }
    if (rsc.deleted) {
      for (const v of rsc.volumes) {
        const key = nameKey(v.storPoolName)
        if (this.supports(v.providerKind)) searched.set(key, { name: v.storPoolName, kind: v.providerKind, props: v.storPoolProps })
      }
    }

    const locations = new Map<string, string>()
    const check = async (key: string, pool: PoolRef): Promise<void> => {
      locations.set(key, checked?.get(key) ?? (await this.#provider(pool.kind).checkPool(pool)))
    }
    await Promise.all([
      ...[...needed].map(([key, pool]) => check(key, pool)),
      ...[...searched].map(async ([key, pool]) => {
        if (checked !== undefined && !checked.has(key)) return // unusable a moment ago
        try {
          await check(key, pool)
        } catch (e) {
          log.debug('pool skipped while searching', { pool: pool.name, rsc: rsc.name, error: (e as Error).message })
        }
      }),
    ])

    const desired: DesiredVolume[] = []
    if (!rsc.deleted) {
      for (const v of rsc.volumes) {
        const location = locations.get(nameKey(v.storPoolName))!
        const provider = this.#provider(v.providerKind)
        const path = provider.volumePath(location, rsc.name, v.number)
        const sizeKib = (await provider.allocationKib?.(location, v.grossSizeKib)) ?? v.grossSizeKib
        desired.push({ number: v.number, kind: v.providerKind, sizeKib, ...(path !== undefined ? { path } : {}) })
      }
    }

    const pools = new Map([...searched, ...needed])
    const found = await Promise.all(
      [...locations].map(([key, location]) => {
        const pool = pools.get(key)!
        return this.#provider(pool.kind).observe(pool, location, rsc.name)
      }),
    )
    const actual = new Map<string, VolumeFacts>()
    for (const list of found) for (const v of list) actual.set(v.path, v)
    return { desired, actual: [...actual.values()], locations }
  }

  /** Carries out one step of the diff. */
  async apply(step: Step): Promise<void> {
    const p = this.#provider(step.kind)
    switch (step.op) {
      case 'create':
        return p.create(step.kind, step.path, step.sizeKib)
      case 'grow':
        return p.grow(step.kind, step.path, step.toKib)
      case 'attach':
        await p.attach(step.path)
        return
      case 'resizeDevice':
        return p.resizeDevice(step.device)
      case 'detach':
        return p.detach(step.path, step.device)
      case 'remove':
        return p.remove(step.path)
    }
  }

  /** Whether any of `volumes`' devices is held open. */
  async inUse(volumes: readonly VolumeFacts[]): Promise<boolean> {
    const held = await Promise.all(volumes.map((v) => (v.device === undefined ? false : this.#provider(v.kind).inUse(v.device))))
    return held.includes(true)
  }

  /** Free and total space of `pool`, or undefined where it has none (DISKLESS). */
  async space(pool: StorPoolDesired): Promise<PoolSpace | undefined> {
    const ref: PoolRef = { name: pool.name, kind: pool.providerKind, props: pool.props }
    const p = this.#provider(pool.providerKind)
    return p.space(ref, await p.checkPool(ref))
  }

  #provider(kind: ProviderKind): Provider {
    const p = this.#providers.get(kind)
    if (p === undefined) throw new TerminalError(`provider ${kind} is not supported by this satellite`)
    return p
  }
}
