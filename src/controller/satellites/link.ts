/**
 * The controller's end of one satellite link (DESIGN.md §2.3, schemas/link.fbs): it dials the node's
 * active net interface over WebSocket, runs the handshake, pings, and reconnects with backoff.
 *
 * The handshake, one binary frame per step:
 *   satellite → Hello{S}; controller checks the protocol version and the node name, → ControllerAuth{C,
 *   proof}; satellite → SatelliteAuth{proof} (or a LinkResult refusing); controller checks the proof, →
 *   LinkResult ACCEPTED and the FullSync; satellite → FullSyncApplied once it stored it: ONLINE.
 * A step that does not come within `handshakeTimeoutMs`, a frame out of order or an undecodable one
 * closes the link (PROTOCOL_ERROR). Once accepted the controller pings every `pingIntervalMs`; no Pong
 * for `pongTimeoutMs` kills the link. A closed link is dialled again after 0.5 s, doubling to 10 s,
 * jittered; a refusal (wrong secret, other version, another controller) keeps its status while it
 * retries, so the node shows why it is not online.
 *
 * The link reports what happens through `LinkEvents`; it never touches the model itself.
 */
import WebSocket from 'ws'
import { logger } from '../../common/log.js'
import { nameKey } from '../../common/names.js'
import { VERSION } from '../../common/version.js'
import { decode, encode } from '../../proto/codec.js'
import { linkProof, newChallenge, verifyLinkProof } from '../../proto/link-proof.js'
import { LINK_CLOSE, PROTOCOL_VERSION, type FullSync, type Hello, type LinkStatus as WireLinkStatus, type Message } from '../../proto/messages.js'
import { ProtocolError } from '../../proto/protocol-error.js'
import type { RuntimeNode } from '../model/types.js'

const log = logger('link')

/** A node's connection status, as LINSTOR's clients know them. */
export type LinkStatus = RuntimeNode['connectionStatus']

/** Where a satellite listens. */
export interface LinkTarget {
  host: string
  port: number
}

/** The link's clock (tests shorten it). */
export interface LinkTimings {
  pingIntervalMs: number
  /** No Pong for this long: the link is dead. */
  pongTimeoutMs: number
  /** Longest wait for each handshake step (and for the WebSocket upgrade). */
  handshakeTimeoutMs: number
  /** Longest wait for FullSyncApplied after the full sync was sent. */
  fullSyncTimeoutMs: number
  /** First reconnect delay; doubles per failed attempt up to `backoffMaxMs`. */
  backoffMinMs: number
  backoffMaxMs: number
}

export const DEFAULT_LINK_TIMINGS: Readonly<LinkTimings> = Object.freeze({
  pingIntervalMs: 1000,
  pongTimeoutMs: 5000,
  handshakeTimeoutMs: 10_000,
  fullSyncTimeoutMs: 30_000,
  backoffMinMs: 500,
  backoffMaxMs: 10_000,
})

/** What a link tells its owner. Called synchronously from socket events; must not throw. */
export interface LinkEvents {
  /** The status or its reason changed (the reason is for humans; absent when ONLINE). */
  status(status: LinkStatus, reason: string | undefined, previous: LinkStatus): void
  /** The satellite proved it knows the secret: the full sync to send it, built now. */
  accepted(hello: Hello): FullSync
  /** A message after the handshake, other than Ping, Pong and FullSyncApplied. */
  message(msg: Message): void
}

type Phase =
  | 'idle' // not connected; a reconnect may be scheduled
  | 'connecting' // WebSocket upgrade under way
  | 'hello' // waiting for Hello
  | 'auth' // ControllerAuth sent, waiting for SatelliteAuth
  | 'sync' // accepted, FullSync sent, waiting for FullSyncApplied
  | 'online'
  | 'stopped'

/** How a refusal shows: node status, and the close code the controller sends. */
const REFUSAL: Record<'VERSION_MISMATCH' | 'AUTHENTICATION_FAILED' | 'CONTROLLER_ALREADY_CONNECTED' | 'NODE_NAME_MISMATCH', LinkStatus> = {
  VERSION_MISMATCH: 'VERSION_MISMATCH',
  AUTHENTICATION_FAILED: 'AUTHENTICATION_ERROR',
  CONTROLLER_ALREADY_CONNECTED: 'OTHER_CONTROLLER',
  NODE_NAME_MISMATCH: 'HOSTNAME_MISMATCH',
}
const BY_CLOSE_CODE = new Map<number, LinkStatus>([
  [LINK_CLOSE.VERSION_MISMATCH, 'VERSION_MISMATCH'],
  [LINK_CLOSE.AUTHENTICATION_FAILED, 'AUTHENTICATION_ERROR'],
  [LINK_CLOSE.CONTROLLER_ALREADY_CONNECTED, 'OTHER_CONTROLLER'],
  [LINK_CLOSE.NODE_NAME_MISMATCH, 'HOSTNAME_MISMATCH'],
])

/** Incoming frames larger than this close the link (a full sync goes the other way). */
const MAX_FRAME_BYTES = 16 * 1024 * 1024

export class SatelliteLink {
  private phase: Phase = 'idle'
  private ws: WebSocket | null = null
  private sendSeq = 0
  private recvSeq = 0
  private hello: Hello | null = null
  private controllerChallenge: Uint8Array | null = null
  private syncId = 0
  private lastPongAt = 0
  private attempts = 0
  /** Status last reported, and whether it is a refusal that a mere disconnect must not hide. */
  private current: { status: LinkStatus; reason: string | undefined } = { status: 'OFFLINE', reason: undefined }
  private refused = false
  /** Why the socket went away, for the OFFLINE reason. */
  private closeReason: string | undefined
  private stepTimer: NodeJS.Timeout | null = null
  private pingTimer: NodeJS.Timeout | null = null
  private retryTimer: NodeJS.Timeout | null = null
  private readonly timings: LinkTimings

  constructor(
    /** The node's name, as the controller knows it. */
    readonly nodeName: string,
    private target: LinkTarget,
    private readonly secret: string,
    private readonly events: LinkEvents,
    timings: Partial<LinkTimings> = {},
  ) {
    this.timings = { ...DEFAULT_LINK_TIMINGS, ...timings }
  }

  /** The status last reported. */
  get status(): LinkStatus {
    return this.current.status
  }

  get reason(): string | undefined {
    return this.current.reason
  }

  /** Whether the satellite has applied its full sync and answers pings. */
  get online(): boolean {
    return this.phase === 'online'
  }

  /** Whether desired state may be sent: the link is accepted and the full sync went out first. */
  get accepted(): boolean {
    return this.phase === 'sync' || this.phase === 'online'
  }

  get address(): LinkTarget {
    return { ...this.target }
  }

  /** Dial now (idempotent). */
  start(): void {
    if (this.phase === 'idle' && this.retryTimer === null) this.dial()
  }

  /** Dial another address: the current connection, if any, is dropped and the new one dialled at once. */
  retarget(target: LinkTarget): void {
    if (target.host === this.target.host && target.port === this.target.port) return
    this.target = { ...target }
    if (this.phase === 'stopped') return
    this.attempts = 0
    this.drop(`the node's address changed to ${formatTarget(target)}`, 'redial')
  }

  /** Send a message on an accepted link; false when the link is not up (the next full sync carries it). */
  send(msg: Message): boolean {
    if (!this.accepted) return false
    return this.write(msg)
  }

  /** Close for good: no reconnect, no more events. */
  stop(): void {
    if (this.phase === 'stopped') return
    this.phase = 'stopped'
    this.clearTimers()
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.retryTimer = null
    const ws = this.ws
    this.ws = null
    if (ws !== null) {
      ws.removeAllListeners()
      ws.on('error', () => {}) // a late socket error must not become an unhandled 'error' event
      ws.terminate()
    }
  }

  // ── connection ───────────────────────────────────────────────────────────────────────────────────

  private dial(): void {
    this.retryTimer = null
    this.phase = 'connecting'
    this.sendSeq = 0
    this.recvSeq = 0
    this.hello = null
    this.controllerChallenge = null
    this.closeReason = undefined
    const url = `ws://${formatTarget(this.target)}/`
    const ws = new WebSocket(url, { handshakeTimeout: this.timings.handshakeTimeoutMs, perMessageDeflate: false, maxPayload: MAX_FRAME_BYTES })
    this.ws = ws
    ws.binaryType = 'nodebuffer'
    ws.on('open', () => this.opened())
    ws.on('message', (data, isBinary) => this.received(data as Buffer, isBinary))
    ws.on('error', (err) => {
      this.closeReason ??= describeSocketError(err, this.target)
    })
    ws.on('close', (code, reason) => this.closed(ws, code, reason.toString('utf8')))
  }

  private opened(): void {
    this.phase = 'hello'
    this.armStep('Hello')
    // A refusal stays visible while the link retries; otherwise the node is connected, not yet online.
    if (!this.refused) this.report('CONNECTED', `handshake with ${formatTarget(this.target)} in progress`)
  }

  private closed(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return
    this.ws = null
    this.clearTimers()
    const wasAccepted = this.accepted
    const neverOpened = this.phase === 'connecting'
    if (this.phase === 'stopped') return
    this.phase = 'idle'
    const byCode = BY_CLOSE_CODE.get(code)
    if (byCode !== undefined) {
      this.refused = true
      this.report(byCode, `the satellite refused the link: ${reason || byCode}`)
    } else if (neverOpened || !this.refused) {
      // A refusal shows while the satellite keeps refusing; one that does not answer at all is offline.
      this.refused = false
      const why = this.closeReason ?? (code === LINK_CLOSE.PROTOCOL_ERROR ? `protocol error reported by the satellite: ${reason}` : `the satellite closed the link${reason ? `: ${reason}` : ` (code ${code})`}`)
      this.report('OFFLINE', why)
    }
    if (wasAccepted) log.warn('satellite link lost', { node: this.nodeName, reason: this.current.reason })
    this.scheduleRetry()
  }

  private scheduleRetry(): void {
    const base = Math.min(this.timings.backoffMaxMs, this.timings.backoffMinMs * 2 ** this.attempts)
    this.attempts = Math.min(this.attempts + 1, 30)
    // ±25 % jitter keeps many links from redialling in lockstep after a controller or network hiccup.
    const delay = Math.round(base * (0.75 + Math.random() * 0.5))
    this.retryTimer = setTimeout(() => this.dial(), delay)
  }

  /**
   * End the current connection: with a close code (the satellite learns why) or by terminating it.
   * `then` says what happens next: the usual reconnect with backoff, or an immediate redial.
   */
  private drop(reason: string, then: 'retry' | 'redial', closeCode?: number): void {
    const ws = this.ws
    this.ws = null
    this.clearTimers()
    if (ws !== null) {
      ws.removeAllListeners()
      ws.on('error', () => {})
      if (closeCode !== undefined && ws.readyState === WebSocket.OPEN) ws.close(closeCode, truncateReason(reason))
      else ws.terminate()
    }
    if (this.phase === 'stopped') return
    const wasAccepted = this.accepted
    this.phase = 'idle'
    if (!this.refused) this.report('OFFLINE', reason)
    if (wasAccepted) log.warn('satellite link dropped', { node: this.nodeName, reason })
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.retryTimer = null
    if (then === 'redial') this.dial()
    else this.scheduleRetry()
  }

  /** Refuse the satellite: its status says why until a later attempt gets further. */
  private refuse(status: LinkStatus, reason: string, closeCode: number): void {
    this.refused = true
    this.report(status, reason)
    log.warn('satellite link refused', { node: this.nodeName, status, reason })
    this.drop(reason, 'retry', closeCode)
  }

  private protocolError(reason: string): void {
    log.warn('satellite link: protocol error', { node: this.nodeName, reason })
    this.refused = false
    this.drop(`protocol error: ${reason}`, 'retry', LINK_CLOSE.PROTOCOL_ERROR)
  }

  // ── frames ───────────────────────────────────────────────────────────────────────────────────────

  private write(msg: Message): boolean {
    const ws = this.ws
    if (ws === null || ws.readyState !== WebSocket.OPEN) return false
    ws.send(encode({ seq: ++this.sendSeq, msg }), { binary: true })
    return true
  }

  private received(data: Buffer, isBinary: boolean): void {
    if (!isBinary) return this.protocolError('a text frame')
    let msg: Message
    try {
      const frame = decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      if (frame.seq !== this.recvSeq + 1) return this.protocolError(`frame ${frame.seq} where ${this.recvSeq + 1} was due`)
      this.recvSeq = frame.seq
      msg = frame.msg
    } catch (e) {
      if (e instanceof ProtocolError && e.reason === 'VERSION_MISMATCH') {
        return this.refuse('VERSION_MISMATCH', versionMismatch(e.peerVersion), LINK_CLOSE.VERSION_MISMATCH)
      }
      return this.protocolError(e instanceof ProtocolError ? `undecodable frame (${e.reason}): ${e.message}` : `undecodable frame: ${String(e)}`)
    }
    try {
      this.dispatch(msg)
    } catch (e) {
      // A bug handling one satellite's message must not take the controller down: drop that link.
      log.error('satellite link: cannot handle a message', { node: this.nodeName, type: msg.type, error: e instanceof Error ? e.stack ?? e.message : String(e) })
      this.protocolError(`the controller failed to handle ${msg.type}`)
    }
  }

  private dispatch(msg: Message): void {
    switch (this.phase) {
      case 'hello':
        return msg.type === 'Hello' ? this.onHello(msg) : this.protocolError(`${msg.type} where Hello was due`)
      case 'auth':
        if (msg.type === 'SatelliteAuth') return this.onSatelliteAuth(msg.proof)
        if (msg.type === 'LinkResult') return this.onRefusedBySatellite(msg.status, msg.message)
        return this.protocolError(`${msg.type} where SatelliteAuth was due`)
      case 'sync':
      case 'online':
        return this.onLinkMessage(msg)
      default:
        return undefined
    }
  }

  private onHello(hello: Hello): void {
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      return this.refuse('VERSION_MISMATCH', versionMismatch(hello.protocolVersion), LINK_CLOSE.VERSION_MISMATCH)
    }
    if (nameKey(hello.nodeName) !== nameKey(this.nodeName)) {
      const reason = `the satellite at ${formatTarget(this.target)} is node '${hello.nodeName}', not '${this.nodeName}'`
      this.write({ type: 'LinkResult', status: 'NODE_NAME_MISMATCH', message: reason })
      return this.refuse('HOSTNAME_MISMATCH', reason, LINK_CLOSE.NODE_NAME_MISMATCH)
    }
    this.hello = hello
    this.controllerChallenge = newChallenge()
    const proof = linkProof('controller', this.proofInput())
    this.phase = 'auth'
    this.armStep('SatelliteAuth')
    this.write({ type: 'ControllerAuth', challenge: this.controllerChallenge, proof, blockyardVersion: VERSION })
  }

  private onSatelliteAuth(proof: Uint8Array): void {
    if (!verifyLinkProof('satellite', this.proofInput(), proof)) {
      const reason = 'the satellite does not know the cluster secret (its proof does not match)'
      this.write({ type: 'LinkResult', status: 'AUTHENTICATION_FAILED', message: reason })
      return this.refuse('AUTHENTICATION_ERROR', reason, LINK_CLOSE.AUTHENTICATION_FAILED)
    }
    const hello = this.hello!
    this.refused = false
    this.attempts = 0
    this.phase = 'sync'
    this.write({ type: 'LinkResult', status: 'ACCEPTED', message: '' })
    const sync = this.events.accepted(hello)
    this.syncId = sync.syncId
    this.write(sync)
    this.report('CONNECTED', 'full sync sent, waiting for the satellite to apply it')
    this.arm(this.timings.fullSyncTimeoutMs, () => {
      this.refused = true
      this.report('FULL_SYNC_FAILED', `the satellite did not apply its full sync within ${seconds(this.timings.fullSyncTimeoutMs)}`)
      this.drop(this.current.reason!, 'retry', LINK_CLOSE.PROTOCOL_ERROR)
    })
    this.lastPongAt = Date.now()
    this.pingTimer = setInterval(() => this.ping(), this.timings.pingIntervalMs)
    log.info('satellite link accepted', { node: this.nodeName, address: formatTarget(this.target), satelliteVersion: hello.blockyardVersion })
  }

  private onRefusedBySatellite(status: WireLinkStatus, message: string): void {
    const mapped = status in REFUSAL ? REFUSAL[status as keyof typeof REFUSAL] : undefined
    if (mapped === undefined) return this.protocolError(`the satellite answered ${status}: ${message}`)
    // The satellite closes the link itself; close too, so that the status does not wait for its close.
    this.refuse(mapped, `the satellite refused the link: ${message || status}`, 1000)
  }

  private onLinkMessage(msg: Message): void {
    switch (msg.type) {
      case 'Ping':
        this.write({ type: 'Pong', pingSentAtUs: msg.sentAtUs, sentAtUs: nowUs() })
        return
      case 'Pong':
        this.lastPongAt = Date.now()
        return
      case 'FullSyncApplied':
        if (this.phase !== 'sync' || msg.syncId !== this.syncId) return this.protocolError(`FullSyncApplied for sync ${msg.syncId} where ${this.syncId} was due`)
        this.clearStep()
        this.phase = 'online'
        this.report('ONLINE', undefined)
        return
      case 'ResourceObserved':
      case 'CapacityReport':
      case 'NodeCapabilities':
        this.events.message(msg)
        return
      default:
        return this.protocolError(`${msg.type} is not a satellite's message`)
    }
  }

  private ping(): void {
    if (Date.now() - this.lastPongAt > this.timings.pongTimeoutMs) {
      this.refused = false
      this.drop(`no answer for ${seconds(this.timings.pongTimeoutMs)}`, 'retry')
      return
    }
    this.write({ type: 'Ping', sentAtUs: nowUs() })
  }

  // ── helpers ──────────────────────────────────────────────────────────────────────────────────────

  private proofInput(): { secret: string; satelliteChallenge: Uint8Array; controllerChallenge: Uint8Array; nodeName: string } {
    return { secret: this.secret, satelliteChallenge: this.hello!.challenge, controllerChallenge: this.controllerChallenge!, nodeName: this.hello!.nodeName }
  }

  private report(status: LinkStatus, reason: string | undefined): void {
    if (this.phase === 'stopped') return
    const previous = this.current
    if (previous.status === status && previous.reason === reason) return
    this.current = { status, reason }
    this.events.status(status, reason, previous.status)
  }

  private armStep(what: string): void {
    this.arm(this.timings.handshakeTimeoutMs, () => this.protocolError(`no ${what} within ${seconds(this.timings.handshakeTimeoutMs)}`))
  }

  private arm(ms: number, fn: () => void): void {
    this.clearStep()
    this.stepTimer = setTimeout(fn, ms)
  }

  private clearStep(): void {
    if (this.stepTimer !== null) clearTimeout(this.stepTimer)
    this.stepTimer = null
  }

  private clearTimers(): void {
    this.clearStep()
    if (this.pingTimer !== null) clearInterval(this.pingTimer)
    this.pingTimer = null
  }
}

/** `host:port`, with brackets around an IPv6 literal. */
export function formatTarget(t: LinkTarget): string {
  return `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`
}

function versionMismatch(peer: number | undefined): string {
  return `the satellite speaks protocol version ${peer ?? 'unknown'}, this controller ${PROTOCOL_VERSION}`
}

function describeSocketError(err: Error & { code?: string }, target: LinkTarget): string {
  const at = formatTarget(target)
  if (err.code === 'ECONNREFUSED') return `connection to ${at} refused (no satellite listening)`
  if (err.code !== undefined) return `cannot connect to ${at}: ${err.code}`
  return `cannot connect to ${at}: ${err.message}`
}

/** WebSocket close reasons are limited to 123 bytes of UTF-8. */
function truncateReason(reason: string): string {
  const buf = Buffer.from(reason, 'utf8')
  if (buf.length <= 123) return reason
  return buf.subarray(0, 120).toString('utf8').replace(/\uFFFD+$/, '') + '…'
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}

function nowUs(): number {
  return Date.now() * 1000
}
