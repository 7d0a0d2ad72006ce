/** /v1/controller…: version and controller properties (the root of every property chain). */
import { ApiError, rcEntry, WARN, type ApiCallRc } from '../../common/errors.js'
import type { Tx } from '../db/tx.js'
import { VERSION, REST_API_VERSION } from '../../common/version.js'
import type { Core } from '../core.js'
import type { Router } from '../http/router.js'
import type { Model } from '../model/model.js'
import { checkPropKey, modifyProps, type PropsModify } from '../model/props.js'
import { validateCtrlProp } from '../model/ctrl-props.js'
import { autoWaitTargets, manageGroupDrbdAuto, markUserQuorum, quorumTouched, touchesDrbdAuto } from '../placement/drbd-auto.js'
import { awaitSatellites, withSatelliteOutcome, type WaitTarget } from '../satellites/wait.js'
import { changed, ok } from './_reply.js'
import { obj, propsModify } from './_input.js'

export function registerControllerApi(r: Router, core: Core): void {
  const C = { obj: 'CTRL_CONF' } as const
  r.get('/v1/controller/version', () => ok({ version: VERSION, git_hash: 'blockyard', build_time: '', rest_api_version: REST_API_VERSION }))
  r.get('/v1/controller/properties', () => ok(core.model.ctrlProps), C)
  r.post('/v1/controller/properties', async (req) => {
    const mod = markUserQuorum(propsModify(obj(req.body)))
    const done = await core.mutate((tx, m) => {
      const { props, unsetKeys } = modifyProps(m.ctrlProps, mod, validateCtrlProp)
      m.setCtrlProps(tx, props)
      return { unsetKeys, ...drbdAuto(tx, m, mod) }
    })
    const warnings = done.unsetKeys.map((k) => rcEntry(WARN.DEL_UNSET_PROP, `Property '${k}' was not set.`, 'MOD', 'CTRL_CONF'))
    return withSatelliteOutcome(changed('MOD', 'CTRL_CONF', 'Successfully updated controller config', {}, [...warnings, ...done.rcs]), await awaitSatellites(core, done.waits))
  }, { op: 'MOD', ...C })
  r.delete('/v1/controller/properties/{key}', async (req) => {
    const key = req.params['key']!
    checkPropKey(key)
    const mod = markUserQuorum({ deleteKeys: [key] })
    const done = await core.mutate((tx, m) => {
      if (!(key in m.ctrlProps)) throw new ApiError('ERR_NOT_FOUND_PROP', { key })
      const { props } = modifyProps(m.ctrlProps, mod)
      m.setCtrlProps(tx, props)
      return drbdAuto(tx, m, mod)
    })
    return withSatelliteOutcome(changed('DEL', 'CTRL_CONF', `Controller property '${key}' deleted.`, {}, done.rcs), await awaitSatellites(core, done.waits))
  }, { op: 'DEL', ...C })
}

/**
 * The controller's quorum or tiebreaker switch changed: it is the end of every definition's property
 * chain, so LINSTOR's tiebreaker and quorum helpers run for all of them (dropping a quorum auto quorum
 * had set on a definition, so that the controller's applies).
 */
function drbdAuto(tx: Tx, m: Model, mod: PropsModify): { rcs: ApiCallRc[]; waits: WaitTarget[] } {
  if (!touchesDrbdAuto(mod)) return { rcs: [], waits: [] }
  const auto = manageGroupDrbdAuto(tx, m, [...m.rscDfns.values()], quorumTouched(mod))
  return { rcs: auto.rcs, waits: autoWaitTargets(auto) }
}
