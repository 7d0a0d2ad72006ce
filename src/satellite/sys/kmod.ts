/**
 * Kernel modules the satellite needs (loop, dm_mod, dm_thin_pool, zfs, drbd): loaded on demand, once,
 * as an operator would with modprobe, so that a node whose modules are not loaded at boot still reports
 * what it can do. modprobe is found where Debian installs it, not only on PATH: a service started
 * with a PATH without /sbin must not report "spawn modprobe ENOENT" as the reason a layer is missing.
 */
import { existsSync } from 'node:fs'
import { execaSync } from 'execa'
import { toolPath } from './tools.js'

/** Whether module `name` is in the kernel (loaded, or built in with a /sys/module entry). */
export function moduleLoaded(name: string): boolean {
  return existsSync(`/sys/module/${name}`)
}

/**
 * Loads kernel module `name` unless it is there already; null when it is there now, else why not
 * (modprobe's message). Synchronous: asked while capabilities are computed, and at most once per module
 * and satellite start in practice (a loaded module answers from /sys at once).
 */
export function loadModule(name: string, timeoutMs = 60_000): string | null {
  if (moduleLoaded(name)) return null
  const tool = toolPath('modprobe', ['/usr/sbin', '/sbin'])
  if (tool === null) return `the ${name} kernel module is not loaded, and modprobe is not installed to load it (Debian: kmod)`
  const r = execaSync(tool, [name], { reject: false, timeout: timeoutMs, stdin: 'ignore' })
  if (r.failed) return `the ${name} kernel module does not load: ${String(r.stderr ?? '').trim() || (r.message ?? '')}`
  return null
}
