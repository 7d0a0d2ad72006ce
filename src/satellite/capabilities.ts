/** What this satellite can do (NodeCapabilities): its layers and providers, supported or why not. */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { hostname, release, type } from 'node:os'
import { LAYER_KINDS } from '../common/layer-stack.js'
import { PROVIDER_KINDS, type LayerSupport, type NodeCapabilities, type ProviderSupport } from '../proto/messages.js'
import { LVM_LIBRARY } from './sys/lvm.js'
import { loadModule } from './sys/kmod.js'
import { toolPath } from './sys/tools.js'
import { controlNodeUnusable, native } from './sys/native.js'

const NOT_YET = 'not implemented by this Blockyard satellite yet'

/** Why loop devices cannot be used here, or null when they can. */
export function loopUnavailable(): string | null {
  try {
    native()
  } catch (e) {
    return (e as Error).message
  }
  return usableAfterLoading('/dev/loop-control', 'loop', 'loop devices need root and the loop module')
}

/**
 * Why control node `path` is not usable, or null: when it is missing, module `module` is loaded first
 * (a node that has not used the driver since boot may not have it loaded yet).
 */
function usableAfterLoading(path: string, module: string, needs: string): string | null {
  if (controlNodeUnusable(path, needs) === null) return null
  const notLoaded = loadModule(module)
  return controlNodeUnusable(path, notLoaded === null ? needs : `${needs}; ${notLoaded}`)
}

/** Whether `tool` is on PATH: the satellite runs these tools by name. */
const onPath = (tool: string): boolean => toolPath(tool) !== null

/** Why LVM cannot be used here, or null when it can: device-mapper, and liblvm2cmd or the lvm tool. */
export function lvmUnavailable(): string | null {
  const dm = usableAfterLoading('/dev/mapper/control', 'dm_mod', 'LVM needs root and device-mapper')
  if (dm !== null) return dm
  try {
    // koffi is CommonJS: loaded synchronously, as capabilities are computed.
    ;(createRequire(import.meta.url)('koffi') as typeof import('koffi').default).load(LVM_LIBRARY).unload()
    return null
  } catch (e) {
    if (onPath('lvm')) return null
    return `neither ${LVM_LIBRARY} (${(e as Error).message}) nor the lvm tool is installed (Debian: liblvm2cmd2.03, lvm2)`
  }
}

/**
 * Why LVM_THIN cannot be used here, or null: LVM, thin_check (LVM checks a pool's metadata with it),
 * and the dm_thin_pool target, loaded now — a command in process must not fork a `modprobe`
 * (sys/lvm.ts).
 */
export function lvmThinUnavailable(): string | null {
  return lvmUnavailable() ?? thinUnavailable()
}

/** What LVM_THIN needs beyond LVM (see lvmThinUnavailable). */
function thinUnavailable(): string | null {
  if (!onPath('thin_check')) return 'thin_check is not installed (Debian: thin-provisioning-tools)'
  return loadModule('dm_thin_pool')
}

/**
 * Why ZFS (and ZFS_THIN) cannot be used here, or null: the zfs and zpool tools, and the zfs kernel
 * module, loaded now (the tools would load it on first use, as root, but a node that cannot must say
 * so before a pool is placed on it) with /dev/zfs usable.
 */
export function zfsUnavailable(): string | null {
  for (const tool of ['zfs', 'zpool']) if (!onPath(tool)) return `the ${tool} tool is not installed (Debian contrib: zfsutils-linux, with zfs-dkms for the module)`
  const notLoaded = loadModule('zfs')
  if (notLoaded !== null) return `${notLoaded} (Debian contrib: zfs-dkms)`
  return controlNodeUnusable('/dev/zfs', 'ZFS needs root and the zfs module')
}

/** PRETTY_NAME of /etc/os-release, "" when unknown. */
function distribution(): string {
  try {
    const m = /^PRETTY_NAME=(?:"([^"]*)"|(.*))$/m.exec(readFileSync('/etc/os-release', 'utf8'))
    return m?.[1] ?? m?.[2] ?? ''
  } catch {
    return ''
  }
}

/**
 * `drbd`: whether the DRBD layer works here, as the satellite found when it opened it (drbdSupport);
 * absent, DRBD counts as unsupported.
 */
export function nodeCapabilities(drbd?: LayerSupport): NodeCapabilities {
  const loop = loopUnavailable()
  const lvm = lvmUnavailable()
  // LVM is asked once: its check loads the library.
  const lvmThin = lvm ?? thinUnavailable()
  const zfs = zfsUnavailable()
  const layers: LayerSupport[] = LAYER_KINDS.map((kind) => {
    if (kind === 'STORAGE') return { kind, supported: true }
    if (kind === 'DRBD') return drbd ?? { kind, supported: false, reason: 'the DRBD layer was not opened' }
    return { kind, supported: false, reason: NOT_YET }
  })
  const providers: ProviderSupport[] = PROVIDER_KINDS.map((kind) => {
    if (kind === 'DISKLESS') return { kind, supported: true }
    if (kind === 'FILE' || kind === 'FILE_THIN') return loop === null ? { kind, supported: true } : { kind, supported: false, reason: loop }
    if (kind === 'LVM') return lvm === null ? { kind, supported: true } : { kind, supported: false, reason: lvm }
    if (kind === 'LVM_THIN') return lvmThin === null ? { kind, supported: true } : { kind, supported: false, reason: lvmThin }
    return zfs === null ? { kind, supported: true } : { kind, supported: false, reason: zfs } // ZFS, ZFS_THIN
  })
  return { type: 'NodeCapabilities', hostname: hostname(), osName: type(), osRelease: release(), osDistribution: distribution(), layers, providers }
}
