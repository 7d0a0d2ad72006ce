/**
 * Resource groups: /v1/resource-groups… (LINSTOR ResourceGroups.java, CtrlRscGrpApiCallHandler). A group
 * holds what the resource definitions in it share: properties, volume groups, peer slots and the
 * auto-placement filter. Its volume groups have their own module. Spawn creates a resource definition in
 * the group with one volume definition per size and auto-places it, all in one API call.
 */
import { randomUUID } from 'node:crypto'
import { ApiError, INFO, rcEntry, SUCCESS, WARN, type ApiCallRc } from '../../common/errors.js'
import { checkName, nameKey } from '../../common/names.js'
import { MASK, type Op } from '../../common/api-codes.js'
import type { LayerKind } from '../../common/layer-stack.js'
import type { Core } from '../core.js'
import type { Tx } from '../db/tx.js'
import type { Router } from '../http/router.js'
import { DFLT_RSC_GRP, type Model } from '../model/model.js'
import { hasAllProps, modifyProps } from '../model/props.js'
import type { AutoSelectFilter, Props, Resource, RscDfn, RscGrp } from '../model/types.js'
import { mergeFilters } from '../placement/place.js'
import { autoWaitTargets, manageGroupDrbdAuto, markUserQuorum, quorumTouched, touchesDrbdAuto } from '../placement/drbd-auto.js'
import { changed, oneOrList } from './_reply.js'
import { obj, optBool, optInt, optProps, optStr, optStrArray, page, propsModify, queryList, str, type Body } from './_input.js'
import { selectFilterFrom } from './_select-filter.js'
import { checkNewRscDfn, rscDfnNames } from './resource-definitions.js'
import { autoplaceResource, planAutoplace, resourcesCreatedRcs } from './resources.js'
import { awaitSatellites, withSatelliteOutcome, type WaitTarget } from '../satellites/wait.js'
import { addVlmDfn, checkNewVlmDfn, type NewVlmDfn, type VlmDfnInput } from './volume-definitions.js'

/** LINSTOR's DESCRIPTION column is VARCHAR(1024). */
export const MAX_DESCRIPTION_LENGTH = 1024

/** DRBD 9 peer slots a group may preset (LINSTOR: DRBD_MAX_PEERS). */
export const MAX_PEER_SLOTS = 31

/**
 * The filter fields a group keeps, in the order they are shown (LINSTOR's AutoSelectorConfig). The others
 * (additional_place_count, diskless_type, overprovision) only make sense for one placement.
 */
const STORED_FILTER_FIELDS = [
  'place_count', 'node_name_list', 'storage_pool_list', 'storage_pool_diskless_list', 'not_place_with_rsc',
  'not_place_with_rsc_regex', 'replicas_on_same', 'replicas_on_different', 'x_replicas_on_different_map',
  'layer_stack', 'provider_list', 'diskless_on_remaining',
] as const satisfies readonly (keyof AutoSelectFilter)[]

/** A group created without a place count gets LINSTOR's default of 2 (AutoSelectorConfig). */
const DEFAULT_PLACE_COUNT = 2

// LINSTOR refuses it on groups: an exact size only makes sense for one resource definition.
const EXACT_SIZE_PROP = 'DrbdOptions/ExactSize'

export function registerResourceGroupApi(r: Router, core: Core): void {
  const G = { obj: 'RSC_GRP' } as const

  const list = (single: string | null, q: URLSearchParams): ReturnType<typeof oneOrList> => {
    const names = single !== null ? [single] : queryList(q, 'resource_groups')
    const props = queryList(q, 'props')
    const want = names.length > 0 ? new Set(names.map(nameKey)) : null
    const groups = [...core.model.rscGrps.values()]
      .filter((g) => (want === null || want.has(nameKey(g.name))) && hasAllProps(g.props, props))
      .sort((a, b) => a.name.localeCompare(b.name))
    return oneOrList(page(groups, q).map(rscGrpJson), single !== null, 'ERR_NOT_FOUND_RSC_GRP', { rscGrp: single ?? '' })
  }
  r.get('/v1/resource-groups', (req) => list(null, req.query), G)
  r.get('/v1/resource-groups/{resource_group}', (req) => list(req.params['resource_group']!, req.query), G)

  r.post('/v1/resource-groups', async (req) => {
    const b = obj(req.body)
    const name = checkName('rscGrp', str(b, 'name'))
    const description = descriptionFrom(b) ?? ''
    // LINSTOR's REST layer drops `props` on create ("not supported on creation"); its client sends them,
    // so they are kept here rather than silently lost.
    const { props } = modifyProps({}, { override: optProps(b, 'props') ?? {} }, checkRscGrpProp)
    const given = selectFilterFrom(b['select_filter'], 'select_filter')
    const peerSlots = peerSlotsFrom(b) ?? null
    const selectFilter = mergeFilters({ place_count: DEFAULT_PLACE_COUNT }, storedFilter(given))
    const created = await core.mutate((tx, m) => {
      if (m.getRscGrp(name)) throw new ApiError('ERR_EXISTS_RSC_GRP', { rscGrp: name })
      const rg: RscGrp = { name, description, props, selectFilter, peerSlots, vlmGrps: [], uuid: randomUUID() }
      m.putRscGrp(tx, rg)
      return { rg, warnings: storPoolWarnings(m, selectFilter, 'CRT') }
    })
    const { rg } = created
    return changed('CRT', 'RSC_GRP', `New resource group '${rg.name}' created.`, { RscGrp: rg.name },
      [...ignoredFieldsWarning(given, 'CRT'), ...created.warnings])
  }, { op: 'CRT', ...G })

  r.put('/v1/resource-groups/{resource_group}', async (req) => {
    const b = obj(req.body)
    const description = descriptionFrom(b)
    const mod = propsModify(b)
    const sf = b['select_filter']
    const given = sf === undefined || sf === null ? undefined : selectFilterFrom(sf, 'select_filter')
    const peerSlots = peerSlotsFrom(b)
    const done = await core.mutate((tx, m) => {
      const rg = requireRscGrp(m, req.params['resource_group']!)
      const { props, unsetKeys } = modifyProps(rg.props, markUserQuorum(mod), checkRscGrpProp)
      const next: RscGrp = { ...rg, props }
      if (description !== undefined) next.description = description
      if (given !== undefined) next.selectFilter = mergeFilters(rg.selectFilter, storedFilter(given))
      if (peerSlots !== undefined) next.peerSlots = peerSlots
      m.putRscGrp(tx, next)
      const warnings = given !== undefined ? storPoolWarnings(m, next.selectFilter, 'MOD') : []
      if (!touchesDrbdAuto(mod)) return { name: rg.name, unsetKeys, warnings, waits: [] }
      // The group's quorum or tiebreaker switch changed: LINSTOR's helpers run for each of its definitions.
      const auto = manageGroupDrbdAuto(tx, m, rscDfnsOfGroup(m, rg.name), quorumTouched(mod))
      return { name: rg.name, unsetKeys, warnings: [...warnings, ...auto.rcs], waits: autoWaitTargets(auto) }
    })
    // LINSTOR also re-runs auto-placement here for definitions below a raised place_count; that belongs to
    // the placement code and is not done by this call.
    const extra = [
      ...done.unsetKeys.map((k) => rcEntry(WARN.DEL_UNSET_PROP, `Property '${k}' was not set on resource group '${done.name}'.`, 'MOD', 'RSC_GRP', { obj_refs: { RscGrp: done.name } })),
      ...(given !== undefined ? ignoredFieldsWarning(given, 'MOD') : []),
      ...done.warnings,
    ]
    return withSatelliteOutcome(changed('MOD', 'RSC_GRP', `Resource group '${done.name}' modified.`, { RscGrp: done.name }, extra), await awaitSatellites(core, done.waits))
  }, { op: 'MOD', ...G })

  r.delete('/v1/resource-groups/{resource_group}', async (req) => {
    const name = await core.mutate((tx, m) => {
      const rg = requireRscGrp(m, req.params['resource_group']!)
      // LINSTOR would let it go and re-create it on the next definition without a group; Blockyard keeps the
      // default objects it creates at start-up.
      if (nameKey(rg.name) === nameKey(DFLT_RSC_GRP)) throw new ApiError('ERR_DEFAULT_OBJECT', { name: rg.name })
      const rds = rscDfnsOfGroup(m, rg.name)
      if (rds.length > 0) {
        const shown = rds.slice(0, 10).map((rd) => rd.name).join(', ') + (rds.length > 10 ? ', …' : '')
        throw new ApiError('ERR_IN_USE', { what: `Resource group '${rg.name}'`, by: `${rds.length} resource definition(s): ${shown}` },
          { correction: 'Delete these resource definitions or move them to another resource group first.' })
      }
      m.deleteRscGrp(tx, rg)
      return rg.name
    })
    return changed('DEL', 'RSC_GRP', `Resource group '${name}' deleted.`, { RscGrp: name })
  }, { op: 'DEL', ...G })

  r.post('/v1/resource-groups/{resource_group}/spawn', async (req) => {
    const input = spawnInput(obj(req.body))
    const out = await core.mutate((tx, m) => spawn(tx, m, req.params['resource_group']!, input))
    const { rd } = out
    const vdRcs = rd.vlmDfns.map((vd) => rcEntry(SUCCESS.CREATED, `New volume definition with number '${vd.vlmNr}' of resource definition '${rd.name}' created.`, 'CRT', 'VLM_DFN', { obj_refs: { RscDfn: rd.name, VlmNr: String(vd.vlmNr) } }))
    const rdRc = rcEntry(SUCCESS.CREATED, `New resource definition '${rd.name}' created.`, 'CRT', 'RSC_DFN', { obj_refs: { RscDfn: rd.name, UUID: rd.uuid } })
    const p = out.placement
    const placed = 'made' in p
      ? [...resourcesCreatedRcs(core.model, p.made), ...p.warnings]
      : [rcEntry(INFO.NO_RSC_SPAWNED, `Resource definition '${rd.name}' and ${rd.vlmDfns.length} volume definition(s) created but no resources deployed.`, undefined, undefined, { cause: p.skipped })]
    // LINSTOR's order: the group's notes, the definition's warnings and volume definitions, the definition, then the placement.
    const reply = { status: 201, body: [...out.notes, ...out.warnings, ...vdRcs, rdRc, ...placed] }
    return withSatelliteOutcome(reply, 'made' in p ? await awaitSatellites(core, p.waits) : [])
  }, { op: 'CRT', ...G })
}

/** LINSTOR's ResourceGroupSpawn, each field checked on its own. */
interface SpawnInput {
  name: string
  externalName: string | null
  /** Sizes in KiB as given; checked against the new definition's layer stack. */
  sizes: unknown[]
  filter: AutoSelectFilter
  partial: boolean
  definitionsOnly: boolean
  peerSlots?: number
  props: Props
}

function spawnInput(b: Body): SpawnInput {
  const names = rscDfnNames(optStr(b, 'resource_definition_name'), optStr(b, 'resource_definition_external_name'))
  const sizes = b['volume_sizes'] ?? []
  if (!Array.isArray(sizes)) throw new ApiError('ERR_REQ_FIELD', { field: 'volume_sizes', problem: 'must be an array of sizes in KiB' })
  const filter = selectFilterFrom(b['select_filter'], 'select_filter')
  const partial = optBool(b, 'partial') ?? false
  const definitionsOnly = optBool(b, 'definitions_only') ?? false
  const peerSlots = peerSlotsFrom(b)
  const passphrases = optStrArray(b, 'volume_passphrases') ?? []
  if (passphrases.length > 0) {
    if (passphrases.length !== sizes.length) {
      throw new ApiError('ERR_REQ_FIELD', { field: 'volume_passphrases', problem: `${passphrases.length} passphrase(s) for ${sizes.length} volume size(s); give one per volume` })
    }
    // LINSTOR keeps passphrases encrypted with the master key; without one it refuses (as for volume definitions).
    throw new ApiError('ERR_NOT_FOUND_CRYPT_KEY')
  }
  const props = optProps(b, 'resource_definition_props') ?? {}
  modifyProps({}, { override: props }) // validates keys and values
  const input: SpawnInput = { ...names, sizes, filter, partial, definitionsOnly, props }
  if (peerSlots !== undefined) input.peerSlots = peerSlots
  return input
}

interface SpawnOutcome {
  rd: RscDfn
  /** INFO entries about the group (automatic partial mode). */
  notes: ApiCallRc[]
  /** Warnings of the definition's creation. */
  warnings: ApiCallRc[]
  /** What auto-placement created, or why it was not done. */
  placement: { made: Resource[]; warnings: ApiCallRc[]; waits: WaitTarget[] } | { skipped: string }
}

/**
 * LINSTOR's CtrlRscGrpApiCallHandler.spawn in one API call: a resource definition in the group (the
 * effective filter's layer stack; the group's properties apply by resolution, they are not copied), one
 * volume definition per size (size N takes the number and flags of volume group N), then auto-placement
 * with the effective filter (the request's over the group's) unless `definitions_only`. Everything is
 * checked and planned on a draft first, so a spawn that fails (placement included) changes nothing;
 * LINSTOR leaves the definition behind in that case.
 */
function spawn(tx: Tx, m: Model, rscGrpName: string, input: SpawnInput): SpawnOutcome {
  const rg = requireRscGrp(m, rscGrpName)
  const filter = mergeFilters(rg.selectFilter, input.filter)
  const vgs = [...rg.vlmGrps].sort((a, b) => a.vlmNr - b.vlmNr)
  const notes: ApiCallRc[] = []
  if (vgs.length === 0 && !input.partial) {
    notes.push(rcEntry(MASK.INFO, "Resource-group doesn't have any volume-groups, automatically assume partial mode.", undefined, 'RSC_GRP', { obj_refs: { RscGrp: rg.name } }))
  }
  // Partial: sizes beyond the volume groups get plain volume definitions, volume groups beyond the sizes are unused.
  if (!input.partial && vgs.length > 0 && input.sizes.length !== vgs.length) {
    throw new ApiError('ERR_VLM_SIZE_COUNT', { rscGrp: rg.name }, { details: `Resource group '${rg.name}' has ${vgs.length} volume group(s), but ${input.sizes.length} size(s) were given.` })
  }

  const { rd, warnings } = checkNewRscDfn(m, {
    name: input.name,
    externalName: input.externalName,
    props: input.props,
    // selectFilterFrom validated it (LINSTOR's grammar, ending with STORAGE).
    layerStack: (filter.layer_stack ?? []) as LayerKind[],
    rscGrpName: rg.name,
    drbd: input.peerSlots !== undefined ? { peerSlots: input.peerSlots } : {},
    drbdGiven: input.peerSlots !== undefined ? ['peer_slots'] : [],
    warnings: [],
  })
  const vlmDfns: NewVlmDfn[] = []
  const draft = (): RscDfn => ({ ...rd, vlmDfns: vlmDfns.map((x) => x.vd) })
  input.sizes.forEach((size, i) => {
    const vg = vgs[i]
    const vin: VlmDfnInput = { size, sizeField: `volume_sizes[${i}]`, props: {}, flags: [...(vg?.flags ?? [])] }
    if (vg !== undefined) vin.vlmNr = vg.vlmNr
    vlmDfns.push(checkNewVlmDfn(m, draft(), vin))
  })
  // LINSTOR places only when the effective filter has a place count (groups always have one here).
  const skipped = input.definitionsOnly ? 'definitions_only was set'
    : filter.place_count === undefined ? 'No autoplace configuration in the resource group (at least a place count is required)' : null
  const plan = skipped === null ? planAutoplace(m, draft(), filter) : null

  // Every check has passed and the placer has chosen nodes and pools that fit; what may still refuse is a
  // DRBD number allocator running dry, which the Core rolls back with the whole call.
  m.putRscDfn(tx, rd)
  for (const nv of vlmDfns) addVlmDfn(tx, m, rd, nv)
  const placement = plan !== null ? autoplaceResource(tx, m, rd, plan) : { skipped: skipped! }
  return { rd, notes, warnings, placement }
}

/** The group named `name`, or ERR_NOT_FOUND_RSC_GRP (404). */
export function requireRscGrp(m: Model, name: string): RscGrp {
  const rg = m.getRscGrp(name)
  if (rg === undefined) throw new ApiError('ERR_NOT_FOUND_RSC_GRP', { rscGrp: name })
  return rg
}

/** The resource definitions that belong to the group, by name. O(definitions): there is no index. */
export function rscDfnsOfGroup(m: Model, rscGrpName: string): RscDfn[] {
  const k = nameKey(rscGrpName)
  return [...m.rscDfns.values()].filter((rd) => nameKey(rd.rscGrpName) === k).sort((a, b) => a.name.localeCompare(b.name))
}

/** The fields of a filter a group keeps (see STORED_FILTER_FIELDS); the others are warned about and dropped. */
function storedFilter(f: AutoSelectFilter): AutoSelectFilter {
  const out: Record<string, unknown> = {}
  for (const k of STORED_FILTER_FIELDS) if (f[k] !== undefined) out[k] = f[k]
  return out as AutoSelectFilter
}

/** A group as LINSTOR's REST API shows it (JsonGenTypes.ResourceGroup). */
export function rscGrpJson(rg: RscGrp): Record<string, unknown> {
  const sf = rg.selectFilter
  const filter: Record<string, unknown> = {}
  for (const k of STORED_FILTER_FIELDS) {
    if (sf[k] !== undefined) filter[k] = sf[k]
    // LINSTOR also shows a single pool as `storage_pool`, which older clients read.
    if (k === 'storage_pool_list' && sf.storage_pool_list?.length === 1) filter['storage_pool'] = sf.storage_pool_list[0]
  }
  const out: Record<string, unknown> = { name: rg.name, description: rg.description, props: rg.props, select_filter: filter, uuid: rg.uuid }
  if (rg.peerSlots !== null) out['peer_slots'] = rg.peerSlots
  return out
}

function descriptionFrom(b: Body): string | undefined {
  const d = optStr(b, 'description')
  if (d !== undefined && d.length > MAX_DESCRIPTION_LENGTH) throw new ApiError('ERR_REQ_FIELD', { field: 'description', problem: `longer than ${MAX_DESCRIPTION_LENGTH} characters` })
  return d
}

function peerSlotsFrom(b: Body): number | undefined {
  const n = optInt(b, 'peer_slots', -(2 ** 31), 2 ** 31 - 1)
  if (n !== undefined && (n < 1 || n > MAX_PEER_SLOTS)) throw new ApiError('ERR_PEER_SLOTS', { count: n })
  return n
}

function checkRscGrpProp(key: string, value: string): string {
  if (key === EXACT_SIZE_PROP) {
    throw new ApiError('ERR_PROP_INVALID', { key, problem: 'it cannot be set on a resource group' }, { correction: 'Set it on the resource definition.' })
  }
  return value
}

/** LINSTOR accepts and ignores these in a group's filter; say so instead of dropping them silently. */
function ignoredFieldsWarning(given: AutoSelectFilter, op: Op): ApiCallRc[] {
  const ignored = (['additional_place_count', 'diskless_type', 'overprovision'] as const).filter((k) => given[k] !== undefined)
  if (ignored.length === 0) return []
  return [rcEntry(WARN.NO_EFFECT, `select_filter field(s) ${ignored.join(', ')} apply to a single placement and are not kept by a resource group; ignored.`, op, 'RSC_GRP')]
}

/**
 * LINSTOR's warning for pools in the filter that no node has, or that have the wrong kind for their list
 * (a diskless pool among the diskful ones or the reverse). The filter is kept anyway: pools may come later.
 */
function storPoolWarnings(m: Model, f: AutoSelectFilter, op: Op): ApiCallRc[] {
  const kinds = new Map<string, Set<boolean>>()
  for (const sp of m.allStorPools()) {
    const k = nameKey(sp.name)
    let s = kinds.get(k)
    if (s === undefined) kinds.set(k, (s = new Set()))
    s.add(sp.providerKind === 'DISKLESS')
  }
  const unknown: string[] = []
  const disklessAsDiskful: string[] = []
  const diskfulAsDiskless: string[] = []
  for (const name of f.storage_pool_list ?? []) {
    const s = kinds.get(nameKey(name))
    if (s === undefined) unknown.push(name)
    else if (!s.has(false)) disklessAsDiskful.push(name)
  }
  for (const name of f.storage_pool_diskless_list ?? []) {
    const s = kinds.get(nameKey(name))
    if (s === undefined) unknown.push(name)
    else if (!s.has(true)) diskfulAsDiskless.push(name)
  }
  const parts: string[] = []
  if (diskfulAsDiskless.length > 0) parts.push(`The following configured storage pools are diskful, but are configured to be used for diskless placements: ${diskfulAsDiskless.join(', ')}.`)
  if (disklessAsDiskful.length > 0) parts.push(`The following configured storage pools are diskless, but are configured to be used for diskful placements: ${disklessAsDiskful.join(', ')}.`)
  if (unknown.length > 0) parts.push(`The following configured storage pools do not exist on any node: ${unknown.join(', ')}.`)
  return parts.length === 0 ? [] : [rcEntry(WARN.NOT_FOUND, parts.join(' '), op, 'RSC_GRP')]
}
