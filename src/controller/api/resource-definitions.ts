/**
 * Resource definitions: /v1/resource-definitions… (LINSTOR ResourceDefinitions.java,
 * CtrlRscDfnApiCallHandler, CtrlRscDfnDeleteApiCallHandler). A definition names a replicated volume
 * set, carries its layer stack, its DRBD settings (peer slots, shared secret, transport, preferred
 * port) and its volume definitions; resources are its instances on nodes.
 *
 * Deletion is LINSTOR's two-phase one: a definition whose resources still exist is only marked DELETE,
 * with its resources and their volumes; the satellites' confirmation removes it later
 * ({@link purgeRscDfn}). Without resources it goes at once.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { ApiError, rcEntry, SUCCESS, WARN, type ApiCallRc } from '../../common/errors.js'
import type { Obj, Op } from '../../common/api-codes.js'
import { DRBD_DEFAULT_AL_STRIPE_SIZE_KIB, DRBD_DEFAULT_AL_STRIPES, DRBD_DEFAULT_PEERS, DRBD_MAX_KIB, DRBD_MAX_PEERS, DRBD_MIN_NET_KIB, DRBD_MIN_PEERS } from '../../common/drbd-md.js'
import { LAYER_KINDS, LayerStackError, parseLayerStack, validateLayerStack, type LayerKind } from '../../common/layer-stack.js'
import { checkName, nameKey } from '../../common/names.js'
import type { Core } from '../core.js'
import { deleteResource, isDiskless, notConnectedWarnings, withFlag } from './_resources.js'
import type { Tx } from '../db/tx.js'
import type { Reply, Router } from '../http/router.js'
import { DFLT_RSC_GRP, type Model } from '../model/model.js'
import { hasAllProps, modifyProps, resolveProp } from '../model/props.js'
import type { DrbdRscDfnData, Props, Resource, RscDfn, RscGrp, VlmDfn } from '../model/types.js'
import { changed, oneOrList } from './_reply.js'
import { awaitSatellites, withSatelliteOutcome, type WaitTarget } from '../satellites/wait.js'
import { autoWaitTargets, manageDrbdAuto, markUserQuorum, touchesDrbdAuto } from '../placement/drbd-auto.js'
import { obj, optInt, optProps, optStr, optStrArray, page, propsModify, queryList, type Body } from './_input.js'

/** LINSTOR's DRBD transport types (`DrbdRscDfnObject.TransportType`), in their JSON spelling. */
export const TRANSPORT_TYPES = ['IP', 'RDMA', 'RoCE'] as const
export type TransportType = (typeof TRANSPORT_TYPES)[number]

/** Bytes of randomness in a generated DRBD shared secret: base64 of 15 bytes is LINSTOR's 20 characters. */
const SECRET_BYTES = 15
/** DRBD's limit on `shared-secret` (SHARED_SECRET_MAX). */
const SECRET_MAX_CHARS = 64
/** Longest external name a resource name is generated from (LINSTOR ExternalNameConverter). */
const EXT_NAME_MAX_BYTES = 256
const RSC_NAME_MAX = 48
/** Prefix of names generated from a UUID (LINSTOR `ExternalNameConverter.UUID_NAME_PREFIX`). */
const UUID_NAME_PREFIX = 'LS_'

const PROP_PEER_SLOTS_NEW_RESOURCE = 'PeerSlotsNewResource'
const PROP_EXACT_SIZE = 'DrbdOptions/ExactSize'

export function registerResourceDefinitionApi(r: Router, core: Core): void {
  const RD = { obj: 'RSC_DFN' } as const

  r.get('/v1/resource-definitions', (req) => {
    const m = core.model
    const names = queryList(req.query, 'resource_definitions').map((n) => nameKey(checkName('rsc', n)))
    const want = names.length > 0 ? new Set(names) : null
    const props = queryList(req.query, 'props')
    const withVlmDfns = (req.query.get('with_volume_definitions') ?? '').toLowerCase() === 'true'
    const rds = sortedRscDfns(m).filter((rd) => (want === null || want.has(nameKey(rd.name))) && hasAllProps(rd.props, props))
    return { status: 200, body: page(rds, req.query).map((rd) => rscDfnJson(rd, withVlmDfns)) }
  }, RD)

  // LINSTOR's single GET never embeds volume definitions (listSingleResourceDefinition).
  r.get('/v1/resource-definitions/{resource}', (req) => {
    const name = checkName('rsc', req.params['resource']!)
    const rd = core.model.getRscDfn(name)
    return oneOrList(rd === undefined ? [] : [rscDfnJson(rd, false)], true, 'ERR_NOT_FOUND_RSC_DFN', { rsc: name })
  }, RD)

  r.post('/v1/resource-definitions', async (req) => {
    const input = createInput(obj(req.body))
    const { rd, warnings } = await core.mutate((tx, m) => createRscDfn(tx, m, input))
    return changed('CRT', 'RSC_DFN', `New resource definition '${rd.name}' created.`, { RscDfn: rd.name, UUID: rd.uuid }, warnings)
  }, { op: 'CRT', ...RD })

  r.put('/v1/resource-definitions/{resource}', async (req) => {
    const name = checkName('rsc', req.params['resource']!)
    const b = obj(req.body)
    const mod = propsModify(b)
    const port = optInt(b, 'drbd_port', 1, 65535)
    const peerSlots = peerSlotsFrom(b)
    const stackInput = optStrArray(b, 'layer_stack')
    // LINSTOR ignores an empty layer_stack on modify.
    const stack = stackInput !== undefined && stackInput.length > 0 ? layerStackFrom(stackInput, 'MOD') : null
    const rgName = optStr(b, 'resource_group')
    if (rgName !== undefined) checkName('rscGrp', rgName)
    const out = await core.mutate((tx, m) => {
      const rd = requireRscDfn(m, name)
      const rscs = [...m.resourcesOf(rd.name)]
      const warnings: ApiCallRc[] = [...(stack?.warnings ?? [])]

      // Validate everything first: nothing below may throw after the first assignment.
      const override = mod.override ?? {}
      if (PROP_EXACT_SIZE in override && override[PROP_EXACT_SIZE]!.toLowerCase() === 'true' && rscs.length > 0) {
        throw new ApiError('ERR_PROP_INVALID', { key: PROP_EXACT_SIZE, problem: `it cannot be set to True while there are currently deployed resources (${rscs.length})` }, { correction: 'Delete the resources first, or leave ExactSize unset.' })
      }
      const { props, unsetKeys } = modifyProps(rd.props, markUserQuorum(mod))

      let rg: RscGrp | undefined
      if (rgName !== undefined && nameKey(rgName) !== nameKey(rd.rscGrpName)) {
        rg = m.getRscGrp(rgName)
        if (rg === undefined) throw new ApiError('ERR_NOT_FOUND_RSC_GRP', { rscGrp: rgName })
      }

      let layerStack = rd.layerStack
      let drbd = rd.drbd
      if (stack !== null && !sameStack(stack.layers, rd.layerStack)) {
        if (rscs.length > 0) throw new ApiError('ERR_LAYER_STACK_IN_USE', { rsc: rd.name, count: rscs.length })
        layerStack = stack.layers
        const limits = vlmSizeLimits(layerStack)
        const tooBig = rd.vlmDfns.find((vd) => vd.sizeKib < limits.min || vd.sizeKib > limits.max)
        if (tooBig !== undefined) {
          throw new ApiError('ERR_VLM_SIZE', { size: tooBig.sizeKib, problem: `volume definition ${tooBig.vlmNr} is out of range for the layer stack ${layerStack.join(',')}`, min: limits.min, max: limits.max })
        }
        if (!needsDrbd(layerStack)) drbd = null
        else if (drbd === null) drbd = newDrbdData(m, rg ?? requireRscGrpOf(m, rd), props, {})
      }

      const drbdGiven = [...(port !== undefined ? ['drbd_port'] : []), ...(peerSlots !== undefined ? ['drbd_peer_slots'] : [])]
      if (drbd !== null && drbdGiven.length > 0) {
        if (peerSlots !== undefined) {
          const diskful = rscs.filter((x) => !isDiskless(x)).length
          // LINSTOR keeps one slot in reserve for the next resource (RscDrbdLayerHelper.checkPeerSlotCount).
          if (peerSlots + 1 < diskful - 1) throw new ApiError('ERR_PEER_SLOTS_INSUFFICIENT', { count: peerSlots, diskful, rsc: rd.name })
        }
        drbd = { ...drbd, ...(port !== undefined ? { port } : {}), ...(peerSlots !== undefined ? { peerSlots } : {}) }
      } else if (drbdGiven.length > 0) {
        warnings.push(noDrbdWarning(drbdGiven, 'MOD'))
      }

      // Volume definitions hold a DRBD minor exactly while the definition has DRBD data. Allocating is
      // the last step that may fail (pool exhausted); the Model rolls the allocator back then.
      if (drbd !== null) for (const vd of rd.vlmDfns) if (vd.minor === null) vd.minor = m.allocMinor()
      rd.props = props
      rd.layerStack = layerStack
      if (drbd === null) {
        for (const vd of rd.vlmDfns) {
          m.releaseVlmDfn(vd)
          vd.minor = null
        }
      }
      rd.drbd = drbd
      if (rg !== undefined) rd.rscGrpName = rg.name
      m.putRscDfn(tx, rd)
      // LINSTOR runs its tiebreaker and quorum helpers when the properties they read change.
      const auto = touchesDrbdAuto(mod) || rg !== undefined ? manageDrbdAuto(tx, m, rd) : undefined
      if (auto !== undefined) warnings.push(...auto.rcs)
      // LINSTOR also auto-places more replicas when the new group's place count asks for them; here the
      // group only changes, placing is left to an explicit auto-place call.
      for (const k of unsetKeys) warnings.push(rcEntry(WARN.DEL_UNSET_PROP, `Property '${k}' was not set.`, 'MOD', 'RSC_DFN'))
      warnings.push(...notConnectedWarnings(m, rscs, 'MOD', 'RSC_DFN'))
      return { name: rd.name, uuid: rd.uuid, warnings, waits: auto === undefined ? [] : autoWaitTargets(auto) }
    })
    const reply = changed('MOD', 'RSC_DFN', `Resource definition '${out.name}' modified.`, { RscDfn: out.name, UUID: out.uuid }, out.warnings)
    return withSatelliteOutcome(reply, await awaitSatellites(core, out.waits))
  }, { op: 'MOD', ...RD })

  r.delete('/v1/resource-definitions/{resource}', async (req) => {
    const name = checkName('rsc', req.params['resource']!)
    // Resources flagged DELETE on connected nodes: the reply waits for their satellites.
    const wait: { rd: string; targets: WaitTarget[] } = { rd: name, targets: [] }
    const reply = await core.mutate((tx, m): Reply => {
      const rd = m.getRscDfn(name)
      // LINSTOR answers a delete of something that is not there with a warning, not an error.
      if (rd === undefined) return { status: 200, body: [rcEntry(WARN.NOT_FOUND, `Resource definition '${name}' not found.`, 'DEL', 'RSC_DFN', { obj_refs: { RscDfn: name } })] }
      if ([...m.snapshotDfnsOf(rd.name)].length > 0) throw new ApiError('ERR_RSC_DFN_HAS_SNAPSHOTS', { rsc: rd.name })
      const refs = { RscDfn: rd.name, UUID: rd.uuid }
      const rscs = [...m.resourcesOf(rd.name)]
      // Resources on connected nodes wait for their satellites (two-phase); the others go now.
      const waiting = rscs.filter((rsc) => !deleteResource(tx, m, rsc))
      const warnings = notConnectedWarnings(m, rscs, 'DEL', 'RSC_DFN')
      if (waiting.length === 0) {
        // deleteResource already removed a definition that was marked before (a repeated delete).
        if (m.getRscDfn(rd.name) === rd) purgeRscDfn(tx, m, rd)
        return changed('DEL', 'RSC_DFN', `Resource definition '${rd.name}' deleted.`, refs, warnings)
      }
      // The last confirmation removes the definition too (see deleteResource).
      rd.flags = withFlag(rd.flags, 'DELETE')
      m.putRscDfn(tx, rd)
      wait.rd = rd.name
      wait.targets = waiting.map((x) => ({ rscName: x.rscName, nodeName: x.nodeName, goal: 'GONE' }))
      return changed('DEL', 'RSC_DFN', `Resource definition '${rd.name}' marked for deletion; it is removed once the satellites of ${waiting.map((x) => `'${x.nodeName}'`).join(', ')} confirm.`, refs, warnings)
    })
    const rcs = await awaitSatellites(core, wait.targets)
    if (rcs.length > 0 && core.model.getRscDfn(wait.rd) === undefined) rcs.push(rcEntry(SUCCESS.DELETED, `Resource definition '${wait.rd}' deleted.`, 'DEL', 'RSC_DFN', { obj_refs: { RscDfn: wait.rd } }))
    return withSatelliteOutcome(reply, rcs)
  }, { op: 'DEL', ...RD })
}

/** The resource definition named `name` (validated), or ERR_NOT_FOUND_RSC_DFN. */
export function requireRscDfn(m: Model, name: string): RscDfn {
  checkName('rsc', name)
  const rd = m.getRscDfn(name)
  if (rd === undefined) throw new ApiError('ERR_NOT_FOUND_RSC_DFN', { rsc: name })
  return rd
}

/**
 * Checks a new resource definition against the model (name and external name free, group exists, DRBD
 * settings) and builds it, without adding it: {@link createRscDfn} adds it at once, spawn first plans
 * the placement of a draft. The definition gets DRBD data when its stack has (or may get) DRBD.
 *
 * @returns the definition and the warnings of its creation (input warnings, DRBD fields without DRBD)
 * @throws ApiError ERR_EXISTS_RSC_DFN, ERR_EXISTS_EXT_NAME, ERR_NOT_FOUND_RSC_GRP, ERR_PEER_SLOTS
 */
export function checkNewRscDfn(m: Model, input: RscDfnInput): { rd: RscDfn; warnings: ApiCallRc[] } {
  const name = input.name !== '' ? input.name : nameFromExternal(m, input.externalName)
  if (m.getRscDfn(name)) throw new ApiError('ERR_EXISTS_RSC_DFN', { rsc: name })
  if (input.externalName !== null && input.externalName !== '' && externalNameTaken(m, input.externalName)) {
    throw new ApiError('ERR_EXISTS_EXT_NAME', { extName: input.externalName })
  }
  const rg = m.getRscGrp(input.rscGrpName)
  if (rg === undefined) throw new ApiError('ERR_NOT_FOUND_RSC_GRP', { rscGrp: input.rscGrpName })
  const drbd = needsDrbd(input.layerStack) ? newDrbdData(m, rg, input.props, input.drbd) : null
  const rd: RscDfn = {
    name,
    // A zero-length external name only asks for a generated name; LINSTOR does not keep it.
    externalName: input.externalName === '' ? null : input.externalName,
    props: input.props,
    flags: [],
    layerStack: input.layerStack,
    rscGrpName: rg.name,
    drbd,
    vlmDfns: [],
    uuid: randomUUID(),
  }
  const warnings = [...input.warnings]
  if (drbd === null && input.drbdGiven.length > 0) warnings.push(noDrbdWarning(input.drbdGiven, 'CRT'))
  return { rd, warnings }
}

/** {@link checkNewRscDfn}, then adds the definition to the model. */
export function createRscDfn(tx: Tx, m: Model, input: RscDfnInput): { rd: RscDfn; warnings: ApiCallRc[] } {
  const out = checkNewRscDfn(m, input)
  m.putRscDfn(tx, out.rd)
  return out
}

/**
 * The name and external name of a new definition, checked. An empty name asks for one generated from
 * the external name (LINSTOR's `--external-name`); one of the two is required.
 *
 * @throws ApiError ERR_NAME_RSC, ERR_EXT_NAME, ERR_EXT_NAME_MISSING (all 400)
 */
export function rscDfnNames(nameIn: string | undefined, externalIn: string | undefined): { name: string; externalName: string | null } {
  const name = nameIn === undefined || nameIn === '' ? '' : checkName('rsc', nameIn)
  const externalName = externalIn ?? null
  if (externalName !== null) checkExternalName(externalName)
  if (name === '' && externalName === null) throw new ApiError('ERR_EXT_NAME_MISSING')
  return { name, externalName }
}

/**
 * Removes a resource definition that has no resources left, with its volume definitions; the Model
 * releases their DRBD minors and the definition's node ids. Callers check that no resources and no
 * snapshots remain (the database refuses orphans at commit otherwise).
 */
export function purgeRscDfn(tx: Tx, m: Model, rd: RscDfn): void {
  m.deleteRscDfn(tx, rd)
}

/** Whether a definition with this layer stack gets DRBD data: DRBD in it, or still undecided (empty). */
export function needsDrbd(layerStack: readonly LayerKind[]): boolean {
  return layerStack.length === 0 || layerStack.includes('DRBD')
}

/**
 * Allowed volume sizes in KiB for a definition with this layer stack: DRBD's (LINSTOR MetaData
 * DRBD_MIN_NET_kiB … DRBD_MAX_kiB) when DRBD is or may become part of it, otherwise LINSTOR's generic
 * 1 KiB … Long.MAX_VALUE, capped at what a JSON number holds exactly.
 */
export function vlmSizeLimits(layerStack: readonly LayerKind[]): { min: number; max: number } {
  return needsDrbd(layerStack) ? { min: DRBD_MIN_NET_KIB, max: DRBD_MAX_KIB } : { min: 1, max: Number.MAX_SAFE_INTEGER }
}

/** LINSTOR's ResourceDefinition JSON; `volume_definitions` only when asked for. */
export function rscDfnJson(rd: RscDfn, withVlmDfns: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { name: rd.name }
  if (rd.externalName !== null) out['external_name'] = rd.externalName
  out['props'] = rd.props
  out['flags'] = rd.flags
  out['layer_data'] = layerKindsShown(rd).map((type) => (type === 'DRBD' && rd.drbd !== null ? { type, data: drbdJson(rd.drbd) } : { type }))
  out['uuid'] = rd.uuid
  out['resource_group_name'] = rd.rscGrpName
  if (withVlmDfns) out['volume_definitions'] = sortedVlmDfns(rd).map((vd) => vlmDfnJson(rd, vd))
  return out
}

/** LINSTOR's VolumeDefinition JSON, with the DRBD minor in its layer data once one is held. */
export function vlmDfnJson(rd: RscDfn, vd: VlmDfn): Record<string, unknown> {
  return {
    volume_number: vd.vlmNr,
    size_kib: vd.sizeKib,
    props: vd.props,
    flags: vd.flags,
    uuid: vd.uuid,
    layer_data: layerKindsShown(rd).map((type) => (type === 'DRBD' && rd.drbd !== null && vd.minor !== null
      ? { type, data: { resource_name_suffix: '', volume_number: vd.vlmNr, minor_number: vd.minor } }
      : { type })),
  }
}

/** Volume definitions in volume number order. */
export function sortedVlmDfns(rd: RscDfn): VlmDfn[] {
  return [...rd.vlmDfns].sort((a, b) => a.vlmNr - b.vlmNr)
}

// LINSTOR lists the union of the layer stack and the layers holding data, in DeviceLayerKind order.
function layerKindsShown(rd: RscDfn): LayerKind[] {
  const kinds = new Set<LayerKind>(rd.layerStack)
  if (rd.drbd !== null) kinds.add('DRBD')
  return LAYER_KINDS.filter((k) => kinds.has(k))
}

function drbdJson(d: DrbdRscDfnData): Record<string, unknown> {
  return {
    resource_name_suffix: '',
    peer_slots: d.peerSlots,
    al_stripes: d.alStripes,
    al_stripe_size_kib: d.alStripeSizeKib,
    // LINSTOR's Json.java: old clients (linstor-api-py among them) still need a port here, -1 when none.
    port: d.port ?? -1,
    transport_type: d.transportType,
    secret: d.secret,
    down: false,
  }
}

function sortedRscDfns(m: Model): RscDfn[] {
  return [...m.rscDfns.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, rd]) => rd)
}

/** DRBD settings a request may give a new definition; absent ones get defaults. */
export interface DrbdInput { port?: number; peerSlots?: number; secret?: string; transportType?: TransportType }

/** A new resource definition as read from a request: each field checked on its own, none against the model. */
export interface RscDfnInput {
  /** Checked name; '' to generate one from `externalName` (see {@link rscDfnNames}). */
  name: string
  externalName: string | null
  /** Checked properties (keys and values). */
  props: Props
  /** Valid layer stack, top first; empty to decide at first placement. */
  layerStack: LayerKind[]
  rscGrpName: string
  drbd: DrbdInput
  /** DRBD fields the caller set, to warn when the stack has no DRBD. */
  drbdGiven: string[]
  /** Warnings from reading the request (e.g. STORAGE added to the stack). */
  warnings: ApiCallRc[]
}

/** Reads LINSTOR's ResourceDefinitionCreate: everything is checked before the model is touched. */
function createInput(b: Body): RscDfnInput {
  const rdb = obj(b['resource_definition'], 'resource_definition')
  const { name, externalName } = rscDfnNames(optStr(rdb, 'name', 'resource_definition.name'), optStr(rdb, 'external_name', 'resource_definition.external_name'))
  const props = optProps(rdb, 'props', 'resource_definition.props') ?? {}
  modifyProps({}, { override: props }) // validates keys and values

  // linstor-api-py sends the layer stack as resource_definition.layer_data [{type}]; the data is ignored,
  // as LINSTOR does.
  const layerData = rdb['layer_data']
  let layerStack: LayerKind[] = []
  const warnings: ApiCallRc[] = []
  if (layerData !== undefined && layerData !== null) {
    if (!Array.isArray(layerData)) throw new ApiError('ERR_REQ_FIELD', { field: 'resource_definition.layer_data', problem: 'must be an array' })
    const types = layerData.map((x, i) => {
      const t = obj(x, `resource_definition.layer_data[${i}]`)['type']
      if (typeof t !== 'string') throw new ApiError('ERR_REQ_FIELD', { field: `resource_definition.layer_data[${i}].type`, problem: 'must be a string' })
      return t
    })
    if (types.length > 0) {
      const s = layerStackFrom(types, 'CRT')
      layerStack = s.layers
      warnings.push(...s.warnings)
    }
  }

  const rscGrpIn = optStr(rdb, 'resource_group_name', 'resource_definition.resource_group_name')
  const rscGrpName = rscGrpIn === undefined || rscGrpIn === '' ? DFLT_RSC_GRP : checkName('rscGrp', rscGrpIn)

  const drbd: DrbdInput = {}
  const drbdGiven: string[] = []
  const port = optInt(b, 'drbd_port', 1, 65535)
  if (port !== undefined) (drbd.port = port), drbdGiven.push('drbd_port')
  const peerSlots = peerSlotsFrom(b)
  if (peerSlots !== undefined) (drbd.peerSlots = peerSlots), drbdGiven.push('drbd_peer_slots')
  const secret = optStr(b, 'drbd_secret')
  if (secret !== undefined) (drbd.secret = checkSecret(secret)), drbdGiven.push('drbd_secret')
  const transport = optStr(b, 'drbd_transport_type')
  // LINSTOR treats a blank transport type as not given.
  if (transport !== undefined && transport.trim() !== '') (drbd.transportType = transportType(transport)), drbdGiven.push('drbd_transport_type')
  return { name, externalName, props, layerStack, rscGrpName, drbd, drbdGiven, warnings }
}

/**
 * A layer stack from a request. As LINSTOR does on create, a stack that lacks STORAGE gets it appended
 * with a warning (`--layer-list drbd` is accepted); the result must then follow the grammar.
 */
function layerStackFrom(input: readonly string[], op: Op): { layers: LayerKind[]; warnings: ApiCallRc[] } {
  try {
    const parsed = parseLayerStack(input)
    const warnings: ApiCallRc[] = []
    if (!parsed.includes('STORAGE')) {
      parsed.push('STORAGE')
      warnings.push(rcEntry(WARN.STORAGE_KIND_ADDED, 'The layerstack was extended with STORAGE kind.', op, 'RSC_DFN', {
        details: 'Layer stacks have to be based on STORAGE kind. Layers configured to be diskless\nwill not use the additional STORAGE layer.',
      }))
    }
    return { layers: validateLayerStack(parsed), warnings }
  } catch (e) {
    if (!(e instanceof LayerStackError)) throw e
    const stack = `[${input.map((s) => s.trim().toUpperCase()).join(', ')}]`
    // The LayerStackError message starts with the stack (as validated); the registry template names it.
    const problem = e.message.replace(/^The layer stack \[[^\]]*\] is invalid: /, '')
    throw new ApiError('ERR_LAYER_STACK', { stack, problem, correction: e.correction })
  }
}

function sameStack(a: readonly LayerKind[], b: readonly LayerKind[]): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i])
}

function peerSlotsFrom(b: Body): number | undefined {
  const n = optInt(b, 'drbd_peer_slots', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
  if (n !== undefined && (n < DRBD_MIN_PEERS || n > DRBD_MAX_PEERS)) throw new ApiError('ERR_PEER_SLOTS', { count: n })
  return n
}

function transportType(v: string): TransportType {
  const t = TRANSPORT_TYPES.find((x) => x.toUpperCase() === v.trim().toUpperCase())
  if (t === undefined) throw new ApiError('ERR_TRANSPORT_TYPE', { type: v.slice(0, 80) })
  return t
}

// The secret ends up quoted in the DRBD configuration: printable ASCII only, no quote or backslash.
function checkSecret(v: string): string {
  if (v.length < 1 || v.length > SECRET_MAX_CHARS || !/^[\x21-\x7e]+$/.test(v) || /["\\]/.test(v)) {
    throw new ApiError('ERR_REQ_FIELD', { field: 'drbd_secret', problem: `must be 1 to ${SECRET_MAX_CHARS} printable ASCII characters without blanks, quotes or backslashes` })
  }
  return v
}

function checkExternalName(v: string): void {
  if (Buffer.byteLength(v, 'utf8') > EXT_NAME_MAX_BYTES) throw new ApiError('ERR_EXT_NAME', { problem: `longer than ${EXT_NAME_MAX_BYTES} bytes` })
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new ApiError('ERR_EXT_NAME', { problem: 'it contains control characters' })
}

function externalNameTaken(m: Model, ext: string): boolean {
  for (const rd of m.rscDfns.values()) if (rd.externalName === ext) return true
  return false
}

function isValidRscName(v: string): boolean {
  try {
    checkName('rsc', v)
    return true
  } catch {
    return false
  }
}

/**
 * A resource name generated from an external name, as LINSTOR's ExternalNameConverter: a UUID becomes
 * `LS_<UUID>`, a valid name is used as is, otherwise invalid characters are translated; a collision or
 * an empty external name gives `LS_<random UUID>`.
 */
function nameFromExternal(m: Model, ext: string | null): string {
  const bytes = Buffer.from(ext ?? '', 'utf8')
  let name: string | null = null
  if (bytes.length > 0) {
    const trunc = bytes.subarray(0, RSC_NAME_MAX).toString('utf8')
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(trunc)) name = UUID_NAME_PREFIX + trunc.toUpperCase()
    else if (isValidRscName(trunc)) name = trunc
    else {
      const translated = translateExternal(bytes.subarray(0, RSC_NAME_MAX))
      if (isValidRscName(translated)) name = translated
    }
  }
  return name === null || m.getRscDfn(name) !== undefined ? UUID_NAME_PREFIX + randomUUID() : name
}

const REPLACEABLE = new Set([...Buffer.from(" !@#$%^&*()+=[]{}:;\"'<>?,./~", 'utf8')])

// Byte-wise as LINSTOR: valid characters stay, common punctuation becomes '_', anything else becomes a
// letter derived from the byte (Java's signed byte, hence the sign handling).
function translateExternal(bytes: Buffer): string {
  let out = ''
  bytes.forEach((byte, i) => {
    const c = String.fromCharCode(byte)
    const inner = i >= 1
    if (/[A-Za-z]/.test(c) || c === '_' || (inner && (/[0-9]/.test(c) || c === '-'))) out += c
    else if (REPLACEABLE.has(byte)) out += '_'
    else {
      const signed = byte > 127 ? byte - 256 : byte
      const k = Math.abs(signed % 52)
      out += String.fromCharCode(k < 26 ? 65 + k : 97 + (k - 26))
    }
  })
  return out
}

function requireRscGrpOf(m: Model, rd: RscDfn): RscGrp {
  const rg = m.getRscGrp(rd.rscGrpName)
  if (rg === undefined) throw new ApiError('ERR_NOT_FOUND_RSC_GRP', { rscGrp: rd.rscGrpName })
  return rg
}

/**
 * DRBD data for a new definition. Peer slots: the request, else the group's, else the property
 * PeerSlotsNewResource (definition → group → controller), else 7 (LINSTOR's order).
 */
function newDrbdData(m: Model, rg: RscGrp, props: Props, given: DrbdInput): DrbdRscDfnData {
  let peerSlots = given.peerSlots ?? rg.peerSlots ?? undefined
  if (peerSlots === undefined) {
    const p = resolveProp(PROP_PEER_SLOTS_NEW_RESOURCE, [props, rg.props, m.ctrlProps])
    if (p !== undefined) {
      const n = Number(p)
      if (!Number.isInteger(n) || n < DRBD_MIN_PEERS || n > DRBD_MAX_PEERS) throw new ApiError('ERR_PEER_SLOTS', { count: p })
      peerSlots = n
    }
  }
  return {
    peerSlots: peerSlots ?? DRBD_DEFAULT_PEERS,
    alStripes: DRBD_DEFAULT_AL_STRIPES,
    alStripeSizeKib: DRBD_DEFAULT_AL_STRIPE_SIZE_KIB,
    transportType: given.transportType ?? 'IP',
    secret: given.secret ?? randomBytes(SECRET_BYTES).toString('base64'),
    port: given.port ?? null,
  }
}

function noDrbdWarning(fields: readonly string[], op: Op): ApiCallRc {
  return rcEntry(WARN.NO_EFFECT, `${fields.join(', ')} ignored: the layer stack has no DRBD.`, op, 'RSC_DFN')
}
