/**
 * A flatbuffers `ByteBuffer` that checks every read, for decoding frames from the network.
 *
 * The flatbuffers JavaScript runtime has no verifier: its accessors follow whatever offsets a buffer
 * holds, read `undefined` past the end (silently giving 0 or NaN), and will walk a vector of a billion
 * entries. The generated accessors only ever reach the buffer through the primitives overridden here,
 * so checking these checks everything the decoder reads:
 *
 * - every scalar read lies wholly inside the buffer;
 * - a table's vtable lies inside the buffer, has an even size of at least 4 bytes, and the table's
 *   own size (from its vtable) fits in the buffer; a field's offset lies inside its table
 *   (the C++ verifier also checks the field's end against the table size and alignment; here the
 *   field's read is checked against the buffer, which is what memory safety needs);
 * - offsets to tables, vectors, strings and union members are unsigned and land inside the buffer;
 * - a vector's length fits in the bytes after it (at least one byte per element; wider elements are
 *   checked as they are read);
 * - a string's bytes and its terminating NUL lie inside the buffer, the NUL is there, and the bytes are
 *   valid UTF-8 (decoded with a fatal TextDecoder, so no replacement characters sneak in);
 * - the total of objects, vector elements and string bytes reached stays within twice the buffer's
 *   length: in a frame our encoder builds, every object has bytes of its own, so a frame that reaches
 *   more shares or loops its offsets — a classic decompression bomb — and is refused. Decoding work is
 *   thus linear in the frame's size.
 *
 * Any failed check throws `ProtocolError` (`OUT_OF_BOUNDS` or `MALFORMED`).
 */
import { ByteBuffer, Encoding, type Table } from 'flatbuffers'
import { ProtocolError } from './protocol-error.js'

export class CheckedByteBuffer extends ByteBuffer {
  private readonly buf: Uint8Array
  private readonly len: number
  private budget: number
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

  constructor(bytes: Uint8Array) {
    super(bytes)
    this.buf = bytes
    this.len = bytes.length
    this.budget = 2 * bytes.length
  }

  /** Throws unless `size` bytes at `offset` lie inside the buffer. */
  private need(offset: number, size: number, what: string): void {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && size >= 0 && offset + size <= this.len)) {
      throw new ProtocolError(
        'OUT_OF_BOUNDS',
        `${what} at offset ${offset} (${size} bytes) lies outside the ${this.len}-byte frame`,
      )
    }
  }

  private charge(units: number): void {
    this.budget -= units
    if (this.budget < 0) {
      throw new ProtocolError(
        'MALFORMED',
        `the ${this.len}-byte frame references more data than it holds (offsets shared or looping)`,
      )
    }
  }

  override readUint8(offset: number): number {
    this.need(offset, 1, 'byte')
    return this.buf[offset]!
  }

  override readUint16(offset: number): number {
    this.need(offset, 2, 'uint16')
    return this.buf[offset]! | (this.buf[offset + 1]! << 8)
  }

  override readInt32(offset: number): number {
    this.need(offset, 4, 'int32')
    return this.buf[offset]! | (this.buf[offset + 1]! << 8) | (this.buf[offset + 2]! << 16) | (this.buf[offset + 3]! << 24)
  }
  // readInt8/readInt16/readUint32/readInt64/readUint64/readFloat32/readFloat64 are built on the three
  // above in the runtime (flatbuffers 25.x ts/byte-buffer.ts), so they are checked too.

  /** Offset `offset` + uint32 at `offset`: where an offset field points. */
  private target(offset: number, what: string, minSize: number): number {
    const to = offset + this.readUint32(offset)
    this.need(to, minSize, what)
    return to
  }

  override __offset(bbPos: number, vtableOffset: number): number {
    const vtable = bbPos - this.readInt32(bbPos)
    this.need(vtable, 4, 'vtable')
    const vtSize = this.readUint16(vtable)
    const objSize = this.readUint16(vtable + 2)
    if (vtSize < 4 || vtSize % 2 !== 0) {
      throw new ProtocolError('MALFORMED', `vtable at offset ${vtable} has an invalid size ${vtSize}`)
    }
    this.need(vtable, vtSize, 'vtable')
    if (objSize < 4) throw new ProtocolError('MALFORMED', `table at offset ${bbPos} has an invalid size ${objSize}`)
    this.need(bbPos, objSize, 'table')
    if (vtableOffset >= vtSize) return 0
    const field = this.readUint16(vtable + vtableOffset)
    if (field === 0) return 0
    if (field < 4 || field >= objSize) {
      throw new ProtocolError('OUT_OF_BOUNDS', `a field of the table at offset ${bbPos} lies outside its ${objSize} bytes`)
    }
    return field
  }

  override __indirect(offset: number): number {
    const to = this.target(offset, 'table', 4)
    this.charge(1)
    return to
  }

  override __union(t: Table, offset: number): Table {
    t.bb_pos = this.__indirect(offset)
    t.bb = this
    return t
  }

  override __vector(offset: number): number {
    return this.target(offset, 'vector', 4) + 4
  }

  override __vector_len(offset: number): number {
    const start = this.target(offset, 'vector', 4)
    const n = this.readUint32(start)
    this.need(start + 4, n, `vector of ${n} elements`)
    this.charge(n)
    return n
  }

  override __string(offset: number, encoding?: Encoding): string | Uint8Array {
    const start = this.target(offset, 'string', 4)
    const n = this.readUint32(start)
    this.need(start + 4, n + 1, `string of ${n} bytes`)
    if (this.buf[start + 4 + n] !== 0) {
      throw new ProtocolError('MALFORMED', `string at offset ${start} lacks its terminating NUL`)
    }
    this.charge(1 + n)
    const bytes = this.buf.subarray(start + 4, start + 4 + n)
    if (encoding === Encoding.UTF8_BYTES) return bytes
    try {
      return this.utf8.decode(bytes)
    } catch (err) {
      throw new ProtocolError('MALFORMED', `string at offset ${start} is not valid UTF-8`, undefined, { cause: err })
    }
  }

  override __union_with_string(): never {
    throw new ProtocolError('MALFORMED', 'no union of this protocol holds a string')
  }
}
