/**
 * `blockyard events` against a test controller: lines and `-m` JSON as a child process that follows
 * until SIGINT (exit 0), a lost connection reported on stderr, and linstor's exit codes when it cannot start.
 */
import t from 'tap'
import { createServer } from 'node:net'
import { startTestController, type TestController } from '../../helpers/controller.js'
import { spawnBlockyard } from '../../helpers/cli.js'
import { clientRunner } from '../../helpers/cli-run.js'
import { eventLine } from '../../../src/cli/commands/events.js'
import type { BlockyardEvent } from '../../../src/client/events.js'
import { until as poll } from '../../helpers/until.js'

/** `blockyard ARGS` as a child process following the stream; `stop` interrupts it like Ctrl-C. */
function follow(url: string, args: string[]): { out: () => string; err: () => string; until(pred: (out: string) => boolean): Promise<void>; stop(): Promise<number | null> } {
  const child = spawnBlockyard(args, { LS_CONTROLLERS: url, HOME: '/nonexistent', NO_COLOR: '' })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    out: () => out,
    err: () => err,
    until: async (pred) => {
      await poll('the output expected', () => pred(out), 20_000, 20).catch((e: Error) => {
        throw new Error(`${e.message}; stdout:\n${out}\nstderr:\n${err}`)
      })
    },
    stop: async () => {
      child.kill('SIGINT')
      return exited
    },
  }
}

/** Waits until the controller counts `n` WebSocket subscribers (a follower prints nothing before an event). */
async function subscribers(tc: TestController, n: number): Promise<void> {
  await poll(`${n} subscribers`, () => new RegExp(`blockyard_event_subscribers\\{transport="ws"\\} ${n}\\n`).test(tc.ctrl.metrics.registry.expose()), 20_000, 20)
}

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \d+ [a-z_]+ (create|modify|delete|state|current)( [a-z_]+=\S+)*( {2}.+)?$/

t.test('prints the current state, then a line per event; -m prints the wire events; SIGINT ends it with 0', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  t.equal((await tc.post('/v1/nodes', { name: 'alpha', type: 'Satellite', net_interfaces: [{ name: 'default', address: '127.0.0.2' }] })).status, 201)
  const lines = follow(tc.url, ['events', '--current'])
  const json = follow(tc.url, ['-m', 'events', '--kinds', 'resource-definition,volume', '--names', 'rsc1'])
  await lines.until((o) => /node current node=alpha {2}SATELLITE/.test(o))
  await subscribers(tc, 2)
  const start = tc.ctrl.events.revision
  t.equal((await tc.post('/v1/resource-definitions', { resource_definition: { name: 'rsc1' } })).status, 201)
  t.equal((await tc.post('/v1/resource-definitions', { resource_definition: { name: 'rsc2' } })).status, 201)
  t.equal((await tc.put('/v1/resource-definitions/rsc1', { override_props: { 'Aux/a': '1' } })).status, 200)
  t.equal((await tc.del('/v1/resource-definitions/rsc1')).status, 200)
  await lines.until((o) => /resource_definition delete resource=rsc1/.test(o))
  await json.until((o) => o.trim().split('\n').length >= 3)
  const end = tc.ctrl.core.store.revision
  // Once connected, a lost connection is a line on stderr and the follow goes on (here at the old port).
  await tc.restart()
  await lines.until(() => /reconnecting/.test(lines.err()))

  t.equal(await lines.stop(), 0, 'SIGINT: exit 0')
  t.equal(await json.stop(), 0)
  const printed = lines.out().trim().split('\n')
  for (const l of printed) t.match(l, LINE, l)
  t.ok(printed.some((l) => / controller current$/.test(l)))
  t.ok(printed.some((l) => / resource_definition create resource=rsc1 {2}0 volume\(s\) group DfltRscGrp$/.test(l)))
  t.ok(printed.some((l) => / storage_pool current pool=DfltDisklessStorPool node=alpha {2}DISKLESS$/.test(l)))
  t.match(lines.err(), /^connection to http:\/\/127\.0\.0\.1:\d+ lost \(1001 controller stopping\); reconnecting in \d+\.\d s\n/)

  const wire = json.out().trim().split('\n').map((l) => JSON.parse(l) as BlockyardEvent)
  t.same(wire.map((e) => [e.kind, e.action, e.resource]), [['resource_definition', 'create', 'rsc1'], ['resource_definition', 'modify', 'rsc1'], ['resource_definition', 'delete', 'rsc1']])
  t.ok(wire.every((e) => e.revision > start && e.revision <= end))
  t.match(wire[0], { revision: Number, time: String, kind: 'resource_definition', action: 'create', resource: 'rsc1', object: { name: 'rsc1' } }, 'the wire event')
})

t.test('exit codes when it cannot start: 20 with the address, 10 for a refused query, 2 for usage', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
  const none = await clientRunner(`127.0.0.1:${port}`)(['events'])
  t.equal(none.code, 20)
  t.match(none.err, `Error: Unable to connect to http://127.0.0.1:${port}`)

  const tc = await startTestController()
  t.teardown(tc.stop)
  const run = clientRunner(tc.url)
  const bad = await run(['events', '--kinds', 'nodez'])
  t.equal(bad.code, 10)
  t.match(bad.out, /ERROR:[\s\S]*unknown event kind 'nodez'/)
  const since = await run(['events', '--since', 'yesterday'])
  t.equal(since.code, 2)
  t.match(since.err, /--since: 'yesterday' is not a revision/)

  const help = await run(['events', '--help'])
  t.match(help.out, /--kinds <list>/)
  t.match(help.out, /\$ blockyard events --current/)
  const completion = await run(['completion', 'bash'])
  t.match(completion.out, /events/)
})

t.test('a line per kind: names and the state summary', async (t) => {
  const base = { revision: 7, time: '2026-11-22T22:40:01.123456Z' }
  const line = (e: Record<string, unknown>): string => eventLine({ ...base, ...e } as unknown as BlockyardEvent)
  t.equal(line({ kind: 'volume', action: 'state', resource: 'pvc-1', node: 'alpha', volume_number: 0, object: { volume_number: 0, device_path: '/dev/loop3', state: { disk_state: 'UpToDate' } } }),
    '2026-11-22T22:40:01.123456Z 7 volume state resource=pvc-1 volume=0 node=alpha  /dev/loop3 UpToDate')
  t.equal(line({ kind: 'volume', action: 'delete', resource: 'pvc-1', node: 'alpha', volume_number: 0, object: { volume_number: 0, resource_name: 'pvc-1', node_name: 'alpha' } }),
    '2026-11-22T22:40:01.123456Z 7 volume delete resource=pvc-1 volume=0 node=alpha')
  t.equal(line({ kind: 'resource', action: 'state', resource: 'pvc-1', node: 'alpha', object: { name: 'pvc-1', node_name: 'alpha', flags: ['DELETE'], state: { in_use: true }, volumes: [{ volume_number: 0, state: { disk_state: 'UpToDate' } }, { volume_number: 1 }] } }),
    '2026-11-22T22:40:01.123456Z 7 resource state resource=pvc-1 node=alpha  UpToDate,Unknown InUse DELETE')
  // DRBD: the connections that are down, and the replication towards each peer while not in sync.
  t.equal(line({ kind: 'resource', action: 'state', resource: 'pvc-1', node: 'alpha', object: { name: 'pvc-1', node_name: 'alpha', flags: [], layer_object: { type: 'DRBD', drbd: { connections: { beta: { connected: false, message: 'Connecting' } } } }, volumes: [{ volume_number: 0, state: { disk_state: 'Outdated' } }] } }),
    '2026-11-22T22:40:01.123456Z 7 resource state resource=pvc-1 node=alpha  Outdated Connecting(beta)')
  t.equal(line({ kind: 'volume', action: 'state', resource: 'pvc-1', node: 'alpha', volume_number: 0, object: { volume_number: 0, device_path: '/dev/drbd1000', state: { disk_state: 'SyncTarget(42.00%)', replication_states: { beta: { replication_state: 'SyncTarget', done_percentage: 42 }, gamma: { replication_state: 'Established' } } } } }),
    '2026-11-22T22:40:01.123456Z 7 volume state resource=pvc-1 volume=0 node=alpha  /dev/drbd1000 SyncTarget(42.00%) beta: SyncTarget(42.00%), gamma: Established')
  t.equal(line({ kind: 'volume', action: 'state', resource: 'pvc-1', node: 'alpha', volume_number: 0, object: { volume_number: 0, device_path: '/dev/drbd1000', state: { disk_state: 'UpToDate', replication_states: { beta: { replication_state: 'Established' } } } } }),
    '2026-11-22T22:40:01.123456Z 7 volume state resource=pvc-1 volume=0 node=alpha  /dev/drbd1000 UpToDate Established(1)')
  t.equal(line({ kind: 'storage_pool', action: 'state', node: 'alpha', storage_pool: 'pool1', object: { storage_pool_name: 'pool1', node_name: 'alpha', provider_kind: 'FILE_THIN', free_capacity: 1048576, total_capacity: 2097152 } }),
    '2026-11-22T22:40:01.123456Z 7 storage_pool state pool=pool1 node=alpha  FILE_THIN 1 GiB free of 2 GiB')
  t.equal(line({ kind: 'snapshot', action: 'create', resource: 'pvc-1', snapshot: 's1', object: { name: 's1', resource_name: 'pvc-1', nodes: ['alpha', 'beta'] } }),
    '2026-11-22T22:40:01.123456Z 7 snapshot create resource=pvc-1 snapshot=s1  on alpha,beta')
  t.equal(line({ kind: 'key_value_store', action: 'modify', key_value_store: 'kv', object: { name: 'kv', props: {} } }),
    '2026-11-22T22:40:01.123456Z 7 key_value_store modify store=kv')
})
