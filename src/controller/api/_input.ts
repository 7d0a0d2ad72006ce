/**
 * Reading request bodies: every field is checked for type and range before anything is changed, and a
 * wrong one becomes ERR_REQ_FIELD naming the field. LINSTOR's own clients send numbers as strings at
 * times and `null` for absent optional fields, so both are accepted (DESIGN.md §2.1).
 */
import { ApiError } from '../../common/errors.js'
import type { Props } from '../model/types.js'
import type { PropsModify } from '../model/props.js'

export type Body = Record<string, unknown>

function bad(field: string, problem: string): ApiError {
  return new ApiError('ERR_REQ_FIELD', { field, problem })
}

/** The body (or a nested field) as an object. */
export function obj(v: unknown, field = 'body'): Body {
  if (v === undefined || v === null) throw bad(field, 'an object is required')
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(field, 'must be a JSON object')
  return v as Body
}

export function optObj(o: Body, key: string, path = key): Body | undefined {
  const v = o[key]
  return v === undefined || v === null ? undefined : obj(v, path)
}

export function str(o: Body, key: string, path = key): string {
  const v = o[key]
  if (v === undefined || v === null) throw bad(path, 'is required')
  if (typeof v !== 'string') throw bad(path, 'must be a string')
  return v
}

export function optStr(o: Body, key: string, path = key): string | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw bad(path, 'must be a string')
  return v
}

function toInt(v: unknown, path: string, min: number, max: number): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v
  if (typeof n !== 'number' || !Number.isInteger(n)) throw bad(path, 'must be an integer')
  if (n < min || n > max) throw bad(path, `must be between ${min} and ${max}`)
  return n
}

export function int(o: Body, key: string, min: number, max: number, path = key): number {
  const v = o[key]
  if (v === undefined || v === null) throw bad(path, 'is required')
  return toInt(v, path, min, max)
}

export function optInt(o: Body, key: string, min: number, max: number, path = key): number | undefined {
  const v = o[key]
  return v === undefined || v === null ? undefined : toInt(v, path, min, max)
}

export function optNum(o: Body, key: string, min: number, max: number, path = key): number | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n)) throw bad(path, 'must be a number')
  if (n < min || n > max) throw bad(path, `must be between ${min} and ${max}`)
  return n
}

export function optBool(o: Body, key: string, path = key): boolean | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (typeof v === 'boolean') return v
  if (v === 'true' || v === 'false') return v === 'true'
  throw bad(path, 'must be true or false')
}

export function optStrArray(o: Body, key: string, path = key): string[] | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad(path, 'must be an array of strings')
  return v as string[]
}

export function optIntArray(o: Body, key: string, min: number, max: number, path = key): number[] | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v)) throw bad(path, 'must be an array of integers')
  return v.map((x, i) => toInt(x, `${path}[${i}]`, min, max))
}

/** A property map; scalar values are taken as their string form (LINSTOR props are strings). */
export function optProps(o: Body, key: string, path = key): Props | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  const m = obj(v, path)
  const out: Props = {}
  for (const [k, x] of Object.entries(m)) {
    // Assigning '__proto__' would replace the map's prototype and silently drop the entry.
    if (k === '__proto__') throw bad(`${path}.${k}`, 'is not a property key')
    if (typeof x === 'string') out[k] = x
    else if (typeof x === 'number' || typeof x === 'boolean') out[k] = String(x)
    else throw bad(`${path}.${k}`, 'must be a string')
  }
  return out
}

/** LINSTOR's common modify fields: override_props, delete_props, delete_namespaces. */
export function propsModify(o: Body): PropsModify {
  const mod: PropsModify = {}
  const override = optProps(o, 'override_props')
  const deleteKeys = optStrArray(o, 'delete_props')
  const deleteNamespaces = optStrArray(o, 'delete_namespaces')
  if (override !== undefined) mod.override = override
  if (deleteKeys !== undefined) mod.deleteKeys = deleteKeys
  if (deleteNamespaces !== undefined) mod.deleteNamespaces = deleteNamespaces
  return mod
}

/** Repeated or comma-separated query values (`?nodes=a&nodes=b` or `?nodes=a,b`). */
export function queryList(q: URLSearchParams, name: string): string[] {
  return q.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '')
}

/** LINSTOR's `offset`/`limit` paging of list calls. */
export function page<T>(items: T[], q: URLSearchParams): T[] {
  const offset = Number(q.get('offset') ?? '0')
  const limit = Number(q.get('limit') ?? '0')
  if (!Number.isInteger(offset) || offset < 0) throw new ApiError('ERR_REQ_QUERY', { param: 'offset', problem: 'must be a non-negative integer' })
  if (!Number.isInteger(limit) || limit < 0) throw new ApiError('ERR_REQ_QUERY', { param: 'limit', problem: 'must be a non-negative integer' })
  return limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset)
}
