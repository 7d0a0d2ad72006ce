/**
 * A minimal satellite for controller tests: a `ws` server on 127.0.0.1:0 that speaks the link protocol
 * of src/proto (Hello, proofs, FullSync, FullSyncApplied, Ping/Pong) and answers desired state with
 * observed state the test decides, without devices. Every message received after the handshake is
 * kept; `next()` waits for one.
 */
import { WebSocketServer, type WebSocket } from 'ws'
import { decode, encode } from '../../src/proto/codec.js'
import { linkProof, newChallenge, verifyLinkProof } from '../../src/proto/link-proof.js'
import {
  LINK_CLOSE, PROTOCOL_VERSION,
  type FullSync, type Message, type MessageType, type NodeCapabilities, type ReportedError, type ResourceDesired, type ResourceObserved, type ResourceState,
} from '../../src/proto/messages.js'

type Of<T extends MessageType> = Extract<Message, { type: T }>

/** How the peer answers a ResourceDesired: a report to send, or null for none. */
export type Responder = (d: ResourceDesired) => Omit<ResourceObserved, 'name' | 'generation'> | null

export interface PeerOptions {
  /** The name the peer gives in Hello. */
  nodeName: string
  /** The cluster secret as the link uses it (trimmed text). */
  secret: string
  /** Protocol version in the envelopes and in Hello (default: this build's). */
  protocolVersion?: number
  /** Check the controller's proof before proving itself (default true; false plays a satellite with a wrong secret that answers anyway). */
  checkControllerProof?: boolean
  /** Answer to desired state; default {@link ready}. */
  respond?: Responder
}

/** READY with a loop device per volume (or GONE when deleted). */
export const ready: Responder = (d) => d.deleted
  ? { state: 'GONE', inUse: false, volumes: [], connections: [], errors: [] }
  : {
      state: 'READY', inUse: false, connections: [], errors: [],
      volumes: d.volumes.map((v) => ({ number: v.number, devicePath: `/dev/loop${v.number + 10}`, allocatedKib: v.grossSizeKib, usableKib: v.netSizeKib, diskState: 'UpToDate', peers: [], errors: [] })),
    }

/** FAILED with `error` (deletes still succeed). */
export const failing = (error: ReportedError): Responder => (d) => d.deleted
  ? ready(d)
  : { state: 'FAILED', inUse: false, connections: [], errors: [error], volumes: d.volumes.map((v) => ({ number: v.number, peers: [], errors: [] })) }

/** Says nothing (a satellite that never finishes). */
export const silent: Responder = () => null

export const CAPABILITIES: NodeCapabilities = {
  type: 'NodeCapabilities', hostname: 'peer', osName: 'Linux', osRelease: '6.1.0', osDistribution: 'test',
  layers: [{ kind: 'STORAGE', supported: true }, { kind: 'DRBD', supported: false, reason: 'drbd kernel module not loaded' }],
  providers: [{ kind: 'DISKLESS', supported: true }, { kind: 'FILE', supported: true }, { kind: 'FILE_THIN', supported: true }, { kind: 'LVM', supported: false, reason: 'lvm2 not installed' }],
}

interface Conn {
  ws: WebSocket
  seqIn: number
  seqOut: number
  accepted: boolean
  /** Pings go unanswered on this connection. */
  silent: boolean
}

export class SatellitePeer {
  /** Messages received after the handshake, in order, over every connection. */
  readonly received: Message[] = []
  /** Each FullSync received. */
  readonly fullSyncs: FullSync[] = []
  /** The desired state the peer holds (full syncs replace it), by upper-cased name. */
  readonly desired = new Map<string, ResourceDesired>()
  /** Number of connections accepted by the WebSocket server. */
  connections = 0
  respond: Responder
  /** false: full syncs are stored but never confirmed (a satellite stuck applying them). */
  applyFullSync = true
  private conn: Conn | null = null
  private waiters: { pred: (m: Message) => boolean; resolve: (m: Message) => void }[] = []
  private server: WebSocketServer
  private readonly opts: Required<Omit<PeerOptions, 'respond'>>

  private constructor(server: WebSocketServer, opts: PeerOptions) {
    this.server = server
    this.opts = { protocolVersion: PROTOCOL_VERSION, checkControllerProof: true, ...opts }
    this.respond = opts.respond ?? ready
    server.on('connection', (ws) => this.accept(ws))
  }

  /** Listen on 127.0.0.1 (port 0: any free port, or the port of a peer that stopped). */
  static async start(opts: PeerOptions, port = 0): Promise<SatellitePeer> {
    const server = new WebSocketServer({ host: '127.0.0.1', port })
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve)
      server.once('error', reject)
    })
    return new SatellitePeer(server, opts)
  }

  get port(): number {
    return (this.server.address() as { port: number }).port
  }

  /** Whether the current connection has been accepted by the controller. */
  get linked(): boolean {
    return this.conn?.accepted === true
  }

  /** Send on the current connection. */
  send(msg: Message): void {
    const c = this.conn
    if (c === null) throw new Error('the peer has no connection')
    c.ws.send(encode({ seq: ++c.seqOut, msg }, { protocolVersion: this.opts.protocolVersion }))
  }

  /** Send bytes that are not a frame of this protocol, on the current connection. */
  sendRaw(bytes: Uint8Array): void {
    if (this.conn === null) throw new Error('the peer has no connection')
    this.conn.ws.send(bytes)
  }

  /** Report a resource's observed state. */
  report(name: string, generation: bigint, state: ResourceState, extra: Partial<Omit<ResourceObserved, 'name' | 'generation' | 'state'>> = {}): void {
    this.send({ type: 'ResourceObserved', name, generation, state, inUse: false, volumes: [], connections: [], errors: [], ...extra })
  }

  /** The next message (already received and not yet taken, or to come) matching `type` and `pred`. */
  next<T extends MessageType>(type: T, pred: (m: Of<T>) => boolean = () => true, timeoutMs = 10_000): Promise<Of<T>> {
    const match = (m: Message): boolean => m.type === type && pred(m as Of<T>)
    const i = this.received.findIndex(match)
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0] as Of<T>)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms`)), timeoutMs)
      this.waiters.push({
        pred: match,
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m as Of<T>)
        },
      })
    })
  }

  /** Stop answering pings on the current connection (a satellite that hangs); later connections answer. */
  silence(): void {
    if (this.conn !== null) this.conn.silent = true
  }

  /** How the current connection ends: the close code and reason the controller sent. */
  closing(): Promise<{ code: number; reason: string }> {
    const c = this.conn
    if (c === null) throw new Error('the peer has no connection')
    return new Promise((resolve) => c.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  /** Drop the current connection abruptly. */
  drop(): void {
    this.conn?.ws.terminate()
  }

  async stop(): Promise<void> {
    for (const ws of this.server.clients) ws.terminate()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(ws: WebSocket): void {
    this.connections++
    const c: Conn = { ws, seqIn: 0, seqOut: 0, accepted: false, silent: false }
    this.conn = c
    const challenge = newChallenge()
    let controllerChallenge: Uint8Array | null = null
    const send = (msg: Message): void => {
      ws.send(encode({ seq: ++c.seqOut, msg }, { protocolVersion: this.opts.protocolVersion }))
    }
    ws.on('message', (data: Buffer) => {
      let msg: Message
      try {
        const frame = decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
        if (frame.seq !== c.seqIn + 1) throw new Error(`sequence ${frame.seq} after ${c.seqIn}`)
        c.seqIn = frame.seq
        msg = frame.msg
      } catch (e) {
        ws.close(LINK_CLOSE.PROTOCOL_ERROR, (e as Error).message.slice(0, 100))
        return
      }
      const input = (): Parameters<typeof linkProof>[1] => ({ secret: this.opts.secret, satelliteChallenge: challenge, controllerChallenge: controllerChallenge!, nodeName: this.opts.nodeName })
      if (msg.type === 'ControllerAuth') {
        controllerChallenge = msg.challenge
        if (this.opts.checkControllerProof && !verifyLinkProof('controller', input(), msg.proof)) {
          send({ type: 'LinkResult', status: 'AUTHENTICATION_FAILED', message: 'the controller does not know the cluster secret' })
          ws.close(LINK_CLOSE.AUTHENTICATION_FAILED, 'wrong cluster secret')
          return
        }
        send({ type: 'SatelliteAuth', proof: linkProof('satellite', input()) })
        return
      }
      if (msg.type === 'LinkResult') {
        c.accepted = msg.status === 'ACCEPTED'
        return
      }
      if (!c.accepted) return
      if (msg.type === 'Ping') {
        if (!c.silent) send({ type: 'Pong', pingSentAtUs: msg.sentAtUs, sentAtUs: Date.now() * 1000 })
        return
      }
      if (msg.type === 'FullSync') {
        this.desired.clear()
        for (const d of msg.resources) this.desired.set(d.name.toUpperCase(), d)
        this.fullSyncs.push(msg)
        send(CAPABILITIES)
        send({ type: 'CapacityReport', storPools: msg.storPools.map((p) => ({ name: p.name, freeKib: 1 << 20, totalKib: 2 << 20, errors: [] })) })
        if (this.applyFullSync) {
          send({ type: 'FullSyncApplied', syncId: msg.syncId })
          for (const d of msg.resources) this.answer(d)
        }
      } else if (msg.type === 'ResourceDesired') {
        const { type: _type, ...d } = msg
        this.desired.set(d.name.toUpperCase(), d)
        this.answer(d)
      }
      this.received.push(msg)
      const w = this.waiters.findIndex((x) => x.pred(msg))
      if (w >= 0) {
        this.received.pop()
        this.waiters.splice(w, 1)[0]!.resolve(msg)
      }
    })
    ws.on('close', () => {
      if (this.conn === c) this.conn = null
    })
    ws.on('error', () => {})
    send({ type: 'Hello', nodeName: this.opts.nodeName, protocolVersion: this.opts.protocolVersion, blockyardVersion: 'peer', challenge })
  }

  private answer(d: ResourceDesired): void {
    const out = this.respond(d)
    if (out !== null) this.send({ type: 'ResourceObserved', name: d.name, generation: d.generation, ...out })
  }
}
