/**
 * The guest image: built by integration/image/build.sh, cached outside the repository under a hash of
 * the recipe's files, so it is rebuilt only when the recipe changes and a cache hit costs a few stats.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const RECIPE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'image')
/** Where images are kept; BLOCKYARD_VM_CACHE moves it. */
export const DEFAULT_CACHE_DIR = '/var/cache/blockyard-vm'
const IMAGE_FILES = ['vmlinux', 'initramfs.cpio', 'root.img', 'manifest.txt'] as const

/**
 * Whether the image carries ZFS (zfs-dkms + zfsutils-linux from contrib): on unless BLOCKYARD_VM_ZFS is
 * `0`, so that the VM suite drives ZFS by default. Its first build costs minutes more (DKMS compiles the
 * module); each setting is its own cached image.
 */
export function zfsEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.BLOCKYARD_VM_ZFS
  if (v === undefined || v === '' || v === '1') return true
  if (v === '0') return false
  throw new RangeError(`BLOCKYARD_VM_ZFS must be 0 or 1, not ${JSON.stringify(v)}`)
}

export interface GuestImage {
  /** Hash of the recipe (first 16 hex digits of SHA-256 over its file names and contents). */
  hash: string
  /** The image has ZFS (zfsEnabled() when it was asked for). */
  zfs: boolean
  dir: string
  kernel: string
  initrd: string
  /** Raw root file system: read-only, the backing file of every VM's qcow2 overlay. */
  root: string
  /** True when this call ran the build. */
  built: boolean
  /** Time spent, build or cache check. */
  ms: number
}

/**
 * SHA-256 over the recipe directory's files (name and content, sorted by name), the version of the node
 * binary build.sh copies into the guest and the ZFS option, as 16 hex digits.
 */
export function recipeHash(dir = RECIPE_DIR, zfs = zfsEnabled()): string {
  const h = createHash('sha256')
  h.update(`node ${process.version}\0`)
  h.update(`zfs ${zfs ? 1 : 0}\0`)
  for (const name of readdirSync(dir).sort()) {
    h.update(`${name}\0`)
    h.update(readFileSync(join(dir, name)))
    h.update('\0')
  }
  return h.digest('hex').slice(0, 16)
}

/**
 * The image for the current recipe: from the cache, or built now (minutes; build.sh's progress lines go
 * to `log`). Needs root and the host packages (integration/README.md) only when it builds.
 */
export async function ensureImage(opts: { cacheDir?: string; log?: (line: string) => void } = {}): Promise<GuestImage> {
  const started = performance.now()
  const cacheDir = opts.cacheDir ?? process.env.BLOCKYARD_VM_CACHE ?? DEFAULT_CACHE_DIR
  const zfs = zfsEnabled()
  const hash = recipeHash(RECIPE_DIR, zfs)
  const dir = join(cacheDir, hash)
  const image = (built: boolean): GuestImage => ({
    hash,
    zfs,
    dir,
    kernel: join(dir, 'vmlinux'),
    initrd: join(dir, 'initramfs.cpio'),
    root: join(dir, 'root.img'),
    built,
    ms: performance.now() - started,
  })
  // build.sh moves a finished image into place in one rename: a directory that exists is complete.
  if (IMAGE_FILES.every((f) => existsSync(join(dir, f)))) return image(false)

  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const child = spawn('bash', [join(RECIPE_DIR, 'build.sh'), dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BLOCKYARD_VM_NODE: process.execPath, BLOCKYARD_VM_ZFS: zfs ? '1' : '0' },
  })
  const tail: string[] = []
  const onLines = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue
      log(line)
      tail.push(line)
      if (tail.length > 40) tail.shift()
    }
  }
  child.stdout.on('data', onLines)
  child.stderr.on('data', onLines)
  const code = await new Promise<number | null>((res, rej) => {
    child.once('error', rej)
    child.once('close', (c) => res(c))
  })
  if (code !== 0) throw new Error(`image build failed (build.sh exit ${code}):\n${tail.join('\n')}`)
  const missing = IMAGE_FILES.filter((f) => !existsSync(join(dir, f)))
  if (missing.length > 0) throw new Error(`image build left ${dir} without ${missing.join(', ')}`)
  return image(true)
}
