/**
 * The uWebSockets.js adapter: turns uWS requests into router `Request`s and `Reply`s back into bytes.
 * Everything uWS-specific lives here (reading the request synchronously before any await, onAborted,
 * corking, body chunks that are only valid during their callback).
 */
import uWS from 'uWebSockets.js'
import { STATUS_CODES } from 'node:http'
import { randomBytes } from 'node:crypto'
import { ApiError } from '../../common/errors.js'
import { stringifyJson } from '../../common/json.js'
import { logger } from '../../common/log.js'
import { JsonText, type Reply, type Request, type Router } from './router.js'

const log = logger('http')
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export interface HttpOptions {
  host: string
  port: number
  /** Largest request body accepted, in bytes (larger ones get 413 before being buffered whole). */
  maxBodyBytes: number
  /** Told of every request answered (metrics): route is the matched route's pattern, null for none. */
  observe?: RequestObserver
}

export type RequestObserver = (method: string, route: string | null, status: number, seconds: number) => void

/** Per request: whether it was answered (or aborted), and what its observer needs. */
interface RequestState {
  aborted: boolean
  method: string
  route: string | null
  /** performance.now() at arrival */
  started: number
  observe: RequestObserver | undefined
}

export interface HttpServer {
  readonly app: uWS.TemplatedApp
  readonly port: number
  /** Stop listening and close every connection, keep-alive ones included. */
  close(): void
}

/** uWS's `App.close()` (closes the listen sockets and every connection) is missing from its typings. */
type ClosableApp = uWS.TemplatedApp & { close(): void }

/** Start listening; resolves with the bound port (useful with port 0). */
export function startHttp(router: Router, opts: HttpOptions): Promise<HttpServer> {
  const app = uWS.App()
  app.any('/*', (res, req) => handle(router, opts, res, req))
  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (token) => {
      if (token === false) {
        reject(new Error(`cannot listen on ${opts.host}:${opts.port} (address in use or not available)`))
        return
      }
      resolve({
        app,
        port: uWS.us_socket_local_port(token as unknown as uWS.us_socket),
        close: () => {
          uWS.us_listen_socket_close(token)
          // Idle keep-alive connections would otherwise stay open to a stopped controller, whose
          // closed database answers their next request with a 500.
          ;(app as ClosableApp).close()
        },
      })
    })
  })
}

function handle(router: Router, opts: HttpOptions, res: uWS.HttpResponse, req: uWS.HttpRequest): void {
  // uWS invalidates `req` once this function returns: copy everything needed now.
  const method = req.getMethod().toUpperCase()
  const path = req.getUrl()
  const query = new URLSearchParams(req.getQuery() ?? '')
  const headers = new Map<string, string>()
  req.forEach((k, v) => headers.set(k, v))
  const state: RequestState = { aborted: false, method, route: null, started: opts.observe !== undefined ? performance.now() : 0, observe: opts.observe }
  res.onAborted(() => {
    state.aborted = true
  })

  const request: Request = { method, path, params: {}, query, body: undefined, header: (n) => headers.get(n.toLowerCase()) }
  const m = router.match(method, path)
  if (m === null) {
    send(res, state, errorReply(new ApiError('ERR_REQ_ROUTE', { method, path })))
    return
  }
  if ('methodNotAllowed' in m) {
    const reply = errorReply(new ApiError('ERR_REQ_METHOD', { method, path, allowed: m.methodNotAllowed.join(', ') }))
    reply.headers = { Allow: m.methodNotAllowed.join(', ') }
    send(res, state, reply)
    return
  }
  const { handler, params, ctx } = m.found
  request.params = params
  state.route = m.found.route
  const run = (): void => {
    let out: Reply | Promise<Reply>
    try {
      out = handler(request)
    } catch (e) {
      send(res, state, errorReply(e, ctx))
      return
    }
    if (out instanceof Promise) out.then((r) => send(res, state, r), (e: unknown) => send(res, state, errorReply(e, ctx)))
    else send(res, state, out)
  }
  if (!BODY_METHODS.has(method)) {
    run()
    return
  }
  const declared = Number(headers.get('content-length') ?? '0')
  if (declared > opts.maxBodyBytes) {
    send(res, state, errorReply(new ApiError('ERR_REQ_TOO_LARGE', { limit: opts.maxBodyBytes }), ctx), true)
    return
  }
  const chunks: Buffer[] = []
  let size = 0
  let rejected = false
  res.onData((ab, isLast) => {
    if (rejected) return
    size += ab.byteLength
    if (size > opts.maxBodyBytes) {
      rejected = true
      send(res, state, errorReply(new ApiError('ERR_REQ_TOO_LARGE', { limit: opts.maxBodyBytes }), ctx), true)
      return
    }
    // The ArrayBuffer is only valid during this callback: copy it.
    chunks.push(Buffer.from(new Uint8Array(ab).slice()))
    if (!isLast) return
    const text = Buffer.concat(chunks).toString('utf8')
    if (text.trim() !== '') {
      try {
        request.body = JSON.parse(text) as unknown
      } catch (e) {
        send(res, state, errorReply(new ApiError('ERR_REQ_JSON', {}, { details: (e as Error).message }), ctx))
        return
      }
    }
    run()
  })
}

/** The reply for a thrown value: ApiErrors carry their status; anything else is a 500 with a report id. */
export function errorReply(e: unknown, ctx: { op?: import('../../common/api-codes.js').Op; obj?: import('../../common/api-codes.js').Obj } = {}): Reply {
  if (e instanceof ApiError) return { status: e.status, body: [e.toRc(ctx.op, ctx.obj)] }
  const reportId = randomBytes(6).toString('hex').toUpperCase()
  log.error('internal error', { reportId, error: e instanceof Error ? e.stack : String(e) })
  const err = new ApiError('ERR_SERVER_INTERNAL', { reportId })
  const rc = err.toRc(ctx.op, ctx.obj)
  rc.error_report_ids = [reportId]
  return { status: 500, body: [rc] }
}

/**
 * Answers a request outside the router (the events WebSocket path, the SSE routes) with the error's
 * registry status and ApiCallRc list, as the router's replies are.
 */
export function sendError(res: uWS.HttpResponse, e: unknown, headers?: Record<string, string>): void {
  const reply = errorReply(e)
  if (headers !== undefined) reply.headers = headers
  send(res, { aborted: false, method: '', route: null, started: 0, observe: undefined }, reply)
}

function send(res: uWS.HttpResponse, state: RequestState, reply: Reply, closeAfter = false): void {
  if (state.aborted) return
  state.aborted = true // a response is sent once
  state.observe?.(state.method, state.route, reply.status, (performance.now() - state.started) / 1000)
  const json = reply.body instanceof JsonText ? reply.body : null
  if (json !== null && !closeAfter) {
    let size = 0
    for (const part of json.parts) size += Buffer.byteLength(part)
    if (size > STREAM_ABOVE_BYTES) {
      stream(res, reply, json.parts, size)
      return
    }
  }
  const isText = typeof reply.body === 'string'
  const text = json !== null ? json.toString() : isText ? (reply.body as string) : stringifyJson(reply.body)
  res.cork(() => {
    writeHead(res, reply, isText, closeAfter)
    res.end(text, closeAfter)
  })
}

function writeHead(res: uWS.HttpResponse, reply: Reply, isText: boolean, closeAfter: boolean): void {
  res.writeStatus(`${reply.status} ${STATUS_CODES[reply.status] ?? ''}`)
  res.writeHeader('Content-Type', reply.headers?.['Content-Type'] ?? (isText ? 'text/plain; charset=utf-8' : 'application/json'))
  for (const [k, v] of Object.entries(reply.headers ?? {})) if (k !== 'Content-Type') res.writeHeader(k, v)
  if (closeAfter) res.writeHeader('Connection', 'close')
}

/** JSON bodies up to this size are joined and sent at once; larger ones are streamed. */
const STREAM_ABOVE_BYTES = 64 * 1024
/** Bytes handed to uWS per write while streaming: few calls, and memory that stays flat. */
const CHUNK_BYTES = 256 * 1024

/**
 * Send a large JSON body of `size` bytes part by part, as fast as the client takes it, with a
 * Content-Length like any other reply. Joining the view of 30,000 resources into one string and handing
 * it to uWS held the 34 MB twice more; here one chunk buffer is refilled from the parts. uWS's `tryEnd`
 * takes what the socket accepts without buffering the rest; the rest is offered again from `onWritable`,
 * from the write offset reached. An aborted response gets no more callbacks, which ends the stream.
 */
function stream(res: uWS.HttpResponse, reply: Reply, parts: readonly string[], size: number): void {
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES)
  let next = 0 // the next part to copy into a chunk
  let pending: Buffer | null = null // handed to uWS, not all taken yet
  let pendingAt = 0 // write offset of pending's first byte
  const fill = (): Buffer => {
    let n = 0
    while (next < parts.length) {
      const part = parts[next]!
      // A UTF-16 unit takes at most 3 bytes in UTF-8: most parts fit without measuring them.
      if (part.length * 3 > CHUNK_BYTES - n) {
        const bytes = Buffer.byteLength(part)
        if (bytes > CHUNK_BYTES - n) {
          if (n > 0) break
          next++
          return Buffer.from(part) // larger than a chunk: on its own
        }
      }
      n += chunk.write(part, n)
      next++
    }
    return chunk.subarray(0, n)
  }
  /** Offer uWS chunks until it has everything (true) or takes no more for now (false). */
  const pump = (): boolean => {
    for (;;) {
      if (pending === null) {
        pendingAt = res.getWriteOffset()
        pending = fill()
        if (pending.length === 0) {
          // Only if `size` disagreed with the parts: end the connection rather than offer nothing forever.
          log.error('streamed reply shorter than its Content-Length', { size, sent: pendingAt })
          res.close()
          return true
        }
      }
      const [ok, done] = res.tryEnd(pending.subarray(res.getWriteOffset() - pendingAt), size)
      if (done) return true
      if (!ok) return false
      pending = null
    }
  }
  res.cork(() => {
    writeHead(res, reply, false, false)
    res.onWritable(() => pump())
    pump()
  })
}
