/**
 * An in-memory storage provider for reconcile tests without root: volumes are entries in a map, loop
 * devices are names. Failures can be injected per operation.
 */
import type { ProviderKind } from '../../src/proto/messages.js'
import { TerminalError } from '../../src/satellite/reconcile/errors.js'
import type { PoolRef, PoolSpace, Provider, VolumeFacts } from '../../src/satellite/providers/provider.js'

export interface FakeVolume {
  kind: ProviderKind
  sizeKib: number
  device?: string
  deviceSizeKib?: number
  held?: boolean
}

export type FakeOp = 'checkPool' | 'observe' | 'create' | 'grow' | 'attach' | 'resizeDevice' | 'detach' | 'remove' | 'inUse' | 'space'

export class FakeProvider implements Provider {
  readonly kinds: readonly ProviderKind[] = ['FILE', 'FILE_THIN']
  /** path → volume */
  readonly volumes = new Map<string, FakeVolume>()
  /** Directories that exist. */
  readonly dirs = new Set<string>()
  readonly calls: string[] = []
  /** Errors to throw, once each, per operation. */
  readonly failures = new Map<FakeOp, unknown[]>()
  /** When set, attach does nothing (a kernel that ignores us: the pass cannot converge). */
  ignoreAttach = false
  #nextLoop = 0

  fail(op: FakeOp, err: unknown, times = 1): void {
    const list = this.failures.get(op) ?? []
    for (let i = 0; i < times; i++) list.push(err)
    this.failures.set(op, list)
  }

  #maybeFail(op: FakeOp): void {
    const list = this.failures.get(op)
    if (list !== undefined && list.length > 0) throw list.shift()
  }

  async checkPool(pool: PoolRef): Promise<string> {
    this.#maybeFail('checkPool')
    const dir = pool.props['StorDriver/StorPoolName']
    if (dir === undefined || !this.dirs.has(dir)) {
      const cause = Object.assign(new Error(`ENOENT: no such file or directory, stat '${dir}'`), { code: 'ENOENT', errno: -2, syscall: 'stat', path: dir })
      throw new TerminalError(`storage pool '${pool.name}': directory ${dir} is not usable: ${cause.message}`, { cause })
    }
    return dir
  }

  volumePath(location: string, rscName: string, number: number): string {
    return `${location}/${rscName}_${String(number).padStart(5, '0')}.img`
  }

  async observe(_pool: PoolRef, location: string, rscName: string): Promise<VolumeFacts[]> {
    this.#maybeFail('observe')
    const out: VolumeFacts[] = []
    for (const [path, v] of this.volumes) {
      const m = /\/([^/]+)_(\d{5})\.img$/.exec(path)
      if (!path.startsWith(location + '/') || m?.[1] !== rscName) continue
      out.push({ number: Number(m[2]), kind: v.kind, path, sizeKib: v.sizeKib, allocatedKib: v.kind === 'FILE' ? v.sizeKib : 0, ...(v.device !== undefined ? { device: v.device, deviceSizeKib: v.deviceSizeKib! } : {}) })
    }
    return out
  }

  async create(kind: ProviderKind, path: string, sizeKib: number): Promise<void> {
    this.calls.push(`create ${path} ${sizeKib}`)
    this.#maybeFail('create')
    const v = this.volumes.get(path)
    if (v === undefined) this.volumes.set(path, { kind, sizeKib })
    else v.sizeKib = Math.max(v.sizeKib, sizeKib)
  }

  async grow(_kind: ProviderKind, path: string, sizeKib: number): Promise<void> {
    this.calls.push(`grow ${path} ${sizeKib}`)
    this.#maybeFail('grow')
    this.volumes.get(path)!.sizeKib = sizeKib
  }

  async attach(path: string): Promise<string> {
    this.calls.push(`attach ${path}`)
    this.#maybeFail('attach')
    const device = `/dev/loop${this.#nextLoop++}`
    if (this.ignoreAttach) return device
    const v = this.volumes.get(path)!
    v.device = device
    v.deviceSizeKib = v.sizeKib
    return device
  }

  async resizeDevice(device: string): Promise<void> {
    this.calls.push(`resizeDevice ${device}`)
    this.#maybeFail('resizeDevice')
    for (const v of this.volumes.values()) if (v.device === device) v.deviceSizeKib = v.sizeKib
  }

  async detach(path: string, device: string): Promise<void> {
    this.calls.push(`detach ${device}`)
    this.#maybeFail('detach')
    const v = this.volumes.get(path)!
    delete v.device
    delete v.deviceSizeKib
  }

  async remove(path: string): Promise<void> {
    this.calls.push(`remove ${path}`)
    this.#maybeFail('remove')
    this.volumes.delete(path)
  }

  async inUse(device: string): Promise<boolean> {
    this.#maybeFail('inUse')
    return [...this.volumes.values()].some((v) => v.device === device && v.held === true)
  }

  async space(_pool: PoolRef, location: string): Promise<PoolSpace> {
    this.#maybeFail('space')
    const used = [...this.volumes].filter(([p]) => p.startsWith(location + '/')).reduce((s, [, v]) => s + v.sizeKib, 0)
    return { totalKib: 1_000_000, freeKib: 1_000_000 - used }
  }
}
