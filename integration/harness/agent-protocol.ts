/**
 * Frames of the command channel between the harness and the guest agent (integration/image/agent.c),
 * carried over the VM's second serial port.
 *
 * Every frame is a 12-byte header and a payload, numbers big-endian:
 *   'B' 'Y' | type u8 | 0 u8 | id u32 | payload length u32 | payload
 * Types:
 *   READY  guest→host, id 0: UTF-8 `key=value` lines (`version`, `uptime`, `init_errors`)
 *   EXEC   host→guest: timeoutMs u32 (0 = none), argc u32, then argc × (length u32, bytes); the agent
 *          exec's argv[0] (searched in PATH) with exactly these arguments, never through a shell
 *   STDOUT / STDERR  guest→host: a chunk of the command's output
 *   EXIT   guest→host: exit code i32 (-1 when killed by a signal), signal i32, timedOut u8
 *   ERROR  guest→host: UTF-8 text; id 0 is about the channel, another id means that command never ran
 */

export const FRAME_MAGIC = 0x4259
export const HEADER_BYTES = 12
/** The agent refuses larger frames (agent.c MAX_PAYLOAD). */
export const MAX_PAYLOAD_BYTES = 1 << 20

export const FrameType = {
  READY: 1,
  EXEC: 2,
  STDOUT: 3,
  STDERR: 4,
  EXIT: 5,
  ERROR: 6,
} as const
export type FrameType = (typeof FrameType)[keyof typeof FrameType]

export interface Frame {
  type: number
  id: number
  payload: Buffer
}

export interface ExitStatus {
  /** The process's exit code, or -1 when a signal ended it. */
  exitCode: number
  /** The signal that ended it, 0 when it exited. */
  signal: number
  /** True when the agent killed it because its timeout passed. */
  timedOut: boolean
}

export interface ReadyInfo {
  version: number
  /** Guest uptime in seconds when the agent started. */
  uptimeSec: number
  /** Steps of the guest's init that failed, empty when none. */
  initErrors: string
}

/** One frame as bytes. Throws RangeError for an id or payload the protocol cannot carry. */
export function encodeFrame(type: number, id: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError(`frame type ${type} is not a byte`)
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError(`frame id ${id} is not a u32`)
  if (payload.length > MAX_PAYLOAD_BYTES) throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`)
  const b = Buffer.allocUnsafe(HEADER_BYTES + payload.length)
  b.writeUInt16BE(FRAME_MAGIC, 0)
  b.writeUInt8(type, 2)
  b.writeUInt8(0, 3)
  b.writeUInt32BE(id, 4)
  b.writeUInt32BE(payload.length, 8)
  b.set(payload, HEADER_BYTES)
  return b
}

/**
 * The EXEC frame for `argv`. Arguments are strings sent as UTF-8; they cannot contain NUL (exec cannot
 * pass it), and argv must name a program: both are TypeErrors, thrown before anything is sent.
 */
export function encodeExec(id: number, argv: readonly string[], timeoutMs: number): Buffer {
  if (argv.length === 0) throw new TypeError('argv must name a program')
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0xffffffff) throw new RangeError(`timeoutMs ${timeoutMs} is not a u32`)
  const args = argv.map((a) => {
    if (typeof a !== 'string') throw new TypeError(`argument ${String(a)} is not a string`)
    if (a.includes('\0')) throw new TypeError(`argument ${JSON.stringify(a)} contains NUL`)
    return Buffer.from(a, 'utf8')
  })
  const payload = Buffer.allocUnsafe(8 + args.reduce((n, a) => n + 4 + a.length, 0))
  payload.writeUInt32BE(timeoutMs, 0)
  payload.writeUInt32BE(args.length, 4)
  let off = 8
  for (const a of args) {
    payload.writeUInt32BE(a.length, off)
    a.copy(payload, off + 4)
    off += 4 + a.length
  }
  return encodeFrame(FrameType.EXEC, id, payload)
}

/** The argument array of an EXEC frame's payload (the inverse of encodeExec, for tests and tools). */
export function decodeExec(payload: Buffer): { timeoutMs: number; argv: string[] } {
  if (payload.length < 8) throw new ProtocolError('EXEC payload shorter than 8 bytes')
  const timeoutMs = payload.readUInt32BE(0)
  const argc = payload.readUInt32BE(4)
  const argv: string[] = []
  let off = 8
  for (let i = 0; i < argc; i++) {
    if (payload.length - off < 4) throw new ProtocolError(`EXEC payload ends inside argument ${i}`)
    const n = payload.readUInt32BE(off)
    if (payload.length - off - 4 < n) throw new ProtocolError(`EXEC payload ends inside argument ${i}`)
    argv.push(payload.toString('utf8', off + 4, off + 4 + n))
    off += 4 + n
  }
  if (off !== payload.length) throw new ProtocolError('EXEC payload has trailing bytes')
  return { timeoutMs, argv }
}

export function decodeExit(payload: Buffer): ExitStatus {
  if (payload.length !== 9) throw new ProtocolError(`EXIT payload of ${payload.length} bytes, expected 9`)
  return { exitCode: payload.readInt32BE(0), signal: payload.readInt32BE(4), timedOut: payload[8] !== 0 }
}

export function encodeExit(id: number, s: ExitStatus): Buffer {
  const p = Buffer.alloc(9)
  p.writeInt32BE(s.exitCode, 0)
  p.writeInt32BE(s.signal, 4)
  p[8] = s.timedOut ? 1 : 0
  return encodeFrame(FrameType.EXIT, id, p)
}

export function decodeReady(payload: Buffer): ReadyInfo {
  const fields = new Map<string, string>()
  for (const line of payload.toString('utf8').split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1))
  }
  const version = Number(fields.get('version'))
  if (!Number.isInteger(version)) throw new ProtocolError(`READY without a version: ${JSON.stringify(payload.toString('utf8'))}`)
  return { version, uptimeSec: Number(fields.get('uptime')), initErrors: fields.get('init_errors') ?? '' }
}

/** The channel is out of step or a payload is malformed: the VM's agent cannot be trusted any more. */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
}

/**
 * Splits a byte stream into frames. `push` returns the frames completed by the chunk; bytes of an
 * unfinished frame are kept for the next chunk. A header without the magic, or announcing more than
 * MAX_PAYLOAD_BYTES, throws ProtocolError: nothing after it can be trusted.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0)

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    const frames: Frame[] = []
    let off = 0
    while (this.buf.length - off >= 2) {
      if (this.buf.readUInt16BE(off) !== FRAME_MAGIC) {
        throw new ProtocolError(`bad frame magic 0x${this.buf.readUInt16BE(off).toString(16).padStart(4, '0')} at stream byte ${off}`)
      }
      if (this.buf.length - off < HEADER_BYTES) break
      const len = this.buf.readUInt32BE(off + 8)
      if (len > MAX_PAYLOAD_BYTES) throw new ProtocolError(`frame announces ${len} payload bytes (max ${MAX_PAYLOAD_BYTES})`)
      if (this.buf.length - off < HEADER_BYTES + len) break
      frames.push({
        type: this.buf.readUInt8(off + 2),
        id: this.buf.readUInt32BE(off + 4),
        // A copy: the payload must not pin the (possibly large) stream buffer.
        payload: Buffer.from(this.buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + len)),
      })
      off += HEADER_BYTES + len
    }
    this.buf = off === 0 ? this.buf : Buffer.from(this.buf.subarray(off))
    return frames
  }

  /** Bytes held for an unfinished frame. */
  get pending(): number {
    return this.buf.length
  }
}
