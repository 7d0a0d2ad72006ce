/**
 * A subscriber to the controller's cluster events (`/v1/x-blockyard/events`, docs/events.md), on the
 * `ws` package. It reconnects by itself (capped, jittered backoff) and resumes after the last revision
 * it delivered, so across reconnects no event is lost or delivered twice; when the controller's history
 * no longer reaches back that far it says so (`onResync`) and continues from the current state.
 *
 * @example
 * const sub = subscribeEvents('http://127.0.0.1:3370', { kinds: ['resource'] }, {
 *   onEvents: (events) => { for (const e of events) console.log(e.revision, e.kind, e.action, e.resource) },
 * })
 * // … later
 * await sub.close()
 */
import WebSocket from 'ws'
import { VERSION } from '../common/version.js'
import { EVENTS_PATH, type EventAction, type EventKind, type EventNames } from '../controller/events/event.js'
import { isRcList, parseReplyJson } from './blockyard-client.js'
import { ApiCallError, ConnectionError, UnexpectedReplyError } from './errors.js'
import type { KeyValueStore, Node, Props, Resource, ResourceDefinition, ResourceGroup, Snapshot, StoragePool, StoragePoolDefinition, Volume } from './types.js'

export type { EventAction, EventKind, EventNames }

/** The object each kind of event carries (LINSTOR's JSON of it). */
export interface EventObjects {
  controller: { props: Props }
  node: Node
  storage_pool_definition: StoragePoolDefinition
  storage_pool: StoragePool
  resource_group: ResourceGroup
  resource_definition: ResourceDefinition
  resource: Resource
  /** A deleted volume's object only says which it was. */
  volume: Volume | { volume_number: number; resource_name: string; node_name: string }
  snapshot: Snapshot
  key_value_store: KeyValueStore
}

/** One event as the controller sends it; `kind` tells the type of `object`. */
export type BlockyardEvent = {
  [K in EventKind]: EventNames & {
    /** The cluster revision of the change (all events of one change share it). */
    revision: number
    /** When the change became durable, ISO 8601 UTC with microseconds. */
    time: string
    kind: K
    action: EventAction
    object: EventObjects[K]
  }
}[EventKind]

export interface SubscribeOptions {
  /** Only these kinds (default: all). */
  kinds?: readonly string[]
  /** Only objects of these names (the resource's for resources, volumes and snapshots). */
  names?: readonly string[]
  /** Only objects on these nodes (and the nodes themselves). */
  nodes?: readonly string[]
  /** Start with the current state of every matching object (`onCurrent`). */
  current?: boolean
  /** Start after this revision (the events after it first); `current` wins over it. */
  since?: number
  /** Backoff between reconnects: first and largest delay, ms (defaults 100 and 5,000); each delay is jittered. */
  minDelayMs?: number
  maxDelayMs?: number
  /** Wait this long for a connection, ms (default 10,000). */
  connectTimeoutMs?: number
}

export interface ConnectInfo {
  url: string
  /** The controller's newest revision and the oldest one it can resume from. */
  revision: number
  oldest: number
  /** True for a reconnect (the stream resumes where it was). */
  reconnect: boolean
}

export interface DisconnectInfo {
  url: string
  /** WebSocket close code and reason (1006 when the connection was lost or could not be made). */
  code: number
  reason: string
  /** The next attempt is made after this many ms. */
  retryInMs: number
}

export interface ResyncInfo {
  /** The revision the subscriber had reached; the controller's oldest and newest. */
  from: number
  oldest: number
  revision: number
  message: string
}

export interface EventHandlers {
  /** A batch of events: whole changes, in revision order. */
  onEvents?(events: BlockyardEvent[]): void
  /** The current state (`action: "current"`) at `revision`: at the start with `current`, and after a resync. */
  onCurrent?(revision: number, events: BlockyardEvent[]): void
  /** Events were missed (the history did not reach back far enough): the current state follows. */
  onResync?(info: ResyncInfo): void
  onConnect?(info: ConnectInfo): void
  /** The connection was lost; the subscriber reconnects by itself. */
  onDisconnect?(info: DisconnectInfo): void
}

type ServerMessage =
  | { type: 'hello'; revision: number; oldest: number }
  | { type: 'current'; revision: number; events: BlockyardEvent[] }
  | { type: 'events'; events: BlockyardEvent[] }
  | { type: 'error'; code: string; message: string; oldest: number; revision: number }

/** Base URL (http or https, as BlockyardClient's) to the events URL with the query. */
export function eventsUrl(baseUrl: string, q: { kinds?: readonly string[]; names?: readonly string[]; nodes?: readonly string[]; current?: boolean; since?: number | null }): string {
  const params = new URLSearchParams()
  if (q.kinds !== undefined && q.kinds.length > 0) params.set('kinds', q.kinds.join(','))
  if (q.names !== undefined && q.names.length > 0) params.set('names', q.names.join(','))
  if (q.nodes !== undefined && q.nodes.length > 0) params.set('nodes', q.nodes.join(','))
  if (q.current === true) params.set('current', '1')
  else if (q.since !== undefined && q.since !== null) params.set('since', String(q.since))
  const s = params.toString()
  return `${baseUrl.replace(/^http/, 'ws').replace(/\/+$/, '')}${EVENTS_PATH}${s === '' ? '' : `?${s}`}`
}

/** A running subscription (see {@link subscribeEvents}). */
export class EventSubscription {
  /**
   * Settles when the subscription ends: resolves after `close()`; rejects when it cannot start
   * (ConnectionError: no controller at the first attempt; ApiCallError: the query was refused).
   */
  readonly done: Promise<void>
  private resolveDone!: () => void
  private rejectDone!: (e: Error) => void
  private ws: WebSocket | null = null
  private timer: NodeJS.Timeout | null = null
  private closed = false
  private connected = false
  private attempt = 0
  private connects = 0
  /** The revision up to which everything was delivered; null before the stream has a position. */
  private last: number | null
  /** Ask for the current state at the next connect. */
  private wantCurrent: boolean

  constructor(private readonly urls: readonly string[], private readonly opts: SubscribeOptions, private readonly handlers: EventHandlers) {
    if (urls.length === 0) throw new RangeError('no controller URL given')
    this.wantCurrent = opts.current === true
    this.last = this.wantCurrent ? null : opts.since ?? null
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve
      this.rejectDone = reject
    })
    // The caller may never look at `done`: its rejection must not become an unhandled one.
    this.done.catch(() => {})
    this.connect()
  }

  /** The revision of the newest event delivered (or the position reached), null before any. */
  get revision(): number | null {
    return this.last
  }

  /** Ends the subscription; resolves once the connection is closed. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true
      if (this.timer !== null) clearTimeout(this.timer)
      const ws = this.ws
      if (ws === null || ws.readyState === WebSocket.CLOSED) this.resolveDone()
      else {
        ws.once('close', () => this.resolveDone())
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate()
        else ws.close(1000, 'client closing')
      }
    }
    return this.done
  }

  private connect(): void {
    const base = this.urls[this.connects++ % this.urls.length]!
    const current = this.wantCurrent && this.last === null
    const url = eventsUrl(base, { ...this.opts, current, since: this.last })
    const ws = new WebSocket(url, { handshakeTimeout: this.opts.connectTimeoutMs ?? 10_000, headers: { 'User-Agent': `Blockyard-Client/${VERSION}` } })
    this.ws = ws
    let hello = false
    // Neither a since nor current on this connection: the stream starts at the hello's revision.
    const fromHello = !current && this.last === null
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => this.fail(refusal(res.statusCode ?? 0, url, body)))
    })
    ws.on('message', (data) => {
      let m: ServerMessage
      try {
        m = JSON.parse(data.toString()) as ServerMessage
      } catch {
        // Not the events protocol: before a hello it is not a Blockyard controller; after one, skipping
        // the frame could lose events, a new connection resumes without.
        if (!this.connected) this.fail(new UnexpectedReplyError(101, `GET ${url}`, data.toString().slice(0, 500), 'a frame of the events stream is not JSON'))
        else ws.terminate()
        return
      }
      switch (m.type) {
        case 'hello':
          hello = true
          this.attempt = 0
          if (fromHello) this.last = m.revision
          this.handlers.onConnect?.({ url: base, revision: m.revision, oldest: m.oldest, reconnect: this.connected })
          this.connected = true
          break
        case 'current':
          this.last = m.revision
          this.handlers.onCurrent?.(m.revision, m.events)
          break
        case 'events': {
          const last = this.last
          const fresh = last === null ? m.events : m.events.filter((e) => e.revision > last)
          if (fresh.length === 0) break
          this.last = fresh[fresh.length - 1]!.revision
          this.handlers.onEvents?.(fresh)
          break
        }
        case 'error':
          // too-old or unknown-revision: the server closes; start again from the current state.
          this.handlers.onResync?.({ from: this.last ?? 0, oldest: m.oldest, revision: m.revision, message: m.message })
          this.last = null
          this.wantCurrent = true
          this.attempt = 0
          break
      }
    })
    // 'close' follows and decides; the system's reason is kept for a first attempt that fails.
    let lastError: string | null = null
    ws.on('error', (e) => {
      lastError = e.message
    })
    ws.on('close', (code, reasonBuf) => {
      if (this.ws !== ws) return
      this.ws = null
      if (this.closed) return
      const reason = reasonBuf.toString()
      if (!this.connected && !hello) {
        this.fail(new ConnectionError(base, lastError ?? (reason !== '' ? reason : `closed (${code})`), false, this.urls))
        return
      }
      // A resync reconnects at once; otherwise back off, jittered, so that many clients do not return together.
      const retryInMs = this.wantCurrent && this.last === null && code === 4410 ? 0 : this.backoff()
      this.handlers.onDisconnect?.({ url: base, code, reason, retryInMs })
      this.timer = setTimeout(() => {
        this.timer = null
        if (!this.closed) this.connect()
      }, retryInMs)
    })
  }

  private backoff(): number {
    const min = this.opts.minDelayMs ?? 100
    const max = this.opts.maxDelayMs ?? 5_000
    const d = Math.min(max, min * 2 ** this.attempt++)
    return Math.round(d / 2 + Math.random() * (d / 2))
  }

  private fail(e: Error): void {
    if (this.closed) return
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.ws?.terminate()
    this.rejectDone(e)
  }
}

/** The error for an HTTP reply instead of an upgrade: LINSTOR's ApiCallRc list when it is one. */
function refusal(status: number, url: string, body: string): Error {
  const call = `GET ${url}`
  try {
    const v = parseReplyJson(body)
    if (isRcList(v) && v.length > 0) return new ApiCallError(v, status, call)
  } catch {
    // not JSON
  }
  return new UnexpectedReplyError(status, call, body.slice(0, 500), 'the controller did not accept the WebSocket upgrade')
}

/**
 * Subscribes to the cluster events of the controller at `baseUrl` (`http://host:3370`, or several to
 * try in turn). Handlers are called in revision order; the subscription runs until `close()`.
 * @throws RangeError when no URL is given
 */
export function subscribeEvents(baseUrl: string | readonly string[], opts: SubscribeOptions = {}, handlers: EventHandlers = {}): EventSubscription {
  return new EventSubscription(typeof baseUrl === 'string' ? [baseUrl] : baseUrl, opts, handlers)
}
