// The `blockyard` command line as an operator uses it: each client command of issue 4 run as a child
// process, in its long and its short form, against one combined node on real loop devices. `-m` output
// is parsed and checked against the controller (REST) and, for devices, against the kernel (sysfs, the
// pool's files), never only against the CLI itself. Also: the exit codes of a connection failure (20)
// and of a refusal (10), `--async`, and the interactive mode fed on stdin.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { VERSION } from '../../../src/common/version.js'
import { deviceBytes, E2eEnv, Rest, severity, until, volumeFile } from '../../helpers/e2e.js'
import { loopSkipReason } from '../../helpers/loop-env.js'

const skip = loopSkipReason()
const NODE = 'e2e-cli'
const MiB = 1024 * 1024

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const ENTRY = fileURLToPath(new URL('../../helpers/run-cli.ts', import.meta.url))
/** The bundled CLI, and the HOME it runs with. */
const WORK = mkdtempSync(join(tmpdir(), 'blockyard-cli-e2e-'))
t.teardown(() => rmSync(WORK, { recursive: true, force: true }))
/** Without a linstor-client.conf: only what a test passes selects the controller. */
const HOME = join(WORK, 'home')
const BUNDLE = join(WORK, 'cli', 'bin', 'blockyard.mjs')

/**
 * The CLI (main.ts, as `blockyard` runs it) bundled from the sources with esbuild, the compiler tsx runs
 * them with, once per run: a start of the bundle takes ~0.25 s of CPU where tsx's loading module by
 * module takes ~1.1 s, and this file makes about a hundred calls on a two-core machine. Packages stay
 * external, found through a link to the project's node_modules; the bundle sits two levels below a copy
 * of package.json, where src/common/version.ts looks for it.
 */
async function bundleCli(): Promise<void> {
  mkdirSync(HOME)
  copyFileSync(join(ROOT, 'package.json'), join(WORK, 'package.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(WORK, 'node_modules'))
  await build({ entryPoints: [ENTRY], outfile: BUNDLE, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning' })
}

interface CliRun {
  code: number | null
  out: string
  err: string
}

/** `blockyard <args>` as a child process; `input` is written to its stdin (then closed). */
function blockyard(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<CliRun> {
  const child = spawn(process.execPath, [BUNDLE, ...args], {
    // Without tap's NODE_OPTIONS: its process-info hook costs each start ~0.2 s, for coverage a bundle
    // could not map back to the sources anyway.
    env: { ...process.env, NODE_OPTIONS: '', HOME, NO_COLOR: '', LS_CONTROLLERS: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  child.stdin.end(input)
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })))
}

/** `-m` output: JSON (a list reply is wrapped in one more list, as linstor's). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (r: CliRun): any => JSON.parse(r.out)

/** The severities of a `-m` reply, read from the exact ret_code digits (a JS number would round them). */
const severities = (text: string): string[] => [...text.matchAll(/"ret_code": (-?\d+)/g)].map((m) => severity(BigInt(m[1]!)))

/** The file a loop device is bound to, from sysfs; null when the device is not bound (or gone). */
function backingFile(device: string): string | null {
  try {
    return readFileSync(`/sys/block/${basename(device)}/loop/backing_file`, 'utf8').trim()
  } catch {
    return null
  }
}

/** A TCP port on 127.0.0.1 nothing listens on (taken from the kernel, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

t.test('the blockyard CLI against a combined node', { skip }, async (t) => {
  await bundleCli()
  const env = await E2eEnv.create(t, 'cli')
  const state = env.dir('state')
  const pool = join(state, 'pools', 'DfltStorPool')
  const node = await env.combined(state, ['--node-name', NODE])
  const api = new Rest(node.url)
  const cli = (...args: string[]): Promise<CliRun> => blockyard(args, { LS_CONTROLLERS: node.url })
  /** Asserts a command succeeded (exit 0), showing what it printed when it did not. */
  const ok = (t: Test, r: CliRun, what: string): void => {
    t.equal(r.code, 0, `${what}: exit 0`, r.code === 0 ? {} : { out: r.out, err: r.err })
  }
  /** All runs of a batch succeeded. */
  const allOk = (t: Test, runs: CliRun[], what: string[]): void => runs.forEach((r, i) => ok(t, r, what[i]!))

  /** Volume 0 of `rsc` on the combined node as `resource list -m` prints it. */
  const listedVolume = (list: any[], rsc: string): any => list.find((x) => x.name === rsc && x.node_name === NODE)?.volumes?.[0] // eslint-disable-line @typescript-eslint/no-explicit-any

  await t.test('controller: version, set-property, list-properties', async (t) => {
    const [long, short] = await Promise.all([cli('controller', 'version'), cli('-m', 'c', 'v')])
    allOk(t, [long, short], ['controller version', 'c v'])
    const v = (await api.get('/v1/controller/version')).body
    t.equal(long.out, `blockyard controller ${VERSION}; GIT-hash: ${v.git_hash}; REST API ${v.rest_api_version}\n`)
    t.same(json(short), v, '-m prints the controller\'s version object')

    const set = await Promise.all([cli('controller', 'set-property', 'Aux/site', 'berlin'), cli('c', 'sp', '--aux', 'tier', 'gold')])
    allOk(t, set, ['controller set-property', 'c sp --aux'])
    t.match(set[0]!.out, /^SUCCESS:\n/)
    t.match((await api.get('/v1/controller/properties')).body, { 'Aux/site': 'berlin', 'Aux/tier': 'gold' }, 'the controller has both')
    const [lp, lpShort] = await Promise.all([cli('-m', 'controller', 'list-properties'), cli('c', 'lp')])
    allOk(t, [lp, lpShort], ['controller list-properties', 'c lp'])
    t.match(json(lp)[0], [{ key: 'Aux/site', value: 'berlin' }, { key: 'Aux/tier', value: 'gold' }])
    t.match(lpShort.out, /\| Aux\/tier +\| gold +\|/, 'the table shows the property')

    ok(t, await cli('c', 'sp', 'Aux/site'), 'c sp KEY without a value')
    t.notOk('Aux/site' in (await api.get('/v1/controller/properties')).body, 'an empty value deleted the property')
  })

  await t.test('node: create, list, interfaces, properties, delete, lost', async (t) => {
    // Satellites that are not there: the controller dials these loopback addresses and finds nothing.
    const created = await Promise.all([
      cli('node', 'create', 'beta', '127.0.0.12'), cli('n', 'c', 'gamma', '127.0.0.13'),
      cli('-m', 'node', 'create', 'delta', '127.0.0.14', '--port', '3366'), cli('n', 'c', 'epsilon', '127.0.0.15'),
    ])
    allOk(t, created, ['node create', 'n c', 'node create -m --port', 'n c'])
    t.match(created[0]!.out, /^SUCCESS:\n {4}New node 'beta' registered\.\nWARNING:\n {4}No active connection to satellite 'beta'/, 'registered, and honest that nothing answers there')
    t.same(severities(created[2]!.out), ['SUCCESS', 'WARN'], '-m: the reply\'s ret_codes')

    const [list, listShort] = await Promise.all([cli('-m', 'node', 'list'), cli('n', 'l', '-m', '-n', NODE, 'beta')])
    allOk(t, [list, listShort], ['node list -m', 'n l -m -n'])
    const nodes = json(list)[0] as { name: string; type: string; connection_status: string; net_interfaces: { address: string; satellite_port: number }[] }[]
    t.same(nodes.map((n) => n.name).sort(), ['beta', 'delta', NODE, 'epsilon', 'gamma'])
    t.match(nodes.find((n) => n.name === NODE), { type: 'COMBINED', connection_status: 'ONLINE', net_interfaces: [{ address: '127.0.0.1' }] }, 'the combined node is online')
    t.match(nodes.find((n) => n.name === 'delta'), { type: 'SATELLITE', connection_status: 'OFFLINE', net_interfaces: [{ address: '127.0.0.14', satellite_port: 3366 }] })
    t.same(json(listShort)[0].map((n: { name: string }) => n.name).sort(), ['beta', NODE], '-n filters')
    const table = await cli('n', 'l')
    t.match(table.out, new RegExp(`\\| ${NODE} +\\| COMBINED +\\| 127\\.0\\.0\\.1:\\d+ \\(PLAIN\\) +\\| Online +\\|`), 'the table shows it Online')

    const ifCreate = await Promise.all([cli('node', 'interface', 'create', 'beta', 'data', '127.0.0.22'), cli('n', 'i', 'c', 'gamma', 'data', '127.0.0.23')])
    allOk(t, ifCreate, ['node interface create', 'n i c'])
    const [ifList, ifListShort] = await Promise.all([cli('-m', 'node', 'interface', 'list', 'beta'), cli('n', 'i', 'l', 'gamma')])
    allOk(t, [ifList, ifListShort], ['node interface list', 'n i l'])
    t.match(json(ifList)[0], [{ name: 'default', address: '127.0.0.12', is_active: true }, { name: 'data', address: '127.0.0.22', is_active: false }])
    t.match(ifListShort.out, /\| \+ +\| data +\| 127\.0\.0\.23 +\| 3366 +\| PLAIN +\|/)
    t.match((await api.get('/v1/nodes/gamma/net-interfaces')).body, [{ name: 'default' }, { name: 'data', address: '127.0.0.23' }], 'the controller has it')
    allOk(t, await Promise.all([cli('node', 'interface', 'delete', 'beta', 'data'), cli('n', 'i', 'd', 'gamma', 'data')]), ['node interface delete', 'n i d'])
    for (const n of ['beta', 'gamma']) t.same((await api.get(`/v1/nodes/${n}/net-interfaces`)).body.map((i: { name: string }) => i.name), ['default'], `${n}: data interface deleted`)

    allOk(t, await Promise.all([cli('node', 'set-property', 'beta', 'Aux/rack', 'r1'), cli('n', 'sp', '--aux', 'gamma', 'rack', 'r2')]), ['node set-property', 'n sp --aux'])
    const [lp, lpShort] = await Promise.all([cli('-m', 'node', 'list-properties', 'beta'), cli('-m', 'n', 'lp', 'gamma')])
    allOk(t, [lp, lpShort], ['node list-properties', 'n lp'])
    t.match(json(lp)[0], [{ key: 'Aux/rack', value: 'r1' }])
    t.match(json(lpShort)[0], [{ key: 'Aux/rack', value: 'r2' }])
    t.equal((await api.get('/v1/nodes/gamma')).body.props['Aux/rack'], 'r2', 'the controller has it')

    const gone = await Promise.all([cli('node', 'delete', 'beta'), cli('n', 'd', 'gamma'), cli('node', 'lost', 'delta'), cli('n', 'lo', 'epsilon')])
    allOk(t, gone, ['node delete', 'n d', 'node lost', 'n lo'])
    t.match(gone[2]!.out, /Node 'delta' deleted as lost/)
    t.same((await api.get('/v1/nodes')).body.map((n: { name: string }) => n.name), [NODE], 'only the combined node is left')
  })

  await t.test('storage-pool and storage-pool-definition', async (t) => {
    const dirs = ['file1', 'file2', 'thin1', 'thin2'].map((d) => env.dir('pools', d))
    const created = await Promise.all([
      cli('storage-pool', 'create', 'file', NODE, 'file1', dirs[0]!), cli('sp', 'c', 'file', NODE, 'file2', dirs[1]!),
      cli('storage-pool', 'create', 'filethin', NODE, 'thin1', dirs[2]!), cli('sp', 'c', 'filethin', NODE, 'thin2', dirs[3]!),
      cli('storage-pool', 'create', 'diskless', NODE, 'nodisk1'), cli('-m', 'sp', 'c', 'diskless', NODE, 'nodisk2'),
    ])
    allOk(t, created, ['storage-pool create file', 'sp c file', 'storage-pool create filethin', 'sp c filethin', 'storage-pool create diskless', 'sp c diskless -m'])
    t.same(severities(created[5]!.out), ['SUCCESS'], 'the satellite is connected: no warning')
    // The satellite reports the file pools' capacity once it has the pools (the filesystem's).
    await until('the file pools\' capacity', async () => {
      const pools = (await api.get(`/v1/view/storage-pools?nodes=${NODE}`)).body as { storage_pool_name: string; free_capacity?: number }[]
      return ['file1', 'file2', 'thin1', 'thin2'].every((p) => pools.find((x) => x.storage_pool_name === p)?.free_capacity !== undefined)
    })
    const [list, listShort] = await Promise.all([cli('-m', 'storage-pool', 'list'), cli('sp', 'l', '-s', 'thin2', 'nodisk2')])
    allOk(t, [list, listShort], ['storage-pool list -m', 'sp l -s'])
    const pools = json(list)[0] as { storage_pool_name: string; provider_kind: string; free_capacity?: number; props?: Record<string, string>; reports: unknown[] }[]
    const kind = (name: string): (typeof pools)[number] | undefined => pools.find((p) => p.storage_pool_name === name)
    t.match(kind('file1'), { provider_kind: 'FILE', props: { 'StorDriver/StorPoolName': dirs[0] }, free_capacity: Number })
    t.match(kind('thin2'), { provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': dirs[3] }, free_capacity: Number })
    t.same([kind('file1')?.reports, kind('thin2')?.reports], [[], []], 'the satellite reports no problem with them')
    t.match(kind('nodisk2'), { provider_kind: 'DISKLESS' })
    t.match(kind('DfltStorPool'), { provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': pool } })
    t.match(listShort.out, /\| thin2 +\| e2e-cli \| FILE_THIN \|/)
    t.notMatch(listShort.out, /file1/, '-s filters')

    // What this satellite cannot do it says, and the controller refuses with that (exit 10) rather than
    // accepting a pool nothing will ever back.
    const provided = (await api.get(`/v1/nodes/${NODE}`)).body as { storage_providers: string[]; unsupported_providers: Record<string, string[]> }
    const refused = await Promise.all([
      cli('storage-pool', 'create', 'lvm', NODE, 'lvm1', 'vg0'), cli('sp', 'c', 'lvmthin', NODE, 'lvmthin1', 'vg0/thin'),
      cli('storage-pool', 'create', 'zfs', NODE, 'zfs1', 'tank'), cli('-m', 'sp', 'c', 'zfsthin', NODE, 'zfsthin1', 'tank'),
    ])
    for (const [i, k] of ['LVM', 'LVM_THIN', 'ZFS'].entries()) {
      t.ok(k in provided.unsupported_providers, `the satellite reports ${k} unsupported`)
      t.equal(refused[i]!.code, 10, `${k}: exit 10`)
      t.match(refused[i]!.out, new RegExp(`^ERROR:\\nDescription:\\n {4}Node '${NODE}' does not support storage provider ${k}\\.\\nCorrection:\\n {4}Choose a provider the node supports: ${provided.storage_providers.join(', ')}\\.\\n`))
    }
    t.ok('ZFS_THIN' in provided.unsupported_providers, 'the satellite reports ZFS_THIN unsupported')
    t.equal(refused[3]!.code, 10, 'ZFS_THIN: exit 10')
    t.match(json(refused[3]!), [{ message: `Node '${NODE}' does not support storage provider ZFS_THIN.` }])
    t.same(severities(refused[3]!.out), ['ERROR'], 'ZFS_THIN: -m shows the ERROR ret_code')
    t.notOk((await api.get(`/v1/view/storage-pools?nodes=${NODE}`)).body.some((p: { provider_kind: string }) => /LVM|ZFS/.test(p.provider_kind)), 'none of them was stored')
    // On a node whose satellite is not connected the controller cannot know: it stores the pool as
    // desired state and says the satellite has not seen it.
    ok(t, await cli('n', 'c', 'zeta', '127.0.0.16'), 'n c zeta')
    const offline = await cli('sp', 'c', 'lvmthin', 'zeta', 'lvmthin1', 'vg0/thin')
    ok(t, offline, 'sp c lvmthin on an offline node')
    t.match(offline.out, /^SUCCESS:\n.*\nWARNING:\n {4}No active connection to satellite 'zeta'/)
    ok(t, await cli('node', 'delete', 'zeta'), 'node delete zeta')

    const deleted = await Promise.all([cli('storage-pool', 'delete', NODE, 'file2'), cli('sp', 'd', NODE, 'nodisk2')])
    allOk(t, deleted, ['storage-pool delete', 'sp d'])
    const left = (await api.get(`/v1/view/storage-pools?nodes=${NODE}`)).body.map((p: { storage_pool_name: string }) => p.storage_pool_name)
    t.notOk(left.includes('file2') || left.includes('nodisk2'), 'both are gone')

    const spd = await Promise.all([cli('storage-pool-definition', 'create', 'spool1'), cli('spd', 'c', 'spool2')])
    allOk(t, spd, ['storage-pool-definition create', 'spd c'])
    const [spdList, spdShort] = await Promise.all([cli('-m', 'storage-pool-definition', 'list'), cli('spd', 'l')])
    allOk(t, [spdList, spdShort], ['storage-pool-definition list', 'spd l'])
    const names = json(spdList)[0].map((d: { storage_pool_name: string }) => d.storage_pool_name)
    t.ok(['DfltStorPool', 'file1', 'spool1', 'spool2'].every((n) => names.includes(n)), 'the definitions of the pools and both new ones')
    t.match(spdShort.out, /\| spool2 +\|/)
    allOk(t, await Promise.all([cli('storage-pool-definition', 'delete', 'spool1'), cli('spd', 'd', 'spool2')]), ['storage-pool-definition delete', 'spd d'])
    const dfns = (await api.get('/v1/storage-pool-definitions')).body.map((d: { storage_pool_name: string }) => d.storage_pool_name)
    t.notOk(dfns.includes('spool1') || dfns.includes('spool2'), 'the controller has neither')
  })

  await t.test('resource-group and volume-group: create, modify, list, spawn, delete', async (t) => {
    const thin1 = env.dir('pools', 'thin1')
    const created = await Promise.all([
      cli('resource-group', 'create', 'web', '--place-count', '1', '--storage-pool', 'DfltStorPool'),
      cli('rg', 'c', 'db', '--place-count', '1', '--storage-pool', 'thin1'),
    ])
    allOk(t, created, ['resource-group create', 'rg c'])
    allOk(t, await Promise.all([cli('volume-group', 'create', 'web'), cli('vg', 'c', 'db')]), ['volume-group create', 'vg c'])
    const [vgList, vgShort] = await Promise.all([cli('-m', 'volume-group', 'list', 'web'), cli('vg', 'l', 'db')])
    allOk(t, [vgList, vgShort], ['volume-group list', 'vg l'])
    t.match(json(vgList)[0], [{ volume_number: 0 }])
    t.match(vgShort.out, /\| 0 +\| +\|/)
    const modified = await Promise.all([cli('resource-group', 'modify', 'web', '--description', 'front end'), cli('rg', 'm', 'db', '--place-count', '1', '--description', 'back end')])
    allOk(t, modified, ['resource-group modify', 'rg m'])
    const [rgList, rgShort] = await Promise.all([cli('-m', 'resource-group', 'list'), cli('rg', 'l', '-r', 'db')])
    allOk(t, [rgList, rgShort], ['resource-group list', 'rg l'])
    const groups = json(rgList)[0] as { name: string }[]
    t.match(groups.find((g) => g.name === 'web'), { description: 'front end', select_filter: { place_count: 1, storage_pool_list: ['DfltStorPool'] } })
    t.match(rgShort.out, /\| db +\| PlaceCount: 1 +\| 0 +\| back end +\|\n\| +\| StoragePool\(s\): thin1 /)
    t.equal((await api.get('/v1/resource-groups/db')).body.description, 'back end', 'the controller has it')

    // Spawned and placed by the group's filter: the pool each group names, a device of the size asked.
    const spawned = await Promise.all([cli('resource-group', 'spawn-resources', 'web', 'site1', '150m'), cli('rg', 'spawn', 'db', 'site2', '1G')])
    allOk(t, spawned, ['resource-group spawn-resources', 'rg spawn'])
    t.match(spawned[0]!.out, /SUCCESS:\n {4}Resource 'site1' on node 'e2e-cli' created\./)
    const rl = await cli('-m', 'r', 'l', '-r', 'site1', 'site2')
    ok(t, rl, 'r l -m -r')
    for (const [rsc, dir, bytes] of [['site1', pool, 150 * MiB], ['site2', thin1, 1024 * MiB]] as const) {
      const v = listedVolume(json(rl)[0], rsc)
      t.match(v, { storage_pool_name: rsc === 'site1' ? 'DfltStorPool' : 'thin1', state: { disk_state: 'UpToDate' }, device_path: /^\/dev\/loop\d+$/ }, `${rsc}: placed, UpToDate`)
      t.equal(backingFile(v.device_path), volumeFile(dir, rsc), `${rsc}: the kernel binds ${v.device_path} to the pool's file`)
      t.equal(deviceBytes(v.device_path), bytes, `${rsc}: ${bytes / MiB} MiB`)
    }

    ok(t, await cli('resource-definition', 'delete', 'site1', 'site2'), 'resource-definition delete site1 site2')
    t.same([...await env.loopsOf(volumeFile(pool, 'site1')), ...await env.loopsOf(volumeFile(thin1, 'site2'))], [], 'their loop devices are detached')
    allOk(t, await Promise.all([cli('volume-group', 'delete', 'web', '0'), cli('vg', 'd', 'db', '0')]), ['volume-group delete', 'vg d'])
    t.same((await api.get('/v1/resource-groups/db/volume-groups')).body, [], 'the volume group is gone')
    allOk(t, await Promise.all([cli('resource-group', 'delete', 'web'), cli('rg', 'd', 'db')]), ['resource-group delete', 'rg d'])
    t.same((await api.get('/v1/resource-groups')).body.map((g: { name: string }) => g.name), ['DfltRscGrp'], 'only the default group is left')
  })

  await t.test('resource-definition, volume-definition, resource: a device through its life', async (t) => {
    const file1 = env.dir('pools', 'file1')
    const rds = await Promise.all([cli('resource-definition', 'create', '--layer-list', 'storage', 'demo'), cli('rd', 'c', '-l', 'storage', 'demo2'), cli('rd', 'c', 'demo3')])
    allOk(t, rds, ['resource-definition create --layer-list', 'rd c -l', 'rd c'])
    allOk(t, await Promise.all([cli('resource-definition', 'set-property', 'demo', 'Aux/owner', 'me'), cli('rd', 'sp', '--aux', 'demo2', 'owner', 'you')]), ['resource-definition set-property', 'rd sp --aux'])
    const [rdList, rdShort] = await Promise.all([cli('-m', 'resource-definition', 'list'), cli('rd', 'l', '-m', '-r', 'demo2')])
    allOk(t, [rdList, rdShort], ['resource-definition list', 'rd l -m -r'])
    t.match(json(rdList)[0].find((d: { name: string }) => d.name === 'demo'), { layer_data: [{ type: 'STORAGE' }], props: { 'Aux/owner': 'me' }, resource_group_name: 'DfltRscGrp' })
    t.equal(json(rdList)[0].find((d: { name: string }) => d.name === 'demo').layer_data.length, 1, '--layer-list storage: STORAGE only')
    t.match(json(rdShort)[0], [{ name: 'demo2', props: { 'Aux/owner': 'you' } }])
    t.equal(json(rdShort)[0].length, 1, '-r filters')

    const vds = await Promise.all([cli('volume-definition', 'create', 'demo', '150m'), cli('vd', 'c', 'demo2', '1G'), cli('vd', 'c', 'demo3', '64M')])
    allOk(t, vds, ['volume-definition create 150m', 'vd c 1G', 'vd c 64M'])
    const [vdList, vdShort] = await Promise.all([cli('-m', 'volume-definition', 'list'), cli('vd', 'l', '-r', 'demo2')])
    allOk(t, [vdList, vdShort], ['volume-definition list', 'vd l -r'])
    const sizeOf = (rsc: string): number => json(vdList)[0].find((d: { name: string }) => d.name === rsc).volume_definitions[0].size_kib
    t.same(['demo', 'demo2', 'demo3'].map(sizeOf), [150 * 1024, 1024 * 1024, 64 * 1024], '150m, 1G, 64M in KiB')
    t.match(vdShort.out, /\| demo2 +\| 0 +\| \d* +\| 1 GiB +\|/)

    // On the node by name (in a pool given by name), and by auto-placement.
    const rscs = await Promise.all([cli('resource', 'create', NODE, 'demo'), cli('r', 'c', NODE, 'demo2', '--storage-pool', 'file1'), cli('-m', 'r', 'c', '--auto-place', '1', 'demo3')])
    allOk(t, rscs, ['resource create NODE', 'r c NODE --storage-pool', 'r c --auto-place 1 -m'])
    t.match(rscs[0]!.out, /^SUCCESS:\n {4}Resource 'demo' on node 'e2e-cli' created\./)
    t.notOk(severities(rscs[2]!.out).includes('WARN') || severities(rscs[2]!.out).includes('ERROR'), 'auto-place: no warning')
    const [rList, rShort] = await Promise.all([cli('-m', 'resource', 'list'), cli('r', 'l')])
    allOk(t, [rList, rShort], ['resource list', 'r l'])
    const devices: Record<string, string> = {}
    const where = { demo: [pool, 150 * MiB], demo2: [file1, 1024 * MiB], demo3: [pool, 64 * MiB] } as const
    for (const [rsc, [dir, bytes]] of Object.entries(where)) {
      const v = listedVolume(json(rList)[0], rsc)
      t.match(v, { state: { disk_state: 'UpToDate' }, device_path: /^\/dev\/loop\d+$/, usable_size_kib: bytes / 1024 }, `${rsc}: UpToDate with a device`)
      devices[rsc] = v.device_path
      t.equal(backingFile(v.device_path), volumeFile(dir, rsc), `${rsc}: ${v.device_path} is bound to its pool's file`)
      t.equal(deviceBytes(v.device_path), bytes, `${rsc}: the device has ${bytes / MiB} MiB`)
    }
    // FILE preallocates its file, FILE_THIN leaves it sparse (the blocks the filesystem gave them).
    t.ok(statSync(volumeFile(file1, 'demo2')).blocks * 512 >= 1024 * MiB, 'demo2 (FILE): its file is allocated')
    t.ok(statSync(volumeFile(pool, 'demo')).blocks * 512 < 150 * MiB, 'demo (FILE_THIN): its file is sparse')
    // `Created`, as linstor shows a volume whose top layer is not DRBD (the disk state is in -m).
    t.match(rShort.out, /\| demo2 +\| e2e-cli \| STORAGE +\| +\| Ok +\| +Created \| \d{4}-/)
    const [lv, lvShort] = await Promise.all([cli('-m', 'resource', 'list-volumes'), cli('r', 'lv', '-r', 'demo2')])
    allOk(t, [lv, lvShort], ['resource list-volumes', 'r lv -r'])
    t.match(listedVolume(json(lv)[0], 'demo3'), { device_path: devices['demo3'] })
    t.match(lvShort.out, new RegExp(`\\| demo2 +\\| e2e-cli \\| file1 +\\| +0 \\| +\\| ${devices['demo2']} \\|`), 'the table shows the device')

    // Grown while deployed: the loop device itself gets bigger (its capacity, as the kernel reports it).
    const grown = await Promise.all([cli('volume-definition', 'set-size', 'demo', '0', '200M'), cli('vd', 'size', 'demo2', '0', '1100M')])
    allOk(t, grown, ['volume-definition set-size', 'vd size'])
    await until('the devices to grow', () => deviceBytes(devices['demo']!) > 150 * MiB && deviceBytes(devices['demo2']!) > 1024 * MiB, 10_000)
    t.equal(deviceBytes(devices['demo']!), 200 * MiB, 'demo grew to 200 MiB')
    t.equal(deviceBytes(devices['demo2']!), 1100 * MiB, 'demo2 grew to 1100 MiB')

    // A second volume on a deployed definition appears on the node; deleting it detaches its device.
    const added = await Promise.all([cli('volume-definition', 'create', 'demo', '32M'), cli('vd', 'c', 'demo3', '16M')])
    allOk(t, added, ['volume-definition create (volume 1)', 'vd c (volume 1)'])
    const v1 = await until('volume 1 of demo and demo3', async () => {
      const [a, b] = [await api.volume('demo', NODE, 1), await api.volume('demo3', NODE, 1)]
      return a?.state?.disk_state === 'UpToDate' && b?.state?.disk_state === 'UpToDate' ? [a.device_path!, b.device_path!] : undefined
    })
    t.same([backingFile(v1[0]!), backingFile(v1[1]!)], [volumeFile(pool, 'demo', 1), volumeFile(pool, 'demo3', 1)], 'volume 1 of each is bound to its file')
    t.same([deviceBytes(v1[0]!), deviceBytes(v1[1]!)], [32 * MiB, 16 * MiB], 'of 32 and 16 MiB')
    const vdDeleted = await Promise.all([cli('volume-definition', 'delete', 'demo', '1'), cli('vd', 'd', 'demo3', '1')])
    allOk(t, vdDeleted, ['volume-definition delete', 'vd d'])
    for (const [rsc, dev] of [['demo', v1[0]!], ['demo3', v1[1]!]] as const) {
      t.not(backingFile(dev), volumeFile(pool, rsc, 1), `${rsc} volume 1: ${dev} is no longer bound to its file`)
      t.notOk(existsSync(volumeFile(pool, rsc, 1)), `${rsc} volume 1: its file is removed`)
    }
    t.equal(backingFile(devices['demo']!), volumeFile(pool, 'demo'), 'volume 0 stays')

    const rDeleted = await Promise.all([cli('resource', 'delete', NODE, 'demo'), cli('r', 'd', NODE, 'demo2')])
    allOk(t, rDeleted, ['resource delete', 'r d'])
    t.match(rDeleted[0]!.out, /Resource 'demo' on node 'e2e-cli' deleted by its satellite\./)
    for (const [rsc, dir] of [['demo', pool], ['demo2', file1]] as const) {
      t.not(backingFile(devices[rsc]!), volumeFile(dir, rsc), `${rsc}: ${devices[rsc]} is detached (sysfs)`)
      t.same(await env.loopsOf(volumeFile(dir, rsc)), [], `${rsc}: no loop device bound to its file`)
      t.notOk(existsSync(volumeFile(dir, rsc)), `${rsc}: the file is removed`)
    }
    t.same((await api.get('/v1/resource-definitions/demo/resources')).body, [], 'the controller has no resource of demo')

    // --async: accepted on a create (the controller's reply still comes after the satellite's).
    const again = await cli('r', 'c', '--async', NODE, 'demo')
    ok(t, again, 'r c --async')
    const device = await api.untilDevice('demo', NODE)
    t.equal(backingFile(device), volumeFile(pool, 'demo'), 'deployed again')
    t.equal(deviceBytes(device), 200 * MiB, 'at the grown size')

    const rdDeleted = await Promise.all([cli('resource-definition', 'delete', 'demo'), cli('rd', 'd', 'demo2', 'demo3')])
    allOk(t, rdDeleted, ['resource-definition delete', 'rd d'])
    t.same([...await env.loopsOf(volumeFile(pool, 'demo')), ...await env.loopsOf(volumeFile(pool, 'demo3'))], [], 'their devices are detached')
    t.notOk((await api.get('/v1/resource-definitions')).body.some((d: { name: string }) => d.name.startsWith('demo')), 'the definitions are gone')
  })

  await t.test('snapshot: refused on the FILE_THIN pool; create, list, restore, rollback, delete as desired state elsewhere', async (t) => {
    // This satellite takes no snapshots of files, and its pools say so: refused up front, nothing made.
    await api.rscDfn('snapdemo', 16 * 1024)
    await api.must('POST', '/v1/resource-definitions/snapdemo/resources', [{ resource: { node_name: NODE } }])
    const refused = await Promise.all([cli('snapshot', 'create', 'snapdemo', 's1'), cli('s', 'c', NODE, 'snapdemo', 's2')])
    for (const [i, r] of refused.entries()) {
      t.equal(r.code, 10, `${['snapshot create', 's c NODE'][i]}: exit 10`)
      t.match(r.out, /^ERROR:\nDescription:\n {4}Storage pool 'DfltStorPool' on node 'e2e-cli' is FILE_THIN, which does not support snapshots\.\nCorrection:\n {4}Snapshots need every volume in a storage pool of kind /)
    }
    t.match((await api.get(`/v1/nodes/${NODE}/storage-pools/DfltStorPool`)).body, { supports_snapshots: false })
    t.same((await api.get('/v1/view/snapshots')).body, [], 'no snapshot registered')
    t.same(readdirSync(pool).filter((f) => f.startsWith('snapdemo')), ['snapdemo_00000.img'], "nothing but the volume's file in the pool")

    // On a node that is away, with a pool kind that takes snapshots, they are desired state: the
    // commands' whole path, and what the controller says while no satellite has taken them.
    await api.must('POST', '/v1/nodes', { name: 'snapnode', type: 'Satellite', net_interfaces: [{ name: 'default', address: '127.0.0.17' }] })
    await api.must('POST', '/v1/nodes/snapnode/storage-pools', { storage_pool_name: 'thin', provider_kind: 'LVM_THIN', props: { 'StorDriver/StorPoolName': 'vg0/thin' } })
    await api.rscDfn('snapoff', 16 * 1024)
    await api.must('POST', '/v1/resource-definitions/snapoff/resources', [{ resource: { node_name: 'snapnode', props: { StorPoolName: 'thin' } } }])
    const created = await Promise.all([cli('snapshot', 'create', 'snapoff', 's1'), cli('s', 'c', 'snapnode', 'snapoff', 's2')])
    allOk(t, created, ['snapshot create', 's c NODE'])
    t.match(created[0]!.out, /^SUCCESS:\n {4}New snapshot 's1' of resource 'snapoff' registered for node\(s\) 'snapnode'/)
    const [list, listShort] = await Promise.all([cli('-m', 'snapshot', 'list'), cli('s', 'l', '-r', 'snapoff')])
    allOk(t, [list, listShort], ['snapshot list', 's l -r'])
    const snaps = json(list)[0] as { name: string; nodes: string[]; flags: string[]; volume_definitions: { size_kib: number }[] }[]
    t.same(snaps.map((s) => s.name).sort(), ['s1', 's2'])
    for (const s of snaps) {
      t.same(s.nodes, ['snapnode'])
      t.notOk(s.flags.includes('SUCCESSFUL'), `${s.name}: not reported as taken`)
      t.match(s.volume_definitions, [{ size_kib: 16 * 1024 }])
    }
    t.match(listShort.out, /\| snapoff +\| s2 +\| snapnode +\| 0: 16 MiB \| +\| Incomplete \|/)

    const rolledBack = await Promise.all([cli('snapshot', 'rollback', 'snapoff', 's1'), cli('s', 'rb', 'snapoff', 's2')])
    for (const [i, r] of rolledBack.entries()) {
      t.equal(r.code, 10, `${['snapshot rollback', 's rb'][i]}: exit 10`)
      t.match(r.out, /^ERROR:\nDescription:\n {4}Snapshot 's\d' of resource 'snapoff' cannot be used: its satellites have not taken it yet \(it is not SUCCESSFUL\)\./)
    }
    // The volume definitions come from the controller's own record of the snapshot; the data would come
    // from a satellite, and is refused.
    await Promise.all([api.must('POST', '/v1/resource-definitions', { resource_definition: { name: 'restored1', layer_data: [{ type: 'STORAGE' }] } }),
      api.must('POST', '/v1/resource-definitions', { resource_definition: { name: 'restored2', layer_data: [{ type: 'STORAGE' }] } })])
    const vdRestored = await Promise.all([
      cli('snapshot', 'volume-definition', 'restore', '--from-resource', 'snapoff', '--from-snapshot', 's1', '--to-resource', 'restored1'),
      cli('s', 'vd', 'rst', '--fr', 'snapoff', '--fs', 's2', '--tr', 'restored2'),
    ])
    allOk(t, vdRestored, ['snapshot volume-definition restore', 's vd rst --fr --fs --tr'])
    t.match((await api.get('/v1/resource-definitions/restored2/volume-definitions')).body, [{ volume_number: 0, size_kib: 16 * 1024 }], 'the volume definition is restored')
    const restored = await Promise.all([
      cli('snapshot', 'resource', 'restore', '--from-resource', 'snapoff', '--from-snapshot', 's1', '--to-resource', 'restored1'),
      cli('s', 'r', 'rst', '--fr', 'snapoff', '--fs', 's2', '--tr', 'restored2'),
    ])
    for (const [i, r] of restored.entries()) {
      t.equal(r.code, 10, `${['snapshot resource restore', 's r rst'][i]}: exit 10`)
      t.match(r.out, /cannot be used: its satellites have not taken it yet/)
    }
    t.same((await api.get('/v1/resource-definitions/restored1/resources')).body, [], 'no resource was made')

    // The node is away: deleting removes them at once (its satellite drops them on its next full sync).
    const deleted = await Promise.all([cli('snapshot', 'delete', 'snapoff', 's1'), cli('s', 'd', 'snapoff', 's2')])
    allOk(t, deleted, ['snapshot delete', 's d'])
    t.match(deleted[0]!.out, /Snapshot 's1' of resource 'snapoff' deleted\./)
    t.same(json(await cli('-m', 's', 'l'))[0], [], 'both are gone')
    for (const rd of ['snapoff', 'restored1', 'restored2', 'snapdemo']) await api.must('DELETE', `/v1/resource-definitions/${rd}`)
    await api.must('DELETE', '/v1/nodes/snapnode')
  })

  await t.test('key-value-store: modify, show, list, delete', async (t) => {
    allOk(t, await Promise.all([cli('key-value-store', 'modify', 'app1', 'owner', 'web'), cli('kv', 'm', 'app2', 'tier', 'gold')]), ['key-value-store modify', 'kv m'])
    const [show, showShort, list, listShort] = await Promise.all([cli('-m', 'key-value-store', 'show', 'app1'), cli('kv', 's', 'app2'), cli('-m', 'key-value-store', 'list'), cli('kv', 'l')])
    allOk(t, [show, showShort, list, listShort], ['key-value-store show', 'kv s', 'key-value-store list', 'kv l'])
    t.same(json(show), [{ name: 'app1', props: { owner: 'web' } }])
    t.match(showShort.out, /\| tier +\| gold +\|/)
    t.same(json(list)[0].map((k: { name: string }) => k.name).sort(), ['app1', 'app2'])
    t.match(listShort.out, /\| app2 +\|/)
    t.same((await api.get('/v1/key-value-store/app2')).body, [{ name: 'app2', props: { tier: 'gold' } }], 'the controller has it')
    allOk(t, await Promise.all([cli('key-value-store', 'delete', 'app1'), cli('kv', 'd', 'app2')]), ['key-value-store delete', 'kv d'])
    t.same((await api.get('/v1/key-value-store')).body, [], 'both are gone')
  })

  await t.test('failures: no controller at the address (20), a refusal (10)', async (t) => {
    const port = await closedPort()
    const [flag, envVar] = await Promise.all([
      blockyard(['--controllers', `127.0.0.1:${port}`, 'node', 'list'], {}),
      blockyard(['rd', 'l'], { LS_CONTROLLERS: `127.0.0.1:${port}` }),
    ])
    for (const r of [flag, envVar]) {
      t.equal(r.code, 20, 'exit 20')
      t.match(r.err, `127.0.0.1:${port}`, 'the message names the address')
      t.equal(r.out, '', 'nothing on stdout')
    }

    const dir = env.dir('pools', 'shared')
    const [text, machine] = await Promise.all([
      cli('sp', 'c', 'filethin', NODE, 'shared1', dir, '--shared-space', 'san1'),
      cli('-m', 'storage-pool', 'create', 'filethin', NODE, 'shared1', dir, '--shared-space', 'san1'),
    ])
    t.equal(text.code, 10, 'exit 10')
    t.match(text.out, /^ERROR:\nDescription:\n {4}Storage provider FILE_THIN cannot back the shared space 'san1'\.\nCause:\n {4}Volumes of FILE_THIN pools cannot be shared between nodes\.\nCorrection:\n {4}Use one of DISKLESS, LVM for a shared space, or set external_locking\.\n$/)
    t.equal(machine.code, 10, '-m: exit 10')
    t.same(severities(machine.out), ['ERROR'])
    t.match(json(machine), [{ message: /cannot back the shared space 'san1'/, cause: /cannot be shared between nodes/, correction: /Use one of DISKLESS, LVM/ }])
    t.equal((await api.get(`/v1/nodes/${NODE}/storage-pools/shared1`)).status, 404, 'nothing was stored')
  })

  await t.test('interactive mode fed on stdin', async (t) => {
    const lines = ['n l -m', 'rd c -l storage inter1', 'blockyard vd c inter1 8M', 'r c e2e-cli inter1', '-m r l -r inter1', 'rd d inter1', 'exit']
    const r = await blockyard(['interactive'], { LS_CONTROLLERS: node.url }, lines.join('\n') + '\n')
    ok(t, r, 'interactive')
    // Each command's output follows its prompt (the prompt goes to stdout, as readline's does).
    const outs = r.out.split('blockyard ==> ').slice(1)
    t.equal(outs.length, lines.length, 'a prompt per line')
    t.same(json({ ...r, out: outs[0]! })[0].map((n: { name: string }) => n.name), [NODE])
    t.match(outs[1], /^SUCCESS:\n {4}New resource definition 'inter1' created\./)
    t.match(outs[2], /^SUCCESS:\n/)
    t.match(outs[3], /Resource 'inter1' on node 'e2e-cli' created\./)
    const v = listedVolume(json({ ...r, out: outs[4]! })[0], 'inter1')
    t.match(v, { state: { disk_state: 'UpToDate' }, device_path: /^\/dev\/loop\d+$/, usable_size_kib: 8 * 1024 })
    t.match(outs[5], /\nSUCCESS:\n {4}Resource definition 'inter1' deleted\.\n$/)
    t.equal(outs[6], '', 'exit leaves')
    t.same(await env.loopsOf(volumeFile(pool, 'inter1')), [], 'the device is gone after rd d')
  })
})
