/**
 * Volume groups: /v1/resource-groups/{resource_group}/volume-groups… (LINSTOR VolumeGroups.java,
 * CtrlVlmGrpApiCallHandler). A volume group presets the properties and flags of the volume definitions
 * that spawn creates with its number.
 */
import { randomUUID } from 'node:crypto'
import { ApiError, rcEntry, WARN } from '../../common/errors.js'
import type { Core } from '../core.js'
import type { Router } from '../http/router.js'
import { modifyProps } from '../model/props.js'
import type { RscGrp, VlmGrp } from '../model/types.js'
import { changed, oneOrList } from './_reply.js'
import { obj, optInt, optProps, optStrArray, page, propsModify, type Body } from './_input.js'
import { requireRscGrp, rscDfnsOfGroup } from './resource-groups.js'

/** Highest volume number: LINSTOR's VolumeNumber.VOLUME_NR_MAX, the same as for volume definitions. */
export const MAX_VLM_NR = 65534

/** LINSTOR's VolumeGroup.Flags. */
export const VLM_GRP_FLAGS = ['GROSS_SIZE'] as const

export function registerVolumeGroupApi(r: Router, core: Core): void {
  const V = { obj: 'VLM_GRP' } as const
  const BASE = '/v1/resource-groups/{resource_group}/volume-groups'

  const list = (rscGrpName: string, vlmNr: number | null, q: URLSearchParams): ReturnType<typeof oneOrList> => {
    const rg = requireRscGrp(core.model, rscGrpName)
    const vgs = rg.vlmGrps.filter((vg) => vlmNr === null || vg.vlmNr === vlmNr)
    return oneOrList(page(vgs, q).map(vlmGrpJson), vlmNr !== null, 'ERR_NOT_FOUND_VLM_GRP', { vlmNr: vlmNr ?? '', rscGrp: rg.name })
  }
  r.get(BASE, (req) => list(req.params['resource_group']!, null, req.query), V)
  r.get(`${BASE}/{volume_number}`, (req) => list(req.params['resource_group']!, vlmNrParam(req.params['volume_number']!), req.query), V)

  r.post(BASE, async (req) => {
    // LINSTOR takes an empty body as "next free number, no properties, no flags".
    const b = req.body === undefined ? {} : obj(req.body)
    const given = optInt(b, 'volume_number', -(2 ** 31), 2 ** 31 - 1)
    if (given !== undefined) checkVlmNr(given)
    const { props } = modifyProps({}, { override: optProps(b, 'props') ?? {} })
    const flags = flagsFrom(b, false).add
    const done = await core.mutate((tx, m) => {
      const rg = requireRscGrp(m, req.params['resource_group']!)
      // LINSTOR's rule: definitions already spawned from the group would lack the new volume.
      const rds = rscDfnsOfGroup(m, rg.name)
      if (rds.length > 0) {
        const shown = rds.slice(0, 10).map((rd) => rd.name).join(', ') + (rds.length > 10 ? ', …' : '')
        throw new ApiError('ERR_IN_USE', { what: `Resource group '${rg.name}'`, by: `${rds.length} resource definition(s): ${shown}` },
          { correction: 'Volume groups can only be added to a resource group without resource definitions.' })
      }
      const used = new Set(rg.vlmGrps.map((vg) => vg.vlmNr))
      let vlmNr = given
      if (vlmNr === undefined) {
        vlmNr = 0
        while (used.has(vlmNr) && vlmNr <= MAX_VLM_NR) vlmNr++
        if (vlmNr > MAX_VLM_NR) throw new ApiError('ERR_POOL_EXHAUSTED_VLM_NR_GRP', { rscGrp: rg.name })
      } else if (used.has(vlmNr)) {
        throw new ApiError('ERR_EXISTS_VLM_GRP', { vlmNr, rscGrp: rg.name })
      }
      const vg: VlmGrp = { vlmNr, props, flags, uuid: randomUUID() }
      m.putRscGrp(tx, { ...rg, vlmGrps: [...rg.vlmGrps, vg].sort((a, c) => a.vlmNr - c.vlmNr) })
      return { rscGrp: rg.name, vlmNr }
    })
    return changed('CRT', 'VLM_GRP', `New volume group with number '${done.vlmNr}' of resource group '${done.rscGrp}' created.`, refs(done))
  }, { op: 'CRT', ...V })

  r.put(`${BASE}/{volume_number}`, async (req) => {
    const vlmNr = vlmNrParam(req.params['volume_number']!)
    const b = obj(req.body)
    const mod = propsModify(b)
    const flags = flagsFrom(b, true)
    const done = await core.mutate((tx, m) => {
      const rg = requireRscGrp(m, req.params['resource_group']!)
      const vg = requireVlmGrp(rg, vlmNr)
      const { props, unsetKeys } = modifyProps(vg.props, mod)
      const nextFlags = vg.flags.filter((f) => !flags.remove.includes(f))
      for (const f of flags.add) if (!nextFlags.includes(f)) nextFlags.push(f)
      const next: VlmGrp = { ...vg, props, flags: nextFlags }
      m.putRscGrp(tx, { ...rg, vlmGrps: rg.vlmGrps.map((x) => (x === vg ? next : x)) })
      return { rscGrp: rg.name, vlmNr, unsetKeys }
    })
    const warnings = done.unsetKeys.map((k) => rcEntry(WARN.DEL_UNSET_PROP, `Property '${k}' was not set on volume group ${done.vlmNr} of resource group '${done.rscGrp}'.`, 'MOD', 'VLM_GRP', { obj_refs: refs(done) }))
    return changed('MOD', 'VLM_GRP', `Volume group ${done.vlmNr} of resource group '${done.rscGrp}' modified.`, refs(done), warnings)
  }, { op: 'MOD', ...V })

  r.delete(`${BASE}/{volume_number}`, async (req) => {
    const vlmNr = vlmNrParam(req.params['volume_number']!)
    const done = await core.mutate((tx, m) => {
      const rg = requireRscGrp(m, req.params['resource_group']!)
      const vg = requireVlmGrp(rg, vlmNr)
      m.putRscGrp(tx, { ...rg, vlmGrps: rg.vlmGrps.filter((x) => x !== vg) })
      return { rscGrp: rg.name, vlmNr }
    })
    return changed('DEL', 'VLM_GRP', `Volume group ${done.vlmNr} of resource group '${done.rscGrp}' deleted.`, refs(done))
  }, { op: 'DEL', ...V })
}

/** Volume group `vlmNr` of the group, or ERR_NOT_FOUND_VLM_GRP (404). */
export function requireVlmGrp(rg: RscGrp, vlmNr: number): VlmGrp {
  const vg = rg.vlmGrps.find((x) => x.vlmNr === vlmNr)
  if (vg === undefined) throw new ApiError('ERR_NOT_FOUND_VLM_GRP', { vlmNr, rscGrp: rg.name })
  return vg
}

/** A volume group as LINSTOR's REST API shows it (JsonGenTypes.VolumeGroup). */
export function vlmGrpJson(vg: VlmGrp): Record<string, unknown> {
  return { volume_number: vg.vlmNr, props: vg.props, uuid: vg.uuid, flags: vg.flags }
}

function refs(d: { rscGrp: string; vlmNr: number }): Record<string, string> {
  return { RscGrp: d.rscGrp, VlmNr: String(d.vlmNr) }
}

function checkVlmNr(n: number): number {
  if (n < 0 || n > MAX_VLM_NR) throw new ApiError('ERR_VLM_NR', { vlmNr: n })
  return n
}

function vlmNrParam(s: string): number {
  if (!/^\d{1,6}$/.test(s)) throw new ApiError('ERR_VLM_NR', { vlmNr: s.slice(0, 80) })
  return checkVlmNr(Number(s))
}

/**
 * `flags`: names to set and, where `withRemove` (modify), '-NAME' to clear, as LINSTOR's
 * FlagsHelper.extractFlagsToEnableOrDisable. Names are case-insensitive; unknown ones are refused.
 */
function flagsFrom(b: Body, withRemove: boolean): { add: string[]; remove: string[] } {
  const add: string[] = []
  const remove: string[] = []
  for (const [i, raw] of (optStrArray(b, 'flags') ?? []).entries()) {
    const neg = withRemove && raw.startsWith('-')
    const name = (neg ? raw.slice(1) : raw).trim().toUpperCase()
    if (!(VLM_GRP_FLAGS as readonly string[]).includes(name)) {
      throw new ApiError('ERR_REQ_FIELD', { field: `flags[${i}]`, problem: `'${raw.slice(0, 80)}' is not a volume group flag (${VLM_GRP_FLAGS.join(', ')}${withRemove ? ", '-' before a flag clears it" : ''})` })
    }
    const [to, other] = neg ? [remove, add] : [add, remove]
    if (other.includes(name)) throw new ApiError('ERR_REQ_FIELD', { field: `flags[${i}]`, problem: `${name} is both set and cleared` })
    if (!to.includes(name)) to.push(name)
  }
  return { add, remove }
}
