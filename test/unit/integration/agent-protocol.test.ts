// Frames of the VM harness's agent channel (integration/harness/agent-protocol.ts): encode and decode
// round trips, a stream cut at every byte, and the malformed inputs that must fail loudly.
import t from 'tap'
import {
  decodeExec,
  decodeExit,
  decodeReady,
  encodeExec,
  encodeExit,
  encodeFrame,
  FrameDecoder,
  FrameType,
  HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  ProtocolError,
} from '../../../integration/harness/agent-protocol.js'

t.test('frame header layout', async (t) => {
  const f = encodeFrame(FrameType.STDOUT, 0x01020304, Buffer.from('hi'))
  t.same([...f], [0x42, 0x59, 3, 0, 1, 2, 3, 4, 0, 0, 0, 2, 0x68, 0x69])
  t.equal(encodeFrame(FrameType.READY, 0).length, HEADER_BYTES, 'empty payload')
})

t.test('encodeFrame refuses what the header cannot carry', async (t) => {
  t.throws(() => encodeFrame(256, 1), RangeError)
  t.throws(() => encodeFrame(1, -1), RangeError)
  t.throws(() => encodeFrame(1, 2 ** 32), RangeError)
  t.throws(() => encodeFrame(1, 1, Buffer.alloc(MAX_PAYLOAD_BYTES + 1)), RangeError)
})

t.test('EXEC carries argv verbatim: no shell quoting, UTF-8, empty and odd arguments', async (t) => {
  const argv = ['printf', '%s|', 'two words', '', "it's", '$(rm -rf /)', ';', 'ünïcødé', '-\n-']
  const f = encodeExec(7, argv, 1500)
  const [frame] = new FrameDecoder().push(f)
  t.equal(frame!.type, FrameType.EXEC)
  t.equal(frame!.id, 7)
  t.same(decodeExec(frame!.payload), { timeoutMs: 1500, argv })
  // timeout u32, argc u32, then length-prefixed arguments
  t.equal(frame!.payload.readUInt32BE(0), 1500)
  t.equal(frame!.payload.readUInt32BE(4), argv.length)
  t.equal(frame!.payload.readUInt32BE(8), 'printf'.length)
})

t.test('encodeExec refuses what exec cannot pass', async (t) => {
  t.throws(() => encodeExec(1, [], 0), TypeError, 'no program')
  t.throws(() => encodeExec(1, ['echo', 'a\0b'], 0), TypeError, 'NUL in an argument')
  t.throws(() => encodeExec(1, ['echo', 3 as unknown as string], 0), TypeError, 'not a string')
  t.throws(() => encodeExec(1, ['true'], -1), RangeError)
  t.throws(() => encodeExec(1, ['true'], 1.5), RangeError)
})

t.test('decodeExec refuses truncated and padded payloads', async (t) => {
  const good = new FrameDecoder().push(encodeExec(1, ['ls', '-l'], 0))[0]!.payload
  t.throws(() => decodeExec(good.subarray(0, 7)), ProtocolError)
  t.throws(() => decodeExec(good.subarray(0, good.length - 1)), ProtocolError)
  t.throws(() => decodeExec(good.subarray(0, 10)), ProtocolError, 'ends inside a length')
  t.throws(() => decodeExec(Buffer.concat([good, Buffer.from([0])])), ProtocolError)
})

t.test('EXIT round trip', async (t) => {
  for (const s of [
    { exitCode: 0, signal: 0, timedOut: false },
    { exitCode: 3, signal: 0, timedOut: false },
    { exitCode: -1, signal: 9, timedOut: true },
  ]) {
    const [f] = new FrameDecoder().push(encodeExit(5, s))
    t.equal(f!.type, FrameType.EXIT)
    t.same(decodeExit(f!.payload), s)
  }
  t.throws(() => decodeExit(Buffer.alloc(8)), ProtocolError)
})

t.test('READY', async (t) => {
  t.same(decodeReady(Buffer.from('version=1\nuptime=9.81\ninit_errors=\n')), { version: 1, uptimeSec: 9.81, initErrors: '' })
  t.same(decodeReady(Buffer.from('version=1\nuptime=3.00\ninit_errors=mount -t 9p (exit 32); x=y\n')).initErrors, 'mount -t 9p (exit 32); x=y')
  t.throws(() => decodeReady(Buffer.from('hello')), ProtocolError)
})

t.test('a stream cut anywhere yields the same frames', async (t) => {
  const frames = [
    encodeFrame(FrameType.READY, 0, Buffer.from('version=1\n')),
    encodeFrame(FrameType.STDOUT, 1, Buffer.alloc(3000, 0x61)),
    encodeFrame(FrameType.STDERR, 1, Buffer.alloc(0)),
    encodeExit(1, { exitCode: 2, signal: 0, timedOut: false }),
  ]
  const stream = Buffer.concat(frames)
  const want = new FrameDecoder().push(stream)
  t.equal(want.length, 4)
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new FrameDecoder()
    const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))]
    if (got.length !== 4 || !got.every((f, i) => f.type === want[i]!.type && f.id === want[i]!.id && f.payload.equals(want[i]!.payload))) {
      t.fail(`cut at ${cut}`)
      return
    }
    t.equal(d.pending, 0)
  }
  // one byte at a time
  const d = new FrameDecoder()
  const got = []
  for (const b of stream) got.push(...d.push(Buffer.from([b])))
  t.equal(got.length, 4)
  t.ok(got[1]!.payload.equals(Buffer.alloc(3000, 0x61)))
})

t.test('out-of-step streams fail loudly', async (t) => {
  t.throws(() => new FrameDecoder().push(Buffer.from('login: ')), ProtocolError, 'bad magic')
  const big = encodeFrame(FrameType.STDOUT, 1).subarray(0, HEADER_BYTES)
  big.writeUInt32BE(MAX_PAYLOAD_BYTES + 1, 8)
  t.throws(() => new FrameDecoder().push(big), ProtocolError, 'oversized payload')
  const d = new FrameDecoder()
  t.same(d.push(Buffer.from([0x42])), [], 'half a magic waits for more')
  t.throws(() => d.push(Buffer.from([0x00])), ProtocolError)
})
