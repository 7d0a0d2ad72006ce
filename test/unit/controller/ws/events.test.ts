/**
 * The events WebSocket endpoint against a real in-process controller: the protocol (hello, current,
 * batches, errors), filters, refusals, resume without loss or duplicates over thousands of changes,
 * the history limit, slow consumers, and the close on stop.
 */
import t from 'tap'
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { startTestController, type TestController } from '../../../helpers/controller.js'
import { ANY_EVENT } from '../../../../src/controller/events/event.js'
import { rng } from '../../../helpers/rng.js'

const PATH = '/v1/x-blockyard/events'

interface Msg {
  type: string
  revision?: number
  oldest?: number
  code?: string
  message?: string
  events?: { revision: number; kind: string; action: string; [k: string]: unknown }[]
}

/** A subscriber that records every message; `until` waits for a condition over them. */
function subscribe(tc: TestController, query = ''): { ws: WebSocket; msgs: Msg[]; texts: string[]; closed: Promise<{ code: number; reason: string }>; until(pred: (m: Msg[]) => boolean, ms?: number): Promise<void> } {
  const ws = new WebSocket(tc.url.replace(/^http/, 'ws') + PATH + query)
  const msgs: Msg[] = []
  const texts: string[] = []
  const waiters = new Set<() => void>()
  ws.on('message', (d) => {
    texts.push(d.toString())
    msgs.push(JSON.parse(d.toString()) as Msg)
    for (const w of waiters) w()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  ws.on('error', () => {})
  const until = (pred: (m: Msg[]) => boolean, ms = 10_000): Promise<void> => new Promise((resolve, reject) => {
    if (pred(msgs)) return resolve()
    const timer = setTimeout(() => {
      waiters.delete(check)
      reject(new Error(`timed out; got ${JSON.stringify(msgs).slice(0, 500)}`))
    }, ms)
    const check = (): void => {
      if (!pred(msgs)) return
      clearTimeout(timer)
      waiters.delete(check)
      resolve()
    }
    waiters.add(check)
  })
  return { ws, msgs, texts, closed, until }
}

const events = (msgs: Msg[]): NonNullable<Msg['events']> => msgs.filter((m) => m.type === 'events').flatMap((m) => m.events!)
const node = (name: string, address: string): unknown => ({ name, type: 'Satellite', net_interfaces: [{ name: 'default', address }] })

t.test('hello, the current state first, then live batches; filters by kind, name and node', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  t.equal((await tc.post('/v1/nodes', node('alpha', '127.0.0.2'))).status, 201)
  t.equal((await tc.post('/v1/resource-definitions', { resource_definition: { name: 'rsc1' } })).status, 201)

  const all = subscribe(tc, '?current=1')
  const byKind = subscribe(tc, '?kinds=resource-definition')
  const byName = subscribe(tc, '?names=RSC2')
  const byNode = subscribe(tc, '?nodes=beta&kinds=node,storage_pool')
  for (const s of [all, byKind, byName, byNode]) await s.until((m) => m.length >= 1)
  const start = tc.ctrl.events.revision

  t.same(all.msgs[0], { type: 'hello', revision: start, oldest: all.msgs[0]!.oldest })
  const current = all.msgs[1]!
  t.equal(current.type, 'current')
  t.equal(current.revision, start)
  t.ok(current.events!.every((e) => e.action === 'current' && e.revision === start))
  t.ok(current.events!.some((e) => e.kind === 'node' && e['node'] === 'alpha'), 'the node')
  t.ok(current.events!.some((e) => e.kind === 'resource_definition' && e['resource'] === 'rsc1'), 'the resource definition')
  t.ok(current.events!.some((e) => e.kind === 'controller'), 'the controller')

  t.equal((await tc.post('/v1/resource-definitions', { resource_definition: { name: 'rsc2' } })).status, 201)
  t.equal((await tc.post('/v1/nodes', node('beta', '127.0.0.3'))).status, 201)
  t.equal((await tc.put('/v1/resource-definitions/rsc1', { override_props: { 'Aux/a': '1' } })).status, 200)
  const end = tc.ctrl.core.store.revision
  await all.until((m) => events(m).some((e) => e.revision === end))
  await new Promise((r) => setTimeout(r, 100))

  const live = events(all.msgs)
  t.ok(live.every((e) => e.revision > start), 'only events after the current state')
  t.same([...new Set(live.map((e) => e.revision))], Array.from({ length: end - start }, (_, i) => start + 1 + i), 'every revision, in order')
  t.same(events(byKind.msgs).map((e) => [e.resource, e.action]), [['rsc2', 'create'], ['rsc1', 'modify']])
  t.same(events(byName.msgs).map((e) => [e.kind, e.action]), [['resource_definition', 'create']], 'names are case-insensitive')
  const onBeta = events(byNode.msgs)
  t.ok(onBeta.length >= 2)
  t.ok(onBeta.every((e) => (e.kind === 'node' || e.kind === 'storage_pool') && e['node'] === 'beta'), 'only beta, only nodes and pools')
  t.ok(onBeta.some((e) => e.kind === 'node' && e.action === 'create'))
  for (const s of [all, byKind, byName, byNode]) s.ws.close()
})

t.test('a bad query is refused with 400 and an ApiCallRc; a plain GET with 426', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const refused = (query: string): Promise<{ status: number; body: string }> => new Promise((resolve) => {
    const ws = new WebSocket(tc.url.replace(/^http/, 'ws') + PATH + query)
    ws.on('error', () => {})
    ws.on('open', () => resolve({ status: 101, body: '' }))
    ws.on('unexpected-response', (req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => {
        req.destroy()
        resolve({ status: res.statusCode!, body })
      })
    })
  })
  for (const [query, what] of [['?kinds=bogus', /unknown event kind 'bogus'/], ['?since=-1', /since.*not a revision/], ['?since=abc', /since/], ['?kind=node', /unknown parameter/], ['?current=yes', /current/]] as const) {
    const r = await refused(query)
    t.equal(r.status, 400, query)
    const rc = JSON.parse(r.body) as { ret_code: number; message: string }[]
    t.match(rc[0]!.message, what, query)
    t.ok(rc[0]!.ret_code < 0, 'an error ret_code')
  }
  const plain = await tc.get(PATH)
  t.equal(plain.status, 426)
  t.match(plain.body[0].message, /WebSocket endpoint/)
  // The REST routes around it are unaffected.
  t.equal((await tc.get('/v1/nodes')).status, 200)
  t.equal((await tc.get('/v1/x-blockyard/eventsx')).status, 404)
})

t.test('resume after dropped connections: no event lost or duplicated over thousands of changes', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const start = tc.ctrl.events.revision
  const random = rng(5)
  const CLIENTS = 8
  const PER_CLIENT = 320 // 2,560 changes
  let done = false
  // Concurrent REST clients: create a definition, change it a few times, delete it.
  const writers = Array.from({ length: CLIENTS }, async (_, c) => {
    let n = 0
    for (let round = 0; n < PER_CLIENT; round++) {
      const name = `w${c}r${round}`
      await tc.post('/v1/resource-definitions', { resource_definition: { name } })
      n++
      for (let k = 0; k < 3 && n < PER_CLIENT; k++, n++) await tc.put(`/v1/resource-definitions/${name}`, { override_props: { 'Aux/k': String(k) } })
      if (n < PER_CLIENT) {
        await tc.del(`/v1/resource-definitions/${name}`)
        n++
      }
    }
  })
  const finished = Promise.all(writers).then(() => (done = true))

  // One subscriber that drops its connection again and again (from either side) and resumes with
  // since = the last revision it got; the frames it got are recorded in order.
  const received: string[] = []
  let last = start
  let reconnects = 0
  const steady = subscribe(tc) // stays connected throughout, for comparison
  // Subscribers that take the current state while changes are written (the state may include written,
  // not yet published ones): after it, every later change exactly once.
  const currents: ReturnType<typeof subscribe>[] = []
  while (!done || last < tc.ctrl.events.revision) {
    if (currents.length < 20) currents.push(subscribe(tc, '?current=1&kinds=resource_definition'))
    const s = subscribe(tc, `?since=${last}`)
    await s.until((m) => m.length >= 1)
    t.equal(s.msgs[0]!.type, 'hello')
    const stayMs = 5 + random() * 40
    await new Promise((r) => setTimeout(r, stayMs))
    if (random() < 0.5) s.ws.terminate()
    else s.ws.close()
    await s.closed
    for (const m of s.msgs) {
      if (m.type !== 'events') continue
      for (const e of m.events!) received.push(JSON.stringify(e))
      last = m.events![m.events!.length - 1]!.revision
    }
    reconnects++
    if (done) await finished
  }
  const end = tc.ctrl.core.store.revision
  t.ok(reconnects >= 5, `reconnected ${reconnects} times`)
  t.ok(end - start >= CLIENTS * PER_CLIENT, `${end - start} revisions given out`)
  const expected = tc.ctrl.events.since(start, ANY_EVENT)
  t.ok(expected.ok)
  if (!expected.ok) return
  const expectedTexts = expected.events.map((e) => JSON.stringify(JSON.parse(e.text)))
  const revs = received.map((x) => (JSON.parse(x) as { revision: number }).revision)
  t.same([...new Set(revs)], Array.from({ length: end - start }, (_, i) => start + 1 + i), 'each revision the store gave out, in order')
  t.equal(received.length, expectedTexts.length, 'as many events as the hub published')
  t.ok(received.every((x, i) => x === expectedTexts[i]), 'exactly the hub\'s events, each once, in order')
  await steady.until((m) => events(m).some((e) => e.revision === end))
  t.equal(events(steady.msgs).length, expectedTexts.length, 'the steady subscriber got them all too')
  steady.ws.close()
  for (const c of currents) {
    await c.until((m) => events(m).some((e) => e.revision === end) || m[1]?.revision === end)
    const w = c.msgs[1]!.revision!
    const after = expected.events.filter((e) => e.revision > w && e.kind === 'resource_definition').map((e) => JSON.stringify(JSON.parse(e.text)))
    t.same(events(c.msgs).map((e) => JSON.stringify(e)), after, `current at ${w}, then every later change once`)
    c.ws.close()
  }
})

t.test('a resume from before the history is refused with too-old, and after it with unknown-revision', async (t) => {
  const tc = await startTestController({ options: { eventHistoryBytes: 4096 } })
  t.teardown(tc.stop)
  const start = tc.ctrl.events.revision
  for (let i = 0; i < 30; i++) await tc.post('/v1/resource-definitions', { resource_definition: { name: `r${i}` } })
  t.ok(tc.ctrl.events.oldest > start, 'the history was trimmed')
  const old = subscribe(tc, `?since=${start}`)
  t.same(await old.closed, { code: 4410, reason: 'too-old' })
  const err = old.msgs.find((m) => m.type === 'error')!
  t.equal(err.code, 'too-old')
  t.equal(err.oldest, tc.ctrl.events.oldest)
  t.match(err.message, /current=1/)
  const ahead = subscribe(tc, `?since=${tc.ctrl.events.revision + 10}`)
  t.equal((await ahead.closed).code, 4410)
  t.equal(ahead.msgs.find((m) => m.type === 'error')!.code, 'unknown-revision')
  // From the oldest revision kept it works.
  const ok = subscribe(tc, `?since=${tc.ctrl.events.oldest}`)
  await ok.until((m) => events(m).length > 0)
  t.equal(events(ok.msgs)[0]!.revision, tc.ctrl.events.oldest + 1)
  ok.ws.close()
  t.match(tc.ctrl.metrics.registry.expose(), /blockyard_event_subscribers_dropped_total\{reason="too-old"\} 1/)
})

/** A WebSocket client on a raw socket, paused after the handshake: it reads when the test resumes it. */
function rawSubscriber(port: number, query = ''): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(`GET ${PATH}${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    })
    s.once('data', (d: Buffer) => {
      if (!d.toString().startsWith('HTTP/1.1 101')) return reject(new Error(d.toString()))
      // Paused, with the frames that came with the 101 put back: the caller reads when it wants.
      s.pause()
      s.unshift(d.subarray(d.indexOf('\r\n\r\n') + 4))
      resolve(s)
    })
    s.on('error', reject)
  })
}

/** The complete frames at the start of a stream of unmasked server frames (opcode and payload). */
function frames(buf: Buffer): { op: number; payload: Buffer }[] {
  const out: { op: number; payload: Buffer }[] = []
  let i = 0
  while (i + 2 <= buf.length) {
    let len = buf[i + 1]! & 0x7f
    let at = i + 2
    if (len === 126) {
      if (at + 2 > buf.length) break
      len = buf.readUInt16BE(at)
      at += 2
    } else if (len === 127) {
      if (at + 8 > buf.length) break
      len = Number(buf.readBigUInt64BE(at))
      at += 8
    }
    if (at + len > buf.length) break
    out.push({ op: buf[i]! & 0x0f, payload: buf.subarray(at, at + len) })
    i = at + len
  }
  return out
}

/** The close frame's code and reason, if it has arrived. */
function closeFrame(buf: Buffer): { code: number; reason: string } | null {
  const c = frames(buf).find((f) => f.op === 0x8)
  return c === undefined ? null : { code: c.payload.readUInt16BE(0), reason: c.payload.subarray(2).toString() }
}

t.test('a subscriber that stops reading is closed with its reason; the others keep up', async (t) => {
  const LIMIT = 256 * 1024
  const tc = await startTestController({ options: { eventMaxBufferBytes: LIMIT } })
  t.teardown(tc.stop)
  const stalled = await rawSubscriber(tc.ctrl.port)
  const others = [subscribe(tc), subscribe(tc, '?kinds=resource_definition')]
  for (const s of others) await s.until((m) => m.length >= 1)
  await t.resolves(tc.post('/v1/resource-definitions', { resource_definition: { name: 'big' } }))
  const start = tc.ctrl.events.revision
  const dropped = (): boolean => /blockyard_event_subscribers_dropped_total\{reason="slow"\} 1/.test(tc.ctrl.metrics.registry.expose())
  // Events of ~64 KiB each (8 properties of 8,000 characters): the kernel's socket buffers fill, then
  // uWS buffers up to the limit.
  const value = 'x'.repeat(8000)
  let changes = 0
  while (!dropped() && changes < 2000) {
    const props = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`Aux/big${i}`, `${changes}${value}`]))
    t.equal((await tc.put('/v1/resource-definitions/big', { override_props: props })).status, 200)
    changes++
  }
  t.ok(dropped(), `dropped after ${changes} changes`)
  const end = tc.ctrl.core.store.revision
  for (const s of others) {
    await s.until((m) => events(m).some((e) => e.revision === end))
    t.equal(events(s.msgs).filter((e) => e.revision > start).length, changes, 'every change reached the reading subscriber')
  }
  t.match(tc.ctrl.metrics.registry.expose(), /blockyard_event_subscribers\{transport="ws"\} 2/)
  // Read again: the frames uWS held, then the close frame with the reason.
  let buf = Buffer.alloc(0)
  const close = await new Promise<{ code: number; reason: string } | null>((resolve) => {
    stalled.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      const c = closeFrame(buf)
      if (c !== null) resolve(c)
    })
    stalled.on('close', () => resolve(closeFrame(buf)))
    stalled.resume()
  })
  t.equal(close?.code, 4429)
  t.match(close?.reason, /^slow consumer: \d+\.\d MiB not read$/)
  t.ok(buf.length < 16 * 1024 * 1024, `the stalled subscriber got ${buf.length} bytes, the kernel's buffers and the limit at most`)
  stalled.destroy()
  for (const s of others) s.ws.close()
})

t.test('stopping the controller closes every subscriber with 1001', async (t) => {
  const tc = await startTestController()
  const subs = [subscribe(tc), subscribe(tc, '?current=1')]
  for (const s of subs) await s.until((m) => m.length >= 1)
  t.match(tc.ctrl.metrics.registry.expose(), /blockyard_event_subscribers\{transport="ws"\} 2/)
  await tc.stop()
  for (const s of subs) t.same(await s.closed, { code: 1001, reason: 'controller stopping' })
})

t.test('a long replay is paced by what the subscriber reads, not dropped, and complete', async (t) => {
  const LIMIT = 256 * 1024
  const tc = await startTestController({ options: { eventMaxBufferBytes: LIMIT } })
  t.teardown(tc.stop)
  t.equal((await tc.post('/v1/resource-definitions', { resource_definition: { name: 'big' } })).status, 201)
  const start = tc.ctrl.events.revision
  // ~10 MiB of history: far more than the limit and the kernel's socket buffers.
  const value = 'y'.repeat(8000)
  for (let i = 0; i < 160; i++) {
    const props = Object.fromEntries(Array.from({ length: 8 }, (_, k) => [`Aux/big${k}`, `${i}${value}`]))
    t.equal((await tc.put('/v1/resource-definitions/big', { override_props: props })).status, 200)
  }
  const end = tc.ctrl.core.store.revision
  const s = await rawSubscriber(tc.ctrl.port, `?since=${start}`)
  // Not reading for a while: the replay waits (uWS drain), and live changes meanwhile do not drop it.
  await new Promise((r) => setTimeout(r, 300))
  t.equal((await tc.put('/v1/resource-definitions/big', { override_props: { 'Aux/live': '1' } })).status, 200)
  const chunks: Buffer[] = []
  await new Promise<void>((resolve) => {
    let tail = ''
    s.on('data', (d: Buffer) => {
      chunks.push(d)
      const text = tail + d.toString('latin1')
      if (text.includes('"Aux/live":"1"')) resolve()
      tail = text.slice(-32)
    })
    s.resume()
  })
  await new Promise((r) => setTimeout(r, 50)) // the rest of the live frame
  s.destroy()
  const buf = Buffer.concat(chunks)
  const msgs = frames(buf).filter((f) => f.op === 0x1).map((f) => JSON.parse(f.payload.toString()) as Msg)
  t.equal(msgs[0]!.type, 'hello')
  t.notOk(msgs.some((m) => m.type === 'error'))
  t.notOk(closeFrame(buf), 'not closed')
  const revs = events(msgs).map((e) => e.revision)
  t.same(revs, Array.from({ length: end + 1 - start }, (_, i) => start + 1 + i), 'every change once, in order, the live one after the replay')
  t.ok(msgs.filter((m) => m.type === 'events').length > 10, 'in many frames')
  t.notMatch(tc.ctrl.metrics.registry.expose(), /dropped_total\{reason="slow"\}/)
})
