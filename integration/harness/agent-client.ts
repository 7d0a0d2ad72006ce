/**
 * The host end of a guest agent's channel (agent-protocol.ts): waits for READY, sends commands,
 * collects their output and results. It runs over any byte stream: the VM's serial-port socket, or a
 * socket to an agent started on the host by the tests.
 */
import type { Duplex } from 'node:stream'
import { decodeExit, decodeReady, encodeExec, FrameDecoder, FrameType, type Frame, type ReadyInfo } from './agent-protocol.js'

export interface RunResult {
  /** Exit code, or -1 when a signal ended the command. */
  exitCode: number
  /** The signal that ended it, 0 when it exited. */
  signal: number
  /** True when the agent killed it at its timeout. */
  timedOut: boolean
  stdout: string
  stderr: string
  /** Round trip as seen from the host. */
  ms: number
}

export interface RunOptions {
  /**
   * The agent kills the command's process group after this long; the result says `timedOut`. 0: no
   * timeout (a daemon; its promise settles when it exits or the VM goes away).
   */
  timeoutMs?: number
}

interface Pending {
  stdout: Buffer[]
  stderr: Buffer[]
  started: number
  timer: NodeJS.Timeout | undefined
  resolve: (r: RunResult) => void
  reject: (e: Error) => void
}

/** How much longer than the command's own timeout the host waits for the agent's answer. */
const AGENT_GRACE_MS = 15_000
export const DEFAULT_RUN_TIMEOUT_MS = 60_000

export class AgentClient {
  private stream: Duplex | undefined
  private readonly decoder = new FrameDecoder()
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private readyInfo: ReadyInfo | undefined
  private readonly readyWaiters: Array<{ resolve: (r: ReadyInfo) => void; reject: (e: Error) => void }> = []
  private failure: Error | undefined
  /** performance.now() when READY arrived. */
  readyAt = Number.NaN

  constructor(
    /** Prefix of error messages (the VM's name). */
    readonly name: string,
    /** Appended to errors about the channel: what may explain them (e.g. the guest console's tail). */
    private readonly diagnostics: () => string = () => '',
  ) {}

  /** Uses `stream` as the channel. Only the first one counts; later ones are closed. */
  attach(stream: Duplex): void {
    if (this.stream || this.failure) {
      stream.destroy()
      return
    }
    this.stream = stream
    stream.on('data', (chunk: Buffer) => {
      let frames: Frame[]
      try {
        frames = this.decoder.push(chunk)
      } catch (err) {
        this.fail(new Error(`${this.name}: agent channel: ${(err as Error).message}`))
        stream.destroy()
        return
      }
      for (const f of frames) this.onFrame(f)
    })
    stream.on('error', () => {}) // 'close' follows and reports it
    stream.on('close', () => this.fail(new Error(`${this.name}: agent channel closed${this.diagnostics()}`)))
  }

  /** Resolves at the agent's READY; rejects when the channel fails first or `timeoutMs` passes. */
  ready(timeoutMs: number): Promise<ReadyInfo> {
    if (this.readyInfo) return Promise.resolve(this.readyInfo)
    if (this.failure) return Promise.reject(this.failure)
    return new Promise<ReadyInfo>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters.splice(this.readyWaiters.indexOf(waiter), 1)
        reject(new Error(`${this.name}: not ready after ${timeoutMs} ms${this.diagnostics()}`))
      }, timeoutMs)
      const waiter = {
        resolve: (r: ReadyInfo) => {
          clearTimeout(timer)
          resolve(r)
        },
        reject: (e: Error) => {
          clearTimeout(timer)
          reject(e)
        },
      }
      this.readyWaiters.push(waiter)
    })
  }

  /**
   * Runs `argv` (argv[0] searched in the guest's PATH, no shell, stdin /dev/null); resolves with its exit
   * status and output whatever the exit code. Rejects when it could not be started (e.g. no such
   * program: the agent's message), or the channel is gone. Several commands may run at once.
   */
  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS
    const id = this.nextId++
    const frame = encodeExec(id, argv, timeoutMs) // validates argv before anything is sent
    if (this.failure) return Promise.reject(this.failure)
    if (!this.stream || !this.readyInfo) return Promise.reject(new Error(`${this.name}: run before the agent is ready`))
    const stream = this.stream
    return new Promise<RunResult>((resolve, reject) => {
      // Without a timeout (a daemon) the answer comes when it exits, or the channel fails.
      const timer =
        timeoutMs === 0
          ? undefined
          : setTimeout(() => {
              this.pending.delete(id)
              reject(new Error(`${this.name}: the agent did not answer ${JSON.stringify(argv)} within ${timeoutMs + AGENT_GRACE_MS} ms`))
            }, timeoutMs + AGENT_GRACE_MS)
      this.pending.set(id, { stdout: [], stderr: [], started: performance.now(), timer, resolve, reject })
      stream.write(frame)
    })
  }

  /**
   * The channel is unusable: everything waiting on it fails with `err` (the first failure is kept and
   * given to later calls too), and the stream is closed.
   */
  fail(err: Error): void {
    this.failure ??= err
    for (const w of this.readyWaiters.splice(0)) w.reject(this.failure)
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      clearTimeout(p.timer)
      p.reject(this.failure)
    }
    this.stream?.destroy()
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case FrameType.READY: {
        let info: ReadyInfo
        try {
          info = decodeReady(f.payload)
        } catch (err) {
          this.fail(err as Error)
          return
        }
        if (info.initErrors) {
          this.fail(new Error(`${this.name}: guest init failed: ${info.initErrors}${this.diagnostics()}`))
          return
        }
        this.readyInfo = info
        this.readyAt = performance.now()
        for (const w of this.readyWaiters.splice(0)) w.resolve(info)
        return
      }
      case FrameType.STDOUT:
        this.pending.get(f.id)?.stdout.push(f.payload)
        return
      case FrameType.STDERR:
        this.pending.get(f.id)?.stderr.push(f.payload)
        return
      case FrameType.EXIT: {
        const p = this.pending.get(f.id)
        if (!p) return // its host-side timer gave up on it
        this.pending.delete(f.id)
        clearTimeout(p.timer)
        let status
        try {
          status = decodeExit(f.payload)
        } catch (err) {
          p.reject(err as Error)
          this.fail(err as Error)
          return
        }
        p.resolve({
          ...status,
          stdout: Buffer.concat(p.stdout).toString('utf8'),
          stderr: Buffer.concat(p.stderr).toString('utf8'),
          ms: performance.now() - p.started,
        })
        return
      }
      case FrameType.ERROR: {
        const text = f.payload.toString('utf8')
        const p = this.pending.get(f.id)
        if (f.id !== 0 && p) {
          this.pending.delete(f.id)
          clearTimeout(p.timer)
          p.reject(new Error(`${this.name}: ${text}`))
        } else if (f.id === 0) {
          this.fail(new Error(`${this.name}: agent reports: ${text}`))
        }
        return
      }
      default:
        this.fail(new Error(`${this.name}: unknown frame type ${f.type} from the agent`))
    }
  }
}
