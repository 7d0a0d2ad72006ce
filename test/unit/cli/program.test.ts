// The client commands in their long forms, run in-process against a controller (the child-process runs,
// with the short forms, are in interactive.test.ts and main-routing.test.ts): every group's create, list
// (table and -m), properties, modify and delete; exit codes and error output.
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { clientRunner, machine, type CliResult } from '../../helpers/cli-run.js'
import { configFiles } from '../../../src/cli/client-config.js'
import { startTestController } from '../../helpers/controller.js'

function ok(t: Test, r: CliResult, what: string): void {
  t.equal(r.code, 0, `${what}: exit 0${r.code !== 0 ? `\n${r.out}${r.err}` : ''}`)
}

t.test('long forms: create, list, properties, modify, delete', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const run = clientRunner(tc.url)

  let r = await run(['node', 'create', 'alpha', '127.0.0.1'])
  ok(t, r, 'node create')
  t.match(r.out, /^SUCCESS:\n    New node 'alpha' registered\.\nWARNING:\n    No active connection to satellite 'alpha'\.\n$/)
  ok(t, await run(['node', 'create', '--node-type', 'combined', '--communication-type', 'plain', '-p', '3366', 'beta', '127.0.0.2']), 'node create --node-type')
  ok(t, await run(['storage-pool', 'create', 'lvmthin', 'alpha', 'pool1', 'vg0/thin']), 'storage-pool create lvmthin')
  ok(t, await run(['storage-pool', 'create', 'lvmthin', 'beta', 'pool1', 'vg0/thin']), 'storage-pool create lvmthin on the second node')
  ok(t, await run(['storage-pool', 'create', 'file', 'beta', 'files', '/var/lib/blockyard/files']), 'storage-pool create file')
  ok(t, await run(['storage-pool', 'create', 'diskless', 'beta', 'nodisk']), 'storage-pool create diskless')
  ok(t, await run(['storage-pool-definition', 'create', 'spare']), 'storage-pool-definition create')
  ok(t, await run(['resource-group', 'create', 'web', '--place-count', '2', '--storage-pool', 'pool1', '--description', 'front']), 'resource-group create')
  ok(t, await run(['volume-group', 'create', 'web']), 'volume-group create')
  r = await run(['resource-group', 'spawn-resources', 'web', 'site1', '64M'])
  ok(t, r, 'resource-group spawn-resources')
  t.match(r.out, "Resource 'site1' on node 'alpha' created.")
  ok(t, await run(['resource-definition', 'create', '--layer-list', 'drbd,storage', 'r1']), 'resource-definition create')
  ok(t, await run(['volume-definition', 'create', 'r1', '64M']), 'volume-definition create')
  ok(t, await run(['resource', 'create', 'r1', '--auto-place', '2', '--storage-pool', 'pool1']), 'resource create --auto-place')
  ok(t, await run(['resource-definition', 'create', 'r2']), 'resource-definition create r2')
  ok(t, await run(['volume-definition', 'create', '--vlmnr', '3', '--minor', '1500', 'r2', '1G']), 'volume-definition create --vlmnr --minor')
  ok(t, await run(['resource', 'create', 'alpha', 'r2', '--storage-pool', 'pool1', '--async']), 'resource create on a node')
  ok(t, await run(['snapshot', 'create', 'r1', 's1']), 'snapshot create')
  ok(t, await run(['key-value-store', 'modify', 'app', 'owner', 'web']), 'key-value-store modify')
  ok(t, await run(['controller', 'set-property', '--aux', 'site', 'berlin']), 'controller set-property')
  ok(t, await run(['node', 'set-property', 'alpha', 'Aux/rack', 'r1']), 'node set-property')

  // Lists: the table and linstor's -m JSON (the server's list wrapped in one more list).
  const lists: [string[], (j: any) => void, RegExp][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
    [['node', 'list'], (j) => t.same(j[0].map((n: { name: string }) => n.name), ['alpha', 'beta']), /\| alpha \| SATELLITE \| 127\.0\.0\.1:3366 \(PLAIN\) \| OFFLINE \|/],
    [['storage-pool', 'list', '--nodes', 'alpha'], (j) => t.same(j[0].map((p: { storage_pool_name: string }) => p.storage_pool_name), ['DfltDisklessStorPool', 'pool1']), /\| pool1 +\| alpha \| LVM_THIN +\| vg0\/thin +\|/],
    [['storage-pool-definition', 'list'], (j) => t.ok(j[0].some((d: { storage_pool_name: string }) => d.storage_pool_name === 'spare')), /\| spare +\|/],
    [['resource-group', 'list'], (j) => t.same(j[0].map((g: { name: string }) => g.name), ['DfltRscGrp', 'web']), /\| web +\| PlaceCount: 2 +\| 0 +\| front +\|\n\| +\| StoragePool\(s\): pool1 \|/],
    [['volume-group', 'list', 'web'], (j) => t.same(j[0].map((v: { volume_number: number }) => v.volume_number), [0]), /\| 0 +\| +\|/],
    [['resource-definition', 'list'], (j) => t.same(j[0].map((d: { name: string }) => d.name), ['r1', 'r2', 'site1']), /\| site1 +\| web +\| DRBD,STORAGE \| ok +\|/],
    [['volume-definition', 'list', '--resource-definitions', 'r2'], (j) => t.same(j[0][0].volume_definitions.map((v: { volume_number: number; size_kib: number }) => [v.volume_number, v.size_kib]), [[3, 1048576]]), /\| r2 +\| 3 +\| 1500 +\| 1 GiB \| +\| ok +\|/],
    [['resource', 'list'], (j) => t.same(j[0].map((x: { name: string; node_name: string }) => `${x.name}@${x.node_name}`), ['r1@alpha', 'r1@beta', 'r2@alpha', 'site1@alpha', 'site1@beta']), /\| r2 +\| alpha \| DRBD,STORAGE \|/],
    [['resource', 'list-volumes', '--resources', 'r2'], (j) => t.equal(j[0][0].volumes[0].volume_number, 3), /\| r2 +\| alpha \| pool1 +\| +3 \| +1500 \|/],
    [['volume', 'list', '--resources', 'r2'], (j) => t.equal(j[0][0].volumes[0].volume_number, 3), /\| Resource \| Node +\| StoragePool \| VolNr \| MinorNr \| DeviceName \| Allocated \| InUse \| +State \| Repl \|\n[^\n]*\n\| r2 +\| alpha \| pool1 +\| +3 \| +1500 \|/],
    [['v', 'l', '--hrep', '--resources', 'r2'], (j) => t.equal(j[0][0].volumes[0].volume_number, 3), /\| +State \|\n/],
    [['snapshot', 'list'], (j) => t.same(j[0].map((s: { name: string }) => s.name), ['s1']), /\| r1 +\| s1 +\| alpha, beta \| 0: 64 MiB \| +\| Incomplete \|/],
    [['key-value-store', 'list'], (j) => t.same(j[0], [{ name: 'app', props: { owner: 'web' } }]), /\| app +\|/],
    [['key-value-store', 'show', 'app'], (j) => t.same(j[0].props, { owner: 'web' }), /\| owner \| web +\|/],
    [['controller', 'list-properties'], (j) => t.same(j, [[{ key: 'Aux/site', value: 'berlin' }]]), /\| Aux\/site \| berlin \|/],
    [['node', 'list-properties', 'alpha'], (j) => t.ok(j[0].some((p: { key: string; value: string }) => p.key === 'Aux/rack' && p.value === 'r1')), /\| Aux\/rack +\| r1 +\|/],
    [['node', 'interface', 'list', 'alpha'], (j) => t.equal(j[0][0].address, '127.0.0.1'), /\| \+ StltCon \| default +\| 127\.0\.0\.1 \| 3366 \| PLAIN +\|/],
  ]
  await Promise.all(lists.map(async ([args, check, table]) => {
    const [tab, json] = await Promise.all([run(args), run(['--machine-readable', ...args])])
    ok(t, tab, args.join(' '))
    t.match(tab.out, table, `${args.join(' ')}: table`)
    t.match(tab.out, /^\+-+\+\n\| /, `${args.join(' ')}: ASCII frame when stdout is not a terminal`)
    ok(t, json, `-m ${args.join(' ')}`)
    check(machine(json))
  }))

  r = await run(['controller', 'version'])
  t.match(r.out, /^blockyard controller \d+\.\d+\.\d+; GIT-hash: \S+; REST API 1\.28\.0\n$/)
  t.equal(machine(await run(['controller', 'version', '-m'])).rest_api_version, '1.28.0')
  t.equal((await run(['controller', 'which'])).out, `${tc.url}\n`)
  t.same(machine(await run(['-m', 'controller', 'which'])), { controller_uri: tc.url })
  t.same(machine(await run(['node', 'list', '-m', '--nodes', 'beta', '--props', 'NodeUname=beta']))[0].map((n: { name: string }) => n.name), ['beta'], 'global option after the command, filters as query')
  r = await run(['node', 'list', '--show-props', 'Aux/rack=Rack', '--show-aux-props', '--groupby', 'state', '--no-utf8'])
  t.match(r.out, /\| Node +\| NodeType +\| Addresses +\| AuxProps +\| State +\| Rack \|/)
  t.match(r.out, /\| alpha \| SATELLITE \| 127\.0\.0\.1:3366 \(PLAIN\) \| Aux\/rack=r1 \| OFFLINE \| r1 +\|/)

  // Replies with -m: ApiCallRc lists with exact ret_codes.
  r = await run(['-m', 'resource-definition', 'set-property', 'r1', 'Aux/x', '1'])
  ok(t, r, '-m set-property')
  t.match(r.out, /"ret_code": 37224451,/)

  // Modify, resize, properties.
  ok(t, await run(['resource-group', 'modify', 'web', '--place-count', '1']), 'resource-group modify')
  t.equal(machine(await run(['-m', 'resource-group', 'list', '--resource-groups', 'web']))[0][0].select_filter.place_count, 1)
  ok(t, await run(['resource-group', 'set-property', 'web', 'Aux/tier', 'gold']), 'resource-group set-property')
  t.match((await run(['resource-group', 'list-properties', 'web'])).out, /\| Aux\/tier \| gold +\|/)
  ok(t, await run(['volume-group', 'set-property', 'web', '0', 'Aux/v', '1']), 'volume-group set-property')
  t.match((await run(['volume-group', 'list-properties', 'web', '0'])).out, /\| Aux\/v \| 1 +\|/)
  ok(t, await run(['resource-definition', 'modify', '--peer-slots', '5', 'r2']), 'resource-definition modify')
  t.match((await run(['resource-definition', 'list-properties', 'r1'])).out, /\| Aux\/x \| 1 +\|/)
  ok(t, await run(['volume-definition', 'set-size', 'r2', '3', '2G']), 'volume-definition set-size')
  t.match((await run(['volume-definition', 'list', '-r', 'r2'])).out, /\| r2 +\| 3 +\| 1500 +\| 2 GiB \|/)
  ok(t, await run(['volume-definition', 'set-property', 'r2', '3', 'Aux/y', '2']), 'volume-definition set-property')
  t.match((await run(['volume-definition', 'list-properties', 'r2', '3'])).out, /\| Aux\/y +\| 2 +\|/)
  ok(t, await run(['resource', 'set-property', 'alpha', 'r2', 'Aux/z', '3']), 'resource set-property')
  t.match((await run(['resource', 'list-properties', 'alpha', 'r2'])).out, /\| Aux\/z +\| 3 +\|/)
  ok(t, await run(['storage-pool', 'set-property', 'alpha', 'pool1', 'Aux/p', '4']), 'storage-pool set-property')
  t.match((await run(['storage-pool', 'list-properties', 'alpha', 'pool1'])).out, /\| Aux\/p +\| 4 +\|/)
  ok(t, await run(['storage-pool-definition', 'set-property', 'spare', 'Aux/q', '5']), 'storage-pool-definition set-property')
  t.match((await run(['storage-pool-definition', 'list-properties', 'spare'])).out, /\| Aux\/q \| 5 +\|/)
  ok(t, await run(['snapshot', 'set-property', 'r1', 's1', 'Aux/s', '6']), 'snapshot set-property')
  t.match((await run(['snapshot', 'list-properties', 'r1', 's1'])).out, /\| Aux\/s \| 6 +\|/)
  ok(t, await run(['node', 'interface', 'create', 'alpha', 'data', '127.1.0.1']), 'node interface create')
  ok(t, await run(['node', 'interface', 'modify', '--ip', '127.1.0.9', 'alpha', 'data']), 'node interface modify')
  t.match((await run(['node', 'interface', 'list', 'alpha'])).out, /\| \+ +\| data +\| 127\.1\.0\.9 \|/)
  ok(t, await run(['node', 'interface', 'delete', 'alpha', 'data']), 'node interface delete')
  ok(t, await run(['node', 'modify', '--node-type', 'satellite', 'beta']), 'node modify')
  ok(t, await run(['controller', 'set-property', 'Aux/site']), 'controller set-property without a value deletes')
  t.same(machine(await run(['-m', 'controller', 'list-properties'])), [[]])

  // Restore and rollback are refused while the snapshot is incomplete (no satellites): exit 10.
  ok(t, await run(['resource-definition', 'create', 'r1copy']), 'resource-definition create r1copy')
  ok(t, await run(['snapshot', 'volume-definition', 'restore', '--from-resource', 'r1', '--from-snapshot', 's1', '--to-resource', 'r1copy']), 'snapshot volume-definition restore')
  r = await run(['snapshot', 'resource', 'restore', '--fr', 'r1', '--fs', 's1', '--tr', 'r1copy'])
  t.equal(r.code, 10, 'snapshot resource restore of an incomplete snapshot is refused')
  t.match(r.out, /^ERROR:\n/)
  r = await run(['snapshot', 'rollback', 'r1', 's1'])
  t.equal(r.code, 10)

  // Deletes (several names at once where linstor takes them).
  ok(t, await run(['snapshot', 'delete', 'r1', 's1']), 'snapshot delete')
  ok(t, await run(['resource', 'delete', 'alpha', 'beta', 'r1']), 'resource delete on two nodes')
  ok(t, await run(['volume-definition', 'delete', 'r2', '3']), 'volume-definition delete')
  ok(t, await run(['resource-definition', 'delete', 'r1', 'r2', 'r1copy', 'site1']), 'resource-definition delete')
  ok(t, await run(['volume-group', 'delete', 'web', '0']), 'volume-group delete')
  ok(t, await run(['resource-group', 'delete', 'web']), 'resource-group delete')
  ok(t, await run(['storage-pool', 'delete', 'alpha', 'beta', 'pool1']), 'storage-pool delete')
  ok(t, await run(['storage-pool-definition', 'delete', 'spare']), 'storage-pool-definition delete')
  ok(t, await run(['key-value-store', 'delete', 'app']), 'key-value-store delete')
  ok(t, await run(['node', 'delete', 'alpha']), 'node delete')
  ok(t, await run(['node', 'lost', 'beta']), 'node lost')
  t.same(machine(await run(['-m', 'node', 'list'])), [[]])
})

t.test('a controller error: exit 10 with message, cause and correction', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const run = clientRunner(tc.url)
  await run(['node', 'create', 'alpha', '127.0.0.1'])
  const r = await run(['storage-pool', 'create', 'filethin', 'alpha', 'p1', '/x', '--shared-space', 'san1'])
  t.equal(r.code, 10)
  t.equal(r.out, [
    'ERROR:',
    'Description:',
    "    Storage provider FILE_THIN cannot back the shared space 'san1'.",
    'Cause:',
    '    Volumes of FILE_THIN pools cannot be shared between nodes.',
    'Correction:',
    '    Use one of DISKLESS, LVM for a shared space, or set external_locking.',
    '',
  ].join('\n'))
  const notFound = await run(['node', 'delete', 'gamma'])
  t.equal(notFound.code, 10)
  t.match(notFound.out, "Node 'gamma' not found.")
  const json = await run(['-m', 'node', 'delete', 'gamma'])
  t.equal(json.code, 10, '-m still exits 10 on an error (scripts need not parse to learn it)')
  t.equal(machine(json)[0].ret_code, -4611686018373123796, 'the ret_code as printed')
  t.match(json.out, '"ret_code": -4611686018373123796,', 'exact digits')
  const [noNode, noPool] = await Promise.all([run(['node', 'list-properties', 'gamma']), run(['sp', 'lp', 'alpha', 'nosuch'])])
  t.same([noNode.code, noNode.err], [3, "Error: Node 'gamma' not found on controller.\n"], 'list-properties of a missing object: linstor\'s not-found exit code 3')
  t.same([noPool.code, noPool.err, noPool.out], [3, "Error: Storage pool 'nosuch' not found on node 'alpha'.\n", ''])
  const warn = await run(['--warn-as-error', 'node', 'create', 'beta', '127.0.0.2'])
  t.equal(warn.code, 10, '--warn-as-error: the not-connected warning fails the command')
})

t.test('no controller: exit 20 and a message naming the address', async (t) => {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  const run = clientRunner(null)
  const r = await run(['--controllers', `127.0.0.1:${port}`, 'node', 'list'])
  t.equal(r.code, 20)
  t.equal(r.out, '')
  t.match(r.err, `Error: Unable to connect to http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`)
  const several = await run(['node', 'list'], { LS_CONTROLLERS: `127.0.0.1:${port},localhost:${port}` })
  t.equal(several.code, 20)
  t.match(several.err, `tried: http://127.0.0.1:${port}, http://localhost:${port}`)
})

t.test('controllers from --controllers, LS_CONTROLLERS and linstor-client.conf', async (t) => {
  const tc = await startTestController()
  t.teardown(tc.stop)
  const home = mkdtempSync(join(tmpdir(), 'blockyard-cli-home-'))
  t.teardown(() => rmSync(home, { recursive: true, force: true }))
  const run = clientRunner(null, { configFiles: () => configFiles(home, join(home, 'etc-linstor')) })
  const port = new URL(tc.url).port
  t.equal((await run(['controller', 'which'], { LS_CONTROLLERS: `127.0.0.1:${port}` })).out, `${tc.url}\n`, 'LS_CONTROLLERS')
  t.equal((await run(['--controllers', `127.0.0.1:${port}`, 'controller', 'which'])).out, `${tc.url}\n`, '--controllers')
  mkdirSync(join(home, '.config', 'linstor'), { recursive: true })
  writeFileSync(join(home, '.config', 'linstor', 'linstor-client.conf'), `[global]\ncontrollers = 127.0.0.1:${port}\n`)
  t.equal((await run(['controller', 'which'])).out, `${tc.url}\n`, 'the config file')
  // Back to the default: nothing answers at 127.0.0.1:3370 (exit 20, naming it), unless this machine runs
  // a controller of its own there (`npm start`), which `which` then names.
  const fallback = await run(['controller', 'which', '--disable-config'])
  t.ok(fallback.code === 0 || fallback.code === 20, `--disable-config: exit 0 or 20 (${fallback.code})`)
  t.match(fallback.code === 0 ? fallback.out : fallback.err, 'http://127.0.0.1:3370', '--disable-config: back to 127.0.0.1:3370')
  const bad = await run(['--controllers', 'ftp://x', 'node', 'list'])
  t.equal(bad.code, 2)
  t.match(bad.err, "--controllers: controller address 'ftp://x': unknown scheme 'ftp'")
})

t.test('usage errors exit 2', async (t) => {
  const run = clientRunner('127.0.0.1:9')
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['node', 'create'], /missing required argument 'name'/],
    [['volume-definition', 'create', 'r1', '1.5G'], /size '1\.5G' is fractional/],
    [['resource', 'create', 'r1'], /Node name missing \(or use --auto-place N\)/],
    [['resource-definition', 'create', '--layer-list', 'drbd,zram', 'r1'], /Layer 'zram' is not valid/],
    [['node', 'list', '--timeout', 'soon'], /--timeout: 'soon' is not a number of seconds/],
    [['completion', 'fish'], /no completion for 'fish'/],
  ]
  for (const [args, msg] of cases) {
    const r = await run(args)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.err, msg)
  }
  const help = await run(['resource', 'create', '--help'])
  t.equal(help.code, 0)
  t.match(help.out, /Usage: blockyard resource create\|c \[options\] \[node_name\.\.\.\] <resource_definition_name>/)
  t.match(help.out, /Examples:\n  \$ blockyard resource create alpha beta site1/)
})
