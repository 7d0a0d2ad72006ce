/**
 * The satellite's end of the controller link (DESIGN.md §2.3, docs/satellite.md): a uWebSockets.js
 * server on `--listen`, path `/`, one flatbuffers envelope per binary frame.
 *
 * Set-up, each step with a 10 s limit: the satellite sends Hello (challenge S); the controller answers
 * ControllerAuth (challenge C, its proof); a wrong proof gets LinkResult AUTHENTICATION_FAILED and the
 * close, a right one while another controller holds the link gets CONTROLLER_ALREADY_CONNECTED and the
 * close; otherwise the satellite sends SatelliteAuth (its proof) and waits for LinkResult ACCEPTED.
 * Only then is the link up and desired state accepted from it: a peer that has not proven the cluster
 * secret never reaches the handler. Any frame out of turn, an undecodable frame, a sequence gap or a
 * text frame closes the link (PROTOCOL_ERROR, or VERSION_MISMATCH for a peer of another protocol
 * version); nothing a peer sends can throw out of here. A linked controller silent for 10 s is taken
 * as gone: the link is closed and the slot freed (devices stay as they are).
 */
import uWS from 'uWebSockets.js'
import { logger } from '../../common/log.js'
import { decode, encode } from '../../proto/codec.js'
import { linkProof, newChallenge, verifyLinkProof } from '../../proto/link-proof.js'
import {
  LINK_CLOSE,
  PROTOCOL_VERSION,
  type FullSync,
  type LinkStatus,
  type Message,
  type ResourceDesired,
  type StorPoolDesired,
} from '../../proto/messages.js'
import { ProtocolError } from '../../proto/protocol-error.js'

const log = logger('satellite.link')

/** What the link hands to the satellite, only ever from an authenticated, accepted controller. */
export interface LinkHandler {
  /** The link is up (LinkResult ACCEPTED received). */
  accepted(link: ControllerLink): void
  /** Desired state, in arrival order. */
  desired(msg: FullSync | ({ type: 'ResourceDesired' } & ResourceDesired) | ({ type: 'StorPoolDesired' } & StorPoolDesired)): void
  /** The accepted link is gone (closed by either side, or the controller fell silent). */
  closed(reason: string): void
}

/** The accepted link, to send observed state on. */
export interface ControllerLink {
  /** Sends `msg`; false when the link has closed meanwhile (the message is dropped). */
  send(msg: Message): boolean
  readonly remote: string
}

export interface LinkServerOptions {
  host: string
  port: number
  /** This node's name, sent in Hello and bound into both proofs. */
  nodeName: string
  /** The cluster secret (HMAC key; docs/satellite.md). */
  secret: string
  blockyardVersion: string
  handler: LinkHandler
  /** Longest wait for each set-up step, ms (default 10 000). */
  handshakeTimeoutMs?: number
  /** A linked controller silent this long is gone, ms (default 10 000; the controller pings every second). */
  silenceTimeoutMs?: number
  /** Largest frame accepted, bytes (default 64 MiB: a full sync of a big node). */
  maxFrameBytes?: number
}

type Phase = 'awaitControllerAuth' | 'awaitLinkResult' | 'up' | 'closed'

interface Conn {
  id: number
  remote: string
  phase: Phase
  ws: uWS.WebSocket<Conn> | null
  challengeS: Uint8Array
  challengeC: Uint8Array | null
  seqIn: number
  seqOut: number
  timer: NodeJS.Timeout | undefined
}

/** The WebSocket close reason is at most 123 bytes (RFC 6455 §5.5: control frames carry ≤ 125). */
function closeReason(text: string): string {
  const b = Buffer.from(text)
  if (b.length <= 123) return text
  let end = 120
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--
  return b.subarray(0, end).toString() + '...'
}

export class LinkServer {
  readonly #o: Required<Omit<LinkServerOptions, 'handler'>> & { handler: LinkHandler }
  #app: uWS.TemplatedApp | null = null
  #listen: uWS.us_listen_socket | null = null
  readonly #conns = new Set<Conn>()
  /** The connection whose controller proved the secret and holds this satellite. */
  #active: Conn | null = null
  #nextId = 1
  port = 0

  constructor(options: LinkServerOptions) {
    if (options.secret === '') throw new RangeError('LinkServer: the cluster secret is empty')
    this.#o = {
      handshakeTimeoutMs: 10_000,
      silenceTimeoutMs: 10_000,
      maxFrameBytes: 64 * 1024 * 1024,
      ...options,
    }
  }

  /** Whether an accepted controller holds the link. */
  get linked(): boolean {
    return this.#active?.phase === 'up'
  }

  /** Listens; resolves with the bound port (useful with port 0). */
  start(): Promise<number> {
    const app = uWS.App()
    app.ws<Conn>('/', {
      maxPayloadLength: this.#o.maxFrameBytes,
      // Liveness is the protocol's (Ping/Pong, silence timer), not uWS's idle timeout.
      idleTimeout: 0,
      sendPingsAutomatically: false,
      // A report must never be dropped silently: buffer whatever the socket cannot take yet.
      maxBackpressure: 1024 * 1024 * 1024,
      upgrade: (res, req, context) => {
        const conn: Conn = {
          id: this.#nextId++,
          remote: '',
          phase: 'awaitControllerAuth',
          ws: null,
          challengeS: newChallenge(),
          challengeC: null,
          seqIn: 0,
          seqOut: 0,
          timer: undefined,
        }
        res.upgrade(conn, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context)
      },
      open: (ws) => this.#open(ws),
      message: (ws, data, isBinary) => this.#message(ws.getUserData(), data, isBinary),
      close: (ws, code, message) => this.#closed(ws.getUserData(), code, Buffer.from(message).toString()),
    })
    app.any('/*', (res) => {
      res.writeStatus('426 Upgrade Required').end('Blockyard satellite: the controller link is a WebSocket on /\n')
    })
    this.#app = app
    return new Promise((resolve, reject) => {
      app.listen(this.#o.host, this.#o.port, (token) => {
        if (token === false) {
          reject(new Error(`cannot listen on ${this.#o.host}:${this.#o.port} (address in use or not available)`))
          return
        }
        this.#listen = token
        this.port = uWS.us_socket_local_port(token as unknown as uWS.us_socket)
        resolve(this.port)
      })
    })
  }

  /** Stops listening and closes every link. */
  stop(): void {
    if (this.#listen !== null) uWS.us_listen_socket_close(this.#listen)
    this.#listen = null
    for (const c of [...this.#conns]) this.#end(c, 1001, 'satellite shutting down')
    this.#app = null
  }

  #open(ws: uWS.WebSocket<Conn>): void {
    const c = ws.getUserData()
    c.ws = ws
    c.remote = Buffer.from(ws.getRemoteAddressAsText()).toString()
    this.#conns.add(c)
    log.debug('connection', { conn: c.id, remote: c.remote })
    this.#send(c, { type: 'Hello', nodeName: this.#o.nodeName, protocolVersion: PROTOCOL_VERSION, blockyardVersion: this.#o.blockyardVersion, challenge: c.challengeS })
    this.#arm(c, this.#o.handshakeTimeoutMs, 'no ControllerAuth')
  }

  /** (Re)starts the connection's timer: the handshake step limit, or the silence limit once up. */
  #arm(c: Conn, ms: number, what: string): void {
    clearTimeout(c.timer)
    c.timer = setTimeout(() => {
      if (c.phase === 'up') {
        log.warn('controller silent: link closed (devices are kept)', { conn: c.id, remote: c.remote, silentMs: ms })
        this.#end(c, LINK_CLOSE.PROTOCOL_ERROR, `no frame for ${ms / 1000} s`)
      } else {
        this.#refuse(c, 'PROTOCOL_ERROR', LINK_CLOSE.PROTOCOL_ERROR, `${what} within ${ms / 1000} s`)
      }
    }, ms)
  }

  #message(c: Conn, data: ArrayBuffer, isBinary: boolean): void {
    if (c.phase === 'closed') return
    if (!isBinary) {
      this.#protocolError(c, new ProtocolError('MALFORMED', 'text frame: the link carries binary flatbuffers frames only'))
      return
    }
    let seq: number
    let msg: Message
    try {
      // decode copies what it returns: `data` is only valid during this callback.
      ;({ seq, msg } = decode(data))
    } catch (e) {
      this.#protocolError(c, e)
      return
    }
    if (seq !== c.seqIn + 1) {
      this.#protocolError(c, new ProtocolError('MALFORMED', `frame sequence ${seq} after ${c.seqIn}: frames lost or repeated`))
      return
    }
    c.seqIn = seq
    try {
      this.#step(c, msg)
    } catch (e) {
      // Only a bug gets here (the handler threw): keep the satellite up, drop this link.
      log.error('link handler failed: link closed', { conn: c.id, error: e instanceof Error ? e.stack ?? e.message : String(e) })
      this.#end(c, 1011, 'internal error')
    }
  }

  #step(c: Conn, msg: Message): void {
    switch (c.phase) {
      case 'awaitControllerAuth':
        if (msg.type === 'ControllerAuth') return this.#controllerAuth(c, msg)
        if (msg.type === 'LinkResult') return this.#refused(c, msg.status, msg.message)
        return this.#outOfTurn(c, msg, 'ControllerAuth')
      case 'awaitLinkResult':
        if (msg.type !== 'LinkResult') return this.#outOfTurn(c, msg, 'LinkResult')
        if (msg.status !== 'ACCEPTED') return this.#refused(c, msg.status, msg.message)
        c.phase = 'up'
        this.#arm(c, this.#o.silenceTimeoutMs, '')
        log.info('controller linked', { conn: c.id, remote: c.remote })
        this.#o.handler.accepted({ send: (m) => this.#send(c, m), remote: c.remote })
        return
      case 'up':
        this.#arm(c, this.#o.silenceTimeoutMs, '')
        switch (msg.type) {
          case 'Ping':
            this.#send(c, { type: 'Pong', pingSentAtUs: msg.sentAtUs, sentAtUs: nowUs() })
            return
          case 'FullSync':
          case 'ResourceDesired':
          case 'StorPoolDesired':
            this.#o.handler.desired(msg)
            return
          default:
            this.#protocolError(c, new ProtocolError('MALFORMED', `${msg.type} is not a message a controller sends`))
            return
        }
      case 'closed':
        return
    }
  }

  #controllerAuth(c: Conn, msg: Extract<Message, { type: 'ControllerAuth' }>): void {
    const input = { secret: this.#o.secret, satelliteChallenge: c.challengeS, controllerChallenge: msg.challenge, nodeName: this.#o.nodeName }
    if (!verifyLinkProof('controller', input, msg.proof)) {
      log.warn('refused a controller: wrong proof (it does not have this cluster secret)', { conn: c.id, remote: c.remote })
      this.#refuse(c, 'AUTHENTICATION_FAILED', LINK_CLOSE.AUTHENTICATION_FAILED, 'authentication failed: the controller does not know the cluster secret')
      return
    }
    if (this.#active !== null && this.#active !== c) {
      log.warn('refused a second controller', { conn: c.id, remote: c.remote, linkedTo: this.#active.remote })
      this.#refuse(c, 'CONTROLLER_ALREADY_CONNECTED', LINK_CLOSE.CONTROLLER_ALREADY_CONNECTED, `this satellite is linked to the controller at ${this.#active.remote}`)
      return
    }
    this.#active = c
    c.challengeC = msg.challenge
    c.phase = 'awaitLinkResult'
    this.#send(c, { type: 'SatelliteAuth', proof: linkProof('satellite', input) })
    this.#arm(c, this.#o.handshakeTimeoutMs, 'no LinkResult')
    log.debug('controller proved the secret', { conn: c.id, remote: c.remote, controllerVersion: msg.blockyardVersion })
  }

  /** The controller refused us (or ended the set-up): it closes; we close too. */
  #refused(c: Conn, status: LinkStatus, message: string): void {
    log.warn('the controller refused the link', { conn: c.id, remote: c.remote, status, message })
    this.#end(c, 1000, `refused by the controller: ${status}`)
  }

  #outOfTurn(c: Conn, msg: Message, expected: string): void {
    this.#refuse(c, 'PROTOCOL_ERROR', LINK_CLOSE.PROTOCOL_ERROR, `expected ${expected}, got ${msg.type}`)
  }

  /** Says why in a LinkResult, then closes with `code`. */
  #refuse(c: Conn, status: LinkStatus, code: number, message: string): void {
    if (status === 'PROTOCOL_ERROR') log.warn('link set-up failed', { conn: c.id, remote: c.remote, reason: message })
    this.#send(c, { type: 'LinkResult', status, message })
    this.#end(c, code, message)
  }

  #protocolError(c: Conn, e: unknown): void {
    const pe = e instanceof ProtocolError ? e : new ProtocolError('MALFORMED', e instanceof Error ? e.message : String(e))
    log.warn('bad frame: link closed', { conn: c.id, remote: c.remote, phase: c.phase, reason: pe.reason, error: pe.message })
    this.#end(c, pe.reason === 'VERSION_MISMATCH' ? LINK_CLOSE.VERSION_MISMATCH : LINK_CLOSE.PROTOCOL_ERROR, pe.message)
  }

  #send(c: Conn, msg: Message): boolean {
    if (c.phase === 'closed' || c.ws === null) return false
    const bytes = encode({ seq: ++c.seqOut, msg })
    // 2: dropped past maxBackpressure. The sequence has a hole now: the link cannot go on.
    if (c.ws.send(bytes, true) === 2) {
      log.error('link send buffer overflowed: link closed', { conn: c.id, buffered: c.ws.getBufferedAmount() })
      this.#end(c, 1011, 'send buffer overflow')
      return false
    }
    return true
  }

  #end(c: Conn, code: number, reason: string): void {
    if (c.phase === 'closed' || c.ws === null) return
    // end() calls the close handler at once, which does the bookkeeping.
    c.ws.end(code, closeReason(reason))
  }

  #closed(c: Conn, code: number, reason: string): void {
    const wasUp = c.phase === 'up'
    c.phase = 'closed'
    c.ws = null
    clearTimeout(c.timer)
    this.#conns.delete(c)
    if (this.#active === c) this.#active = null
    log.debug('connection closed', { conn: c.id, remote: c.remote, code, reason })
    if (wasUp) {
      log.info('controller link closed', { conn: c.id, remote: c.remote, code, reason })
      this.#o.handler.closed(reason === '' ? `closed (${code})` : `${reason} (${code})`)
    }
  }
}

function nowUs(): number {
  return Date.now() * 1000
}
