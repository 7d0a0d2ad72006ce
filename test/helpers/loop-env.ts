// When the loop tests cannot run here, why (STYLE.md §6: skip with a stated reason); false when they can.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'

export function loopSkipReason(): string | false {
  if (process.platform !== 'linux') return `loop devices are Linux's (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'needs root: loop devices are configured with ioctls that need CAP_SYS_ADMIN'
  if (!existsSync('/dev/loop-control')) return 'no /dev/loop-control: the loop module is not loaded, or this container has no access to it'
  try {
    accessSync('/dev/loop-control', constants.R_OK | constants.W_OK)
  } catch (e) {
    return `/dev/loop-control is not usable here (${(e as Error).message}): a container without loop devices`
  }
  return false
}

/**
 * Kernel uevents reach only network namespaces owned by the initial user namespace (Linux >= 4.18,
 * lib/kobject_uevent.c: uevent sockets of other namespaces are left out of the broadcast). In a user
 * namespace (rootless containers) the socket opens but stays silent.
 */
export function ueventSkipReason(): string | false {
  const loop = loopSkipReason()
  if (loop !== false) return loop
  try {
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/)
    if (map.join(' ') !== '0 0 4294967295') {
      return `this process runs in a user namespace (uid_map "${map.join(' ')}"), where the kernel delivers no uevents (Linux >= 4.18)`
    }
  } catch {
    // no /proc/self/uid_map: a kernel without user namespaces, where every socket gets uevents
  }
  return false
}
