/**
 * LINSTOR's SSE routes on a real controller (127.0.0.1:0), read with fetch's body reader as a client
 * would: event names and payloads against LINSTOR's OpenAPI schemas (EventNode, EventNodeModified,
 * EventMayPromoteChange), the promotion stream's current state, and the stream's life (disconnects,
 * slow readers, keep-alive, controller stop).
 */
import t, { type Test } from 'tap'
import { connect, type Socket } from 'node:net'
import uWS from 'uWebSockets.js'
import { startTestController } from '../../../helpers/controller.js'
import { parse, value } from '../../../helpers/prometheus.js'
import { SseStreams } from '../../../../src/controller/http/sse.js'
import type { Node } from '../../../../src/controller/model/types.js'

const tc = await startTestController()
t.teardown(tc.stop)

interface SseEvent {
  event: string
  data: unknown
}

/** A stream as a client reads it: events as they are parsed, comment lines apart. */
class SseReader {
  readonly events: SseEvent[] = []
  readonly comments: string[] = []
  status = 0
  contentType: string | null = null
  ended = false
  private readonly ac = new AbortController()
  private buffer = ''
  private waiters: (() => void)[] = []

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const r = new SseReader()
    const res = await fetch(url, { headers, signal: r.ac.signal })
    r.status = res.status
    r.contentType = res.headers.get('content-type')
    void r.pump(res.body!.getReader())
    return r
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const dec = new TextDecoder()
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        this.buffer += dec.decode(value, { stream: true })
        this.parse()
      }
    } catch {
      // aborted by close()
    }
    this.ended = true
    this.wake()
  }

  /** Blocks separated by a blank line; `event:`/`data:` fields as the SSE spec reads them. */
  private parse(): void {
    for (let end = this.buffer.indexOf('\n\n'); end >= 0; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      let event = 'message'
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line)
        else if (line.startsWith('event: ')) event = line.slice(7)
        else if (line.startsWith('data: ')) data.push(line.slice(6))
      }
      if (data.length > 0) this.events.push({ event, data: JSON.parse(data.join('\n')) })
    }
    this.wake()
  }

  private wake(): void {
    const ws = this.waiters
    this.waiters = []
    for (const w of ws) w()
  }

  /** Resolves once `pred` holds (checked at every chunk); fails after `ms`. */
  async until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms
    while (!pred()) {
      if (this.ended) throw new Error(`stream ended while waiting for ${what}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; have ${JSON.stringify(this.events.map((e) => e.event))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  close(): void {
    this.ac.abort()
  }
}

/** Polls `pred` (state the server changes on its own, e.g. a subscriber count) until it holds. */
async function eventually(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function must(p: Promise<{ status: number; text: string }>, status = 201): Promise<void> {
  const r = await p
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`)
}

// LINSTOR's OpenAPI (v1.28.0, components/schemas): the members each payload may have.
const EVENT_NODE = ['node']
const EVENT_NODE_MODIFIED = ['old_node', 'new_node']
const EVENT_MAY_PROMOTE_CHANGE = ['resource_name', 'node_name', 'may_promote']
const NODE_EVENTS = ['node-create', 'node-delete', 'node-evacuate', 'node-evicted', 'node-restored', 'node-modified']

/** The payload has only members its schema names, and each Node is one (name and type are required). */
function checkShape(t: Test, e: SseEvent): void {
  const data = e.data as Record<string, unknown>
  const members = e.event === 'node-modified' ? EVENT_NODE_MODIFIED : e.event === 'may-promote-change' ? EVENT_MAY_PROMOTE_CHANGE : EVENT_NODE
  t.same(Object.keys(data).filter((k) => !members.includes(k)), [], `${e.event}: only ${members.join(', ')}`)
  if (e.event === 'may-promote-change') {
    t.type(data['resource_name'], 'string')
    t.type(data['node_name'], 'string')
    if ('may_promote' in data) t.type(data['may_promote'], 'boolean')
    return
  }
  t.ok(NODE_EVENTS.includes(e.event), `${e.event} is one of LINSTOR's node events`)
  for (const k of members) {
    const n = data[k] as Record<string, unknown>
    t.type(n['name'], 'string', `${e.event}.${k}.name`)
    t.type(n['type'], 'string', `${e.event}.${k}.type`)
  }
}

async function addNode(name: string, i: number): Promise<void> {
  await must(tc.post('/v1/nodes', { name, type: 'satellite', net_interfaces: [{ name: 'default', address: `127.0.0.${i}` }] }))
}

t.test('nodes: create, modify and delete, with LINSTOR\'s names and payloads', async (t) => {
  const s = await SseReader.open(`${tc.url}/v1/events/nodes`)
  t.teardown(() => s.close())
  t.equal(s.status, 200)
  t.equal(s.contentType, 'text/event-stream')
  await addNode('alpha', 1)
  await s.until(() => s.events.length >= 1, 'node-create')
  const created = s.events[0]!
  t.equal(created.event, 'node-create')
  t.same((created.data as { node: unknown }).node, (await tc.get('/v1/nodes/alpha')).body, 'the node as GET /v1/nodes/alpha shows it')

  await must(tc.put('/v1/nodes/alpha', { override_props: { 'Aux/rack': 'r1' } }), 200)
  await s.until(() => s.events.length >= 2, 'node-modified')
  const modified = s.events[1]!
  t.equal(modified.event, 'node-modified')
  const { old_node: before, new_node: after } = modified.data as { old_node: { props: Record<string, string> }; new_node: { props: Record<string, string> } }
  t.equal(before.props['Aux/rack'], undefined, 'old_node: before the change')
  t.equal(after.props['Aux/rack'], 'r1', 'new_node: after it')
  t.same(after, (await tc.get('/v1/nodes/alpha')).body)

  await must(tc.del('/v1/nodes/alpha'), 200)
  await s.until(() => s.events.some((e) => e.event === 'node-delete'), 'node-delete')
  const deleted = s.events.find((e) => e.event === 'node-delete')!
  t.equal((deleted.data as { node: { name: string; props: Record<string, string> } }).node.props['Aux/rack'], 'r1', 'node-delete: the node as it was last')
  for (const e of s.events) checkShape(t, e)
})

t.test('nodes: EVICTED and EVACUATE flags give node-evicted, node-restored, node-evacuate', async (t) => {
  await addNode('beta', 2)
  const s = await SseReader.open(`${tc.url}/v1/events/nodes`)
  t.teardown(() => s.close())
  const setFlags = (flags: string[]): Promise<void> => tc.ctrl.core.mutate((tx, m) => {
    const n = m.getNode('beta')!
    m.putNode(tx, { ...n, flags } satisfies Node)
  })
  await setFlags(['EVICTED'])
  await setFlags([])
  await setFlags(['EVACUATE'])
  await s.until(() => s.events.length >= 3, 'three node events')
  t.same(s.events.map((e) => e.event), ['node-evicted', 'node-restored', 'node-evacuate'])
  t.same(s.events.map((e) => (e.data as { node: { flags: string[] } }).node.flags), [['EVICTED'], [], ['EVACUATE']])
  for (const e of s.events) checkShape(t, e)
})

t.test('nodes: a connection state change is a node-modified; an unchanged node says nothing', async (t) => {
  await addNode('gamma', 3)
  const s = await SseReader.open(`${tc.url}/v1/events/nodes`)
  t.teardown(() => s.close())
  // A no-op modification first: it commits, but the node's JSON is unchanged.
  await must(tc.put('/v1/nodes/gamma', {}), 200)
  tc.ctrl.core.model.setRuntimeNode('gamma', { connectionStatus: 'ONLINE', supportedLayers: null, supportedProviders: null })
  await s.until(() => s.events.length >= 1, 'node-modified')
  t.equal(s.events.length, 1)
  t.equal(s.events[0]!.event, 'node-modified')
  const d = s.events[0]!.data as { old_node: { connection_status: string }; new_node: { connection_status: string } }
  t.equal(d.old_node.connection_status, 'OFFLINE')
  t.equal(d.new_node.connection_status, 'ONLINE')
})

t.test('promotion: Last-Event-ID: current lists the DRBD resources first', async (t) => {
  await addNode('p1', 11)
  await must(tc.post('/v1/nodes/p1/storage-pools', { storage_pool_name: 'pool1', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': '/srv/p1' } }))
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name: 'withdrbd' } }))
  await must(tc.post('/v1/resource-definitions/withdrbd/volume-definitions', { volume_definition: { size_kib: 65536 } }))
  await must(tc.post('/v1/resource-definitions/withdrbd/resources', [{ resource: { node_name: 'p1', props: { StorPoolName: 'pool1' } }, layer_list: ['DRBD', 'STORAGE'] }]))
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name: 'plain' } }))
  await must(tc.post('/v1/resource-definitions/plain/volume-definitions', { volume_definition: { size_kib: 65536 } }))
  await must(tc.post('/v1/resource-definitions/plain/resources', [{ resource: { node_name: 'p1', props: { StorPoolName: 'pool1' } }, layer_list: ['STORAGE'] }]))

  const cur = await SseReader.open(`${tc.url}/v1/events/drbd/promotion`, { 'Last-Event-ID': 'current' })
  t.teardown(() => cur.close())
  t.equal(cur.contentType, 'text/event-stream')
  await cur.until(() => cur.events.length >= 1, 'the current state')
  t.same(cur.events, [{ event: 'may-promote-change', data: { resource_name: 'withdrbd', node_name: 'p1' } }],
    'only the DRBD resource; may_promote left out while unknown (LINSTOR: null, not included)')
  for (const e of cur.events) checkShape(t, e)

  // Without the header: nothing until a change. A comment line opens the stream at once.
  const live = await SseReader.open(`${tc.url}/v1/events/drbd/promotion`)
  t.teardown(() => live.close())
  await live.until(() => live.comments.length >= 1, 'the opening comment')
  t.same(live.events, [])
})

/** An SseStreams of its own on a second uWS app, following the test controller's hub, with options. */
async function ownStreams(t: Test, opts: ConstructorParameters<typeof SseStreams>[3]): Promise<{ sse: SseStreams; url: string }> {
  const app = uWS.App()
  const sse = new SseStreams(app, tc.ctrl.events, () => tc.ctrl.core.model, opts)
  const port = await new Promise<number>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (token) => {
      if (token === false) reject(new Error('cannot listen'))
      else {
        t.teardown(() => {
          sse.close()
          uWS.us_listen_socket_close(token)
        })
        resolve(uWS.us_socket_local_port(token as unknown as uWS.us_socket))
      }
    })
  })
  return { sse, url: `http://127.0.0.1:${port}` }
}

t.test('promotion: a change of what satellites report of may-promote is sent once', async (t) => {
  const report = (rsc: string, mayPromote: boolean | null): void =>
    tc.ctrl.core.model.setRuntimeResource(rsc, 'p1', { inUse: false, connections: [], mayPromote, promotionScore: null })
  const { url } = await ownStreams(t, {})
  const s = await SseReader.open(`${url}/v1/events/drbd/promotion`)
  t.teardown(() => s.close())
  report('withdrbd', true)
  report('plain', true) // not DRBD: never an event
  await must(tc.put('/v1/resource-definitions/withdrbd/resources/p1', { override_props: { 'Aux/touch': '1' } }), 200) // unchanged: no event
  report('withdrbd', false)
  // Reports of one event-loop turn make one unit, whose event shows where they ended: wait in between.
  await s.until(() => s.events.length >= 2, 'two changes')
  tc.ctrl.core.model.deleteRuntimeResource('withdrbd', 'p1')
  await s.until(() => s.events.length >= 3, 'three changes')
  // Deleted, what was known is forgotten: the resource made again is news.
  report('withdrbd', true)
  await s.until(() => s.events.length >= 4, 'four changes')
  await must(tc.del('/v1/resource-definitions/withdrbd/resources/p1'), 200)
  await must(tc.post('/v1/resource-definitions/withdrbd/resources', [{ resource: { node_name: 'p1', props: { StorPoolName: 'pool1' } }, layer_list: ['DRBD', 'STORAGE'] }]))
  report('withdrbd', true)
  await s.until(() => s.events.length >= 5, 'five changes')
  const on = { event: 'may-promote-change', data: { resource_name: 'withdrbd', node_name: 'p1', may_promote: true } }
  t.same(s.events, [
    on,
    { event: 'may-promote-change', data: { resource_name: 'withdrbd', node_name: 'p1', may_promote: false } },
    { event: 'may-promote-change', data: { resource_name: 'withdrbd', node_name: 'p1' } },
    on,
    on,
  ])
  for (const e of s.events) checkShape(t, e)

  // Streams started now know it already: the same value again is no change.
  const second = await ownStreams(t, {})
  const s2 = await SseReader.open(`${second.url}/v1/events/drbd/promotion`)
  t.teardown(() => s2.close())
  report('withdrbd', true)
  await must(tc.put('/v1/resource-definitions/withdrbd/resources/p1', { override_props: { 'Aux/touch': '2' } }), 200)
  report('withdrbd', false)
  await s2.until(() => s2.events.length >= 1, 'the change')
  t.same(s2.events, [{ event: 'may-promote-change', data: { resource_name: 'withdrbd', node_name: 'p1', may_promote: false } }])
})

t.test('a client that disconnects is removed; other methods get 405', async (t) => {
  const before = tc.ctrl.sse.size
  const a = await SseReader.open(`${tc.url}/v1/events/nodes`)
  const b = await SseReader.open(`${tc.url}/v1/events/drbd/promotion`)
  t.equal(tc.ctrl.sse.size, before + 2)
  t.equal(tc.ctrl.sse.count('promotion') >= 1, true)
  const scraped = async (): Promise<number | undefined> => value(parse((await tc.get('/metrics')).text), 'blockyard_event_subscribers', { transport: 'sse' })
  t.equal(await scraped(), before + 2, 'blockyard_event_subscribers{transport="sse"}')
  a.close()
  await eventually(() => tc.ctrl.sse.size === before + 1, 'the first subscriber removed')
  b.close()
  await eventually(() => tc.ctrl.sse.size === before, 'the second subscriber removed')
  t.equal(await scraped(), before)
  // Events after the disconnects go to nobody and break nothing.
  await addNode('delta', 4)
  const post = await tc.post('/v1/events/nodes', {})
  t.equal(post.status, 405)
  t.match(post.body, [{ message: /POST is not allowed/ }])
})

t.test('keep-alive comments on an idle stream', async (t) => {
  const { url } = await ownStreams(t, { keepAliveMs: 50 })
  const s = await SseReader.open(`${url}/v1/events/nodes`)
  t.teardown(() => s.close())
  await s.until(() => s.comments.filter((c) => c === ': keep-alive').length >= 2, 'two keep-alive comments')
  t.same(s.events, [])
})

/** A raw HTTP client that sends the request and then reads nothing. */
function stalledClient(url: string, path: string): Promise<Socket> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname, () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`)
      sock.pause()
      resolve(sock)
    })
    sock.on('error', reject)
  })
}

t.test('a client that does not read is closed at the limit; the others keep up', async (t) => {
  const { sse, url } = await ownStreams(t, { maxBufferBytes: 256 * 1024 })
  const stalled = await stalledClient(url, '/v1/events/nodes')
  const closed = new Promise<void>((resolve) => stalled.once('close', () => resolve()))
  stalled.on('error', () => {})
  const reader = await SseReader.open(`${url}/v1/events/nodes`)
  t.teardown(() => reader.close())
  await eventually(() => sse.size === 2, 'both subscribed')
  await addNode('bulky', 5)
  // node-modified carries the node twice: ~200 KiB per change with 12 properties of 8,000 characters.
  const big = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`Aux/big${i}`, `${n}`.padEnd(8000, 'x')]))
  let n = 0
  while (sse.droppedSlow === 0 && n < 400) await must(tc.put('/v1/nodes/bulky', { override_props: big(n++) }), 200)
  t.equal(sse.droppedSlow, 1, `closed after ${n} changes (~${Math.round((n * 200) / 1024)} MiB)`)
  // A paused socket hears of the close only once it reads what came before.
  stalled.resume()
  await closed
  t.equal(sse.size, 1, 'the reading client is still subscribed')
  await must(tc.put('/v1/nodes/bulky', { override_props: { 'Aux/last': 'yes' } }), 200)
  await reader.until(() => reader.events.some((e) => (e.data as { new_node?: { props: Record<string, string> } }).new_node?.props['Aux/last'] === 'yes'), 'the last change', 20_000)
  t.equal(reader.events.filter((e) => e.event === 'node-modified').length, n + 1, 'the reader got every change')
})

t.test('a client that reads late gets every event, in order, from its queue', async (t) => {
  const { sse, url } = await ownStreams(t, { maxBufferBytes: 64 * 1024 * 1024 })
  await addNode('late', 6)
  const late = await stalledClient(url, '/v1/events/nodes')
  t.teardown(() => late.destroy())
  const chunks: Buffer[] = []
  late.on('data', (c: Buffer) => chunks.push(c))
  await eventually(() => sse.size === 1, 'subscribed')
  const big = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`Aux/big${i}`, `${n}`.padEnd(8000, 'x')]))
  const changes = 60 // ~12 MiB: more than the sockets' buffers take, so some waits in the queue
  for (let n = 0; n < changes; n++) await must(tc.put('/v1/nodes/late', { override_props: { ...big(n), 'Aux/n': String(n) } }), 200)
  late.resume()
  // Whole events per write, so no chunk header splits one: count them in the raw bytes.
  const text = (): string => Buffer.concat(chunks).toString('latin1')
  await eventually(() => text().split('event: node-modified').length - 1 === changes, `${changes} node-modified`, 20_000)
  const order = [...text().matchAll(/"new_node":\{[^]*?"Aux\/n":"(\d+)"/g)].map((m) => Number(m[1]))
  t.same(order, Array.from({ length: changes }, (_, i) => i), 'every change once, in order')
  t.equal(sse.droppedSlow, 0)
})

t.test('stopping the controller ends the streams', async (t) => {
  const s = await SseReader.open(`${tc.url}/v1/events/nodes`)
  await s.until(() => s.comments.length >= 1, 'the opening comment')
  await tc.restart()
  await s.until(() => s.ended, 'the end of the stream').catch(() => {})
  t.equal(s.ended, true)
})
