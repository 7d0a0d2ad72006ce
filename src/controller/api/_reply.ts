/** Reply shapes shared by the API modules: LINSTOR's ApiCallRc lists and its list-or-single GETs. */
import { ApiError, rcEntry, SUCCESS, type ApiCallRc, type ErrorCode, type Params } from '../../common/errors.js'
import type { Obj, Op } from '../../common/api-codes.js'
import type { Reply } from '../http/router.js'

/** A successful change: 201 for creates, 200 otherwise, as LINSTOR answers. */
export function changed(op: Op, obj: Obj, message: string, objRefs: Record<string, string>, extra: ApiCallRc[] = []): Reply {
  const code = op === 'CRT' ? SUCCESS.CREATED : op === 'DEL' ? SUCCESS.DELETED : SUCCESS.MODIFIED
  return { status: op === 'CRT' ? 201 : 200, body: [rcEntry(code, message, op, obj, { obj_refs: objRefs }), ...extra] }
}

/**
 * LINSTOR serves `GET /v1/<things>` as a list and `GET /v1/<things>/{name}` as the single object, with
 * a 404 ApiCallRc when it does not exist (RequestHelper.queryRequestResponse).
 */
export function oneOrList<T>(items: T[], single: boolean, notFound: ErrorCode, params: Params): Reply {
  if (!single) return { status: 200, body: items }
  if (items.length === 0) throw new ApiError(notFound, params)
  return { status: 200, body: items[0] }
}

export const ok = (body: unknown): Reply => ({ status: 200, body })
