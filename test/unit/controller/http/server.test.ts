import t from 'tap'
import { connect, type Socket } from 'node:net'
import { setLogSink } from '../../../../src/common/log.js'
import { JsonText, Router } from '../../../../src/controller/http/router.js'
import { startHttp } from '../../../../src/controller/http/server.js'

// Replies already serialised (JsonText): small ones are sent at once, large ones streamed chunk by chunk
// with backpressure. Either way the client must get exactly the joined text, with its Content-Length.

setLogSink(null)

/** n JSON texts of about `size` characters each, with characters of 1 to 4 UTF-8 bytes. */
function items(n: number, size: number): string[] {
  const filler = 'aé€😀'.repeat(Math.ceil(size / 5)).slice(0, size)
  return Array.from({ length: n }, (_, i) => JSON.stringify({ i, s: filler.slice(i % 7) }))
}

const BIG = items(6000, 2000) // ~14 MB: more than loopback socket buffers hold, so the stream must wait
const router = new Router()
router.get('/big', () => ({ status: 200, body: JsonText.array(BIG) }))
router.get('/small', () => ({ status: 200, body: JsonText.array(items(3, 10)) }))
router.get('/empty', () => ({ status: 200, body: JsonText.array([]) }))
const LARGE_PART = 'x'.repeat(700 * 1024) // larger than a chunk, between small ones
router.get('/large-part', () => ({ status: 200, body: new JsonText(['["', 'a', LARGE_PART, 'b', '"]']) }))
router.get('/object', () => ({ status: 201, body: { ok: true } }))

const http = await startHttp(router, { host: '127.0.0.1', port: 0, maxBodyBytes: 1024 })
t.teardown(() => http.close())
const url = `http://127.0.0.1:${http.port}`

t.test('JsonText replies: exact bytes and Content-Length, small and streamed', async (t) => {
  for (const [path, text] of [
    ['/small', JsonText.array(items(3, 10)).toString()],
    ['/empty', '[]'],
    ['/large-part', `["a${LARGE_PART}b"]`],
    ['/big', `[${BIG.join(',')}]`],
  ] as const) {
    const res = await fetch(url + path)
    const body = Buffer.from(await res.arrayBuffer())
    t.equal(res.status, 200, `${path}: status`)
    t.equal(res.headers.get('content-type'), 'application/json', `${path}: content type`)
    t.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)), `${path}: content length`)
    t.ok(body.equals(Buffer.from(text)), `${path}: the bytes of the joined text`)
  }
  t.same(JSON.parse(await (await fetch(url + '/big')).text()).length, BIG.length, 'a JSON array of every item')
  const obj = await fetch(url + '/object')
  t.same([obj.status, await obj.json()], [201, { ok: true }], 'other bodies as before')
})

/** A raw HTTP/1.1 GET whose reader stops for `pauseMs` after the first data, then reads everything. */
function slowGet(path: string, pauseMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(http.port, '127.0.0.1')
    const chunks: Buffer[] = []
    let paused = false
    s.on('data', (d: Buffer) => {
      chunks.push(d)
      if (!paused) {
        paused = true
        s.pause()
        setTimeout(() => s.resume(), pauseMs)
      }
    })
    s.on('end', () => resolve(Buffer.concat(chunks)))
    s.on('error', reject)
    s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  })
}

t.test('a reader slower than the server gets the whole reply (the stream waits for it)', async (t) => {
  const raw = await slowGet('/big', 300)
  const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString()
  const body = raw.subarray(raw.indexOf('\r\n\r\n') + 4)
  const text = `[${BIG.join(',')}]`
  t.match(head, /^HTTP\/1\.1 200 OK\r\n/, 'status line')
  t.match(head, new RegExp(`\r\nContent-Length: ${Buffer.byteLength(text)}(\r\n|$)`, 'i'), 'Content-Length')
  t.ok(body.equals(Buffer.from(text)), `${body.length} bytes, the joined text`)
})

t.test('a client that goes away mid-stream leaves the server serving', async (t) => {
  await new Promise<void>((resolve, reject) => {
    const s = connect(http.port, '127.0.0.1')
    s.once('data', () => {
      s.pause()
      s.destroy()
      resolve()
    })
    s.on('error', reject)
    s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n')
  })
  const again = await fetch(url + '/big')
  t.equal((await again.arrayBuffer()).byteLength, Buffer.byteLength(`[${BIG.join(',')}]`), 'the next request is served in full')
})

t.test('close ends idle keep-alive connections too', async (t) => {
  const own = await startHttp(router, { host: '127.0.0.1', port: 0, maxBodyBytes: 1024 })
  const sock = connect(own.port, '127.0.0.1')
  await new Promise((r) => sock.once('connect', r))
  let got = ''
  sock.on('data', (d) => (got += d.toString()))
  sock.write('GET /object HTTP/1.1\r\nHost: x\r\n\r\n')
  await new Promise<void>((resolve) => {
    const poll = (): void => (got.includes('{"ok":true}') ? resolve() : void setTimeout(poll, 5))
    poll()
  })
  const ended = new Promise((r) => sock.once('close', r))
  own.close()
  await ended
  t.pass('the server closed the idle connection')
})
