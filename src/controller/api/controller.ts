/** /v1/controller…: version and controller properties (the root of every property chain). */
import { ApiError, rcEntry, WARN } from '../../common/errors.js'
import { VERSION, REST_API_VERSION } from '../../common/version.js'
import type { Core } from '../core.js'
import type { Router } from '../http/router.js'
import { checkPropKey, modifyProps } from '../model/props.js'
import { validateCtrlProp } from '../model/ctrl-props.js'
import { changed, ok } from './_reply.js'
import { obj, propsModify } from './_input.js'

export function registerControllerApi(r: Router, core: Core): void {
  const C = { obj: 'CTRL_CONF' } as const
  r.get('/v1/controller/version', () => ok({ version: VERSION, git_hash: 'blockyard', build_time: '', rest_api_version: REST_API_VERSION }))
  r.get('/v1/controller/properties', () => ok(core.model.ctrlProps), C)
  r.post('/v1/controller/properties', async (req) => {
    const mod = propsModify(obj(req.body))
    const unset = await core.mutate((tx, m) => {
      const { props, unsetKeys } = modifyProps(m.ctrlProps, mod, validateCtrlProp)
      m.setCtrlProps(tx, props)
      return unsetKeys
    })
    const warnings = unset.map((k) => rcEntry(WARN.DEL_UNSET_PROP, `Property '${k}' was not set.`, 'MOD', 'CTRL_CONF'))
    return changed('MOD', 'CTRL_CONF', 'Successfully updated controller config', {}, warnings)
  }, { op: 'MOD', ...C })
  r.delete('/v1/controller/properties/{key}', async (req) => {
    const key = req.params['key']!
    checkPropKey(key)
    await core.mutate((tx, m) => {
      if (!(key in m.ctrlProps)) throw new ApiError('ERR_NOT_FOUND_PROP', { key })
      const { props } = modifyProps(m.ctrlProps, { deleteKeys: [key] })
      m.setCtrlProps(tx, props)
    })
    return changed('DEL', 'CTRL_CONF', `Controller property '${key}' deleted.`, {})
  }, { op: 'DEL', ...C })
}
