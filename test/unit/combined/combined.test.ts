// `blockyard combined` in-process, on loopback (no loop device is made: nothing here creates a
// resource): this host registered as a Combined node with its FILE_THIN pool, linked with the
// controller's own secret; restarts keep node and pool and follow the satellite's new port;
// --satellite-listen; a name taken by a node without a satellite; and the refusal without root.
import t from 'tap'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveConfig } from '../../../src/common/config.js'
import { setLogSink } from '../../../src/common/log.js'
import { main } from '../../../src/cli/main.js'
import { COMBINED_OPTIONS, combinedUnavailable, startCombined, type RunningCombined } from '../../../src/combined/combined.js'
import { startController } from '../../../src/controller/controller.js'
import { callApi } from '../../helpers/controller.js'

setLogSink(null)
const root = mkdtempSync(join(tmpdir(), 'blockyard-combined-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))

/** The options `blockyard combined --state-dir DIR --rest-listen 127.0.0.1:0 …` resolve to. */
function opts(stateDir: string, flags: Record<string, string> = {}): ReturnType<typeof resolveConfig<typeof COMBINED_OPTIONS>> {
  return resolveConfig(COMBINED_OPTIONS, { 'state-dir': stateDir, 'rest-listen': '127.0.0.1:0', ...flags }, {}, 'combined')
}

async function node(c: RunningCombined, name: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return (await callApi(c.url, 'GET', `/v1/nodes/${name}`)).body
}

t.test('registers this host as a node with its pool, idempotently', async (t) => {
  const state = join(root, 'one')
  let c = await startCombined(opts(state, { 'node-name': 'unit-host' }))
  let n = await node(c, 'unit-host')
  t.match(n, { type: 'COMBINED', connection_status: 'ONLINE', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: c.satellite.port, is_active: true }] }, 'a Combined node, ONLINE when start-up resolves')
  const dir = join(state, 'pools', 'DfltStorPool')
  const pool = (await callApi(c.url, 'GET', '/v1/nodes/unit-host/storage-pools/DfltStorPool')).body
  t.match(pool, { provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': dir } }, 'DfltStorPool, FILE_THIN, under the state directory')
  t.ok(statSync(dir).isDirectory(), 'its directory is made')
  t.type(pool.free_capacity, 'number', "start-up resolves with the pool's capacity known (placement does not warn)")
  t.equal((statSync(join(state, 'cluster-secret')).mode & 0o777), 0o600, "the controller's secret, which the satellite proved")
  const first = { node: n.uuid, pool: pool.uuid, port: c.satellite.port }
  await c.stop()

  c = await startCombined(opts(state, { 'node-name': 'unit-host' }))
  t.teardown(() => c.stop())
  n = await node(c, 'unit-host')
  t.equal(n.uuid, first.node, 'restart: the same node')
  t.equal(n.connection_status, 'ONLINE')
  t.equal(n.net_interfaces[0].satellite_port, c.satellite.port, "restart: the node's address follows the satellite's new port")
  const pools = (await callApi(c.url, 'GET', '/v1/nodes/unit-host/storage-pools')).body as { storage_pool_name: string; uuid: string }[]
  t.same(pools.map((p) => p.storage_pool_name).sort(), ['DfltDisklessStorPool', 'DfltStorPool'], 'restart: no pool added')
  t.equal(pools.find((p) => p.storage_pool_name === 'DfltStorPool')!.uuid, first.pool, 'restart: the same pool')
})

t.test('--satellite-listen', async (t) => {
  const c = await startCombined(opts(join(root, 'listen'), { 'node-name': 'unit-listen', 'satellite-listen': '0.0.0.0:0' }))
  t.teardown(() => c.stop())
  t.match(await node(c, 'unit-listen'), { connection_status: 'ONLINE', net_interfaces: [{ address: '127.0.0.1', satellite_port: c.satellite.port }] }, 'any-address: dialled on loopback')
})

t.test('a node without an active interface gets one', async (t) => {
  const state = join(root, 'noif')
  const ctrl = await startController({ ...opts(state), restListen: { host: '127.0.0.1', port: 0 } })
  const r = await callApi(ctrl.url, 'POST', '/v1/nodes', { name: 'unit-noif', type: 'Satellite', net_interfaces: [{ name: 'data', address: '127.0.0.1', satellite_port: null }] })
  t.equal(r.status, 201)
  await ctrl.stop()
  const c = await startCombined(opts(state, { 'node-name': 'unit-noif' }))
  t.teardown(() => c.stop())
  const n = await node(c, 'unit-noif')
  t.equal(n.connection_status, 'ONLINE')
  t.match(n.net_interfaces.find((x: { is_active: boolean }) => x.is_active), { name: 'default', address: '127.0.0.1', satellite_port: c.satellite.port })
})

t.test('a name taken by a node without a satellite is refused, and nothing keeps running', async (t) => {
  const state = join(root, 'taken')
  const ctrl = await startController({ ...opts(state), restListen: { host: '127.0.0.1', port: 0 } })
  await callApi(ctrl.url, 'POST', '/v1/nodes', { name: 'unit-aux', type: 'Auxiliary', net_interfaces: [] })
  await ctrl.stop()
  await t.rejects(startCombined(opts(state, { 'node-name': 'unit-aux' })), /node 'unit-aux' exists as a AUXILIARY node, which has no satellite; choose another name with --node-name/)
  // Everything was stopped: the database is free to open again.
  const again = await startController({ ...opts(state), restListen: { host: '127.0.0.1', port: 0 } })
  t.equal((await callApi(again.url, 'GET', '/v1/nodes/unit-aux')).status, 200)
  await again.stop()
})

t.test('a name the controller refuses: its message, and nothing keeps running', async (t) => {
  await t.rejects(startCombined(opts(join(root, 'badname'), { 'node-name': '-dash-first' })), /^POST \/v1\/nodes: 400 Invalid node name '-dash-first'/)
})

t.test('without root it says so and how to run it, and starts nothing', async (t) => {
  const getuid = process.getuid
  const errors: string[] = []
  const consoleError = console.error
  t.teardown(() => {
    process.getuid = getuid
    console.error = consoleError
    process.exitCode = 0
  })
  process.getuid = () => 1000
  t.match(combinedUnavailable(), /^loop devices need root .*\nRun it as root: sudo npm start, or sudo \.\/bin\/blockyard\.js combined\n/)
  console.error = (m: string) => void errors.push(m)
  const state = join(root, 'noroot')
  await main(['combined', '--state-dir', state])
  t.equal(process.exitCode, 1, 'exit code 1')
  t.match(errors.join('\n'), /^blockyard combined: loop devices need root/, 'one message, no stack')
  t.throws(() => statSync(state), 'nothing written')
  process.exitCode = 0
  await main(['combined', '--rest-listen', 'nowhere'])
  t.equal(process.exitCode, 2, 'a bad flag: exit code 2')
  t.match(errors.at(-1), /blockyard combined: --rest-listen: 'nowhere' is not HOST:PORT/)
})

t.test('help', async (t) => {
  const logs: string[] = []
  const log = console.log
  console.log = (m: string) => void logs.push(m)
  try {
    await main(['combined', '--help'])
  } finally {
    console.log = log
  }
  for (const flag of ['--state-dir', '--rest-listen', '--node-name', '--satellite-listen', '--cluster-secret-file']) t.match(logs.join('\n'), flag)
})
