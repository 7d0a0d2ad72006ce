/**
 * LVM and LVM_THIN (LINSTOR's LvmProvider / LvmThinProvider): a volume is the logical volume
 * `<rsc>_<vlmNr as 5 digits>` in the pool's VG — thick for LVM, a thin volume of the pool's thin
 * pool for LVM_THIN — and its block device is `/dev/<vg>/<lv>`, which is also its path. The pool's
 * `StorDriver/StorPoolName` is `vg` (LVM) or `vg/thinpool` (LVM_THIN).
 *
 * Observation costs one LVM report per VG however many resources look at once: a report already
 * running (or just finished) is shared by every caller that arrives meanwhile, as long as no change
 * to that VG has finished since it started (a resource's own changes finish before its next observation, so it
 * always sees them). Changes of one VG run one at a time (sys/lvm.ts `Lvm.change`).
 *
 * Adoption: LVs are found by name; a create that finds its LV made already (by an interrupted pass,
 * or by hand) keeps it and grows it when smaller.
 */
import { logger } from '../../common/log.js'
import type { ProviderKind } from '../../proto/messages.js'
import { TerminalError } from '../reconcile/errors.js'
import { assertLvmName, Lvm, LvmCommandError, lvmNameProblem, openLvm, reportRows, type LvmRunner, type ReportRow } from '../sys/lvm.js'
import { waitForDevice } from '../sys/uevent.js'
import { SharedRead } from './_shared-read.js'
import { volumeName, withDevice, type PoolRef, type PoolSpace, type Provider, type VolumeFacts } from './provider.js'

/** The pool property naming the VG (LVM) or `vg/thinpool` (LVM_THIN), as LINSTOR stores it. */
export const POOL_NAME_KEY = 'StorDriver/StorPoolName'

/** Fields of the one report per VG: the VG's, and every LV's (one row per LV). */
const FIELDS = ['vg_name', 'vg_size', 'vg_free', 'vg_extent_size', 'lv_name', 'lv_size', 'lv_attr', 'pool_lv', 'data_percent']
const VG_FIELDS = FIELDS.slice(0, 4)

const log = logger('satellite.lvm')

const VOLUME_LV = /^(.+)_(\d{5})$/

/** Where a pool lives: its VG, and for LVM_THIN its thin pool. */
export interface LvmLocation {
  vg: string
  thinPool?: string
}

/** Parses a pool's `StorDriver/StorPoolName`; throws a TerminalError naming what is wrong. */
export function parsePoolName(pool: PoolRef): LvmLocation {
  const value = pool.props[POOL_NAME_KEY]
  const what = `storage pool '${pool.name}' (${pool.kind})`
  if (value === undefined || value === '') throw new TerminalError(`${what} has no volume group: its property ${POOL_NAME_KEY} is not set`)
  const parts = value.split('/')
  const expected = pool.kind === 'LVM_THIN' ? 2 : 1
  if (parts.length !== expected) {
    throw new TerminalError(`${what}: ${POOL_NAME_KEY} must be ${pool.kind === 'LVM_THIN' ? "'<vg>/<thin pool>'" : "a volume group name"}, got '${value}'`)
  }
  for (const p of parts) {
    const problem = lvmNameProblem(p)
    if (problem !== null) throw new TerminalError(`${what}: ${POOL_NAME_KEY} '${value}': the name '${p}' ${problem}`)
  }
  return pool.kind === 'LVM_THIN' ? { vg: parts[0]!, thinPool: parts[1]! } : { vg: parts[0]! }
}

/** The location string of a pool (what checkPool returns): `vg` or `vg/thinpool`. */
function locationString(loc: LvmLocation): string {
  return loc.thinPool === undefined ? loc.vg : `${loc.vg}/${loc.thinPool}`
}

function parseLocation(location: string): LvmLocation {
  const [vg, thinPool] = location.split('/')
  return thinPool === undefined ? { vg: vg! } : { vg: vg!, thinPool }
}

/** `/dev/<vg>/<lv>` → its VG and LV. */
export function parseLvPath(path: string): { vg: string; lv: string } {
  const m = /^\/dev\/([^/]+)\/([^/]+)$/.exec(path)
  if (m === null) throw new RangeError(`not an LV path: ${path}`)
  assertLvmName('VG', m[1]!)
  assertLvmName('LV', m[2]!)
  return { vg: m[1]!, lv: m[2]! }
}

/** One VG as its report shows it. */
export interface VgReport {
  sizeKib: number
  freeKib: number
  /** LVM gives every LV (thin ones too) a whole number of extents of this size. */
  extentKib: number
  /** LVs by name. */
  lvs: Map<string, LvRow>
}

export interface LvRow {
  name: string
  sizeKib: number
  /** lv_attr: [0] type ('t' thin pool, 'V' thin volume, '-' plain), [4] 'a' active, [5] 'o' open. */
  attr: string
  /** The thin pool of a thin volume, '' otherwise. */
  pool: string
  /** Thin pools and volumes: the share of their size with data, percent; 0 otherwise. */
  dataPercent: number
}

const kib = (bytes: string): number => Math.floor(Number(bytes) / 1024)

/**
 * A VG from the rows of `vgs --reportformat json --units b --nosuffix -o <FIELDS>` (one row per LV;
 * none for a VG without LVs, whose own figures then come from `vgRows`).
 */
export function parseVgReport(rows: readonly ReportRow[], vgRows: readonly ReportRow[] = rows): VgReport {
  const head = vgRows[0]
  if (head === undefined) throw new SyntaxError('LVM report: no row for the VG')
  const lvs = new Map<string, LvRow>()
  for (const r of rows) {
    if ((r.lv_name ?? '') === '') continue
    lvs.set(r.lv_name!, {
      name: r.lv_name!,
      sizeKib: kib(r.lv_size ?? '0'),
      attr: r.lv_attr ?? '',
      pool: r.pool_lv ?? '',
      dataPercent: r.data_percent === undefined || r.data_percent === '' ? 0 : Number(r.data_percent),
    })
  }
  return { sizeKib: kib(head.vg_size ?? '0'), freeKib: kib(head.vg_free ?? '0'), extentKib: kib(head.vg_extent_size ?? '0'), lvs }
}

/** Whether `lv` belongs in the pool at `loc`: a thin volume of its thin pool, or a plain LV of its VG. */
function inPool(lv: LvRow, loc: LvmLocation): boolean {
  return loc.thinPool === undefined ? lv.attr[0] === '-' : lv.attr[0] === 'V' && lv.pool === loc.thinPool
}

/** Space the volume takes in its pool: all of a thick LV, the written share of a thin one (rounded up). */
export function allocatedKib(lv: LvRow): number {
  return lv.attr[0] === 'V' ? Math.ceil((lv.sizeKib * lv.dataPercent) / 100) : lv.sizeKib
}

/** Free and total space as LINSTOR reports them: the VG's for LVM; the thin pool's data for LVM_THIN. */
export function poolSpace(report: VgReport, loc: LvmLocation): PoolSpace {
  if (loc.thinPool === undefined) return { freeKib: report.freeKib, totalKib: report.sizeKib }
  const pool = report.lvs.get(loc.thinPool)
  if (pool === undefined) throw new TerminalError(`thin pool ${loc.vg}/${loc.thinPool} does not exist`)
  return { freeKib: Math.floor((pool.sizeKib * (100 - pool.dataPercent)) / 100), totalKib: pool.sizeKib }
}

/** LVM's words for a VG or thin pool without room: retrying cannot help until someone frees space. */
const NO_SPACE = /insufficient free space|not enough free space|no free extents|thin pool .* is full|cannot create new thin volume, free space in thin pool/i

export interface LvmProviderOptions {
  /** The runner; default: liblvm2cmd in process, else the `lvm` tool (sys/lvm.ts `openLvm`). */
  runner?: LvmRunner
  /** How long to wait for an activated LV's device, ms (default 10 000). */
  deviceTimeoutMs?: number
}

export class LvmProvider implements Provider {
  readonly kinds: readonly ProviderKind[] = ['LVM', 'LVM_THIN']
  readonly #deviceTimeoutMs: number
  readonly #given: LvmRunner | undefined
  #lvm: Promise<Lvm> | null = null
  /** One VG report shared by the passes that ask at once (_shared-read.ts). */
  readonly #reports = new SharedRead<VgReport>((vg) => this.#runReport(vg))
  /**
   * The thin pool of each thin volume path named by volumePath: `create` gets only the path, and
   * `/dev/<vg>/<lv>` does not say which of the VG's thin pools it belongs to.
   */
  readonly #thinPoolOf = new Map<string, string>()

  constructor(options: LvmProviderOptions = {}) {
    this.#deviceTimeoutMs = options.deviceTimeoutMs ?? 10_000
    this.#given = options.runner
  }

  /** Opened on first use: a satellite without LVM pools never loads the library. */
  #getLvm(): Promise<Lvm> {
    return (this.#lvm ??= (this.#given !== undefined ? Promise.resolve(this.#given) : openLvm()).then((r) => new Lvm(r)))
  }

  async #runReport(vg: string): Promise<VgReport> {
    const lvm = await this.#getLvm()
    const args = ['--reportformat', 'json', '--units', 'b', '--nosuffix']
    let out
    try {
      out = await lvm.run(['vgs', ...args, '-o', FIELDS.join(','), vg])
    } catch (e) {
      if (e instanceof LvmCommandError && /not found/i.test(e.errors)) throw new TerminalError(`volume group ${vg} does not exist`, { cause: e })
      throw e
    }
    const rows = reportRows(out.report, 'vg')
    if (rows.length > 0) return parseVgReport(rows)
    // With LV fields, a VG without LVs has no row: its own figures take a second report.
    const vgOnly = await lvm.run(['vgs', ...args, '-o', VG_FIELDS.join(','), vg])
    return parseVgReport([], reportRows(vgOnly.report, 'vg'))
  }

  async #change(vg: string, argv: readonly string[]): Promise<void> {
    const lvm = await this.#getLvm()
    try {
      const out = await lvm.change(vg, argv)
      log.debug('lvm', { command: argv.join(' '), said: out.messages })
    } catch (e) {
      if (e instanceof LvmCommandError && NO_SPACE.test(e.errors)) throw new TerminalError(e.message, { cause: e })
      throw e
    } finally {
      this.#reports.changed(vg)
    }
  }

  async checkPool(pool: PoolRef): Promise<string> {
    const loc = parsePoolName(pool)
    const report = await this.#reports.get(loc.vg)
    if (loc.thinPool !== undefined) {
      const tp = report.lvs.get(loc.thinPool)
      if (tp === undefined || tp.attr[0] !== 't') {
        throw new TerminalError(`storage pool '${pool.name}' (${pool.kind}): ${loc.vg}/${loc.thinPool} ${tp === undefined ? 'does not exist' : 'is not a thin pool'}`)
      }
    }
    return locationString(loc)
  }

  /** LVM rounds an LV's size up to whole extents: desired sizes are compared with what it will make. */
  async allocationKib(location: string, sizeKib: number): Promise<number> {
    const { extentKib } = await this.#reports.get(parseLocation(location).vg)
    return extentKib > 0 ? Math.ceil(sizeKib / extentKib) * extentKib : sizeKib
  }

  volumePath(location: string, rscName: string, number: number): string {
    const loc = parseLocation(location)
    const lv = volumeName(rscName, number)
    assertLvmName('LV', lv)
    const path = `/dev/${loc.vg}/${lv}`
    if (loc.thinPool !== undefined) this.#thinPoolOf.set(path, loc.thinPool)
    return path
  }

  async observe(pool: PoolRef, location: string, rscName: string): Promise<VolumeFacts[]> {
    const loc = parseLocation(location)
    const report = await this.#reports.get(loc.vg)
    const found: Promise<VolumeFacts>[] = []
    for (const lv of report.lvs.values()) {
      const m = VOLUME_LV.exec(lv.name)
      if (m === null || m[1] !== rscName || !inPool(lv, loc)) continue
      found.push(this.#facts(pool.kind, loc.vg, lv, Number(m[2])))
    }
    return Promise.all(found)
  }

  async #facts(kind: ProviderKind, vg: string, lv: LvRow, number: number): Promise<VolumeFacts> {
    const path = `/dev/${vg}/${lv.name}`
    const facts: VolumeFacts = { number, kind, path, sizeKib: lv.sizeKib, allocatedKib: allocatedKib(lv) }
    // Active: the node answers once udev made it (LVM waits for udev before it returns).
    return lv.attr[4] === 'a' ? withDevice(facts, path) : facts
  }

  async create(kind: ProviderKind, path: string, sizeKib: number): Promise<void> {
    const { vg, lv } = parseLvPath(path)
    let argv: string[]
    if (kind === 'LVM_THIN') {
      const thinPool = this.#thinPoolOf.get(path)
      if (thinPool === undefined) throw new Error(`${path}: which thin pool it belongs to is not known (volumePath did not name it)`)
      argv = ['lvcreate', '--virtualsize', `${sizeKib}k`, '--thinpool', thinPool, '--name', lv, '--yes', vg]
    } else {
      // --wipesignatures: a filesystem or DRBD signature left on the extents by an earlier LV must
      // not be found on the new one (LINSTOR passes -y for the same question).
      argv = ['lvcreate', '--size', `${sizeKib}k`, '--name', lv, '--wipesignatures', 'y', '--yes', vg]
    }
    try {
      await this.#change(vg, argv)
    } catch (e) {
      // Made already (an interrupted pass, or by hand): adopted, grown when smaller.
      const existing = (await this.#reports.get(vg)).lvs.get(lv)
      if (existing === undefined) throw e
      if (existing.sizeKib < sizeKib) await this.grow(kind, path, sizeKib)
    }
  }

  async grow(_kind: ProviderKind, path: string, sizeKib: number): Promise<void> {
    const { vg, lv } = parseLvPath(path)
    try {
      await this.#change(vg, ['lvextend', '--size', `${sizeKib}k`, `${vg}/${lv}`])
    } catch (e) {
      // "matches existing size" / "not larger": grown already by an earlier pass.
      const existing = (await this.#reports.get(vg)).lvs.get(lv)
      if (existing === undefined || existing.sizeKib < sizeKib) throw e
    }
  }

  async attach(path: string): Promise<string> {
    const { vg, lv } = parseLvPath(path)
    const row = (await this.#reports.get(vg)).lvs.get(lv)
    if (row === undefined) throw new Error(`${path} does not exist`)
    if (row.attr[4] !== 'a') await this.#change(vg, ['lvchange', '--activate', 'y', `${vg}/${lv}`])
    // LVM returns once udev made the node and link (or made them itself where no udev runs).
    await waitForDevice(path, this.#deviceTimeoutMs)
    return path
  }

  /** Nothing to do: lvextend resizes an active LV's device-mapper table itself. */
  async resizeDevice(_device: string): Promise<void> {}

  /**
   * Only refuses while the device is open: the LV's device goes with the LV in `remove`, and
   * deactivating it first would cost one more LVM command.
   */
  async detach(_path: string, device: string): Promise<void> {
    if (await this.inUse(device)) {
      const err: NodeJS.ErrnoException = new Error(`${device} is open (LVM's open count is not 0): it is removed once it is closed`)
      err.code = 'EBUSY'
      throw err
    }
  }

  async remove(path: string): Promise<void> {
    const { vg, lv } = parseLvPath(path)
    try {
      await this.#change(vg, ['lvremove', '--yes', `${vg}/${lv}`])
    } catch (e) {
      if ((await this.#reports.get(vg)).lvs.has(lv)) throw e // else: gone already
    }
  }

  /**
   * LVM's view: lv_attr's open flag (the device-mapper open count), from a report started now — an
   * open is no change of the VG, and a report of a moment ago misses it. Asked before a teardown only.
   */
  async inUse(device: string): Promise<boolean> {
    const { vg, lv } = parseLvPath(device)
    return (await this.#reports.get(vg, { fresh: true })).lvs.get(lv)?.attr[5] === 'o'
  }

  async space(_pool: PoolRef, location: string): Promise<PoolSpace> {
    const loc = parseLocation(location)
    return poolSpace(await this.#reports.get(loc.vg), loc)
  }

  /** Ends the in-process library handle (a runner given to the constructor is the caller's to close). */
  async close(): Promise<void> {
    if (this.#given === undefined && this.#lvm !== null) (await this.#lvm).runner.close()
  }
}
