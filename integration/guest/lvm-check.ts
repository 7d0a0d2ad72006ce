/**
 * Runs IN a guest as root: makes a VG and a thin pool on the data disk, drives LvmProvider through
 * create / observe / attach / write / read / grow / remove for LVM and LVM_THIN, adopts an LV made
 * outside it, once with liblvm2cmd in process and once with the lvm tool, prints
 * `{"ok":bool,"checks":[...]}` and removes the VG. `lvmCheck` is exported for the suites.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { execa } from 'execa'
import type { ProviderKind } from '../../src/proto/messages.js'
import { nodeCapabilities } from '../../src/satellite/capabilities.js'
import { LvmProvider } from '../../src/satellite/providers/lvm.js'
import type { PoolRef } from '../../src/satellite/providers/provider.js'
import { openLvm, type LvmRunner } from '../../src/satellite/sys/lvm.js'

export interface Check {
  name: string
  ok: boolean
  detail?: string
  ms: number
}

const DATA_DISK = '/dev/disk/by-id/virtio-data0'
const VG = 'bychk'
const THIN_POOL = 'tp'

async function sh(argv: readonly string[]): Promise<void> {
  const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: 120_000, stdin: 'ignore' })
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: exit ${r.exitCode}: ${String(r.stderr ?? '')}`)
}

/** Writes a pattern at offset 0 of `device` with O_DIRECT-free sync I/O and reads it back. */
function writeRead(device: string, seed: number): boolean {
  const data = Buffer.alloc(4096, seed)
  const fd = openSync(device, 'r+')
  try {
    writeSync(fd, data, 0, data.length, 0)
    const back = Buffer.alloc(4096)
    readSync(fd, back, 0, back.length, 0)
    return back.equals(data)
  } finally {
    closeSync(fd)
  }
}

async function scenario(checks: Check[], runner: LvmRunner, kind: ProviderKind, tag: string): Promise<void> {
  const provider = new LvmProvider({ runner })
  const pool: PoolRef = { name: `p-${kind}`, kind, props: { 'StorDriver/StorPoolName': kind === 'LVM_THIN' ? `${VG}/${THIN_POOL}` : VG } }
  const rsc = `chk${tag}${kind === 'LVM_THIN' ? 'thin' : 'thick'}`
  const check = async (name: string, fn: () => Promise<string | boolean>): Promise<void> => {
    const started = performance.now()
    try {
      const r = await fn()
      checks.push({ name: `${tag} ${kind} ${name}`, ok: r !== false, ...(typeof r === 'string' ? { detail: r } : {}), ms: Math.round(performance.now() - started) })
    } catch (e) {
      checks.push({ name: `${tag} ${kind} ${name}`, ok: false, detail: (e as Error).message, ms: Math.round(performance.now() - started) })
    }
  }
  let location = ''
  let path = ''
  await check('checkPool', async () => {
    location = await provider.checkPool(pool)
    path = provider.volumePath(location, rsc, 0)
    return `${location} ${path}`
  })
  await check('create 8 MiB', async () => {
    await provider.create(kind, path, 8192)
    const v = await provider.observe(pool, location, rsc)
    return v.length === 1 && v[0]!.sizeKib === 8192 && v[0]!.device === path ? JSON.stringify(v) : `observed ${JSON.stringify(v)}`
  })
  await check('create again adopts', async () => {
    await provider.create(kind, path, 8192)
    return (await provider.observe(pool, location, rsc)).length === 1
  })
  await check('attach, write and read', async () => {
    const device = await provider.attach(path)
    return writeRead(device, 0x5a)
  })
  await check('grow to 16 MiB', async () => {
    await provider.grow(kind, path, 16384)
    await provider.grow(kind, path, 16384)
    const v = await provider.observe(pool, location, rsc)
    return v[0]?.sizeKib === 16384 && v[0]?.deviceSizeKib === 16384 ? JSON.stringify(v) : `observed ${JSON.stringify(v)}`
  })
  await check('space', async () => {
    const s = await provider.space(pool, location)
    return s.totalKib > 0 && s.freeKib <= s.totalKib ? JSON.stringify(s) : `space ${JSON.stringify(s)}`
  })
  await check('inUse while held open', async () => {
    const fd = openSync(path, 'r')
    try {
      return (await provider.inUse(path)) && !(await provider.inUse(provider.volumePath(location, rsc, 7)).catch(() => false))
    } finally {
      closeSync(fd)
    }
  })
  await check('detach and remove', async () => {
    await provider.detach(path, path)
    await provider.remove(path)
    await provider.remove(path)
    return (await provider.observe(pool, location, rsc)).length === 0
  })
  await check('adopts an LV made outside', async () => {
    const lv = `${rsc}_00003`
    await sh(kind === 'LVM_THIN' ? ['lvcreate', '-q', '-V', '8m', '--thinpool', THIN_POOL, '-n', lv, '-y', VG] : ['lvcreate', '-q', '-L', '8m', '-n', lv, '-y', VG])
    const v = await provider.observe(pool, location, rsc)
    await provider.remove(`/dev/${VG}/${lv}`)
    return v.length === 1 && v[0]!.number === 3 ? JSON.stringify(v) : `observed ${JSON.stringify(v)}`
  })
}

/** The whole check; leaves nothing behind on the data disk's VG. */
export async function lvmCheck(): Promise<{ ok: boolean; checks: Check[] }> {
  const checks: Check[] = []
  await sh(['modprobe', 'dm_thin_pool'])
  await sh(['pvcreate', '-q', '-y', DATA_DISK])
  await sh(['vgcreate', '-q', VG, DATA_DISK])
  try {
    await sh(['lvcreate', '-q', '-y', '-L', '512m', '-T', `${VG}/${THIN_POOL}`])
    const started = performance.now()
    const caps = nodeCapabilities().providers.filter((p) => p.kind === 'LVM' || p.kind === 'LVM_THIN')
    checks.push({ name: 'capabilities: LVM and LVM_THIN supported', ok: caps.length === 2 && caps.every((p) => p.supported), detail: JSON.stringify(caps), ms: Math.round(performance.now() - started) })
    const lib = await openLvm()
    checks.push({ name: 'liblvm2cmd loads', ok: lib.inProcess, ms: 0 })
    const tool = await openLvm({ prefer: 'tool' })
    try {
      for (const [runner, tag] of [[lib, 'lib'], [tool, 'tool']] as const) {
        for (const kind of ['LVM', 'LVM_THIN'] as const) await scenario(checks, runner, kind, tag)
      }
    } finally {
      lib.close()
    }
  } finally {
    await sh(['vgremove', '-q', '-f', VG])
    await sh(['pvremove', '-q', '-y', DATA_DISK])
  }
  return { ok: checks.every((c) => c.ok), checks }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await lvmCheck()
  console.log(JSON.stringify(result))
  process.exitCode = result.ok ? 0 : 1
}
