/**
 * Volume definitions: /v1/resource-definitions/{resource}/volume-definitions… (LINSTOR
 * VolumeDefinitions.java, CtrlVlmDfnApiCallHandler, CtrlVlmDfnModifyApiCallHandler,
 * CtrlVlmDfnDeleteApiCallHandler). A volume definition gives every resource of its definition one
 * volume of its size; creating one while resources exist adds the volume to each of them, deleting one
 * takes it away from each (two-phase while resources exist, as LINSTOR).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { ApiError, rcEntry, WARN, type ApiCallRc } from '../../common/errors.js'
import { checkName, nameKey } from '../../common/names.js'
import { MINOR_NR_LIMITS } from '../alloc/allocators.js'
import type { Core } from '../core.js'
import type { Tx } from '../db/tx.js'
import type { Reply, Router } from '../http/router.js'
import { DFLT_DISKLESS_STOR_POOL, DFLT_STOR_POOL, type Model } from '../model/model.js'
import { modifyProps, resolveProp } from '../model/props.js'
import type { ProviderKind, Props, Resource, RscDfn, VlmDfn, Volume } from '../model/types.js'
import { changed, oneOrList } from './_reply.js'
import { obj, optInt, optProps, optStr, optStrArray, page, propsModify, type Body } from './_input.js'
import { requireRscDfn, sortedVlmDfns, vlmDfnJson, vlmSizeLimits } from './resource-definitions.js'
import { isDiskless, notConnectedWarnings, satelliteConnected, withFlag } from './_resources.js'

/** LINSTOR's VolumeNumber range: DRBD volume numbers, 65535 being reserved by the DRBD protocol. */
export const VLM_NR_MIN = 0
export const VLM_NR_MAX = 65534

const PROP_STOR_POOL_NAME = 'StorPoolName'
const PROP_EXACT_SIZE = 'DrbdOptions/ExactSize'
/** Initial DRBD generation id, read by the satellite for thin provisioning (LINSTOR sets it unprefixed). */
const PROP_CURRENT_GI = 'DrbdCurrentGi'

/** Providers that allocate the full size up front: growing needs known free space (LINSTOR usesThinProvisioning). */
const THICK_PROVIDERS: ReadonlySet<ProviderKind> = new Set(['LVM', 'ZFS', 'FILE'])
/** Layers that cannot shrink a volume (LINSTOR DeviceLayerKind.isShrinkingSupported). */
const NO_SHRINK_LAYERS: ReadonlySet<string> = new Set(['DRBD', 'NVME'])
/** Flags a client may set at creation (ENCRYPTED needs a master key, which Blockyard has none of yet). */
const CREATE_FLAGS = ['GROSS_SIZE', 'ENCRYPTED']

export function registerVolumeDefinitionApi(r: Router, core: Core): void {
  const VD = { obj: 'VLM_DFN' } as const
  const base = '/v1/resource-definitions/{resource}/volume-definitions'

  r.get(base, (req) => {
    const rd = requireRscDfn(core.model, req.params['resource']!)
    return { status: 200, body: page(sortedVlmDfns(rd), req.query).map((vd) => vlmDfnJson(rd, vd)) }
  }, VD)

  r.get(`${base}/{volume_number}`, (req) => {
    const rd = requireRscDfn(core.model, req.params['resource']!)
    const vlmNr = vlmNrParam(req.params['volume_number']!)
    const vd = rd.vlmDfns.find((x) => x.vlmNr === vlmNr)
    return oneOrList(vd === undefined ? [] : [vlmDfnJson(rd, vd)], true, 'ERR_NOT_FOUND_VLM_DFN', { rsc: rd.name, vlmNr })
  }, VD)

  r.post(base, async (req) => {
    const rscName = checkName('rsc', req.params['resource']!)
    const b = obj(req.body)
    const vb = obj(b['volume_definition'], 'volume_definition')
    const vlmNrIn = vlmNrField(vb)
    const sizeIn = vb['size_kib']
    if (sizeIn === undefined || sizeIn === null) throw new ApiError('ERR_REQ_FIELD', { field: 'volume_definition.size_kib', problem: 'is required' })
    const props = optProps(vb, 'props', 'volume_definition.props') ?? {}
    modifyProps({}, { override: props }) // validates keys and values
    const flags = createFlags(vb)
    const minorIn = optInt(b, 'drbd_minor_number', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
    if (minorIn !== undefined && (minorIn < MINOR_NR_LIMITS.min || minorIn > MINOR_NR_LIMITS.max)) {
      throw new ApiError('ERR_MINOR_NR', { minor: minorIn, min: MINOR_NR_LIMITS.min, max: MINOR_NR_LIMITS.max })
    }
    // LINSTOR keeps passphrases and volume keys encrypted with the master key; without one it refuses.
    if (flags.includes('ENCRYPTED') || optStr(b, 'passphrase') !== undefined) throw new ApiError('ERR_NOT_FOUND_CRYPT_KEY')

    const out = await core.mutate((tx, m) => {
      const rd = requireRscDfn(m, rscName)
      const input: VlmDfnInput = { size: sizeIn, sizeField: 'volume_definition.size_kib', props, flags }
      if (vlmNrIn !== undefined) input.vlmNr = vlmNrIn
      if (minorIn !== undefined) input.minor = minorIn
      const { vd, warnings } = createVlmDfn(tx, m, rd, input)
      return { rsc: rd.name, vlmNr: vd.vlmNr, warnings }
    })
    return changed('CRT', 'VLM_DFN', `New volume definition with number '${out.vlmNr}' of resource definition '${out.rsc}' created.`, { RscDfn: out.rsc, VlmNr: String(out.vlmNr) }, out.warnings)
  }, { op: 'CRT', ...VD })

  r.put(`${base}/{volume_number}`, async (req) => {
    const rscName = checkName('rsc', req.params['resource']!)
    const vlmNr = vlmNrParam(req.params['volume_number']!)
    const b = obj(req.body)
    const mod = propsModify(b)
    const sizeIn = b['size_kib'] ?? undefined
    const gross = grossFlagChange(b)
    const out = await core.mutate((tx, m) => {
      const rd = requireRscDfn(m, rscName)
      const vd = requireVlmDfn(rd, vlmNr)
      const rscs = [...m.resourcesOf(rd.name)]
      const warnings: ApiCallRc[] = []
      const { props, unsetKeys } = modifyProps(vd.props, mod)

      let flags = vd.flags
      if (gross === true && !flags.includes('GROSS_SIZE')) {
        // The net size shrinks when the size starts counting DRBD's metadata.
        if (rscs.some((x) => x.volumes.some((v) => v.vlmNr === vlmNr))) ensureShrinkable(rd, rscs)
        flags = [...flags, 'GROSS_SIZE']
      } else if (gross === false) flags = flags.filter((f) => f !== 'GROSS_SIZE')

      let sizeKib = vd.sizeKib
      if (sizeIn !== undefined) {
        const wanted = sizeKibFrom(sizeIn, 'size_kib', vlmSizeLimits(rd.layerStack))
        if (wanted < vd.sizeKib) ensureShrinkable(rd, rscs)
        else if (wanted === vd.sizeKib) {
          warnings.push(rcEntry(WARN.VLMDFN_RESIZE_SAME_SIZE, 'VolumeDefinition already has the expected size, no satellite update will be triggered.', 'MOD', 'VLM_DFN'))
        } else {
          ensureFreeSpace(m, rd, rscs, vlmNr, wanted - vd.sizeKib)
          if ((rd.props[PROP_EXACT_SIZE] ?? '').toLowerCase() === 'true') {
            throw new ApiError('ERR_PROP_INVALID', { key: PROP_EXACT_SIZE, problem: 'a volume definition must not be resized while the resource definition has it set' }, { correction: `Delete the property '${PROP_EXACT_SIZE}' of resource definition '${rd.name}' first.` })
          }
        }
        sizeKib = wanted
      }

      // Satellites converge on the desired size (DESIGN.md §2.4): no RESIZE flags to hand around.
      vd.props = props
      vd.flags = flags
      vd.sizeKib = sizeKib
      m.putRscDfn(tx, rd)
      for (const k of unsetKeys) warnings.push(rcEntry(WARN.DEL_UNSET_PROP, `Property '${k}' was not set.`, 'MOD', 'VLM_DFN'))
      warnings.push(...notConnectedWarnings(m, rscs, 'MOD', 'VLM_DFN'))
      return { rsc: rd.name, uuid: vd.uuid, warnings }
    })
    return changed('MOD', 'VLM_DFN', `Volume definition with number '${vlmNr}' of resource definition '${out.rsc}' modified.`, { RscDfn: out.rsc, VlmNr: String(vlmNr), UUID: out.uuid }, out.warnings)
  }, { op: 'MOD', ...VD })

  r.delete(`${base}/{volume_number}`, async (req) => {
    const rscName = checkName('rsc', req.params['resource']!)
    const vlmNr = vlmNrParam(req.params['volume_number']!)
    return core.mutate((tx, m): Reply => {
      const rd = requireRscDfn(m, rscName)
      const refs = { RscDfn: rd.name, VlmNr: String(vlmNr) }
      const vd = rd.vlmDfns.find((x) => x.vlmNr === vlmNr)
      // As LINSTOR: deleting what is not there is a warning, not an error.
      if (vd === undefined) {
        return { status: 200, body: [rcEntry(WARN.NOT_FOUND, `Volume definition with number '${vlmNr}' of resource definition '${rd.name}' not found.`, 'DEL', 'VLM_DFN', { obj_refs: refs })] }
      }
      const rscs = [...m.resourcesOf(rd.name)]
      const what = `Volume definition with number '${vlmNr}' of resource definition '${rd.name}'`
      const waiting = rscs.filter((rsc) => satelliteConnected(m, rsc.nodeName) && rsc.volumes.some((v) => v.vlmNr === vlmNr))
      if (waiting.length === 0) {
        purgeVlmDfn(tx, m, rd, vd)
        return changed('DEL', 'VLM_DFN', `${what} deleted.`, { ...refs, UUID: vd.uuid }, notConnectedWarnings(m, rscs, 'DEL', 'VLM_DFN'))
      }
      // Two-phase, as for resources (_resources.deleteResource): connected satellites remove the volume
      // first; their confirmation removes it, and with the last one, the definition (purgeVlmDfn).
      vd.flags = withFlag(vd.flags, 'DELETE')
      m.putRscDfn(tx, rd)
      for (const rsc of rscs) {
        if (!waiting.includes(rsc)) {
          rsc.volumes = rsc.volumes.filter((v) => v.vlmNr !== vlmNr)
          m.putResource(tx, rsc)
          continue
        }
        const vlm = rsc.volumes.find((v) => v.vlmNr === vlmNr)!
        vlm.flags = withFlag(vlm.flags, 'DELETE')
        m.putResource(tx, rsc)
      }
      return changed('DEL', 'VLM_DFN', `${what} marked for deletion.`, { ...refs, UUID: vd.uuid }, notConnectedWarnings(m, rscs, 'DEL', 'VLM_DFN'))
    })
  }, { op: 'DEL', ...VD })
}

/** A new volume definition as read from a request: each field checked on its own, none against the model. */
export interface VlmDfnInput {
  /** Volume number; the lowest free one when absent. */
  vlmNr?: number
  /** Size in KiB as the request gave it; checked against the definition's layer stack. */
  size: unknown
  /** The size's field name in the request, for error messages. */
  sizeField: string
  /** Checked properties (keys and values). */
  props: Props
  /** Checked creation flags (GROSS_SIZE, ENCRYPTED). */
  flags: string[]
  /** Requested DRBD minor, inside LINSTOR's minor limits. */
  minor?: number
}

/** A volume definition checked by {@link checkNewVlmDfn}, ready for {@link addVlmDfn}. */
export interface NewVlmDfn {
  vd: VlmDfn
  minor?: number
  /** Resources that get a volume for it, with the storage pool of each. */
  targets: Resource[]
  pools: string[]
  warnings: ApiCallRc[]
}

/**
 * Checks a new volume definition of `rd` against the model and builds it, without adding it: the size
 * against the definition's layer stack, the volume number, the requested minor, and a storage pool for
 * the volume of every resource of the definition. `rd` need not be in the model yet (spawn checks the
 * volumes of a definition it has not added).
 *
 * @throws ApiError ERR_RSC_STATE (definition being deleted), ERR_REQ_FIELD / ERR_VLM_SIZE (size),
 *   ERR_EXISTS_VLM_DFN, ERR_POOL_EXHAUSTED_VLM_NR, ERR_MINOR_NR_IN_USE, ERR_MINOR_NR, ERR_NOT_FOUND_VLM_STOR_POOL
 */
export function checkNewVlmDfn(m: Model, rd: RscDfn, input: VlmDfnInput): NewVlmDfn {
  if (rd.flags.includes('DELETE')) {
    throw new ApiError('ERR_RSC_STATE', { problem: `Resource definition '${rd.name}' is being deleted` }, { correction: 'Wait until its deletion has finished, or use another resource definition.' })
  }
  const sizeKib = sizeKibFrom(input.size, input.sizeField, vlmSizeLimits(rd.layerStack))
  const vlmNr = input.vlmNr ?? freeVlmNr(m, rd)
  if (rd.vlmDfns.some((x) => x.vlmNr === vlmNr)) throw new ApiError('ERR_EXISTS_VLM_DFN', { vlmNr, rsc: rd.name })
  const warnings: ApiCallRc[] = []
  if (input.minor !== undefined && rd.drbd === null) {
    warnings.push(rcEntry(WARN.NO_EFFECT, 'drbd_minor_number ignored: the layer stack has no DRBD.', 'CRT', 'VLM_DFN'))
  } else if (input.minor !== undefined) checkMinorFree(m, input.minor)
  const { props } = input
  const vd: VlmDfn = {
    vlmNr,
    sizeKib,
    props: { ...props, ...(props[PROP_CURRENT_GI] === undefined ? { [PROP_CURRENT_GI]: randomGid() } : {}) },
    flags: input.flags,
    minor: null,
    uuid: randomUUID(),
  }
  // Every resource gets the new volume (those being deleted excepted: they are going away).
  const targets = [...m.resourcesOf(rd.name)].filter((x) => !x.flags.includes('DELETE'))
  const pools = targets.map((rsc) => storPoolForNewVolume(m, rd, vd, rsc))
  warnings.push(...notConnectedWarnings(m, targets, 'CRT', 'VLM_DFN'))
  const out: NewVlmDfn = { vd, targets, pools, warnings }
  if (input.minor !== undefined && rd.drbd !== null) out.minor = input.minor
  return out
}

/**
 * Adds a volume definition checked by {@link checkNewVlmDfn} to `rd` (which must be in the model by
 * now) and its volume to every resource. As LINSTOR, a DRBD volume definition holds its minor from
 * creation on (the requested one, else the lowest free one); allocating it is the only step that may
 * still fail (pool exhausted), and the Model rolls the allocator back then.
 */
export function addVlmDfn(tx: Tx, m: Model, rd: RscDfn, nv: NewVlmDfn): void {
  const { vd } = nv
  if (rd.drbd !== null) vd.minor = m.allocMinor(nv.minor)
  rd.vlmDfns = sortedVlmDfns({ ...rd, vlmDfns: [...rd.vlmDfns, vd] })
  m.putRscDfn(tx, rd)
  nv.targets.forEach((rsc, i) => {
    const vlm: Volume = { vlmNr: vd.vlmNr, storPoolName: nv.pools[i]!, props: {}, flags: [], uuid: randomUUID() }
    rsc.volumes = [...rsc.volumes, vlm].sort((a, b) => a.vlmNr - b.vlmNr)
    m.putResource(tx, rsc)
  })
}

/** {@link checkNewVlmDfn}, then {@link addVlmDfn}: a new volume definition of `rd` and its warnings. */
export function createVlmDfn(tx: Tx, m: Model, rd: RscDfn, input: VlmDfnInput): { vd: VlmDfn; warnings: ApiCallRc[] } {
  const nv = checkNewVlmDfn(m, rd, input)
  addVlmDfn(tx, m, rd, nv)
  return { vd: nv.vd, warnings: nv.warnings }
}

/**
 * Removes a volume definition from its resource definition, releasing its DRBD minor, and the matching
 * volume from any resource that still has one (none, once the satellites have confirmed their deletion).
 */
export function purgeVlmDfn(tx: Tx, m: Model, rd: RscDfn, vd: VlmDfn): void {
  m.releaseVlmDfn(vd)
  rd.vlmDfns = rd.vlmDfns.filter((x) => x !== vd)
  m.putRscDfn(tx, rd)
  for (const rsc of m.resourcesOf(rd.name)) {
    if (!rsc.volumes.some((v) => v.vlmNr === vd.vlmNr)) continue
    rsc.volumes = rsc.volumes.filter((v) => v.vlmNr !== vd.vlmNr)
    m.putResource(tx, rsc)
  }
}

/** The volume definition `vlmNr` of `rd`, or ERR_NOT_FOUND_VLM_DFN. */
export function requireVlmDfn(rd: RscDfn, vlmNr: number): VlmDfn {
  const vd = rd.vlmDfns.find((x) => x.vlmNr === vlmNr)
  if (vd === undefined) throw new ApiError('ERR_NOT_FOUND_VLM_DFN', { rsc: rd.name, vlmNr })
  return vd
}

function vlmNrParam(v: string): number {
  if (!/^\d{1,6}$/.test(v) || Number(v) > VLM_NR_MAX) throw new ApiError('ERR_VLM_NR', { vlmNr: v.slice(0, 20) })
  return Number(v)
}

function vlmNrField(vb: Body): number | undefined {
  const v = optInt(vb, 'volume_number', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'volume_definition.volume_number')
  if (v !== undefined && (v < VLM_NR_MIN || v > VLM_NR_MAX)) throw new ApiError('ERR_VLM_NR', { vlmNr: v })
  return v
}

/**
 * A size in KiB: a number or a numeric string (LINSTOR's clients send both). Something that is no
 * number at all is a malformed field; a number that is no whole KiB count in range is ERR_VLM_SIZE.
 */
function sizeKibFrom(v: unknown, field: string, limits: { min: number; max: number }): number {
  const n = typeof v === 'string' && /^\s*[-+]?\d+(\.\d+)?(e[-+]?\d+)?\s*$/i.test(v) ? Number(v) : v
  if (typeof n !== 'number' || Number.isNaN(n)) throw new ApiError('ERR_REQ_FIELD', { field, problem: 'must be a number of KiB' })
  const params = { size: String(v).slice(0, 40), min: limits.min, max: limits.max }
  if (!Number.isFinite(n) || !Number.isInteger(n)) throw new ApiError('ERR_VLM_SIZE', { ...params, problem: 'not a whole number of KiB' })
  if (n < limits.min) throw new ApiError('ERR_VLM_SIZE', { ...params, problem: `below the minimum of ${limits.min} KiB` })
  if (n > limits.max) throw new ApiError('ERR_VLM_SIZE', { ...params, problem: `above the maximum of ${limits.max} KiB` })
  return n
}

function createFlags(vb: Body): string[] {
  const given = optStrArray(vb, 'flags', 'volume_definition.flags') ?? []
  const out: string[] = []
  for (const f of given) {
    const flag = f.trim().toUpperCase()
    if (!CREATE_FLAGS.includes(flag)) {
      throw new ApiError('ERR_REQ_FIELD', { field: 'volume_definition.flags', problem: `'${f.slice(0, 40)}' cannot be set; allowed: ${CREATE_FLAGS.join(', ')}` })
    }
    if (!out.includes(flag)) out.push(flag)
  }
  return out
}

/** The GROSS_SIZE change of a modify (`GROSS_SIZE` sets it, `-GROSS_SIZE` clears it), if any. */
function grossFlagChange(b: Body): boolean | undefined {
  let gross: boolean | undefined
  for (const f of optStrArray(b, 'flags') ?? []) {
    const flag = f.trim().toUpperCase()
    if (flag === 'GROSS_SIZE') gross = true
    else if (flag === '-GROSS_SIZE') gross = false
    else throw new ApiError('ERR_REQ_FIELD', { field: 'flags', problem: `'${f.slice(0, 40)}' cannot be changed; only GROSS_SIZE or -GROSS_SIZE` })
  }
  return gross
}

/**
 * The lowest volume number used neither by a volume definition nor by a snapshot of the definition
 * (LINSTOR avoids the latter so that restoring a snapshot is never ambiguous).
 */
function freeVlmNr(m: Model, rd: RscDfn): number {
  const used = new Set(rd.vlmDfns.map((x) => x.vlmNr))
  for (const sd of m.snapshotDfnsOf(rd.name)) for (const sv of sd.vlmDfns) used.add(sv.vlmNr)
  for (let n = VLM_NR_MIN; n <= VLM_NR_MAX; n++) if (!used.has(n)) return n
  throw new ApiError('ERR_POOL_EXHAUSTED_VLM_NR', { rsc: rd.name })
}

/**
 * A requested minor must be free and inside MinorNrAutoRange (LINSTOR takes any free minor; the Model's
 * allocator hands out a requested number only within its range, and silently another one outside).
 */
function checkMinorFree(m: Model, minor: number): void {
  for (const rd of m.rscDfns.values()) {
    const vd = rd.vlmDfns.find((x) => x.minor === minor)
    if (vd !== undefined) throw new ApiError('ERR_MINOR_NR_IN_USE', { minor, vlmNr: vd.vlmNr, rsc: rd.name })
  }
  const range = m.alloc.minors.range
  if (minor < range.min || minor > range.max) throw new ApiError('ERR_MINOR_NR', { minor, min: range.min, max: range.max })
}

/**
 * The storage pool of a resource's new volume, as LINSTOR's CtrlStorPoolResolveHelper: the
 * `StorPoolName` property (resource → volume definition → resource definition → group → node); else the
 * pool the resource's other volumes use; else, for a diskful resource, a pool its diskful peers use,
 * then DfltStorPool; for a diskless one DfltDisklessStorPool. The pool must exist on the node.
 */
function storPoolForNewVolume(m: Model, rd: RscDfn, vd: VlmDfn, rsc: Resource): string {
  const missing = (pool: string): ApiError => new ApiError('ERR_NOT_FOUND_VLM_STOR_POOL', { pool, rsc: rd.name, vlmNr: vd.vlmNr, node: rsc.nodeName })
  const chain: (Props | undefined)[] = [rsc.props, vd.props, rd.props, m.getRscGrp(rd.rscGrpName)?.props, m.getNode(rsc.nodeName)?.props]
  const named = resolveProp(PROP_STOR_POOL_NAME, chain)
  if (named !== undefined && named !== '') {
    const sp = m.getStorPool(rsc.nodeName, named)
    if (sp === undefined) throw missing(named)
    return sp.name
  }
  const own = [...rsc.volumes].sort((a, b) => a.vlmNr - b.vlmNr)[0]
  if (own !== undefined) return own.storPoolName
  if (isDiskless(rsc)) {
    const sp = m.getStorPool(rsc.nodeName, DFLT_DISKLESS_STOR_POOL)
    if (sp === undefined) throw missing(DFLT_DISKLESS_STOR_POOL)
    return sp.name
  }
  const candidates: string[] = []
  for (const peer of m.resourcesOf(rd.name)) {
    if (peer === rsc || isDiskless(peer) || nameKey(peer.nodeName) === nameKey(rsc.nodeName)) continue
    for (const v of peer.volumes) {
      if (m.getStorPool(peer.nodeName, v.storPoolName)?.providerKind !== 'DISKLESS') candidates.push(v.storPoolName)
    }
  }
  candidates.push(DFLT_STOR_POOL)
  for (const name of candidates) {
    const sp = m.getStorPool(rsc.nodeName, name)
    if (sp !== undefined) return sp.name
  }
  throw missing(DFLT_STOR_POOL)
}

/** LINSTOR refuses to shrink when a resource has a layer that cannot (DRBD, NVME). */
function ensureShrinkable(rd: RscDfn, rscs: readonly Resource[]): void {
  for (const rsc of rscs) {
    const stack = rsc.layerStack.length > 0 ? rsc.layerStack : rd.layerStack
    const layer = stack.find((k) => NO_SHRINK_LAYERS.has(k))
    if (layer !== undefined) {
      throw new ApiError('ERR_VLM_SIZE', { size: 'smaller', problem: `shrinking volumes is not supported by layer '${layer}' (resource on node '${rsc.nodeName}')` }, { correction: 'Volumes with this layer can only grow in size.' })
    }
  }
}

/**
 * Growing needs the extra space in every thick pool holding the volume; LINSTOR takes a pool whose free
 * space was never reported as having none.
 */
function ensureFreeSpace(m: Model, rd: RscDfn, rscs: readonly Resource[], vlmNr: number, extraKib: number): void {
  const short: { pool: string; node: string; free: number }[] = []
  for (const rsc of rscs) {
    const vlm = rsc.volumes.find((v) => v.vlmNr === vlmNr)
    if (vlm === undefined) continue
    const sp = m.getStorPool(rsc.nodeName, vlm.storPoolName)
    if (sp === undefined || !THICK_PROVIDERS.has(sp.providerKind)) continue
    const free = m.runtime.storPools.get(`${nameKey(rsc.nodeName)}\0${nameKey(sp.name)}`)?.freeCapacityKib ?? 0
    if (free < extraKib) short.push({ pool: sp.name, node: rsc.nodeName, free })
  }
  const first = short[0]
  if (first !== undefined) {
    throw new ApiError('ERR_NOT_ENOUGH_SPACE', { pool: first.pool, node: first.node, need: extraKib, free: first.free }, {
      cause: `Cannot grow volume definition ${vlmNr} of '${rd.name}' by ${extraKib} KiB.`,
      details: short.map((s) => `Node: ${s.node}, StorPool: ${s.pool}, free: ${s.free} KiB`).join('\n'),
    })
  }
}

/**
 * A random DRBD generation id as LINSTOR's GidGenerator: 64 random bits with the primary bit (bit 0)
 * cleared, never one of DRBD's reserved values 0 and 4, in upper-case hex.
 */
function randomGid(): string {
  for (;;) {
    const gid = randomBytes(8).readBigUInt64BE() & ~1n
    if (gid !== 0n && gid !== 4n) return gid.toString(16).toUpperCase()
  }
}
