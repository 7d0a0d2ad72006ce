/**
 * LINSTOR's server-sent event streams (DESIGN.md §2.9), for LINSTOR's own clients:
 *
 * - `GET /v1/events/nodes`: `node-create`, `node-delete` (`{"node":{…Node…}}`, the node as it was last),
 *   `node-modified` (`{"old_node":…,"new_node":…}`), `node-evicted`, `node-restored` and `node-evacuate`
 *   when the node's EVICTED flag appears or goes or its EVACUATE flag appears (the node instead of a
 *   `node-modified`, as LINSTOR's evict, restore and evacuate calls send only those).
 * - `GET /v1/events/drbd/promotion`: `may-promote-change` (`{"resource_name","node_name","may_promote"}`)
 *   for resources whose layer stack has DRBD, when what their satellite reported of their may-promote
 *   changes (model.runtime.resources; unknown, left out, until it reports one); `Last-Event-ID: current`
 *   sends every such resource's first.
 *
 * The wire format is Jersey's as LINSTOR sends it: `event: NAME`, `data: JSON`, a blank line; no ids.
 * Payloads are LINSTOR's JSON types (EventNode, EventNodeModified, EventMayPromoteChange; empty members
 * left out, as its `@JsonInclude(NON_EMPTY)` does). Both follow the events hub (events/hub.ts): a change
 * is announced once it is durable. Comment lines keep idle streams open through proxies.
 *
 * Streaming on uWS: the status and headers go with the first write; a subscriber's writes are corked. When
 * uWS reports backpressure (a write it could not hand to the socket whole), later events wait in the
 * subscriber's own queue, handed over from `onWritable`; a queue beyond `maxBufferBytes` closes the
 * connection. So a client that does not read costs at most about twice the limit (uWS's buffer and the
 * queue) and never delays the others. uWS itself also closes a connection that takes nothing for 10 s
 * while data waits for it.
 */
import uWS from 'uWebSockets.js'
import { ApiError } from '../../common/errors.js'
import { stringifyJson } from '../../common/json.js'
import { logger } from '../../common/log.js'
import { nameKey } from '../../common/names.js'
import { runtimeResourceOf } from '../api/_resources.js'
import { nodeJson } from '../api/nodes.js'
import type { ClusterEvent } from '../events/event.js'
import type { MetricsRegistry } from '../metrics/registry.js'
import type { EventHub } from '../events/hub.js'
import type { Model } from '../model/model.js'
import type { Resource } from '../model/types.js'
import { sendError } from './server.js'

const log = logger('events-sse')

export const SSE_NODES_PATH = '/v1/events/nodes'
export const SSE_PROMOTION_PATH = '/v1/events/drbd/promotion'
/** Default bytes a subscriber may leave unread (queued beyond what uWS holds) before it is closed. */
export const DEFAULT_SSE_MAX_BUFFER_BYTES = 4 * 1024 * 1024
/** Default interval of the keep-alive comment: below the 30–60 s idle timeouts of common proxies. */
export const DEFAULT_SSE_KEEP_ALIVE_MS = 15_000

/**
 * What is known of a DRBD resource's may-promote: true or false as its satellite reported it, null when
 * unknown (LINSTOR's null, left out of the JSON).
 */
const mayPromote = (m: Model, r: Resource): boolean | null => runtimeResourceOf(m, r)?.mayPromote ?? null

export interface SseOptions {
  maxBufferBytes?: number
  keepAliveMs?: number
}

type Stream = 'nodes' | 'promotion'

interface Subscriber {
  readonly res: uWS.HttpResponse
  readonly stream: Stream
  /** Set once closed (aborted, ended, dropped): nothing more is written. */
  closed: boolean
  /** uWS holds data it could not hand to the socket: write only from onWritable. */
  blocked: boolean
  queue: string[]
  queuedBytes: number
}

/** The SSE routes on the REST app, fed by the events hub. */
export class SseStreams {
  private readonly subscribers = new Set<Subscriber>()
  private readonly counts: Record<Stream, number> = { nodes: 0, promotion: 0 }
  /** The last JSON of every node (LINSTOR's Node), for old_node and for the flags that changed. */
  private readonly nodes = new Map<string, string>()
  /** may-promote of DRBD resources where it is known (`rscKey\0nodeKey`); absent means unknown. */
  private readonly promote = new Map<string, boolean>()
  private readonly stopListening: () => void
  private readonly keepAlive: NodeJS.Timeout
  private readonly maxBufferBytes: number
  /** Subscribers closed for not reading their events. */
  droppedSlow = 0

  constructor(app: uWS.TemplatedApp, hub: EventHub, private readonly model: () => Model, opts: SseOptions = {}) {
    this.maxBufferBytes = opts.maxBufferBytes ?? DEFAULT_SSE_MAX_BUFFER_BYTES
    const m = model()
    for (const [key, n] of m.nodes) this.nodes.set(key, stringifyJson(nodeJson(m, n)))
    for (const byNode of m.resources.values()) {
      for (const r of byNode.values()) {
        const v = r.layerStack.includes('DRBD') ? mayPromote(m, r) : null
        if (v !== null) this.promote.set(rscKey(r), v)
      }
    }
    // `any`, not `get`: other methods get LINSTOR's 405 rather than the router's "no such call".
    app.any(SSE_NODES_PATH, (res, req) => this.open(res, req, 'nodes'))
    app.any(SSE_PROMOTION_PATH, (res, req) => this.open(res, req, 'promotion'))
    this.stopListening = hub.onEvents((batch) => this.fanOut(batch))
    this.keepAlive = setInterval(() => this.broadcast(null, ': keep-alive\n\n'), opts.keepAliveMs ?? DEFAULT_SSE_KEEP_ALIVE_MS)
    this.keepAlive.unref()
  }

  /** Subscribers connected, both streams. */
  get size(): number {
    return this.subscribers.size
  }

  /** Adds this transport's series to `blockyard_event_subscribers` (the WebSocket endpoint gives its own). */
  registerMetrics(registry: MetricsRegistry): void {
    registry.gauge('blockyard_event_subscribers', 'Event subscribers connected.', ['transport'], () => [[['sse'], this.size]])
  }

  /** Subscribers connected to one stream. */
  count(stream: Stream): number {
    return this.counts[stream]
  }

  /** Ends every stream (clients see the response end) and stops following the hub. */
  close(): void {
    this.stopListening()
    clearInterval(this.keepAlive)
    for (const s of [...this.subscribers]) {
      this.remove(s)
      s.res.cork(() => s.res.end())
    }
  }

  private open(res: uWS.HttpResponse, req: uWS.HttpRequest, stream: Stream): void {
    const method = req.getMethod().toUpperCase()
    if (method !== 'GET') {
      sendError(res, new ApiError('ERR_REQ_METHOD', { method, path: req.getUrl(), allowed: 'GET' }), { Allow: 'GET' })
      return
    }
    const current = stream === 'promotion' && req.getHeader('last-event-id') === 'current'
    const sub: Subscriber = { res, stream, closed: false, blocked: false, queue: [], queuedBytes: 0 }
    res.onAborted(() => this.remove(sub))
    res.onWritable(() => this.writable(sub))
    this.subscribers.add(sub)
    this.counts[stream]++
    const first = current ? this.currentPromotion() : ''
    res.cork(() => {
      res.writeStatus('200 OK')
      res.writeHeader('Content-Type', 'text/event-stream')
      res.writeHeader('Cache-Control', 'no-cache')
      // nginx buffers responses unless told not to.
      res.writeHeader('X-Accel-Buffering', 'no')
      // The headers leave with the first write, which cannot be empty (an empty chunk ends the body).
      this.write(sub, first !== '' ? first : ': connected\n\n')
    })
  }

  /** LINSTOR's answer to `Last-Event-ID: current`: every DRBD resource's may-promote. */
  private currentPromotion(): string {
    const m = this.model()
    let out = ''
    for (const byNode of m.resources.values()) {
      for (const r of byNode.values()) if (r.layerStack.includes('DRBD')) out += promotionEvent(r, mayPromote(m, r))
    }
    return out
  }

  private fanOut(batch: readonly ClusterEvent[]): void {
    let nodes = ''
    let promotion = ''
    for (const e of batch) {
      if (e.kind === 'node') nodes += this.nodeEvent(e)
      else if (e.kind === 'resource') promotion += this.promotionChange(e)
    }
    if (nodes !== '') this.broadcast('nodes', nodes)
    if (promotion !== '') this.broadcast('promotion', promotion)
  }

  /** The SSE text of a node event ('' when LINSTOR would say nothing), keeping the node's last JSON. */
  private nodeEvent(e: ClusterEvent): string {
    const key = e.nodeKey!
    const now = e.object
    const before = this.nodes.get(key)
    if (e.action === 'delete') {
      this.nodes.delete(key)
      return sse('node-delete', `{"node":${now}}`)
    }
    this.nodes.set(key, now)
    if (before === undefined) return sse('node-create', `{"node":${now}}`)
    if (before === now) return ''
    const was = flagsOf(before)
    const is = flagsOf(now)
    if (!was.includes('EVICTED') && is.includes('EVICTED')) return sse('node-evicted', `{"node":${now}}`)
    if (was.includes('EVICTED') && !is.includes('EVICTED')) return sse('node-restored', `{"node":${now}}`)
    if (!was.includes('EVACUATE') && is.includes('EVACUATE')) return sse('node-evacuate', `{"node":${now}}`)
    return sse('node-modified', `{"old_node":${before},"new_node":${now}}`)
  }

  /** The SSE text of a may-promote change the resource event brings ('' when none). */
  private promotionChange(e: ClusterEvent): string {
    const key = `${e.nameKey!}\0${e.nodeKey!}`
    if (e.action === 'delete') {
      this.promote.delete(key)
      return ''
    }
    const m = this.model()
    const r = m.resources.get(e.nameKey!)?.get(e.nodeKey!)
    if (r === undefined || !r.layerStack.includes('DRBD')) return ''
    const v = mayPromote(m, r)
    if (v === (this.promote.get(key) ?? null)) return ''
    if (v === null) this.promote.delete(key)
    else this.promote.set(key, v)
    return promotionEvent(r, v)
  }

  /** Writes `text` to every subscriber of `stream` (null: of both). */
  private broadcast(stream: Stream | null, text: string): void {
    for (const s of this.subscribers) {
      if (stream !== null && s.stream !== stream) continue
      s.res.cork(() => this.write(s, text))
    }
  }

  /** Hands `text` to uWS, or queues it while uWS holds unsent data; closes a subscriber over the limit. */
  private write(s: Subscriber, text: string): void {
    if (s.closed) return
    if (!s.blocked) {
      s.blocked = !s.res.write(text)
      return
    }
    s.queue.push(text)
    s.queuedBytes += text.length // ASCII but for names and props: near enough to bytes for a limit
    if (s.queuedBytes > this.maxBufferBytes) {
      this.droppedSlow++
      log.warn('closing a slow SSE subscriber', { stream: s.stream, unreadBytes: s.queuedBytes, limit: this.maxBufferBytes })
      this.remove(s)
      s.res.close()
    }
  }

  /**
   * The socket takes data again. uWS drains its own buffer only on a write when an onWritable handler
   * is set: write the queue, or a comment line when it is empty.
   */
  private writable(s: Subscriber): boolean {
    if (s.closed || !s.blocked) return true
    const text = s.queue.length > 0 ? s.queue.join('') : ':\n'
    s.queue = []
    s.queuedBytes = 0
    s.res.cork(() => {
      s.blocked = !s.res.write(text)
    })
    return true
  }

  private remove(s: Subscriber): void {
    if (s.closed) return
    s.closed = true
    s.queue = []
    this.subscribers.delete(s)
    this.counts[s.stream]--
  }
}

/** One event as LINSTOR (Jersey) writes it; its JSON data is one line. */
function sse(name: string, data: string): string {
  return `event: ${name}\ndata: ${data}\n\n`
}

function promotionEvent(r: Resource, value: boolean | null): string {
  const data: Record<string, unknown> = { resource_name: r.rscName, node_name: r.nodeName }
  if (value !== null) data['may_promote'] = value
  return sse('may-promote-change', JSON.stringify(data))
}

function rscKey(r: Resource): string {
  return `${nameKey(r.rscName)}\0${nameKey(r.nodeName)}`
}

function flagsOf(nodeText: string): string[] {
  return (JSON.parse(nodeText) as { flags?: string[] }).flags ?? []
}

