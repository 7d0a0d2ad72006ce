/**
 * `npm run bench:vm-drbd`: the time to bring a two-replica DRBD resource (one 64 MiB volume on LVM_THIN)
 * to usable — UpToDate on both nodes — through Blockyard, against the same done with the commands
 * LINSTOR's satellite runs, in its order, side by side in one run on the same two VMs (DRBD 8.4 in their
 * Debian kernel). Booting the VMs and deploying Blockyard are not timed; taking each resource down again
 * is timed apart.
 *
 * Blockyard: POST the resource definition, its volume definition and both resources (layers DRBD,STORAGE
 * on the LVM_THIN pool `thin`) to the controller on the host; the clock stops when
 * GET /v1/resource-definitions/{rsc}/resources, asked every 50 ms, shows volume 0 UpToDate on both nodes.
 * Down: DELETE the definition until GET answers 404 (the controller waits for both satellites).
 *
 * The baseline drives each node's commands from the host, one guest command per step as LINSTOR's
 * satellite forks one, both nodes in parallel as two satellites would. The order is that of
 * linstor-server's satellite (its DrbdLayer, DrbdAdm and LVM_THIN provider, read at commit 3e9306a9 of
 * June 2026):
 *   1. `drbdsetup status` — DrbdLayer.prepare, once per device-manager run;
 *   2. the storage layer below DRBD: `lvcreate --virtualsize <gross>k vg0 --thinpool thin --name
 *      <rsc>_00000` and `lvchange -ay -K vg0/<rsc>_00000` (LvmThinProvider.createLvImpl), then
 *      `wipefs -a -f /dev/vg0/<rsc>_00000` (AbsStorageProvider.postCreate, WipeHandler.quickWipe); gross
 *      = net + internal metadata for 7 peer slots, as Blockyard's;
 *   3. the .res file written — in process in LINSTOR (DrbdResourceFileUtils.regenerateResFile: no
 *      `drbdadm sh-nop` check any more, DrbdAdm.checkResFile has no caller), here from the host into a
 *      directory the guests read over the project share, which /etc/drbd.d/linstor-resources.res
 *      includes as LINSTOR's package includes /var/lib/linstor.d; the content is Blockyard's own
 *      rendering (res-file.ts, which follows LINSTOR's ConfFileBuilder), with a random shared secret;
 *      whether metadata exists LINSTOR reads from the superblock in process (MdSuperblockBuffer), and asks
 *      `drbdmeta get-gi` only when it finds one, which a new LV has not;
 *   4. `drbdadm -- --force create-md <rsc>/0` (LINSTOR adds `--max-peers 7`, which 8.4's drbdadm lacks);
 *   5. `drbdadm -vvv adjust <rsc>`;
 *   6. once connected, `drbdadm -- --clear-bitmap new-current-uuid <rsc>/0` on the node with the lower
 *      node id: the initial sync of two new thin volumes skipped, as Blockyard does and LINSTOR did
 *      before DRBD 9's generation identifiers (see below);
 *   7. done when `drbdsetup status <rsc>` shows both disks UpToDate and the connection Established
 *      (a resync instead fails the run: the skip did not happen).
 * Steps 6 and 7 wait by asking `drbdsetup status` again and again, where LINSTOR reads the permanent
 * `drbdsetup events2 all` it keeps per node (DrbdEventService): a round trip of ~0.1 s here, so each wait
 * may end up to that much later than LINSTOR would notice it. Blockyard's wait is its 50 ms GET.
 * Left out, so the baseline is a lower bound of LINSTOR's time: the storage layer's `lvs`/`vgs` reports
 * (LvmUtils caches them for a while, so how many a create runs depends on timing); `drbdadm
 * sh-list-adjustable all` (drbd-utils ≥ 9.32 only; the guests have 9.22); and, with DRBD 9, LINSTOR's way
 * of skipping the initial sync, `drbdmeta set-gi` once for every one of the 32 node ids per volume on
 * every node right after create-md, where 8.4 has no node ids.
 * Down: `drbdadm down <rsc>` on both, the file removed, `lvremove -y vg0/<rsc>_00000` on both.
 *
 * The two alternate (Blockyard, baseline, Blockyard, …) after one untimed warm-up round of each; the
 * medians and their ratio are printed, and each step's median, to show where the time goes. Under
 * software emulation a fork+exec costs ~90 ms and an lvcreate ~1.5 s (DESIGN.md §4): the ratio, taken side
 * by side, is the figure. Options: --iterations N (default 5).
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { BUNDLE_DIR } from '../integration/harness/bundle.js'
import { GUEST_PROJECT_DIR, PROJECT_DIR, startCluster, vmUnsupportedReason } from '../integration/harness/cluster.js'
import { Deployment, until } from '../integration/harness/deployment.js'
import type { TestNode } from '../integration/harness/nodes.js'
import * as s from '../integration/scenarios/storage.js'
import { DRBD_DEFAULT_AL_STRIPE_SIZE_KIB, DRBD_DEFAULT_AL_STRIPES, DRBD_DEFAULT_PEERS, grossSizeKib } from '../src/common/drbd-md.js'
import type { ResourceDesired } from '../src/proto/messages.js'
import { renderResFile } from '../src/satellite/layers/drbd/res-file.js'

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '5' } } })
const iterations = Number(values.iterations)
if (!Number.isInteger(iterations) || iterations < 1) {
  console.error(`bench:vm-drbd: --iterations must be a positive integer, got ${values.iterations}`)
  process.exit(1)
}
const reason = vmUnsupportedReason()
if (reason) {
  console.error(`bench:vm-drbd: ${reason}`)
  process.exit(1)
}

const VG = 'vg0'
const POOL = 'thin'
const THIN_MIB = 1024
const NET_KIB = 64 * 1024
const GROSS_KIB = grossSizeKib(NET_KIB, DRBD_DEFAULT_PEERS, DRBD_DEFAULT_AL_STRIPES, DRBD_DEFAULT_AL_STRIPE_SIZE_KIB)
/** How often Blockyard's REST view is asked while waiting. */
const POLL_MS = 50
/** One step of a create under emulation takes seconds; a whole create well under a minute. */
const STEP_TIMEOUT_MS = 120_000
/**
 * The baseline's minor and port: far above what this run's few Blockyard resources get from the
 * controller's allocators (from 1000 and 7000), so the two never collide.
 */
const BASELINE_MINOR = 1900
const BASELINE_PORT = 7900
/** Where the baseline's .res files are written on the host, one directory per node, read by the guests over the share. */
const RES_DIR = join(BUNDLE_DIR, 'drbd-bench')
/** What LINSTOR's package installs in /etc/drbd.d to include its resource files (there /var/lib/linstor.d). */
const INCLUDE_FILE = '/etc/drbd.d/linstor-resources.res'

interface Figures {
  upMs: number
  downMs: number
  /** The way up in steps, in order: each step's name and its time. */
  steps: Array<[string, number]>
}

/** Times a run of steps: `lap(name)` ends the step that began at the previous lap (or at the start). */
function stopwatch(): { lap(name: string): void; steps: Array<[string, number]>; elapsed(): number } {
  const started = performance.now()
  let last = started
  const steps: Array<[string, number]> = []
  return {
    lap(name) {
      const now = performance.now()
      steps.push([name, now - last])
      last = now
    },
    steps,
    elapsed: () => last - started,
  }
}

type Pair = readonly [TestNode, TestNode]

/** Runs `argv(node)` in both nodes at once, as two satellites would; throws with the first failure. */
async function onBoth(nodes: Pair, argv: (n: TestNode) => string[]): Promise<void> {
  await Promise.all(nodes.map((n) => s.sh(n, argv(n), STEP_TIMEOUT_MS)))
}

/** One resource through Blockyard's REST API, up and down. */
async function blockyardOnce(d: Deployment, nodes: Pair, rsc: string): Promise<Figures> {
  const clock = stopwatch()
  s.ok(`resource definition ${rsc}`, await d.rest('POST', '/v1/resource-definitions', { resource_definition: { name: rsc } }))
  s.ok(`volume definition ${rsc}/0`, await d.rest('POST', `/v1/resource-definitions/${rsc}/volume-definitions`, { volume_definition: { size_kib: NET_KIB } }))
  clock.lap('definitions')
  s.ok(`resources ${rsc}`, await d.rest('POST', `/v1/resource-definitions/${rsc}/resources`, nodes.map((n) => ({ resource: { node_name: n.name, props: { StorPoolName: POOL } }, layer_list: ['DRBD', 'STORAGE'] }))))
  // The controller answers once each replica is usable (UpToDate, or connected to an UpToDate peer, as
  // LINSTOR's create waits); the views below must show both UpToDate.
  clock.lap('resources answered')
  await until(`${rsc} UpToDate on both nodes`, async () => {
    const rscs = s.ok(`resources of ${rsc}`, await d.rest<Array<{ node_name: string; volumes?: s.VolumeView[] }>>('GET', `/v1/resource-definitions/${rsc}/resources`))
    return nodes.every((n) => rscs.find((r) => r.node_name === n.name)?.volumes?.[0]?.state?.disk_state === 'UpToDate')
  }, STEP_TIMEOUT_MS, POLL_MS)
  clock.lap('UpToDate seen')
  const up = performance.now()
  s.ok(`delete ${rsc}`, await d.rest('DELETE', `/v1/resource-definitions/${rsc}`))
  await until(`${rsc} gone`, async () => (await d.rest('GET', `/v1/resource-definitions/${rsc}`)).status === 404, STEP_TIMEOUT_MS, POLL_MS)
  return { upMs: clock.elapsed(), downMs: performance.now() - up, steps: clock.steps }
}

/** The desired state Blockyard's controller would send `node` for the baseline's resource (node ids by position). */
function baselineDesired(nodes: Pair, node: TestNode, rsc: string, secret: string): ResourceDesired {
  const self = nodes.indexOf(node)
  const peer = nodes[1 - self]!
  return {
    name: rsc,
    generation: 1n,
    deleted: false,
    layers: ['DRBD', 'STORAGE'],
    flags: [],
    props: {},
    volumes: [{ number: 0, netSizeKib: NET_KIB, grossSizeKib: GROSS_KIB, storPoolName: POOL, providerKind: 'LVM_THIN', storPoolProps: {}, props: {}, drbdMinor: BASELINE_MINOR }],
    drbd: {
      nodeId: self,
      address: node.address,
      port: BASELINE_PORT,
      peerSlots: DRBD_DEFAULT_PEERS,
      sharedSecret: secret,
      peers: [{ nodeName: peer.name, nodeId: 1 - self, address: peer.address, port: BASELINE_PORT, diskless: false }],
    },
  }
}

/** Asks `drbdsetup status <rsc>` in `node` until `done` matches it; a resync in it fails the wait. */
async function waitStatus(node: TestNode, rsc: string, what: string, done: RegExp): Promise<void> {
  await until(`${node.name}: ${rsc} ${what}`, async () => {
    const status = await s.sh(node, ['drbdsetup', 'status', rsc])
    if (/replication:(SyncSource|SyncTarget)/.test(status)) throw new Error(`${node.name}: ${rsc} resyncs, the initial sync was not skipped:\n${status}`)
    return done.test(status)
  }, STEP_TIMEOUT_MS, 0)
}

/** One resource the way LINSTOR's satellites bring it up and down (the header lists the steps). */
async function baselineOnce(nodes: Pair, rsc: string): Promise<Figures> {
  const lv = s.volumeName(rsc)
  const secret = randomBytes(15).toString('base64')
  const resFile = (n: TestNode): string => join(RES_DIR, n.name, `${rsc}.res`)
  const clock = stopwatch()
  await onBoth(nodes, () => ['drbdsetup', 'status'])
  clock.lap('drbdsetup status')
  await onBoth(nodes, () => ['lvcreate', '--virtualsize', `${GROSS_KIB}k`, VG, '--thinpool', POOL, '--name', lv])
  clock.lap('lvcreate')
  await onBoth(nodes, () => ['lvchange', '-ay', '-K', `${VG}/${lv}`])
  clock.lap('lvchange -ay')
  await onBoth(nodes, () => ['wipefs', '-a', '-f', `/dev/${VG}/${lv}`])
  clock.lap('wipefs')
  for (const n of nodes) {
    writeFileSync(resFile(n), renderResFile({ nodeName: n.name, rsc: baselineDesired(nodes, n, rsc, secret), backingDisks: new Map([[0, `/dev/${VG}/${lv}`]]) }, 8))
  }
  await onBoth(nodes, () => ['drbdadm', '--', '--force', 'create-md', `${rsc}/0`])
  clock.lap('create-md')
  await onBoth(nodes, () => ['drbdadm', '-vvv', 'adjust', rsc])
  clock.lap('adjust')
  await waitStatus(nodes[0], rsc, 'connected, both Inconsistent', /disk:Inconsistent[\s\S]*replication:Established peer-disk:Inconsistent/)
  clock.lap('connected')
  await s.sh(nodes[0], ['drbdadm', '--', '--clear-bitmap', 'new-current-uuid', `${rsc}/0`], STEP_TIMEOUT_MS)
  clock.lap('new-current-uuid')
  await Promise.all(nodes.map((n) => waitStatus(n, rsc, 'UpToDate on both', /disk:UpToDate[\s\S]*replication:Established peer-disk:UpToDate/)))
  clock.lap('UpToDate seen')
  const up = performance.now()
  await onBoth(nodes, () => ['drbdadm', 'down', rsc])
  for (const n of nodes) rmSync(resFile(n))
  await onBoth(nodes, () => ['lvremove', '-y', `${VG}/${lv}`])
  return { upMs: clock.elapsed(), downMs: performance.now() - up, steps: clock.steps }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

const cluster = await startCluster({ vms: 2, memMiB: 1024, dataDisksMiB: [4096] })
const blockyard: Figures[] = []
const baseline: Figures[] = []
try {
  const [vm1, vm2] = cluster.vms
  const nodes: Pair = [vm1!, vm2!]
  console.log(`VMs ${nodes.map((n) => n.name).join(', ')} ready in ${(Math.max(vm1!.bootMs, vm2!.bootMs) / 1000).toFixed(1)} s (qemu TCG, 1 vCPU each)`)
  await Promise.all(nodes.map((n) => s.prepareVolumeGroup(n, VG, THIN_MIB)))
  for (const n of nodes) {
    mkdirSync(join(RES_DIR, n.name), { recursive: true })
    const guestDir = join(GUEST_PROJECT_DIR, relative(PROJECT_DIR, join(RES_DIR, n.name)))
    await s.sh(n, ['sh', '-c', 'printf "%s\\n" "$1" >"$2"', 'sh', `include "${guestDir}/*.res";`, INCLUDE_FILE])
  }
  // The satellites' logs (each one's last lines when it exits, at the latest when stopped) only matter
  // when the run fails.
  const deployLog: string[] = []
  const d = await Deployment.start(cluster, { log: (line) => deployLog.push(line) })
  try {
    for (const n of nodes) await s.createPool(d, n, POOL, 'LVM_THIN', `${VG}/${POOL}`)
    await until('both thin pools report their capacity', async () => {
      const pools = s.ok('storage pools', await d.rest<Array<{ storage_pool_name: string; free_capacity?: number }>>('GET', '/v1/view/storage-pools'))
      return pools.filter((p) => p.storage_pool_name === POOL && (p.free_capacity ?? 0) > 0).length === nodes.length
    }, STEP_TIMEOUT_MS)
    // The first of each pays for cold caches (a pool's first thin volume, drbdadm's first parse, the
    // controller's first requests): run once and not counted.
    const warmBy = await blockyardOnce(d, nodes, 'bench_by_warmup')
    const warmLs = await baselineOnce(nodes, 'bench_ls_warmup')
    console.log(`warm-up (not counted): Blockyard ${sec(warmBy.upMs)}, LINSTOR's commands ${sec(warmLs.upMs)}`)
    console.log('\niteration  Blockyard up  down      LINSTOR\'s commands up  down')
    for (let i = 1; i <= iterations; i++) {
      const by = await blockyardOnce(d, nodes, `bench_by_${i}`)
      const ls = await baselineOnce(nodes, `bench_ls_${i}`)
      blockyard.push(by)
      baseline.push(ls)
      console.log(`${String(i).padStart(9)}  ${sec(by.upMs).padStart(12)}  ${sec(by.downMs).padStart(8)}  ${sec(ls.upMs).padStart(22)}  ${sec(ls.downMs).padStart(8)}`)
    }
  } catch (err) {
    console.error(`${deployLog.join('\n')}\ncontroller log, last lines:\n${d.controllerLog()}`)
    throw err
  } finally {
    await d.stop()
  }
} finally {
  await cluster.teardown()
  rmSync(RES_DIR, { recursive: true, force: true })
}

const up = { by: median(blockyard.map((f) => f.upMs)), ls: median(baseline.map((f) => f.upMs)) }
const down = { by: median(blockyard.map((f) => f.downMs)), ls: median(baseline.map((f) => f.downMs)) }
console.log(`\nsummary (medians of ${iterations}, measured side by side on the same two VMs):`)
console.log(`  two replicas to UpToDate: Blockyard ${sec(up.by)}, LINSTOR's commands ${sec(up.ls)}: ${(up.ls / up.by).toFixed(2)}× faster`)
console.log(`  and down again:           Blockyard ${sec(down.by)}, LINSTOR's commands ${sec(down.ls)}: ${(down.ls / down.by).toFixed(2)}×`)
/** Each step's median over the iterations, in the order the steps ran. */
const stepMedians = (runs: readonly Figures[]): string =>
  runs[0]!.steps.map(([name], i) => `${name} ${sec(median(runs.map((r) => r.steps[i]![1])))}`).join(', ')
console.log('where the time goes (medians of each step):')
console.log(`  Blockyard: ${stepMedians(blockyard)}`)
console.log(`  LINSTOR's commands: ${stepMedians(baseline)}`)
