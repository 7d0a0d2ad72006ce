// The satellite's link server against a controller-side test client built from src/proto: set-up with
// the right and a wrong secret, one controller at a time, frames out of turn, garbage and truncated
// frames, silence. Loopback only, port 0 (STYLE.md §6).
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { setLogSink } from '../../../../src/common/log.js'
import { encode } from '../../../../src/proto/codec.js'
import { linkProof, newChallenge } from '../../../../src/proto/link-proof.js'
import { LINK_CLOSE, PROTOCOL_VERSION, type FullSync, type Message } from '../../../../src/proto/messages.js'
import { LinkServer, type ControllerLink, type LinkHandler } from '../../../../src/satellite/link/server.js'
import { TestController } from '../../../helpers/satellite-link.js'

const SECRET = 'a'.repeat(64)
const NODE = 'node-a'

interface Recorder extends LinkHandler {
  links: ControllerLink[]
  desiredMsgs: Message[]
  closes: string[]
}

function recorder(): Recorder {
  const r: Recorder = {
    links: [],
    desiredMsgs: [],
    closes: [],
    accepted: (l) => r.links.push(l),
    desired: (m) => r.desiredMsgs.push(m),
    closed: (reason) => r.closes.push(reason),
  }
  return r
}

const logs: string[] = []
setLogSink((line) => logs.push(line))

async function server(t: Test, opts: Partial<ConstructorParameters<typeof LinkServer>[0]> = {}): Promise<{ srv: LinkServer; url: string; h: Recorder }> {
  const h = recorder()
  const srv = new LinkServer({ host: '127.0.0.1', port: 0, nodeName: NODE, secret: SECRET, blockyardVersion: '0.0.0-test', handler: h, ...opts })
  const port = await srv.start()
  t.teardown(() => srv.stop())
  return { srv, url: `ws://127.0.0.1:${port}/`, h }
}

const sync: FullSync = { type: 'FullSync', syncId: 7, nodeName: NODE, nodeProps: {}, storPools: [], resources: [] }

t.test('the right secret: Hello, both proofs, ACCEPTED; then ping and desired state flow', async (t) => {
  const { url, h } = await server(t)
  const c = await TestController.connect(url)
  const hello = await c.handshake(SECRET)
  t.equal(hello.nodeName, NODE)
  t.equal(hello.protocolVersion, PROTOCOL_VERSION)
  t.equal(hello.blockyardVersion, '0.0.0-test')
  t.equal(hello.challenge.length, 32)
  // The satellite learns of the link when ACCEPTED arrives; a Ping round-trip orders us after it.
  c.send({ type: 'Ping', sentAtUs: 123 })
  const pong = await c.next('Pong')
  t.equal(pong.pingSentAtUs, 123, 'Pong echoes the ping time')
  t.ok(pong.sentAtUs > 0)
  t.equal(h.links.length, 1, 'handler told the link is up')
  c.send(sync)
  c.send({ type: 'Ping', sentAtUs: 1 })
  await c.next('Pong')
  t.same(h.desiredMsgs.map((m) => m.type), ['FullSync'], 'desired state reaches the handler')
  t.ok(h.links[0]!.send({ type: 'FullSyncApplied', syncId: 7 }), 'the handler can send')
  t.equal((await c.next('FullSyncApplied')).syncId, 7)
  t.equal(c.frameError, null, 'every frame decoded, in sequence')
  await c.close()
  await new Promise((r) => setTimeout(r, 50))
  t.equal(h.closes.length, 1, 'handler told the link is gone')
  t.notOk(h.links[0]!.send({ type: 'FullSyncApplied', syncId: 8 }), 'sending on a closed link says so')
})

t.test('two satellites never accept the same challenge: Hello carries a fresh one per link', async (t) => {
  const { url } = await server(t)
  const a = await TestController.connect(url)
  const b = await TestController.connect(url)
  const [ha, hb] = [await a.next('Hello'), await b.next('Hello')]
  t.notSame(Buffer.from(ha.challenge), Buffer.from(hb.challenge))
  await a.close()
  await b.close()
})

t.test('a wrong secret is refused with AUTHENTICATION_FAILED and the close', async (t) => {
  const { url, h } = await server(t)
  const c = await TestController.connect(url)
  const hello = await c.next('Hello')
  const challenge = newChallenge()
  const proof = linkProof('controller', { secret: 'b'.repeat(64), satelliteChallenge: hello.challenge, controllerChallenge: challenge, nodeName: NODE })
  c.send({ type: 'ControllerAuth', challenge, proof, blockyardVersion: 'x' })
  const res = await c.next('LinkResult')
  t.equal(res.status, 'AUTHENTICATION_FAILED')
  const closed = await c.closed
  t.equal(closed.code, LINK_CLOSE.AUTHENTICATION_FAILED)
  t.equal(c.received.some((m) => m.type === 'SatelliteAuth'), false, 'no satellite proof for a peer without the secret')
  t.equal(h.links.length, 0)
  t.notOk(logs.join('\n').includes(SECRET), 'the secret is never logged')
})

t.test('a proof for another node name is refused', async (t) => {
  const { url } = await server(t)
  const c = await TestController.connect(url)
  const hello = await c.next('Hello')
  const challenge = newChallenge()
  const proof = linkProof('controller', { secret: SECRET, satelliteChallenge: hello.challenge, controllerChallenge: challenge, nodeName: 'node-b' })
  c.send({ type: 'ControllerAuth', challenge, proof, blockyardVersion: 'x' })
  t.equal((await c.next('LinkResult')).status, 'AUTHENTICATION_FAILED')
  t.equal((await c.closed).code, LINK_CLOSE.AUTHENTICATION_FAILED)
})

t.test('a second controller is refused while the first holds the link; the slot frees when it goes', async (t) => {
  const { url, h } = await server(t)
  const first = await TestController.connect(url)
  await first.handshake(SECRET)
  const second = await TestController.connect(url)
  await t.rejects(second.handshake(SECRET), /closed/, 'the set-up does not complete')
  const res = second.received.find((m) => m.type === 'LinkResult')
  t.match(res, { status: 'CONTROLLER_ALREADY_CONNECTED', message: /linked to the controller at 127\.0\.0\.1/ })
  t.equal((await second.closed).code, LINK_CLOSE.CONTROLLER_ALREADY_CONNECTED)
  first.send({ type: 'Ping', sentAtUs: 5 })
  t.equal((await first.next('Pong')).pingSentAtUs, 5, 'the first link is untouched')

  // A wrong secret is told so even while the slot is taken (no hint that a controller is linked).
  const third = await TestController.connect(url)
  await t.rejects(third.handshake('c'.repeat(64)))
  t.match(third.received.find((m) => m.type === 'LinkResult'), { status: 'AUTHENTICATION_FAILED' })

  await first.close()
  const fourth = await TestController.connect(url)
  await fourth.handshake(SECRET)
  fourth.send({ type: 'Ping', sentAtUs: 9 })
  await fourth.next('Pong')
  t.equal(h.links.length, 2, 'a new controller links once the first is gone')
  await fourth.close()
})

t.test('desired state from a peer that has not been accepted never reaches the handler', async (t) => {
  const { url, h } = await server(t)
  // Instead of ControllerAuth.
  const a = await TestController.connect(url)
  await a.next('Hello')
  a.send(sync)
  t.match(await a.next('LinkResult'), { status: 'PROTOCOL_ERROR', message: 'expected ControllerAuth, got FullSync' })
  t.equal((await a.closed).code, LINK_CLOSE.PROTOCOL_ERROR)
  // After a right proof, but before the controller's LinkResult ACCEPTED.
  const b = await TestController.connect(url)
  const hello = await b.next('Hello')
  const challenge = newChallenge()
  const input = { secret: SECRET, satelliteChallenge: hello.challenge, controllerChallenge: challenge, nodeName: NODE }
  b.send({ type: 'ControllerAuth', challenge, proof: linkProof('controller', input), blockyardVersion: 'x' })
  await b.next('SatelliteAuth')
  b.send({ type: 'ResourceDesired', name: 'r1', generation: 1n, deleted: false, layers: ['STORAGE'], flags: [], props: {}, volumes: [] })
  t.match(await b.next('LinkResult'), { status: 'PROTOCOL_ERROR', message: 'expected LinkResult, got ResourceDesired' })
  await b.closed
  // A controller that refuses us at the last step.
  const c = await TestController.connect(url)
  const hc = await c.next('Hello')
  const cc = newChallenge()
  c.send({ type: 'ControllerAuth', challenge: cc, proof: linkProof('controller', { ...input, satelliteChallenge: hc.challenge, controllerChallenge: cc }), blockyardVersion: 'x' })
  await c.next('SatelliteAuth')
  c.send({ type: 'LinkResult', status: 'AUTHENTICATION_FAILED', message: 'no' })
  t.equal((await c.closed).code, 1000)
  t.same(h.desiredMsgs, [], 'nothing reached the handler')
  t.equal(h.links.length, 0)
  // And the slot was freed each time.
  const d = await TestController.connect(url)
  await d.handshake(SECRET)
  await d.close()
})

t.test('a controller refusing at Hello (version or node name mismatch) is closed quietly', async (t) => {
  const { url, h } = await server(t)
  const c = await TestController.connect(url)
  await c.next('Hello')
  c.send({ type: 'LinkResult', status: 'NODE_NAME_MISMATCH', message: 'dialled node-b' })
  t.equal((await c.closed).code, 1000)
  t.equal(h.links.length, 0)
})

t.test('garbage, truncated, text and out-of-sequence frames close the link; the server lives on', async (t) => {
  const { url, h } = await server(t)
  const valid = encode({ seq: 1, msg: { type: 'Ping', sentAtUs: 1 } })
  const cases: Array<[string, (c: TestController) => void, number, RegExp]> = [
    ['random bytes', (c) => c.sendRaw(randomBytes(100)), LINK_CLOSE.PROTOCOL_ERROR, /says it holds|not a Blockyard frame/],
    ['a truncated frame', (c) => c.sendRaw(valid.subarray(0, valid.length - 3)), LINK_CLOSE.PROTOCOL_ERROR, /says it holds/],
    ['a 3-byte frame', (c) => c.sendRaw(new Uint8Array([1, 2, 3])), LINK_CLOSE.PROTOCOL_ERROR, /shorter than the 12-byte header/],
    ['an empty frame', (c) => c.sendRaw(new Uint8Array(0)), LINK_CLOSE.PROTOCOL_ERROR, /shorter than/],
    ['a text frame', (c) => c.ws.send('hello', { binary: false }), LINK_CLOSE.PROTOCOL_ERROR, /text frame/],
    ['a frame of another protocol version', (c) => c.sendRaw(encode({ seq: 1, msg: { type: 'Ping', sentAtUs: 1 } }, { protocolVersion: PROTOCOL_VERSION + 1 })), LINK_CLOSE.VERSION_MISMATCH, /protocol version 2/],
    ['a sequence gap', (c) => c.sendRaw(encode({ seq: 2, msg: { type: 'Ping', sentAtUs: 1 } })), LINK_CLOSE.PROTOCOL_ERROR, /sequence 2 after 0/],
  ]
  for (const [name, act, code, reason] of cases) {
    const c = await TestController.connect(url)
    await c.next('Hello')
    act(c)
    const closed = await c.closed
    t.equal(closed.code, code, `${name}: close code`)
    t.match(closed.reason, reason, `${name}: close reason`)
  }
  // The same after the link is up: the link goes, the handler hears of it.
  const up = await TestController.connect(url)
  await up.handshake(SECRET)
  up.send({ type: 'Ping', sentAtUs: 1 })
  await up.next('Pong')
  up.sendRaw(randomBytes(64))
  t.equal((await up.closed).code, LINK_CLOSE.PROTOCOL_ERROR)
  await new Promise((r) => setTimeout(r, 50))
  t.equal(h.closes.length, 1)
  // A satellite's message from the controller is out of place too.
  const odd = await TestController.connect(url)
  await odd.handshake(SECRET)
  odd.send({ type: 'FullSyncApplied', syncId: 1 })
  t.match((await odd.closed).reason, /FullSyncApplied is not a message a controller sends/)
  // Still serving.
  const ok = await TestController.connect(url)
  await ok.handshake(SECRET)
  ok.send({ type: 'Ping', sentAtUs: 2 })
  await ok.next('Pong')
  t.same(h.desiredMsgs, [], 'no garbage became desired state')
  await ok.close()
})

t.test('set-up steps and a linked controller are timed out', async (t) => {
  const { url, h } = await server(t, { handshakeTimeoutMs: 150, silenceTimeoutMs: 300 })
  const mute = await TestController.connect(url)
  await mute.next('Hello')
  t.match(await mute.next('LinkResult'), { status: 'PROTOCOL_ERROR', message: 'no ControllerAuth within 0.15 s' })
  t.equal((await mute.closed).code, LINK_CLOSE.PROTOCOL_ERROR)

  const c = await TestController.connect(url)
  await c.handshake(SECRET)
  // Pinging keeps the link; silence ends it and frees the slot.
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 100))
    c.send({ type: 'Ping', sentAtUs: i })
    await c.next('Pong')
  }
  t.equal(h.closes.length, 0, 'pings keep the link')
  const closed = await c.closed
  t.equal(closed.code, LINK_CLOSE.PROTOCOL_ERROR)
  t.match(closed.reason, /no frame for 0.3 s/)
  t.equal(h.closes.length, 1)
  const next = await TestController.connect(url)
  await next.handshake(SECRET)
  await next.close()
})

t.test('options are checked; a taken port is an error', async (t) => {
  t.throws(() => new LinkServer({ host: '127.0.0.1', port: 0, nodeName: NODE, secret: '', blockyardVersion: 'x', handler: recorder() }), RangeError)
  const { srv } = await server(t)
  const clash = new LinkServer({ host: '127.0.0.1', port: srv.port, nodeName: NODE, secret: SECRET, blockyardVersion: 'x', handler: recorder() })
  await t.rejects(clash.start(), /cannot listen on 127\.0\.0\.1/)
  const res = await fetch(`http://127.0.0.1:${srv.port}/`)
  t.equal(res.status, 426, 'plain HTTP is told to upgrade')
})
