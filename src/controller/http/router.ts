/**
 * Method + path routing for the REST API. Patterns are LINSTOR's paths with `{param}` segments; a route
 * also names the operation and object of its API call, which go into the ret_code of every error it
 * raises (LINSTOR's ResponseContext).
 */
import type { Obj, Op } from '../../common/api-codes.js'

export interface Request {
  method: string
  path: string
  params: Record<string, string>
  query: URLSearchParams
  /** Parsed JSON body; undefined when the request had none. */
  body: unknown
  header(name: string): string | undefined
}

export interface Reply {
  status: number
  /** A value to serialise as JSON, a {@link JsonText} already serialised, or a string sent as plain text. */
  body: unknown
  headers?: Record<string, string>
}

/**
 * A reply body already serialised as JSON: the text is the concatenation of `parts`. Handlers that keep
 * the JSON of their objects as text (api/_resources.ts) answer with one; the server sends large ones part
 * by part as the client takes them, never joining them into one string. The parts are immutable strings
 * taken when the handler returns, so the reply is a consistent snapshot however long it takes to send.
 */
export class JsonText {
  constructor(readonly parts: readonly string[]) {}

  /** A JSON array whose elements are the JSON texts `items`. */
  static array(items: readonly string[]): JsonText {
    if (items.length === 0) return new JsonText(['[]'])
    const parts = new Array<string>(items.length * 2 + 1)
    parts[0] = '['
    for (let i = 0; i < items.length; i++) {
      parts[2 * i + 1] = items[i]!
      parts[2 * i + 2] = ','
    }
    parts[parts.length - 1] = ']'
    return new JsonText(parts)
  }

  /** The whole text. */
  toString(): string {
    return this.parts.join('')
  }
}

export type Handler = (req: Request) => Reply | Promise<Reply>

export interface RouteContext { op?: Op; obj?: Obj }

interface Route { method: string; pattern: string; segments: string[]; handler: Handler; ctx: RouteContext }

/** `route` is the pattern the route was added with (`/v1/nodes/{node}`): a bounded label for metrics. */
export interface Match { handler: Handler; params: Record<string, string>; ctx: RouteContext; route: string }
export type MatchResult = { found: Match } | { methodNotAllowed: string[] } | null

export class Router {
  private readonly routes: Route[] = []
  /** First path segment after /v1 → routes, to keep matching cheap with ~100 routes. */
  private readonly byHead = new Map<string, Route[]>()

  add(method: string, pattern: string, handler: Handler, ctx: RouteContext = {}): void {
    const segments = pattern.split('/').filter((s) => s !== '')
    const route: Route = { method: method.toUpperCase(), pattern, segments, handler, ctx }
    this.routes.push(route)
    const head = headOf(segments)
    let list = this.byHead.get(head)
    if (list === undefined) this.byHead.set(head, (list = []))
    list.push(route)
  }

  get(p: string, h: Handler, c?: RouteContext): void { this.add('GET', p, h, c) }
  post(p: string, h: Handler, c?: RouteContext): void { this.add('POST', p, h, c) }
  put(p: string, h: Handler, c?: RouteContext): void { this.add('PUT', p, h, c) }
  patch(p: string, h: Handler, c?: RouteContext): void { this.add('PATCH', p, h, c) }
  delete(p: string, h: Handler, c?: RouteContext): void { this.add('DELETE', p, h, c) }

  match(method: string, path: string): MatchResult {
    const segs = path.split('/').filter((s) => s !== '')
    const candidates = this.byHead.get(headOf(segs)) ?? []
    const allowed: string[] = []
    // Literal segments beat parameters: `/v1/nodes/properties/info` must not match `/v1/nodes/{node}`.
    let best: { route: Route; params: Record<string, string>; literals: number } | null = null
    for (const route of candidates) {
      if (route.segments.length !== segs.length) continue
      const params: Record<string, string> = {}
      let literals = 0
      let ok = true
      for (let i = 0; i < segs.length; i++) {
        const p = route.segments[i]!
        const s = segs[i]!
        if (p.startsWith('{')) {
          let value: string
          try {
            value = decodeURIComponent(s)
          } catch {
            ok = false
            break
          }
          params[p.slice(1, -1)] = value
        } else if (p === s) literals++
        else {
          ok = false
          break
        }
      }
      if (!ok) continue
      if (route.method !== method) {
        allowed.push(route.method)
        continue
      }
      if (best === null || literals > best.literals) best = { route, params, literals }
    }
    if (best !== null) return { found: { handler: best.route.handler, params: best.params, ctx: best.route.ctx, route: best.route.pattern } }
    return allowed.length > 0 ? { methodNotAllowed: [...new Set(allowed)] } : null
  }
}

function headOf(segments: string[]): string {
  return segments[0] === 'v1' ? 'v1/' + (segments[1] ?? '') : segments[0] ?? ''
}
