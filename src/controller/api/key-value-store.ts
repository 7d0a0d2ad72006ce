/**
 * Key-value stores: /v1/key-value-store… (LINSTOR KeyValueStore.java, CtrlKvsApiCallHandler). A store is
 * a named property map that orchestrators use for their own state (often JSON values). It exists while
 * it has properties: a PUT creates it, and LINSTOR drops a store whose last property is deleted.
 *
 * Keys follow LINSTOR's property paths. LINSTOR's Python `linstor.KV` writes them absolute ('/ns/key')
 * and expects them back relative ('ns/key'), as LINSTOR's PropsContainer sanitises them: leading and
 * repeated '/' are dropped here the same way before the usual key check.
 */
import { ApiError, rcEntry, WARN } from '../../common/errors.js'
import { checkName } from '../../common/names.js'
import type { Core } from '../core.js'
import type { Router } from '../http/router.js'
import { modifyProps, type PropsModify } from '../model/props.js'
import type { KeyValueStore, Props } from '../model/types.js'
import { changed, ok } from './_reply.js'
import { obj, propsModify } from './_input.js'

export function registerKvsApi(r: Router, core: Core): void {
  const K = { obj: 'KVS' } as const

  r.get('/v1/key-value-store', () => ok([...core.model.kvs.values()].sort((a, b) => a.name.localeCompare(b.name)).map(kvsJson)), K)

  // LINSTOR answers the single-store GET with a list holding that store (404 when there is none).
  r.get('/v1/key-value-store/{instance}', (req) => {
    const name = checkName('kvs', req.params['instance']!)
    const kv = core.model.getKvs(name)
    if (kv === undefined) throw new ApiError('ERR_NOT_FOUND_KVS', { name })
    return ok([kvsJson(kv)])
  }, K)

  r.put('/v1/key-value-store/{instance}', async (req) => {
    const name = checkName('kvs', req.params['instance']!)
    const mod = sanitiseKeys(propsModify(obj(req.body)))
    const shown = await core.mutate((tx, m) => {
      const cur = m.getKvs(name)
      const { props } = modifyProps(cur?.props ?? {}, mod)
      if (Object.keys(props).length === 0) {
        if (cur !== undefined) m.deleteKvs(tx, cur)
        return cur?.name ?? name
      }
      const kv: KeyValueStore = { name: cur?.name ?? name, props }
      m.putKvs(tx, kv)
      return kv.name
    })
    return changed('MOD', 'KVS', `Successfully updated properties of key-value store '${shown}'.`, { KeyValueStore: shown })
  }, { op: 'MOD', ...K })

  r.delete('/v1/key-value-store/{instance}', async (req) => {
    const name = checkName('kvs', req.params['instance']!)
    const deleted = await core.mutate((tx, m) => {
      const kv = m.getKvs(name)
      if (kv !== undefined) m.deleteKvs(tx, kv)
      return kv?.name ?? null
    })
    if (deleted === null) {
      // As LINSTOR: deleting a store that does not exist is a warning, not an error.
      return { status: 200, body: [rcEntry(WARN.NOT_FOUND, `Deletion of key-value store '${name}' had no effect.`, 'DEL', 'KVS', { cause: `Key-value store '${name}' does not exist.`, obj_refs: { KeyValueStore: name } })] }
    }
    return changed('DEL', 'KVS', `Key-value store '${deleted}' deleted.`, { KeyValueStore: deleted })
  }, { op: 'DEL', ...K })
}

/** LINSTOR's KeyValueStore JSON. */
export function kvsJson(kv: KeyValueStore): Record<string, unknown> {
  return { name: kv.name, props: kv.props }
}

/** LINSTOR's path sanitising: '/a//b/' is the key 'a/b'. */
function sanitiseKey(k: string): string {
  return k.split('/').filter((s) => s !== '').join('/')
}

function sanitiseKeys(mod: PropsModify): PropsModify {
  const out: PropsModify = {}
  if (mod.override !== undefined) {
    const o: Props = {}
    for (const [k, v] of Object.entries(mod.override)) o[sanitiseKey(k)] = v
    out.override = o
  }
  if (mod.deleteKeys !== undefined) out.deleteKeys = mod.deleteKeys.map(sanitiseKey)
  if (mod.deleteNamespaces !== undefined) out.deleteNamespaces = mod.deleteNamespaces.map(sanitiseKey)
  return out
}
