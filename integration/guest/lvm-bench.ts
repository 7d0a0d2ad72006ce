/**
 * Runs IN a guest as root: LVM_THIN volume create+delete, N times through liblvm2cmd in process and N
 * times as `lvcreate`/`lvremove` commands (execa), side by side in one run on one thin pool. Prints
 * `{inProcessPerSec, commandsPerSec, ratio}` and a line for people; the same for the VG report each
 * reconcile pass makes (`reports…`). Usage: `lvm-bench.mjs [--iterations N] [--disk DEVICE]` (the disk's
 * contents are lost); the JSON line comes last, as bench/vm-native-vs-shell.ts reads it.
 */
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import { IN_PROCESS_CONFIG, openLvm } from '../../src/satellite/sys/lvm.js'

const DEFAULT_DATA_DISK = '/dev/disk/by-id/virtio-data0'
const VG = 'bybench'

async function sh(argv: readonly string[]): Promise<void> {
  const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: 120_000, stdin: 'ignore' })
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: exit ${r.exitCode}: ${String(r.stderr ?? '')}`)
}

const create = (i: number): string[] => ['lvcreate', '--virtualsize', '16m', '--thinpool', 'tp', '--name', `b${i}`, '--yes', VG]
const remove = (i: number): string[] => ['lvremove', '--yes', `${VG}/b${i}`]

const REPORT = ['vgs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'vg_name,vg_size,vg_free,lv_name,lv_size,lv_attr,pool_lv,data_percent', VG]

export interface LvmBenchResult {
  inProcessPerSec: number
  commandsPerSec: number
  ratio: number
  /** The commands given the configuration the library runs with (no udev wait): what the fork and start-up alone cost. */
  commandsSameConfigPerSec: number
  sameConfigRatio: number
  reportsInProcessPerSec: number
  reportsCommandsPerSec: number
  reportsRatio: number
}

/** `n` runs of `fn`, per second. */
async function rate(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < n; i++) await fn(i)
  return n / ((performance.now() - started) / 1000)
}

export async function lvmBench(n: number, disk = DEFAULT_DATA_DISK): Promise<LvmBenchResult> {
  await sh(['modprobe', 'dm_thin_pool'])
  await sh(['pvcreate', '-q', '-y', disk])
  await sh(['vgcreate', '-q', VG, disk])
  try {
    await sh(['lvcreate', '-q', '-y', '-L', '256m', '-T', `${VG}/tp`])
    const lib = await openLvm()
    if (!lib.inProcess) throw new Error('liblvm2cmd did not load')
    try {
      // One round each first: the pool's first thin volume costs more, and so does the library's first command.
      await lib.run(create(0))
      await lib.run(remove(0))
      const inProcessPerSec = await rate(n, async (i) => {
        await lib.run(create(i))
        await lib.run(remove(i))
      })
      const commandsPerSec = await rate(n, async (i) => {
        await sh(create(i))
        await sh(remove(i))
      })
      const withConfig = (argv: string[]): string[] => [argv[0]!, '--config', IN_PROCESS_CONFIG, ...argv.slice(1)]
      const commandsSameConfigPerSec = await rate(n, async (i) => {
        await sh(withConfig(create(i)))
        await sh(withConfig(remove(i)))
      })
      const reportsInProcessPerSec = await rate(n, () => lib.run(REPORT))
      const reportsCommandsPerSec = await rate(n, () => sh(['lvm', ...REPORT]))
      return {
        inProcessPerSec,
        commandsPerSec,
        ratio: inProcessPerSec / commandsPerSec,
        commandsSameConfigPerSec,
        sameConfigRatio: inProcessPerSec / commandsSameConfigPerSec,
        reportsInProcessPerSec,
        reportsCommandsPerSec,
        reportsRatio: reportsInProcessPerSec / reportsCommandsPerSec,
      }
    } finally {
      lib.close()
    }
  } finally {
    await sh(['vgremove', '-q', '-f', VG])
    await sh(['pvremove', '-q', '-y', disk])
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '5' }, disk: { type: 'string', default: DEFAULT_DATA_DISK } } })
  const n = Number(values.iterations)
  const r = await lvmBench(n, values.disk)
  console.log(`LVM_THIN create+delete, ${n} each: in process ${r.inProcessPerSec.toFixed(2)}/s, commands ${r.commandsPerSec.toFixed(2)}/s, ratio ${r.ratio.toFixed(2)}×`)
  console.log(`  commands with the library's configuration (no udev wait) ${r.commandsSameConfigPerSec.toFixed(2)}/s, ratio ${r.sameConfigRatio.toFixed(2)}×`)
  console.log(`VG report, ${n} each: in process ${r.reportsInProcessPerSec.toFixed(2)}/s, commands ${r.reportsCommandsPerSec.toFixed(2)}/s, ratio ${r.reportsRatio.toFixed(2)}×`)
  console.log(JSON.stringify(r))
}
