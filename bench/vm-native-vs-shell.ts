/**
 * `npm run bench:vm` (root): native kernel and library calls against the commands they replace, side by
 * side inside one VM on a real Debian kernel (this machine's kernel has no device-mapper):
 *   - device-mapper create → load → resume → remove through the addon's ioctls vs. `dmsetup`
 *     (integration/guest/dm-bench.ts; target ≥ 50×);
 *   - LVM_THIN volume create + delete through liblvm2cmd in process vs. `lvcreate`/`lvremove`
 *     (integration/guest/lvm-bench.ts; target ≥ 3×).
 * Under software emulation absolute times mean little (a fork+exec costs ~90 ms there, DESIGN.md §4), the
 * ratios taken in one VM in one run are what this reports. Options: --dm-iterations N, --lvm-iterations N.
 */
import { parseArgs } from 'node:util'
import { bundleForGuest } from '../integration/harness/bundle.js'
import { startCluster, vmUnsupportedReason } from '../integration/harness/cluster.js'

const { values } = parseArgs({ options: { 'dm-iterations': { type: 'string', default: '200' }, 'lvm-iterations': { type: 'string', default: '10' } } })
const reason = vmUnsupportedReason()
if (reason) {
  console.error(`bench:vm: ${reason}`)
  process.exit(1)
}

/** What a guest benchmark prints last: one JSON line with its figures and the ratio to its baseline. */
interface GuestFigures {
  ratio: number
  [k: string]: unknown
}

// Each on a data disk of its own: both write over the start of theirs.
const benches = [
  { name: 'dm-bench', src: 'integration/guest/dm-bench.ts', iterations: values['dm-iterations'], disk: 1, target: 50, what: 'device-mapper create/load/resume/remove, ioctls vs dmsetup', also: { key: 'observeRatio', what: 'observing a device (info, table, status)' } },
  { name: 'lvm-bench', src: 'integration/guest/lvm-bench.ts', iterations: values['lvm-iterations'], disk: 0, target: 3, what: 'LVM_THIN create+delete, in process vs lvcreate/lvremove', also: { key: 'reportsRatio', what: 'the VG report of a reconcile pass' } },
] as const

const guest = await bundleForGuest(Object.fromEntries(benches.map((b) => [b.name, b.src])))
const cluster = await startCluster({ vms: 1, memMiB: 1024, dataDisksMiB: [4096, 1024] })
const results: Array<{ bench: (typeof benches)[number]; figures: GuestFigures }> = []
try {
  const vm = cluster.vms[0]!
  console.log(`VM ${vm.name} ready in ${(vm.bootMs / 1000).toFixed(1)} s (qemu TCG, 1 vCPU)`)
  for (const b of benches) {
    const r = await vm.run(['node', guest[b.name]!, '--iterations', b.iterations, '--disk', vm.dataDisks[b.disk]!], { timeoutMs: 30 * 60_000 })
    process.stdout.write(r.stdout)
    if (r.exitCode !== 0) throw new Error(`${b.name} exited ${r.exitCode}: ${r.stderr.trim()}`)
    const last = r.stdout.trim().split('\n').at(-1) ?? ''
    results.push({ bench: b, figures: JSON.parse(last) as GuestFigures })
  }
} finally {
  await cluster.teardown()
}
console.log('\nsummary (ratios measured side by side in one VM):')
for (const { bench: b, figures: f } of results) {
  console.log(`  ${b.what}: ${f.ratio.toFixed(1)}× (target ≥ ${b.target}×) ${f.ratio >= b.target ? 'met' : 'NOT met'}`)
  console.log(`    and ${b.also.what}: ${Number(f[b.also.key]).toFixed(1)}×`)
}
