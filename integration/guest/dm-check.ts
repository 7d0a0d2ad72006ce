/**
 * Runs IN a guest (root, a kernel with device-mapper): makes a few dm devices — linear over the data
 * disk, zero, error, a three-line table, one with a uuid, one read-only, one with only an inactive
 * table, a suspended one, a thin pool on two linear devices with two thin volumes (one made by
 * `create_thin` through the binding, one through `dmsetup message`) — then reads them back through
 * src/satellite/sys/dm.ts and through `dmsetup` and compares field by field. Prints one JSON line
 * `{"ok":bool,"checks":[…]}` and removes everything it made, also on failure.
 *
 * `node dm-check.mjs [--disk /dev/disk/by-id/virtio-data0] [--capture]`: the disk under the linear
 * and thin-pool devices (what it holds at its start is overwritten); `--capture` adds `captured`, raw
 * kernel replies with what dmsetup said at the same moment, the source of test/fixtures/dm/.
 */
import { realpathSync, existsSync, openSync, writeSync, closeSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import {
  activateDevice,
  createDevice,
  deviceInfo,
  deviceStatus,
  deviceTable,
  dmDevicePath,
  DM_FLAGS,
  dmUnavailable,
  dmVersion,
  listDevices,
  listTargets,
  loadTable,
  packDmIoctl,
  removeDevice,
  resumeDevice,
  suspendDevice,
  targetMessage,
  type DmDeviceInfo,
  type DmTarget,
} from '../../src/satellite/sys/dm.js'
import { native, SysError } from '../../src/satellite/sys/native.js'

/** One comparison: what the binding said and what dmsetup said (or expected behaviour, for errors). */
export interface DmCheck {
  what: string
  ok: boolean
  binding: unknown
  dmsetup: unknown
}

export interface DmCheckResult {
  ok: boolean
  checks: DmCheck[]
  /** With `capture`: raw replies (base64) with dmsetup's text for the same question. */
  captured?: Record<string, { reply: string; dmsetup: string }>
}

/** Every device this check makes has this prefix; leftovers from an interrupted run are removed first. */
const PREFIX = 'bydmck-'
const DEFAULT_DATA_DEVICE = '/dev/disk/by-id/virtio-data0'
const SECTOR = 512
const MiB_SECTORS = (1024 * 1024) / SECTOR
const DMSETUP_TIMEOUT_MS = 60_000
const INFO_FIELDS = 'name,major,minor,open,segments,events,uuid,suspended,readonly,tables_loaded'

async function dmsetup(args: string[]): Promise<string> {
  const r = await execa('dmsetup', args, { timeout: DMSETUP_TIMEOUT_MS })
  return r.stdout
}

/** A table or status as dmsetup prints it for one device: `start length type params`, one per line. */
function tableText(targets: DmTarget[]): string {
  return targets.map((t) => `${t.sectorStart} ${t.length} ${t.type} ${t.params}`.trim()).join('\n')
}

function trimLines(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('\n')
}

/** A device's facts in `dmsetup info -c -o ${INFO_FIELDS}` vocabulary. */
function infoFields(i: DmDeviceInfo): string {
  const tables = i.activeTable && i.inactiveTable ? 'Live & Inactive' : i.activeTable ? 'Live' : i.inactiveTable ? 'Inactive' : 'None'
  return [i.name, i.major, i.minor, i.openCount, i.targetCount, i.eventNr, i.uuid, i.suspended ? 'Suspended' : 'Active', i.readOnly ? 'Read-only' : 'Writeable', tables].join('|')
}

/** Removal order: thin volumes before their pool, the pool before the devices under it. */
function removalRank(name: string): number {
  if (name.includes('thin')) return 0
  if (name.includes('pool')) return 1
  return 2
}

async function removeAll(names: Iterable<string>): Promise<string[]> {
  const failed: string[] = []
  for (const name of [...names].sort((a, b) => removalRank(a) - removalRank(b))) {
    try {
      await removeDevice(name)
    } catch (e) {
      if (!(e instanceof SysError && e.code === 'ENXIO')) failed.push(`${name}: ${(e as Error).message}`)
    }
  }
  return failed
}

/** Zeroes the first 4 KiB of `device`: a thin pool formats metadata that starts with zeros. */
function zeroHead(device: string): void {
  const fd = openSync(device, 'r+')
  try {
    writeSync(fd, Buffer.alloc(4096), 0, 4096, 0)
  } finally {
    closeSync(fd)
  }
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'no error'
  } catch (e) {
    return e instanceof SysError ? `${e.syscall} ${e.code}` : String(e)
  }
}

/**
 * Makes the devices, compares binding and dmsetup, removes what it made. Never throws: a failure in
 * the middle becomes a failed check named after the step.
 */
export async function dmCheck(options: { dataDevice?: string; capture?: boolean } = {}): Promise<DmCheckResult> {
  const checks: DmCheck[] = []
  const captured: Record<string, { reply: string; dmsetup: string }> = {}
  const add = (what: string, binding: unknown, dmsetupSays: unknown, ok = JSON.stringify(binding) === JSON.stringify(dmsetupSays)): void => {
    checks.push({ what, ok, binding, dmsetup: dmsetupSays })
  }
  const made = new Set<string>()
  const name = (suffix: string): string => {
    made.add(PREFIX + suffix)
    return PREFIX + suffix
  }
  let step = 'modprobe'
  try {
    for (const mod of ['dm_mod', 'dm_thin_pool']) await execa('modprobe', [mod], { timeout: DMSETUP_TIMEOUT_MS })
    const why = dmUnavailable()
    if (why !== null) throw new Error(why)

    step = 'leftovers'
    const leftovers = await removeAll((await listDevices()).map((d) => d.name).filter((n) => n.startsWith(PREFIX)))
    if (leftovers.length > 0) throw new Error(`cannot remove leftovers: ${leftovers.join('; ')}`)

    step = 'create'
    const data = realpathSync(options.dataDevice ?? DEFAULT_DATA_DEVICE)
    const zero = name('zero')
    const created = await createDevice(zero)
    await loadTable(zero, [{ sectorStart: 0, length: 100 * MiB_SECTORS, type: 'zero', params: '' }])
    // devtmpfs makes the node when the first table load registers the disk: no udev involved.
    add('node /dev/dm-<minor> exists when the first load returns', existsSync(dmDevicePath(created)), true)
    await resumeDevice(zero)
    await activateDevice(name('error'), [{ sectorStart: 0, length: 2048, type: 'error', params: '' }])
    await activateDevice(name('multi'), [
      { sectorStart: 0, length: 1024, type: 'zero', params: '' },
      { sectorStart: 1024, length: 1024, type: 'error', params: '' },
      { sectorStart: 2048, length: 4096, type: 'linear', params: `${data} ${600 * MiB_SECTORS}` },
    ])
    await activateDevice(name('uuid'), [{ sectorStart: 0, length: 2048, type: 'zero', params: '' }], { uuid: 'BLOCKYARD-dmcheck-0001' })
    await activateDevice(name('ro'), [{ sectorStart: 0, length: 2048, type: 'zero', params: '' }], { readOnly: true })
    const inactive = name('inactive')
    await createDevice(inactive)
    await loadTable(inactive, [{ sectorStart: 0, length: 4096, type: 'zero', params: '' }])
    const suspended = name('suspended')
    await activateDevice(suspended, [{ sectorStart: 0, length: 2048, type: 'zero', params: '' }])
    await suspendDevice(suspended)

    step = 'thin pool'
    const meta = await activateDevice(name('meta'), [{ sectorStart: 0, length: 8 * MiB_SECTORS, type: 'linear', params: `${data} 0` }])
    const poolData = await activateDevice(name('data'), [{ sectorStart: 0, length: 256 * MiB_SECTORS, type: 'linear', params: `${data} ${8 * MiB_SECTORS}` }])
    zeroHead(dmDevicePath(meta))
    const pool = name('pool')
    // 64 KiB blocks; the low-water mark one block below the whole pool, so that the first write
    // crosses it and the pool raises a dm event: its event number is then 1, not the 0 of all others.
    const poolBlocks = (256 * MiB_SECTORS) / 128
    const poolInfo = await activateDevice(pool, [
      { sectorStart: 0, length: 256 * MiB_SECTORS, type: 'thin-pool', params: `${meta.major}:${meta.minor} ${poolData.major}:${poolData.minor} 128 ${poolBlocks - 1}` },
    ])
    add('create_thin 0 through the binding: no answer', await targetMessage(pool, 0, 'create_thin 0'), null)
    await dmsetup(['message', pool, '0', 'create_thin 1'])
    add('create_thin 1 again (made by dmsetup) fails', await errorOf(targetMessage(pool, 0, 'create_thin 1')), 'ioctl(DM_TARGET_MSG) EEXIST')
    for (const id of [0, 1]) {
      await activateDevice(name(`thin${id}`), [{ sectorStart: 0, length: 64 * MiB_SECTORS, type: 'thin', params: `${poolInfo.major}:${poolInfo.minor} ${id}` }])
    }
    // Something written to a thin volume shows in its status (mapped sectors) and the pool's.
    const fd = openSync(dmDevicePath((await deviceInfo(PREFIX + 'thin0'))!), 'r+')
    try {
      writeSync(fd, Buffer.alloc(1024 * 1024, 0xab), 0, 1024 * 1024, 0)
    } finally {
      closeSync(fd)
    }

    step = 'compare'
    const version = await dmVersion()
    add('version', version.join('.'), /Driver version:\s+(\S+)/.exec(await dmsetup(['version']))?.[1])

    const listed = (await listDevices()).filter((d) => d.name.startsWith(PREFIX))
    const lsText = await dmsetup(['ls'])
    add(
      'ls',
      listed.map((d) => `${d.name} (${d.major}:${d.minor})`).sort(),
      trimLines(lsText)
        .split('\n')
        .filter((l) => l.startsWith(PREFIX))
        .map((l) => l.replace(/\s+/, ' '))
        .sort(),
    )
    add('ls: uuid in the list', listed.find((d) => d.name === PREFIX + 'uuid')?.uuid, 'BLOCKYARD-dmcheck-0001')

    for (const dev of [...made].sort()) {
      const info = await deviceInfo(dev)
      add(`info ${dev}`, info === null ? null : infoFields(info), await dmsetup(['info', '-c', '--noheadings', '--separator', '|', '-o', INFO_FIELDS, dev]))
      const listedDev = listed.find((d) => d.name === dev)
      add(`event number in the list = in the status ${dev}`, listedDev?.eventNr, info?.eventNr)
      const inactiveToo = dev === inactive
      add(`table ${dev}`, tableText(await deviceTable(dev, { inactive: inactiveToo })), trimLines(await dmsetup(['table', ...(inactiveToo ? ['--inactive'] : []), dev])))
      add(`status ${dev}`, tableText(await deviceStatus(dev)), trimLines(await dmsetup(['status', dev])))
    }
    add('the pool counted its low-water event', ((await deviceInfo(pool))?.eventNr ?? 0) > 0, true)
    add('inactive table: target count', (await deviceInfo(inactive, { inactive: true }))?.targetCount, 1)

    const targets = await listTargets()
    add(
      'targets',
      targets.map((t) => `${t.name} v${t.version.join('.')}`).sort(),
      trimLines(await dmsetup(['targets']))
        .split('\n')
        .map((l) => l.replace(/\s+/, ' '))
        .sort(),
    )

    step = 'errors'
    add('create an existing name', await errorOf(createDevice(zero)), 'ioctl(DM_DEV_CREATE) EBUSY')
    add('info of a missing device', await deviceInfo(PREFIX + 'missing'), null)
    add('remove a missing device', await errorOf(removeDevice(PREFIX + 'missing')), 'ioctl(DM_DEV_REMOVE) ENXIO')
    const bad = name('bad')
    await createDevice(bad)
    add('load an unknown target type', await errorOf(loadTable(bad, [{ sectorStart: 0, length: 8, type: 'no-such-target', params: '' }])), 'ioctl(DM_TABLE_LOAD) EINVAL')
    add('remove a device in use (the pool under its thin volumes)', await errorOf(removeDevice(pool)), 'ioctl(DM_DEV_REMOVE) EBUSY')

    step = 'udev'
    await execa('udevadm', ['settle'], { timeout: DMSETUP_TIMEOUT_MS })
    const mapper = `/dev/mapper/${zero}`
    add('udev made /dev/mapper/<name> without a cookie', existsSync(mapper) ? realpathSync(mapper) : null, dmDevicePath(created))

    if (options.capture === true) {
      step = 'capture'
      const raw = async (what: string, reply: Promise<Buffer>, dmsetupArgs: string[]): Promise<void> => {
        captured[what] = { reply: (await reply).toString('base64'), dmsetup: await dmsetup(dmsetupArgs) }
      }
      const n = native()
      const room = 16 * 1024
      await raw('version', n.dmVersion(packDmIoctl({})), ['version'])
      await raw('list-devices', n.dmListDevices(packDmIoctl({ flags: DM_FLAGS.UUID, bytes: room })), ['ls'])
      await raw('list-versions', n.dmListVersions(packDmIoctl({ bytes: room })), ['targets'])
      await raw('dev-status-pool', n.dmDevStatus(packDmIoctl({ name: pool })), ['info', '-c', '--noheadings', '--separator', '|', '-o', INFO_FIELDS, pool])
      await raw('table-multi', n.dmTableStatus(packDmIoctl({ name: PREFIX + 'multi', flags: DM_FLAGS.STATUS_TABLE, bytes: room })), ['table', PREFIX + 'multi'])
      await raw('status-pool', n.dmTableStatus(packDmIoctl({ name: pool, bytes: room })), ['status', pool])
      await raw('list-devices-small', n.dmListDevices(packDmIoctl({ flags: DM_FLAGS.UUID, bytes: 320 })), ['ls'])
    }
  } catch (e) {
    checks.push({ what: `step ${step}`, ok: false, binding: e instanceof Error ? `${e.name}: ${e.message}` : String(e), dmsetup: null })
  } finally {
    step = 'cleanup'
    try {
      const pool = PREFIX + 'pool'
      await resumeDevice(PREFIX + 'suspended').catch(() => {})
      for (const dev of [PREFIX + 'thin0', PREFIX + 'thin1']) await removeDevice(dev).catch(() => {})
      for (const id of [0, 1]) await targetMessage(pool, 0, `delete ${id}`).catch(() => {})
      const failed = await removeAll(made)
      const left = (await listDevices()).filter((d) => d.name.startsWith(PREFIX)).map((d) => d.name)
      add('cleanup: nothing left', { failed, left }, { failed: [], left: [] })
    } catch (e) {
      checks.push({ what: 'cleanup', ok: false, binding: (e as Error).message, dmsetup: null })
    }
  }
  const result: DmCheckResult = { ok: checks.every((c) => c.ok), checks }
  if (options.capture === true) result.captured = captured
  return result
}

// Run as a program (not when imported, also into a bundle whose entry is another file).
if (/dm-check\.(mjs|ts)$/.test(process.argv[1] ?? '')) {
  const { values } = parseArgs({ options: { disk: { type: 'string' }, capture: { type: 'boolean', default: false } } })
  const result = await dmCheck({ dataDevice: values.disk, capture: values.capture })
  console.log(JSON.stringify(result))
  process.exitCode = result.ok ? 0 : 1
}
