/**
 * The controller's side of the satellite link, for tests: dials with `ws`, speaks the frames of
 * src/proto, and can run the set-up right or wrong on purpose. Every received frame is decoded and
 * its sequence number checked; `next(type)` waits for the next message of a type.
 */
import type { ChildProcess } from 'node:child_process'
import WebSocket from 'ws'
import { decode, encode } from '../../src/proto/codec.js'
import { linkProof, newChallenge } from '../../src/proto/link-proof.js'
import type { Hello, Message, MessageType } from '../../src/proto/messages.js'
import { spawnBlockyard } from './cli.js'

type Of<T extends MessageType> = Extract<Message, { type: T }>

export interface Closed {
  code: number
  reason: string
}

export class TestController {
  readonly ws: WebSocket
  readonly received: Message[] = []
  #seqOut = 0
  #seqIn = 0
  #waiters: Array<{ type: MessageType; pred: (m: Message) => boolean; resolve: (m: Message) => void; reject: (e: Error) => void }> = []
  /** Indexes of `received` already handed out by next(). */
  readonly #taken = new Set<number>()
  readonly closed: Promise<Closed>
  /** Set when a received frame was not a valid frame or broke the sequence. */
  frameError: Error | null = null

  private constructor(ws: WebSocket) {
    this.ws = ws
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() })
        for (const w of this.#waiters.splice(0)) w.reject(new Error(`link closed (${code} ${reason.toString()}) while waiting for ${w.type}`))
      })
    })
    ws.on('message', (data: Buffer) => {
      try {
        const f = decode(new Uint8Array(data))
        if (f.seq !== this.#seqIn + 1) throw new Error(`sequence ${f.seq} after ${this.#seqIn}`)
        this.#seqIn = f.seq
        this.received.push(f.msg)
        this.#wake()
      } catch (e) {
        this.frameError = e as Error
      }
    })
  }

  /** Opens a WebSocket to `url`; resolves once it is open (the satellite's Hello follows). */
  static connect(url: string): Promise<TestController> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      const c = new TestController(ws)
      ws.once('open', () => resolve(c))
      ws.once('error', reject)
    })
  }

  #wake(): void {
    for (const w of [...this.#waiters]) {
      const i = this.#find(w.type, w.pred)
      if (i >= 0) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1)
        this.#taken.add(i)
        w.resolve(this.received[i]!)
      }
    }
  }

  #find(type: MessageType, pred: (m: Message) => boolean): number {
    return this.received.findIndex((m, idx) => !this.#taken.has(idx) && m.type === type && pred(m))
  }

  /** The next not yet taken message of `type` (waits for it up to `timeoutMs`). */
  next<T extends MessageType>(type: T, timeoutMs = 10_000): Promise<Of<T>> {
    return this.until(type, () => true, timeoutMs)
  }

  /**
   * The first not yet taken message of `type` for which `pred` holds (waits for it up to
   * `timeoutMs`). Messages that do not match stay for later calls.
   */
  until<T extends MessageType>(type: T, pred: (m: Of<T>) => boolean, timeoutMs = 10_000): Promise<Of<T>> {
    const p = pred as (m: Message) => boolean
    const i = this.#find(type, p)
    if (i >= 0) {
      this.#taken.add(i)
      return Promise.resolve(this.received[i] as Of<T>)
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
        reject(new Error(`no matching ${type} within ${timeoutMs} ms; got ${this.received.map((m) => m.type).join(', ')}`))
      }, timeoutMs)
      const waiter = {
        type,
        pred: p,
        resolve: (m: Message) => {
          clearTimeout(timer)
          resolve(m as Of<T>)
        },
        reject: (e: Error) => {
          clearTimeout(timer)
          reject(e)
        },
      }
      this.#waiters.push(waiter)
    })
  }

  send(msg: Message): void {
    this.ws.send(encode({ seq: ++this.#seqOut, msg }))
  }

  /** Sends raw bytes as one binary frame (garbage, truncated frames). */
  sendRaw(bytes: Uint8Array): void {
    this.ws.send(bytes)
  }

  /**
   * Runs the set-up as the controller: waits for Hello, proves `secret`, checks the satellite's proof,
   * sends LinkResult ACCEPTED. Resolves with the Hello.
   */
  async handshake(secret: string): Promise<Hello> {
    const hello = await this.next('Hello')
    const c = newChallenge()
    const input = { secret, satelliteChallenge: hello.challenge, controllerChallenge: c, nodeName: hello.nodeName }
    this.send({ type: 'ControllerAuth', challenge: c, proof: linkProof('controller', input), blockyardVersion: 'test' })
    const sat = await this.next('SatelliteAuth')
    const want = Buffer.from(linkProof('satellite', input))
    if (!want.equals(Buffer.from(sat.proof))) throw new Error('the satellite proof is wrong')
    this.send({ type: 'LinkResult', status: 'ACCEPTED', message: '' })
    return hello
  }

  close(): Promise<Closed> {
    this.ws.close()
    return this.closed
  }

  /** Drops the TCP connection without a close frame (a controller that died). */
  terminate(): Promise<Closed> {
    this.ws.terminate()
    return this.closed
  }
}

/**
 * Starts `blockyard satellite` as a child process from the sources, listening on 127.0.0.1 (port 0
 * unless `listen` says otherwise); resolves with its link URL once it logs that it is ready.
 */
export function spawnSatellite(args: { nodeName: string; stateDir: string; secretFile: string; listen?: string; extra?: string[] }): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawnBlockyard([
    'satellite',
    '--node-name', args.nodeName,
    '--listen', args.listen ?? '127.0.0.1:0',
    '--state-dir', args.stateDir,
    '--cluster-secret-file', args.secretFile,
    ...(args.extra ?? []),
  ])
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`satellite did not start:\n${err}`)), 30_000)
    const onData = (): void => {
      const m = /satellite ready \{"link":"(ws:\/\/[^"]+)"/.exec(err)
      if (m) {
        clearTimeout(timer)
        child.stderr!.off('data', onData)
        resolve({ child, url: m[1]!, stderr: () => err })
      }
    }
    child.stderr!.on('data', onData)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`satellite exited with ${code ?? signal}:\n${err}`))
    })
  })
}
