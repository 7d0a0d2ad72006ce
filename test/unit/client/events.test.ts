/**
 * The client's events subscriber against real in-process controllers: it reconnects and resumes by
 * itself across a controller restart without losing or repeating a change, resyncs from the current
 * state when the history no longer reaches back, and reports what stops it from starting.
 */
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttpServer, request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setLogSink } from '../../../src/common/log.js'
import { startController, type ControllerOptions, type RunningController } from '../../../src/controller/controller.js'
import { WebSocketServer } from 'ws'
import { ApiCallError, ConnectionError, UnexpectedReplyError, subscribeEvents, type BlockyardEvent, type ResyncInfo } from '../../../src/client/index.js'
import { until as poll } from '../../helpers/until.js'

setLogSink(null)

/** A port free now, so that a controller can be restarted on the same address. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** A controller on a fixed port and its own database, that can be stopped and started again. */
async function restartable(t: { teardown(fn: () => Promise<void>): void }, options: Partial<ControllerOptions> = {}): Promise<{ ctrl: () => RunningController; url: string; start(): Promise<void>; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'blockyard-events-client-'))
  const port = await freePort()
  let ctrl: RunningController | null = null
  const h = {
    ctrl: () => ctrl!,
    url: `http://127.0.0.1:${port}`,
    start: async () => {
      ctrl = await startController({ restListen: { host: '127.0.0.1', port }, dbPath: join(dir, 'controller.db'), maxBodyBytes: 1 << 20, clusterSecretFile: join(dir, 'secret'), satelliteTimeoutMs: 15_000, ...options })
    },
    stop: async () => {
      await ctrl?.stop()
      ctrl = null
    },
  }
  await h.start()
  t.teardown(async () => {
    await h.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return h
}

/**
 * One REST call on its own connection: a stopped controller's uWS app keeps serving the keep-alive
 * connections fetch would reuse (on a closed database), and these tests restart on the same port.
 */
function call(method: string, url: string, path: string, body: unknown): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode! }))
    })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}
const post = (url: string, path: string, body: unknown): Promise<{ status: number }> => call('POST', url, path, body)
const put = (url: string, path: string, body: unknown): Promise<{ status: number }> => call('PUT', url, path, body)

/** Resolves when `pred` holds, checking every 10 ms. */
async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  await poll('the events expected', pred, ms, 10)
}

t.test('reconnects by itself after a controller restart and resumes without loss or repeats', async (t) => {
  const c = await restartable(t)
  const batches: BlockyardEvent[][] = []
  const connects: boolean[] = []
  const disconnects: number[] = []
  const start = c.ctrl().events.revision
  const sub = subscribeEvents(c.url, { kinds: ['resource_definition'], minDelayMs: 20, maxDelayMs: 200 }, {
    onEvents: (b) => batches.push(b),
    onConnect: (i) => connects.push(i.reconnect),
    onDisconnect: (i) => disconnects.push(i.code),
  })
  t.teardown(() => sub.close())
  await until(() => connects.length === 1)
  for (let i = 0; i < 20; i++) t.equal((await post(c.url, '/v1/resource-definitions', { resource_definition: { name: `a${i}` } })).status, 201)
  await until(() => sub.revision === c.ctrl().core.store.revision)
  for (let round = 0; round < 3; round++) {
    await c.stop()
    await until(() => disconnects.length === round + 1)
    await c.start()
    // Changes right after the restart, possibly before the subscriber is back: it resumes over them.
    for (let i = 0; i < 10; i++) t.equal((await put(c.url, `/v1/resource-definitions/a${i}`, { override_props: { 'Aux/round': String(round) } })).status, 200)
    await until(() => sub.revision === c.ctrl().core.store.revision)
  }
  const end = c.ctrl().core.store.revision
  t.same(connects, [false, true, true, true])
  const revs = batches.flat().map((e) => e.revision)
  t.same(revs, Array.from({ length: end - start }, (_, i) => start + 1 + i), 'each change once, in order')
  t.same(batches.flat().filter((e) => e.action === 'modify').length, 30)
  const e = batches[0]![0]!
  if (e.kind === 'resource_definition') t.equal(e.object.name, 'a0', 'typed by kind')
  await sub.close()
  await t.resolves(sub.done)
})

t.test('a history too short to resume from: onResync, then the current state, then live', async (t) => {
  const c = await restartable(t, { eventHistoryBytes: 2048 })
  const resyncs: ResyncInfo[] = []
  const currents: { revision: number; names: string[] }[] = []
  const live: BlockyardEvent[] = []
  const sub = subscribeEvents(c.url, { kinds: ['resource_definition'], minDelayMs: 400, maxDelayMs: 400 }, {
    onEvents: (b) => live.push(...b),
    onCurrent: (revision, events) => currents.push({ revision, names: events.map((e) => (e.kind === 'resource_definition' ? e.object.name : '')) }),
    onResync: (i) => resyncs.push(i),
  })
  t.teardown(() => sub.close())
  await until(() => sub.revision !== null)
  t.equal((await post(c.url, '/v1/resource-definitions', { resource_definition: { name: 'first' } })).status, 201)
  await until(() => live.length === 1)
  await c.stop()
  await c.start()
  // While the subscriber waits to reconnect, more changes than the history keeps.
  for (let i = 0; i < 20; i++) await post(c.url, '/v1/resource-definitions', { resource_definition: { name: `b${i}` } })
  t.ok(c.ctrl().events.oldest > live[0]!.revision)
  await until(() => currents.length === 1)
  t.equal(resyncs.length, 1)
  t.equal(resyncs[0]!.from, live[0]!.revision)
  t.match(resyncs[0]!.message, /current=1/)
  t.same(currents[0]!.names.sort(), ['b0', 'b1', 'b10', 'b11', 'b12', 'b13', 'b14', 'b15', 'b16', 'b17', 'b18', 'b19', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b9', 'first'])
  t.equal(sub.revision, currents[0]!.revision)
  t.equal((await post(c.url, '/v1/resource-definitions', { resource_definition: { name: 'after' } })).status, 201)
  await until(() => live.length === 2)
  t.equal(live[1]!.resource, 'after')
})

t.test('what stops a subscription from starting', async (t) => {
  const port = await freePort()
  const none = subscribeEvents(`http://127.0.0.1:${port}`)
  const e = await none.done.then(() => null, (x: unknown) => x)
  t.ok(e instanceof ConnectionError)
  t.match((e as ConnectionError).message, `127.0.0.1:${port}`)
  const c = await restartable(t)
  const bad = subscribeEvents(c.url, { kinds: ['nodes-and-more'] })
  const refused = await bad.done.then(() => null, (x: unknown) => x)
  t.ok(refused instanceof ApiCallError)
  t.equal((refused as ApiCallError).status, 400)
  t.match((refused as ApiCallError).message, /unknown event kind/)
  t.throws(() => subscribeEvents([]), RangeError)

  // Something else on the port: an HTTP server, or a WebSocket server that is not the events stream.
  const http = createHttpServer((_req, res) => res.writeHead(404).end('<html>not here</html>'))
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
  t.teardown(() => http.close())
  const other = await subscribeEvents(`http://127.0.0.1:${(http.address() as { port: number }).port}`).done.then(() => null, (x: unknown) => x)
  t.ok(other instanceof UnexpectedReplyError)
  t.equal((other as UnexpectedReplyError).status, 404)
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  t.teardown(() => wss.close())
  wss.on('connection', (ws) => ws.send('hello there'))
  await new Promise((r) => wss.once('listening', r))
  const notJson = await subscribeEvents(`http://127.0.0.1:${(wss.address() as { port: number }).port}`).done.then(() => null, (x: unknown) => x)
  t.ok(notJson instanceof UnexpectedReplyError)
  t.match((notJson as Error).message, /not JSON/)
})
