/**
 * The cluster events stream over WebSocket: `ws://HOST:PORT/v1/x-blockyard/events` on the REST app
 * (docs/events.md is the user's description; events/event.ts the vocabulary; events/hub.ts the source).
 *
 * A subscriber is either catching up or live. Catching up, it is sent what the hub's history holds
 * after its `cursor` (the revision up to which it has everything), in frames of whole units, only while
 * its socket takes them (uWS `drain`); live batches are not queued for it, since the history has them
 * too. Once nothing is left after its cursor it is live: each published batch is sent as it comes.
 * So a subscriber never holds more than the buffer limit in memory however far behind it starts, and a
 * live one that stops reading is closed (4429) rather than buffered for, without delaying the others.
 *
 * Fan-out: a batch's frame (UTF-8 bytes) is built once for every unfiltered live subscriber, once per
 * distinct filter for the filtered ones; each send is corked. Measured here with 1,000 subscribers on
 * loopback: ~9 µs per unfiltered subscriber and batch (the socket write), ~0.1 µs per filtered one that
 * the batch does not concern.
 */
import uWS from 'uWebSockets.js'
import { ApiError } from '../../common/errors.js'
import { stringifyJson } from '../../common/json.js'
import { logger } from '../../common/log.js'
import { sendError } from '../http/server.js'
import type { MetricsRegistry } from '../metrics/registry.js'
import { EVENTS_PATH, eventFilter, eventText, isoMicros, matches, type ClusterEvent, type EventFilter } from '../events/event.js'
import type { EventHub } from '../events/hub.js'

const log = logger('events-ws')

/** Close code after a `too-old` or `unknown-revision` error: reconnect with current=1. */
export const CLOSE_RESYNC = 4410
/** Close code of a subscriber that did not read its events in time. */
export const CLOSE_SLOW = 4429
/** Close code when the controller stops (RFC 6455 "going away"). */
export const CLOSE_GOING_AWAY = 1001

/** Why a subscriber was closed by the server (metrics label values). */
export type DropReason = 'slow' | 'too-old' | 'unknown-revision'

export interface EventsWsOptions {
  /** Bytes a subscriber may leave unread before it is closed as a slow consumer. */
  maxBufferBytes: number
  /** Seconds without traffic before uWS pings (and closes a peer that does not answer). */
  idleTimeoutSeconds?: number
}

/** A catching-up frame holds whole units up to about this many characters (one larger unit goes alone). */
const CATCH_UP_FRAME_CHARS = 256 * 1024
const QUERY_PARAMS = ['kinds', 'names', 'nodes', 'since', 'current']

/** What a subscriber asked for, as parsed from its query. */
interface Query {
  filter: EventFilter
  /** A key equal for equal filters (frames are shared between them); '' for no filter. */
  key: string
  since: number | null
  current: boolean
}

interface Subscriber {
  readonly query: Query
  ws: uWS.WebSocket<Subscriber> | null
  /** Every matching event up to this revision has been sent (or is covered by the current state). */
  cursor: number
  live: boolean
  /** Catching up: the history's events after the cursor still to send, from index `next`. */
  backlog: readonly ClusterEvent[]
  next: number
  /** The hub's revision when `backlog` was taken: the cursor once all of it is sent. */
  backlogUpTo: number
}

/**
 * Parses the query of an events request.
 * @throws ApiError ERR_EVENTS_QUERY for an unknown parameter or kind, or a since that is not a revision
 */
export function parseEventsQuery(text: string): Query {
  const q = new URLSearchParams(text)
  for (const k of q.keys()) {
    if (!QUERY_PARAMS.includes(k)) throw new ApiError('ERR_EVENTS_QUERY', { param: k, problem: `unknown parameter (known: ${QUERY_PARAMS.join(', ')})` })
  }
  const list = (k: string): string[] => q.getAll(k).flatMap((v) => v.split(','))
  let filter: EventFilter
  try {
    filter = eventFilter(list('kinds'), list('names'), list('nodes'))
  } catch (e) {
    throw new ApiError('ERR_EVENTS_QUERY', { param: 'kinds', problem: (e as Error).message })
  }
  const sinceText = q.get('since')
  let since: number | null = null
  if (sinceText !== null) {
    since = /^\d{1,15}$/.test(sinceText) ? Number(sinceText) : NaN
    if (Number.isNaN(since)) throw new ApiError('ERR_EVENTS_QUERY', { param: 'since', problem: `'${sinceText}' is not a revision (a whole number from 0)` })
  }
  const currentText = q.get('current')
  if (currentText !== null && !['1', 'true', '0', 'false'].includes(currentText)) {
    throw new ApiError('ERR_EVENTS_QUERY', { param: 'current', problem: `'${currentText}' is not 1 or 0` })
  }
  const set = (s: ReadonlySet<string> | null): string => (s === null ? '' : [...s].sort().join(','))
  const key = filter.kinds === null && filter.names === null && filter.nodes === null ? '' : `${set(filter.kinds)}|${set(filter.names)}|${set(filter.nodes)}`
  return { filter, key, since, current: currentText === '1' || currentText === 'true' }
}

/** An events frame as UTF-8 bytes: converted once, where a string would be converted on every send. */
function eventsFrame(texts: readonly string[]): Buffer {
  return Buffer.from(`{"type":"events","events":[${texts.join(',')}]}`)
}

/** The WebSocket endpoint of the events stream on the REST app. */
export class EventsWs {
  private readonly subscribers = new Set<Subscriber>()
  private readonly live = new Set<Subscriber>()
  private readonly droppedBy = new Map<DropReason, number>()
  private readonly stopListening: () => void
  private closing = false

  constructor(app: uWS.TemplatedApp, private readonly hub: EventHub, private readonly opts: EventsWsOptions) {
    app.ws<Subscriber>(EVENTS_PATH, {
      // Clients send nothing that matters: small frames only.
      maxPayloadLength: 4096,
      idleTimeout: opts.idleTimeoutSeconds ?? 60,
      sendPingsAutomatically: true,
      // The limit is enforced before each send (deliver); this only keeps uWS from dropping silently.
      maxBackpressure: opts.maxBufferBytes * 2,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      drain: (ws) => this.drain(ws.getUserData()),
      close: (ws) => this.closed(ws.getUserData()),
    })
    // The same path without an upgrade: a clear refusal instead of the REST router's "no such call".
    app.get(EVENTS_PATH, (res) => sendError(res, new ApiError('ERR_EVENTS_UPGRADE', { path: EVENTS_PATH })))
    this.stopListening = hub.onEvents((batch) => this.fanOut(batch))
  }

  /** Subscribers connected. */
  get size(): number {
    return this.subscribers.size
  }

  /** Registers the endpoint's gauges and counters on the controller's metrics. */
  registerMetrics(registry: MetricsRegistry): void {
    registry.gauge('blockyard_event_subscribers', 'Event subscribers connected.', ['transport'], () => [[['ws'], this.size]])
    registry.collected('counter', 'blockyard_event_subscribers_dropped_total', 'Event subscribers the controller closed, by reason (slow: did not read its events; too-old, unknown-revision: could not resume).', ['reason'],
      () => [...this.droppedBy].map(([reason, n]) => [[reason], n] as const))
  }

  /** Closes every subscriber (going away) and stops following the hub. */
  close(): void {
    this.closing = true
    this.stopListening()
    for (const s of [...this.subscribers]) s.ws?.end(CLOSE_GOING_AWAY, 'controller stopping')
  }

  private upgrade(res: uWS.HttpResponse, req: uWS.HttpRequest, context: uWS.us_socket_context_t): void {
    let query: Query
    try {
      query = parseEventsQuery(req.getQuery() ?? '')
    } catch (e) {
      sendError(res, e)
      return
    }
    const sub: Subscriber = { query, ws: null, cursor: 0, live: false, backlog: [], next: 0, backlogUpTo: 0 }
    res.upgrade(sub, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context)
  }

  private open(ws: uWS.WebSocket<Subscriber>): void {
    const sub = ws.getUserData()
    sub.ws = ws
    if (this.closing) {
      ws.end(CLOSE_GOING_AWAY, 'controller stopping')
      return
    }
    this.subscribers.add(sub)
    const { filter, since, current } = sub.query
    const hub = this.hub
    ws.cork(() => {
      ws.send(`{"type":"hello","revision":${hub.revision},"oldest":${hub.oldest}}`)
      if (current) {
        const c = hub.current(filter)
        const time = isoMicros(performance.timeOrigin + performance.now())
        // Sent whole, as the REST lists are: the buffer limit applies from the next frame on.
        ws.send(`{"type":"current","revision":${c.revision},"events":[${c.events.map((e) => eventText(c.revision, time, e)).join(',')}]}`)
        sub.cursor = c.revision
      } else if (since !== null) {
        sub.cursor = since
        this.takeBacklog(sub)
      } else {
        sub.cursor = hub.revision
      }
    })
    if (sub.ws !== null) this.catchUp(sub)
  }

  private drain(sub: Subscriber): void {
    if (!sub.live && sub.ws !== null) this.catchUp(sub)
  }

  private closed(sub: Subscriber): void {
    sub.ws = null
    this.subscribers.delete(sub)
    this.live.delete(sub)
  }

  /**
   * Sends what the history holds after the subscriber's cursor while its socket takes it; goes live
   * when nothing is left. Called at open and on every drain until then.
   */
  private catchUp(sub: Subscriber): void {
    const ws = sub.ws!
    const budget = Math.min(this.opts.maxBufferBytes, 4 * CATCH_UP_FRAME_CHARS)
    for (;;) {
      if (sub.next >= sub.backlog.length) {
        if (sub.backlogUpTo > sub.cursor) sub.cursor = sub.backlogUpTo
        // Written units not yet published (the current state may include them): live skips them.
        if (sub.cursor >= this.hub.revision) {
          sub.backlog = []
          sub.next = 0
          sub.live = true
          this.live.add(sub)
          return
        }
        if (!this.takeBacklog(sub)) return
        continue
      }
      if (ws.getBufferedAmount() >= budget) return // drain calls again
      const texts: string[] = []
      let chars = 0
      let i = sub.next
      const events = sub.backlog
      while (i < events.length) {
        // Whole units: take every event of the unit of events[i].
        const rev = events[i]!.revision
        let j = i
        let unitChars = 0
        while (j < events.length && events[j]!.revision === rev) unitChars += events[j++]!.text.length
        if (texts.length > 0 && chars + unitChars > CATCH_UP_FRAME_CHARS) break
        for (let k = i; k < j; k++) texts.push(events[k]!.text)
        chars += unitChars
        i = j
      }
      sub.next = i
      sub.cursor = events[i - 1]!.revision
      ws.cork(() => ws.send(eventsFrame(texts)))
    }
  }

  /** Takes the history's events after the cursor as the backlog; false when it cannot (the subscriber is closed). */
  private takeBacklog(sub: Subscriber): boolean {
    const r = this.hub.since(sub.cursor, sub.query.filter)
    if (!r.ok) {
      this.resyncError(sub, r.reason, r.oldest, r.revision)
      return false
    }
    sub.backlog = r.events
    sub.next = 0
    sub.backlogUpTo = this.hub.revision
    return true
  }

  private resyncError(sub: Subscriber, reason: 'too-old' | 'unknown', oldest: number, revision: number): void {
    const code = reason === 'too-old' ? 'too-old' : 'unknown-revision'
    const message = reason === 'too-old'
      ? `revision ${sub.cursor} is older than the history kept (events after ${oldest} are): reconnect with current=1 to resync`
      : `revision ${sub.cursor} is newer than the controller's (${revision}): reconnect with current=1 to resync`
    const ws = sub.ws!
    ws.cork(() => {
      ws.send(stringifyJson({ type: 'error', code, message, oldest, revision }))
      this.drop(sub, code, CLOSE_RESYNC, code)
    })
  }

  private drop(sub: Subscriber, reason: DropReason, code: number, text: string): void {
    this.droppedBy.set(reason, (this.droppedBy.get(reason) ?? 0) + 1)
    this.live.delete(sub)
    sub.ws?.end(code, text)
  }

  private fanOut(batch: readonly ClusterEvent[]): void {
    if (this.live.size === 0) return
    const first = batch[0]!.revision
    const last = batch[batch.length - 1]!.revision
    let all: Buffer | null = null
    const byKey = new Map<string, Buffer | null>()
    for (const sub of this.live) {
      let frame: Buffer | null
      if (first > sub.cursor) {
        if (sub.query.key === '') {
          frame = all ??= eventsFrame(batch.map((e) => e.text))
        } else {
          frame = byKey.get(sub.query.key) ?? null
          if (!byKey.has(sub.query.key)) byKey.set(sub.query.key, (frame = this.filtered(batch, sub.query.filter, 0)))
        }
      } else {
        // Just after a current state that included written units: skip those.
        frame = this.filtered(batch, sub.query.filter, sub.cursor)
      }
      if (last > sub.cursor) sub.cursor = last
      if (frame !== null) this.deliver(sub, frame)
    }
  }

  private filtered(batch: readonly ClusterEvent[], filter: EventFilter, after: number): Buffer | null {
    const texts: string[] = []
    for (const e of batch) if (e.revision > after && matches(filter, e)) texts.push(e.text)
    return texts.length === 0 ? null : eventsFrame(texts)
  }

  /** Sends a live frame, or closes the subscriber when it would leave more than the limit unread. */
  private deliver(sub: Subscriber, frame: Buffer): void {
    const ws = sub.ws!
    const buffered = ws.getBufferedAmount()
    if (buffered + frame.length > this.opts.maxBufferBytes) {
      this.slow(sub, buffered)
      return
    }
    let status = 1
    ws.cork(() => {
      status = ws.send(frame)
    })
    if (status === 2) this.slow(sub, ws.getBufferedAmount())
  }

  private slow(sub: Subscriber, buffered: number): void {
    const mib = (buffered / 1024 / 1024).toFixed(1)
    log.warn('closing a slow events subscriber', { unreadBytes: buffered, limit: this.opts.maxBufferBytes })
    sub.ws!.cork(() => this.drop(sub, 'slow', CLOSE_SLOW, `slow consumer: ${mib} MiB not read`))
  }
}

