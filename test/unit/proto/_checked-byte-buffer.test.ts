import t from 'tap'
import { Builder, Encoding } from 'flatbuffers'
import { CheckedByteBuffer } from '../../../src/proto/_checked-byte-buffer.js'

const bb = (bytes: number[]): CheckedByteBuffer => new CheckedByteBuffer(Uint8Array.from(bytes))
const oob = { name: 'ProtocolError', reason: 'OUT_OF_BOUNDS' }

t.test('scalar reads stay inside the buffer', async (t) => {
  const b = bb([1, 2, 3, 4, 5, 6, 7, 8, 0xff])
  t.equal(b.readUint8(8), 0xff)
  t.equal(b.readInt8(8), -1)
  t.equal(b.readUint16(0), 0x0201)
  t.equal(b.readInt32(0), 0x04030201)
  t.equal(b.readUint64(0), 0x0807060504030201n)
  t.equal(b.readUint32(5), 0xff080706)
  for (const [label, read] of [
    ['byte past the end', () => b.readUint8(9)],
    ['negative offset', () => b.readUint8(-1)],
    ['fractional offset', () => b.readUint8(0.5)],
    ['NaN offset', () => b.readUint8(NaN)],
    ['uint16 straddling the end', () => b.readUint16(8)],
    ['int32 straddling the end', () => b.readInt32(6)],
    ['uint64 straddling the end', () => b.readUint64(2)],
    ['float64 straddling the end', () => b.readFloat64(4)],
  ] as const) {
    t.throws(read, oob, label)
  }
})

t.test('offsets, vectors and strings', async (t) => {
  // uint32 offset 4 at 0 → a vector/string at 4 of length 3, "abc", NUL.
  const b = bb([4, 0, 0, 0, 3, 0, 0, 0, 0x61, 0x62, 0x63, 0])
  t.equal(b.__vector(0), 8)
  t.equal(b.__vector_len(0), 3)
  t.equal(b.__string(0), 'abc')
  t.strictSame(b.__string(0, Encoding.UTF8_BYTES), Uint8Array.from([0x61, 0x62, 0x63]))
  t.throws(() => bb([0xf0, 0, 0, 0]).__indirect(0), oob, 'offset past the end')
  t.throws(() => bb([0xff, 0xff, 0xff, 0xff]).__vector(0), oob, 'an offset is unsigned: 2^32-1 is far, not -1')
  t.throws(() => bb([4, 0, 0, 0, 9, 0, 0, 0]).__vector_len(0), oob, 'vector longer than the buffer')
  t.throws(() => bb([4, 0, 0, 0, 3, 0, 0, 0, 0x61, 0x62, 0x63]).__string(0), oob, 'NUL past the end')
  t.throws(() => {
    b.__union_with_string()
  }, { name: 'ProtocolError', reason: 'MALFORMED' })
  t.throws(() => bb([4, 0, 0, 0, 1, 0, 0, 0, 0x61, 0x62]).__string(0), { name: 'ProtocolError', reason: 'MALFORMED', message: /lacks its terminating NUL/ })
  t.throws(() => bb([4, 0, 0, 0, 1, 0, 0, 0, 0xfe, 0]).__string(0), { reason: 'MALFORMED', message: /UTF-8/ })
})

t.test('the work budget is twice the buffer length', async (t) => {
  const b = bb([4, 0, 0, 0, 1, 0, 0, 0, 0x61, 0])
  // 10 bytes: budget 20; each string read costs 1 + its length.
  for (let i = 0; i < 10; i++) t.equal(b.__string(0), 'a')
  t.throws(() => b.__string(0), { reason: 'MALFORMED', message: /references more data than it holds/ })
})

t.test('tables: vtable and field checks', async (t) => {
  // A table with two uint32 fields, built by the runtime's Builder, read back through the checks.
  const builder = new Builder(16)
  builder.startObject(3)
  builder.addFieldInt32(0, 7, 0)
  builder.addFieldInt32(2, 9, 0)
  const table = builder.endObject()
  builder.finish(table)
  const bytes = builder.asUint8Array().slice()
  const b = new CheckedByteBuffer(bytes)
  const pos = b.__indirect(0)
  const f0 = b.__offset(pos, 4)
  t.equal(b.readInt32(pos + f0), 7)
  t.equal(b.__offset(pos, 6), 0, 'an absent field')
  t.equal(b.readInt32(pos + b.__offset(pos, 8)), 9)
  t.equal(b.__offset(pos, 40), 0, 'a field beyond the vtable is absent')
  const u = b.__union({ bb: b, bb_pos: 0 }, 0)
  t.equal(u.bb_pos, pos)

  const vt = pos - new DataView(bytes.buffer).getInt32(pos, true)
  const patched = (patch: (d: DataView) => void): CheckedByteBuffer => {
    const c = bytes.slice()
    patch(new DataView(c.buffer))
    return new CheckedByteBuffer(c)
  }
  t.throws(() => patched((d) => d.setUint16(vt, 3, true)).__offset(pos, 4), { reason: 'MALFORMED', message: /invalid size 3/ })
  t.throws(() => patched((d) => d.setUint16(vt + 2, 2, true)).__offset(pos, 4), { reason: 'MALFORMED', message: /table at offset \d+ has an invalid size 2/ })
  t.throws(() => patched((d) => d.setUint16(vt + 2, 0x4000, true)).__offset(pos, 4), oob)
  t.throws(() => patched((d) => d.setUint16(vt + 4, 200, true)).__offset(pos, 4), { reason: 'OUT_OF_BOUNDS', message: /lies outside its \d+ bytes/ })
  t.throws(() => patched((d) => d.setInt32(pos, -1000, true)).__offset(pos, 4), oob, 'vtable past the end')
  t.throws(() => patched((d) => d.setUint32(0, 1000, true)).__indirect(0), oob, 'root past the end')
})
