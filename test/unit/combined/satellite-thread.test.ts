// The combined node's satellite on a worker thread: it listens and links like the daemon (the right
// secret, its node name), its log records reach the main thread's sink, stop ends it, and a satellite
// that cannot start rejects with its own message.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setLogSink } from '../../../src/common/log.js'
import { startSatelliteThread } from '../../../src/combined/satellite-thread.js'
import { TestController } from '../../helpers/satellite-link.js'

const root = mkdtempSync(join(tmpdir(), 'blockyard-satthread-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
const SECRET = 'ab12'.repeat(16)

t.test('links, logs through the main thread, stops', async (t) => {
  const lines: string[] = []
  setLogSink((l) => lines.push(l))
  t.teardown(() => setLogSink(null))
  const sat = await startSatelliteThread({ nodeName: 'thread-node', listen: { host: '127.0.0.1', port: 0 }, stateDir: join(root, 'state'), secret: SECRET, logLevel: 'info' })
  t.ok(sat.port > 0, `listening on ${sat.port}`)
  t.ok(lines.some((l) => / INFO  satellite: satellite ready \{"link":"ws:\/\/127\.0\.0\.1:\d+\/","node":"thread-node"/.test(l)), "the thread's records are written by the main thread's sink")

  const c = await TestController.connect(`ws://127.0.0.1:${sat.port}/`)
  const hello = await c.handshake(SECRET)
  t.equal(hello.nodeName, 'thread-node', 'the satellite links with the secret it was given')
  await c.next('NodeCapabilities')
  await c.close()

  await sat.stop()
  const refused = await new Promise<boolean>((resolve) => {
    const s = connect(sat.port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(false)
    })
    s.once('error', () => resolve(true))
  })
  t.ok(refused, 'stopped: nothing listens any more')
})

t.test('a satellite that cannot start rejects with its message', async (t) => {
  setLogSink(null)
  // TEST-NET-3: an address this machine does not have.
  await t.rejects(startSatelliteThread({ nodeName: 'thread-node', listen: { host: '203.0.113.1', port: 0 }, stateDir: join(root, 'state2'), secret: SECRET, logLevel: 'error' }), /cannot listen on 203\.0\.113\.1:0/)
})
