/**
 * Storage pool definitions: /v1/storage-pool-definitions… (LINSTOR StoragePoolDefinitions.java). A
 * definition is the cluster-wide name of a pool and carries the properties every pool of that name
 * inherits (e.g. MaxOversubscriptionRatio); the pools themselves live on nodes (storage-pools.ts).
 */
import { randomUUID } from 'node:crypto'
import { ApiError } from '../../common/errors.js'
import { checkName, nameKey } from '../../common/names.js'
import type { Core } from '../core.js'
import type { Router } from '../http/router.js'
import { DFLT_DISKLESS_STOR_POOL, DFLT_STOR_POOL, type Model } from '../model/model.js'
import { hasAllProps, modifyProps } from '../model/props.js'
import type { StorPoolDfn } from '../model/types.js'
import { changed, oneOrList } from './_reply.js'
import { obj, optProps, page, propsModify, queryList, str } from './_input.js'

/** Definitions LINSTOR creates on first start and never lets go (defaults.ts creates them). */
const DEFAULT_DFNS = new Set([nameKey(DFLT_STOR_POOL), nameKey(DFLT_DISKLESS_STOR_POOL)])

export function registerStorPoolDfnApi(r: Router, core: Core): void {
  const SPD = { obj: 'STOR_POOL_DFN' } as const

  const list = (single: string | null, q: URLSearchParams): ReturnType<typeof oneOrList> => {
    const m = core.model
    const names = single !== null ? [single] : queryList(q, 'storage_pools')
    const props = queryList(q, 'props')
    const want = names.length > 0 ? new Set(names.map(nameKey)) : null
    const dfns = [...m.storPoolDfns.values()]
      .filter((d) => (want === null || want.has(nameKey(d.name))) && hasAllProps(d.props, props))
      .sort((a, b) => a.name.localeCompare(b.name))
    return oneOrList(page(dfns, q).map(storPoolDfnJson), single !== null, 'ERR_NOT_FOUND_STOR_POOL_DFN', { pool: single ?? '' })
  }
  r.get('/v1/storage-pool-definitions', (req) => list(null, req.query), SPD)
  r.get('/v1/storage-pool-definitions/{storagepool}', (req) => list(req.params['storagepool']!, req.query), SPD)

  r.post('/v1/storage-pool-definitions', async (req) => {
    const b = obj(req.body)
    const name = checkName('storPool', str(b, 'storage_pool_name'))
    const { props } = modifyProps({}, { override: optProps(b, 'props') ?? {} })
    await core.mutate((tx, m) => {
      if (m.getStorPoolDfn(name)) throw new ApiError('ERR_EXISTS_STOR_POOL_DFN', { pool: name })
      m.putStorPoolDfn(tx, { name, props, uuid: randomUUID() })
    })
    return changed('CRT', 'STOR_POOL_DFN', `New storage pool definition '${name}' created.`, { StorPoolName: name })
  }, { op: 'CRT', ...SPD })

  r.put('/v1/storage-pool-definitions/{storagepool}', async (req) => {
    const mod = propsModify(obj(req.body))
    const name = await core.mutate((tx, m) => {
      const d = requireStorPoolDfn(m, req.params['storagepool']!)
      d.props = modifyProps(d.props, mod).props
      m.putStorPoolDfn(tx, d)
      return d.name
    })
    return changed('MOD', 'STOR_POOL_DFN', `Storage pool definition '${name}' modified.`, { StorPoolName: name })
  }, { op: 'MOD', ...SPD })

  r.delete('/v1/storage-pool-definitions/{storagepool}', async (req) => {
    const name = await core.mutate((tx, m) => {
      const d = requireStorPoolDfn(m, req.params['storagepool']!)
      // Placement and diskless resources fall back to these names; without them nothing can be placed.
      if (DEFAULT_DFNS.has(nameKey(d.name))) throw new ApiError('ERR_DEFAULT_OBJECT', { name: d.name })
      const nodes = [...m.allStorPools()].filter((sp) => nameKey(sp.name) === nameKey(d.name)).map((sp) => sp.nodeName).sort()
      if (nodes.length > 0) {
        throw new ApiError('ERR_IN_USE', {
          what: `Storage pool definition '${d.name}'`,
          by: `it has storage pools on node(s) ${nodes.map((n) => `'${n}'`).join(', ')}`,
        }, { correction: 'Delete the storage pools first.' })
      }
      m.deleteStorPoolDfn(tx, d)
      return d.name
    })
    return changed('DEL', 'STOR_POOL_DFN', `Storage pool definition '${name}' deleted.`, { StorPoolName: name })
  }, { op: 'DEL', ...SPD })
}

/** The definition, or ERR_NOT_FOUND_STOR_POOL_DFN (404). */
export function requireStorPoolDfn(m: Model, name: string): StorPoolDfn {
  const d = m.getStorPoolDfn(name)
  if (d === undefined) throw new ApiError('ERR_NOT_FOUND_STOR_POOL_DFN', { pool: name })
  return d
}

/** LINSTOR's StoragePoolDefinition JSON (name and props only: it has no uuid on the wire). */
export function storPoolDfnJson(d: StorPoolDfn): Record<string, unknown> {
  return { storage_pool_name: d.name, props: d.props }
}
