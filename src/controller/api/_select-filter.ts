/**
 * LINSTOR's AutoSelectFilter (the `select_filter` of resource groups, spawn and auto-place requests),
 * read and checked field by field before anything is changed. Every name is validated as the object it
 * names, the regex must compile, the layer stack must follow LINSTOR's grammar and providers must be ones
 * Blockyard implements; the first bad field becomes a 4xx ApiError naming it.
 */
import { ApiError } from '../../common/errors.js'
import { LayerStackError, validateLayerStack } from '../../common/layer-stack.js'
import { checkName, nameKey, type NameKind } from '../../common/names.js'
import { checkPropKey, checkPropValue } from '../model/props.js'
import { PROVIDER_KINDS, type AutoSelectFilter, type ProviderKind } from '../model/types.js'
import { int, obj, optBool, optInt, optNum, optObj, optStr, optStrArray, type Body } from './_input.js'

/**
 * Most replicas one placement may ask for. LINSTOR only requires a positive count; a DRBD resource can
 * have no more replicas than DRBD 9 has node ids (0–31), so anything above is unplaceable.
 */
export const MAX_PLACE_COUNT = 32

/** Longest `not_place_with_rsc_regex` accepted: the regex runs against every resource name at placement. */
export const MAX_REGEX_LENGTH = 1000

/** Largest `overprovision` multiplier accepted (LINSTOR takes any double; beyond this it means nothing). */
export const MAX_OVERPROVISION = 1000

/** LINSTOR's diskless resource flags a placement may ask for; Blockyard implements DRBD's only. */
const DISKLESS_TYPES = ['DRBD_DISKLESS'] as const
const UNSUPPORTED_DISKLESS_TYPES = ['NVME_INITIATOR', 'EBS_INITIATOR']

function fieldError(field: string, problem: string): ApiError {
  return new ApiError('ERR_REQ_FIELD', { field, problem })
}

/** Names of one kind, each checked; case-insensitive duplicates dropped (the first spelling wins). */
function names(o: Body, key: string, kind: NameKind, path: string): string[] | undefined {
  const list = optStrArray(o, key, `${path}.${key}`)
  if (list === undefined) return undefined
  const seen = new Set<string>()
  const out: string[] = []
  for (const n of list) {
    checkName(kind, n)
    if (!seen.has(nameKey(n))) {
      seen.add(nameKey(n))
      out.push(n)
    }
  }
  return out
}

/** A property key as the placer reads it from node properties ('Aux/rack', or any other key). */
function propKey(key: string, field: string): void {
  try {
    checkPropKey(key)
  } catch {
    // checkPropKey only refuses the key; name the field it came from instead.
    throw fieldError(field, `'${key.slice(0, 80)}' is not a property key`)
  }
}

/**
 * replicas_on_same / replicas_on_different entries: 'key' or 'key=value' (a fixed value to keep or to
 * avoid). Stored as given: LINSTOR's server does not add the 'Aux/' namespace, its client does.
 */
function propConstraints(o: Body, key: string, path: string): string[] | undefined {
  const list = optStrArray(o, key, `${path}.${key}`)
  list?.forEach((entry, i) => {
    const eq = entry.indexOf('=')
    const k = eq < 0 ? entry : entry.slice(0, eq)
    propKey(k, `${path}.${key}[${i}]`)
    if (eq >= 0) checkPropValue(k, entry.slice(eq + 1))
  })
  return list
}

function regex(o: Body, path: string): string | undefined {
  const re = optStr(o, 'not_place_with_rsc_regex', `${path}.not_place_with_rsc_regex`)
  if (re === undefined) return undefined
  const shown = re.length > 80 ? re.slice(0, 77) + '...' : re
  if (re.length > MAX_REGEX_LENGTH) throw new ApiError('ERR_REGEX_INVALID', { regex: shown, problem: `longer than ${MAX_REGEX_LENGTH} characters` })
  try {
    // LINSTOR matches it case-insensitively against resource names (StorPoolFilter).
    new RegExp(re, 'i')
  } catch (e) {
    throw new ApiError('ERR_REGEX_INVALID', { regex: shown, problem: (e as Error).message })
  }
  return re
}

function layerStack(o: Body, path: string): string[] | undefined {
  const list = optStrArray(o, 'layer_stack', `${path}.layer_stack`)
  if (list === undefined || list.length === 0) return list
  try {
    return validateLayerStack(list)
  } catch (e) {
    if (!(e instanceof LayerStackError)) throw e
    const stack = `[${list.map((s) => s.trim().toUpperCase()).join(', ')}]`
    // The LayerStackError message repeats the stack; the registry template already names it.
    const prefix = `The layer stack ${stack} is invalid: `
    const problem = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message
    throw new ApiError('ERR_LAYER_STACK', { stack, problem, correction: e.correction })
  }
}

function providers(o: Body, path: string): ProviderKind[] | undefined {
  const list = optStrArray(o, 'provider_list', `${path}.provider_list`)
  if (list === undefined) return undefined
  const out: ProviderKind[] = []
  for (const p of list) {
    const kind = PROVIDER_KINDS.find((k) => k === p.trim().toUpperCase())
    if (kind === undefined) throw new ApiError('ERR_PROVIDER_INVALID', { provider: p.slice(0, 80), allowed: PROVIDER_KINDS.join(', ') })
    if (!out.includes(kind)) out.push(kind)
  }
  return out
}

function xReplicasMap(o: Body, path: string): Record<string, number> | undefined {
  const p = `${path}.x_replicas_on_different_map`
  const m = optObj(o, 'x_replicas_on_different_map', p)
  if (m === undefined) return undefined
  // fromEntries defines own properties, so a key like '__proto__' stays data.
  return Object.fromEntries(Object.keys(m).map((k) => {
    propKey(k, p)
    return [k, int(m, k, 1, MAX_PLACE_COUNT, `${p}.${k}`)]
  }))
}

function disklessType(o: Body, path: string): string | undefined {
  const v = optStr(o, 'diskless_type', `${path}.diskless_type`)
  if (v === undefined) return undefined
  const t = v.trim().toUpperCase()
  if (UNSUPPORTED_DISKLESS_TYPES.includes(t)) {
    throw new ApiError('ERR_REQ_UNSUPPORTED', { what: `diskless_type ${t}`, correction: `Use ${DISKLESS_TYPES.join(', ')}.` })
  }
  if (!(DISKLESS_TYPES as readonly string[]).includes(t)) throw fieldError(`${path}.diskless_type`, `must be one of ${DISKLESS_TYPES.join(', ')}`)
  return t
}

/**
 * Reads a `select_filter` object (`undefined`/`null` read as an empty filter) and returns only the
 * fields it sets, normalised: layer and provider names upper-case (layer aliases resolved), duplicate
 * names dropped, and `storage_pool` folded into `storage_pool_list` when that list is absent or empty, as
 * LINSTOR does (the result never has `storage_pool`). An empty list or map, or an empty regex, is kept:
 * it means "no constraint", and a resource group modify uses it to clear the group's value.
 *
 * @param body the `select_filter` value of a request
 * @param path the field's name in the request, for error messages (e.g. `select_filter`)
 * @throws ApiError ERR_REQ_FIELD (wrong type or range), ERR_PLACE_COUNT, ERR_NAME_NODE, ERR_NAME_STOR_POOL,
 *   ERR_NAME_RSC, ERR_REGEX_INVALID, ERR_PROP_INVALID, ERR_LAYER_STACK, ERR_PROVIDER_INVALID (all 400) or ERR_REQ_UNSUPPORTED (501)
 */
export function selectFilterFrom(body: unknown, path: string): AutoSelectFilter {
  const o = body === undefined || body === null ? {} : obj(body, path)
  const f: AutoSelectFilter = {}

  const placeCount = optInt(o, 'place_count', -(2 ** 31), 2 ** 31 - 1, `${path}.place_count`)
  if (placeCount !== undefined) {
    if (placeCount < 1 || placeCount > MAX_PLACE_COUNT) throw new ApiError('ERR_PLACE_COUNT', { count: placeCount, max: MAX_PLACE_COUNT })
    f.place_count = placeCount
  }
  const additional = optInt(o, 'additional_place_count', 0, MAX_PLACE_COUNT, `${path}.additional_place_count`)
  if (additional !== undefined) f.additional_place_count = additional

  const nodeNames = names(o, 'node_name_list', 'node', path)
  if (nodeNames !== undefined) f.node_name_list = nodeNames
  const pool = optStr(o, 'storage_pool', `${path}.storage_pool`)
  if (pool !== undefined) checkName('storPool', pool)
  let pools = names(o, 'storage_pool_list', 'storPool', path)
  if (pool !== undefined && (pools === undefined || pools.length === 0)) pools = [pool]
  if (pools !== undefined) f.storage_pool_list = pools
  const disklessPools = names(o, 'storage_pool_diskless_list', 'storPool', path)
  if (disklessPools !== undefined) f.storage_pool_diskless_list = disklessPools

  const notWith = names(o, 'not_place_with_rsc', 'rsc', path)
  if (notWith !== undefined) f.not_place_with_rsc = notWith
  const re = regex(o, path)
  if (re !== undefined) f.not_place_with_rsc_regex = re

  const same = propConstraints(o, 'replicas_on_same', path)
  if (same !== undefined) f.replicas_on_same = same
  const different = propConstraints(o, 'replicas_on_different', path)
  if (different !== undefined) f.replicas_on_different = different
  const xMap = xReplicasMap(o, path)
  if (xMap !== undefined) f.x_replicas_on_different_map = xMap

  const layers = layerStack(o, path)
  if (layers !== undefined) f.layer_stack = layers
  const provs = providers(o, path)
  if (provs !== undefined) f.provider_list = provs

  const remaining = optBool(o, 'diskless_on_remaining', `${path}.diskless_on_remaining`)
  if (remaining !== undefined) f.diskless_on_remaining = remaining
  const dt = disklessType(o, path)
  if (dt !== undefined) f.diskless_type = dt
  const over = optNum(o, 'overprovision', 0, MAX_OVERPROVISION, `${path}.overprovision`)
  if (over !== undefined) f.overprovision = over
  return f
}
