/**
 * Runs IN a guest (root, device-mapper): how many dm devices a second the binding (dm.ts) makes and
 * removes — DM_DEV_CREATE, DM_TABLE_LOAD, DM_DEV_SUSPEND (resume), DM_DEV_REMOVE — against
 * `dmsetup create --table …` + `dmsetup remove`, side by side in one run. One op is one device created
 * with a live table and removed again. The binding's loop runs twice: with udev working through its
 * uevents meanwhile (as dmsetup's run has it), and with udev's workers held; each ioctl is timed on its
 * own too. Then observing one device, the satellite's hot path: DM_DEV_STATUS and two DM_TABLE_STATUS
 * (table, status without a metadata commit) against `dmsetup info -c`, `table`, `status --noflush`. Also times what decides keeping the
 * control node open: one DM_VERSION ioctl against an open+close of /dev/mapper/control.
 *
 * `node dm-bench.mjs [--iterations 200] [--table zero|linear] [--disk /dev/disk/by-id/virtio-data0]`
 * (the disk under linear tables); prints one line for people, then one JSON line (last, for
 * bench/vm-native-vs-shell.ts). The target: ioctls at least 50× dmsetup. Under software emulation a fork
 * costs ~90 ms, so the ratio overstates what it is on hardware (DESIGN.md §4).
 */
import { closeSync, openSync, realpathSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import { activateDevice, createDevice, deviceInfo, deviceStatus, deviceTable, dmVersion, listDevices, loadTable, removeDevice, resumeDevice, type DmTarget } from '../../src/satellite/sys/dm.js'

const PREFIX = 'bydmbench-'
const DEFAULT_DATA_DEVICE = '/dev/disk/by-id/virtio-data0'
const LENGTH_SECTORS = 2048
const TIMEOUT_MS = 60_000
/** Control-node micro-timings: enough rounds that a timer tick does not matter. */
const MICRO_ROUNDS = 2000

function table(kind: string, dataDevice: string): DmTarget {
  if (kind === 'zero') return { sectorStart: 0, length: LENGTH_SECTORS, type: 'zero', params: '' }
  if (kind === 'linear') return { sectorStart: 0, length: LENGTH_SECTORS, type: 'linear', params: `${realpathSync(dataDevice)} 0` }
  throw new RangeError(`table must be zero or linear, got ${kind}`)
}

async function settle(): Promise<void> {
  // Udev works through the uevents of the previous phase in the background; on one vCPU it would
  // slow the next phase down.
  await execa('udevadm', ['settle'], { timeout: TIMEOUT_MS })
}

async function timed(iterations: number, op: (i: number) => Promise<void>): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < iterations; i++) await op(i)
  return performance.now() - start
}

async function microUs(rounds: number, op: () => Promise<unknown> | void): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < rounds; i++) await op()
  return ((performance.now() - start) * 1000) / rounds
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '200' }, table: { type: 'string', default: 'zero' }, disk: { type: 'string', default: DEFAULT_DATA_DEVICE } } })
  const iterations = Number(values.iterations)
  if (!Number.isSafeInteger(iterations) || iterations <= 0) throw new RangeError(`iterations must be a positive integer, got ${values.iterations}`)
  const kind = values.table
  const target = table(kind, values.disk)
  const tableLine = `${target.sectorStart} ${target.length} ${target.type} ${target.params}`.trim()
  await execa('modprobe', ['dm_mod'], { timeout: TIMEOUT_MS })
  for (const d of await listDevices()) if (d.name.startsWith(PREFIX)) await removeDevice(d.name)

  const made = new Set<string>()
  try {
    // Warm up both paths (module load, the control descriptor, dmsetup's pages) outside the timing.
    await activateDevice(`${PREFIX}warm`, [target])
    await removeDevice(`${PREFIX}warm`)
    await execa('dmsetup', ['create', `${PREFIX}warm`, '--table', tableLine], { timeout: TIMEOUT_MS })
    await execa('dmsetup', ['remove', `${PREFIX}warm`], { timeout: TIMEOUT_MS })
    await settle()

    // Each ioctl timed on its own too: the kernel's share (registering and deleting a disk, RCU grace
    // periods) is the floor under both ways.
    const stepMs = { create: 0, load: 0, resume: 0, remove: 0 }
    const step = async (which: keyof typeof stepMs, op: () => Promise<unknown>): Promise<void> => {
      const t = performance.now()
      await op()
      stepMs[which] += performance.now() - t
    }
    const ioctlCycle = async (name: string): Promise<void> => {
      made.add(name)
      await step('create', () => createDevice(name))
      await step('load', () => loadTable(name, [target]))
      await step('resume', () => resumeDevice(name))
      await step('remove', () => removeDevice(name))
      made.delete(name)
    }
    const ioctlMs = await timed(iterations, (i) => ioctlCycle(`${PREFIX}i${i}`))
    // What udev still had to do for the binding's devices when the loop ended (dmsetup waits for it).
    const udevBacklogStart = performance.now()
    await settle()
    const udevBacklogMs = performance.now() - udevBacklogStart
    const stepMsUdevRunning = { ...stepMs }
    // The guest has one vCPU, on which udev's rules (blkid, dmsetup info…: a fork each) for the
    // binding's uevents run while the loop runs. Once more with udev's workers held back, to show what
    // the ioctls cost without that; the events wait in udevd's queue and are handled after.
    for (const k of Object.keys(stepMs) as Array<keyof typeof stepMs>) stepMs[k] = 0
    await execa('udevadm', ['control', '--stop-exec-queue'], { timeout: TIMEOUT_MS })
    let ioctlUdevHeldMs: number
    try {
      ioctlUdevHeldMs = await timed(iterations, (i) => ioctlCycle(`${PREFIX}h${i}`))
    } finally {
      await execa('udevadm', ['control', '--start-exec-queue'], { timeout: TIMEOUT_MS })
    }
    const stepMsUdevHeld = { ...stepMs }
    await settle()
    const dmsetupMs = await timed(iterations, async (i) => {
      const name = `${PREFIX}d${i}`
      made.add(name)
      await execa('dmsetup', ['create', name, '--table', tableLine], { timeout: TIMEOUT_MS })
      await execa('dmsetup', ['remove', name], { timeout: TIMEOUT_MS })
      made.delete(name)
    })

    // Observing, the satellite's hot path: one device's info, table and status.
    const observed = `${PREFIX}observed`
    made.add(observed)
    await activateDevice(observed, [target])
    await settle()
    const observeIoctlMs = await timed(iterations, async () => {
      await deviceInfo(observed)
      await deviceTable(observed)
      await deviceStatus(observed, { noflush: true })
    })
    const observeDmsetupMs = await timed(iterations, async () => {
      await execa('dmsetup', ['info', '-c', '--noheadings', '-o', 'name,major,minor,open,segments,events,uuid,suspended,readonly,tables_loaded', observed], { timeout: TIMEOUT_MS })
      await execa('dmsetup', ['table', observed], { timeout: TIMEOUT_MS })
      await execa('dmsetup', ['status', '--noflush', observed], { timeout: TIMEOUT_MS })
    })
    await removeDevice(observed)
    made.delete(observed)

    const versionIoctlUs = await microUs(MICRO_ROUNDS, () => dmVersion())
    const controlOpenCloseUs = await microUs(MICRO_ROUNDS, () => closeSync(openSync('/dev/mapper/control', 'r+')))

    const ioctlOpsPerSec = (iterations * 1000) / ioctlMs
    const dmsetupOpsPerSec = (iterations * 1000) / dmsetupMs
    const ratio = ioctlOpsPerSec / dmsetupOpsPerSec
    const ioctlOpsPerSecUdevHeld = (iterations * 1000) / ioctlUdevHeldMs
    const round = (n: number): number => Math.round(n * 100) / 100
    const perStep = (ms: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, round(v / iterations)]))
    console.log(
      `dm create+load+resume+remove (${kind}), ${iterations}×: ioctls ${ioctlOpsPerSec.toFixed(1)}/s, dmsetup ${dmsetupOpsPerSec.toFixed(2)}/s — ${ratio.toFixed(1)}× (target ≥ 50×); ` +
        `with udev's workers held: ioctls ${ioctlOpsPerSecUdevHeld.toFixed(1)}/s, ${(ioctlOpsPerSecUdevHeld / dmsetupOpsPerSec).toFixed(1)}×; ` +
        `observing a device (info, table, status): ${(observeDmsetupMs / observeIoctlMs).toFixed(0)}×; ` +
        `DM_VERSION ${versionIoctlUs.toFixed(1)} µs, open+close of the control node ${controlOpenCloseUs.toFixed(1)} µs`,
    )
    console.log(
      JSON.stringify({
        iterations,
        table: kind,
        ioctlOpsPerSec: round(ioctlOpsPerSec),
        dmsetupOpsPerSec: round(dmsetupOpsPerSec),
        ratio: round(ratio),
        ioctlMsPerOp: round(ioctlMs / iterations),
        ioctlMsPerStep: perStep(stepMsUdevRunning),
        udevBacklogMs: round(udevBacklogMs),
        ioctlOpsPerSecUdevHeld: round(ioctlOpsPerSecUdevHeld),
        ratioUdevHeld: round(ioctlOpsPerSecUdevHeld / dmsetupOpsPerSec),
        ioctlMsPerStepUdevHeld: perStep(stepMsUdevHeld),
        dmsetupMsPerOp: round(dmsetupMs / iterations),
        observeIoctlPerSec: round((iterations * 1000) / observeIoctlMs),
        observeDmsetupPerSec: round((iterations * 1000) / observeDmsetupMs),
        observeRatio: round(observeDmsetupMs / observeIoctlMs),
        versionIoctlUs: round(versionIoctlUs),
        controlOpenCloseUs: round(controlOpenCloseUs),
      }),
    )
  } finally {
    for (const name of made) await removeDevice(name).catch(() => {})
  }
}

await main()
