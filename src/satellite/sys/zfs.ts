/**
 * ZFS through its tools (DESIGN.md §2.6): `zfs` and `zpool` through execa with argument arrays and a
 * timeout. libzfs_core (koffi) would save the fork of a create, destroy or resize, but lists, sizes
 * and pool figures are libzfs (not libzfs_core) territory, whose ABI changes with every release: the
 * one spawn per pass that observation costs stays a `zfs list`, and the few changes spawn too.
 *
 * Names are checked here before they reach an argument vector, and the output of `zfs list -Hp`
 * (tab-separated, exact byte values, '-' where a property does not apply) is parsed here.
 */
import { watch, type FSWatcher } from 'node:fs'
import { dirname } from 'node:path'
import { execa } from 'execa'
import { blockSize } from './blk.js'
import { DeviceWaitTimeoutError } from './uevent.js'

/** How long one zfs/zpool command may take (a create with DKMS's module under emulation: seconds). */
export const DEFAULT_ZFS_TIMEOUT_MS = 120_000

/** ZFS_MAX_DATASET_NAME_LEN (include/sys/fs/zfs.h) less the terminating NUL. */
const MAX_DATASET_NAME = 255
/** Pool names zpool refuses (module/zcommon/zfs_namecheck.c `pool_namecheck`). */
const RESERVED_POOL = /^(mirror|raidz|draid|spare|log)/

/**
 * What is wrong with the dataset name `name` (`pool` or `pool/a/b`), or null. ZFS allows
 * `[A-Za-z0-9_.: -]` in a component (zfs_namecheck.c `valid_char`); the space is left out here, as
 * LINSTOR's own property check (`[a-zA-Z0-9_/-]+`) leaves out more: a name on a command line must be
 * one argument and never an option. The pool (first component) starts with a letter and is none of
 * zpool's reserved words.
 */
export function zfsNameProblem(name: string): string | null {
  if (typeof name !== 'string' || name === '') return 'is empty'
  if (name.length > MAX_DATASET_NAME) return `is ${name.length} characters long (at most ${MAX_DATASET_NAME})`
  const parts = name.split('/')
  for (const p of parts) {
    if (p === '') return "has an empty component (a leading, trailing or double '/')"
    if (p === '.' || p === '..') return `may not have a component '${p}'`
    if (!/^[A-Za-z0-9_.:-]+$/.test(p)) return `may only contain A-Z a-z 0-9 _ . : - and '/' between components`
  }
  if (!/^[A-Za-z]/.test(parts[0]!)) return 'must start with a letter (the zpool name)'
  if (RESERVED_POOL.test(parts[0]!)) return `names a zpool '${parts[0]}', which starts with a word zpool reserves`
  return null
}

/** Throws a RangeError when `name` is no dataset name this satellite passes to zfs. */
export function assertZfsName(name: string): void {
  const problem = zfsNameProblem(name)
  if (problem !== null) throw new RangeError(`ZFS dataset name '${name}' ${problem}`)
}

/** A zfs or zpool command that failed: its argv, exit code and what it said on stderr. */
export class ZfsCommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed${exitCode === null ? '' : ` (exit ${exitCode})`}: ${stderr.trim() || 'no message'}`)
  }
}
Object.defineProperty(ZfsCommandError.prototype, 'name', { value: 'ZfsCommandError', writable: true, enumerable: false, configurable: true })

/** Runs `tool argv` and resolves with its stdout; rejects with {@link ZfsCommandError}. */
export type ZfsRunner = (tool: 'zfs' | 'zpool', argv: readonly string[]) => Promise<string>

/** The real tools, one child each. */
export function toolRunner(timeoutMs = DEFAULT_ZFS_TIMEOUT_MS): ZfsRunner {
  return async (tool, argv) => {
    const r = await execa(tool, argv, { reject: false, timeout: timeoutMs, stdin: 'ignore' })
    if (r.failed) {
      const said = r.timedOut ? `timed out after ${timeoutMs} ms` : String(r.stderr ?? '') || (r.message ?? '')
      throw new ZfsCommandError([tool, ...argv], r.exitCode ?? null, said)
    }
    return String(r.stdout ?? '')
  }
}

/** ZFS's answer for a dataset that is not there (`cannot open 'x': dataset does not exist`). */
export function isNoSuchDataset(e: unknown): boolean {
  return e instanceof ZfsCommandError && /dataset does not exist/i.test(e.stderr)
}

/** ZFS's answer for a zvol that is open, or a dataset in use (`dataset is busy`). */
export function isBusy(e: unknown): boolean {
  return e instanceof ZfsCommandError && /dataset is busy|device or resource busy/i.test(e.stderr)
}

/** Properties of one row of {@link listArgv}'s output. */
export const LIST_PROPS = ['name', 'type', 'volsize', 'referenced', 'available', 'quota', 'refreservation', 'volblocksize'] as const

/**
 * `zfs list` of `dataset` and its direct children, filesystems and volumes: the dataset's own row
 * tells whether it exists and what it has free, the volume rows are every zvol a pass may look at.
 */
export function listArgv(dataset: string): string[] {
  assertZfsName(dataset)
  return ['list', '-Hp', '-d', '1', '-t', 'filesystem,volume', '-o', LIST_PROPS.join(','), dataset]
}

/** One dataset as {@link listArgv} shows it; sizes in bytes, null where ZFS printed '-'. */
export interface ZfsRow {
  name: string
  type: 'filesystem' | 'volume'
  volsize: number | null
  referenced: number
  available: number
  /** 0: none. */
  quota: number | null
  /** 0 for a sparse zvol (`zfs create -s`), the reserved size of a thick one. */
  refreservation: number
  volblocksize: number | null
}

function bytes(field: string, what: string, line: string): number | null {
  if (field === '-') return null
  if (!/^\d+$/.test(field)) throw new SyntaxError(`zfs list: ${what} '${field}' is no byte count in: ${line}`)
  return Number(field)
}

/** Parses `zfs list -Hp -o <LIST_PROPS>` output. */
export function parseList(stdout: string): ZfsRow[] {
  const rows: ZfsRow[] = []
  for (const line of stdout.split('\n')) {
    if (line === '') continue
    const f = line.split('\t')
    if (f.length !== LIST_PROPS.length) throw new SyntaxError(`zfs list: ${f.length} fields, expected ${LIST_PROPS.length}: ${line}`)
    const [name, type, volsize, referenced, available, quota, refreservation, volblocksize] = f as [string, string, string, string, string, string, string, string]
    if (type !== 'filesystem' && type !== 'volume') throw new SyntaxError(`zfs list: type '${type}' in: ${line}`)
    rows.push({
      name,
      type,
      volsize: bytes(volsize, 'volsize', line),
      referenced: bytes(referenced, 'referenced', line) ?? 0,
      available: bytes(available, 'available', line) ?? 0,
      quota: bytes(quota, 'quota', line),
      refreservation: bytes(refreservation, 'refreservation', line) ?? 0,
      volblocksize: bytes(volblocksize, 'volblocksize', line),
    })
  }
  return rows
}

/** `zpool list` of the pool's size, bytes (parsed by {@link parseZpoolSize}). */
export function zpoolSizeArgv(pool: string): string[] {
  assertZfsName(pool)
  if (pool.includes('/')) throw new RangeError(`'${pool}' is a dataset, not a zpool`)
  return ['list', '-Hp', '-o', 'name,size', pool]
}

/** The size of `pool` in `zpool list -Hp -o name,size` output. */
export function parseZpoolSize(stdout: string, pool: string): number {
  for (const line of stdout.split('\n')) {
    const [name, size] = line.split('\t')
    if (name === pool && size !== undefined && /^\d+$/.test(size)) return Number(size)
  }
  throw new SyntaxError(`zpool list: no size of '${pool}' in: ${stdout.trim()}`)
}

/** `zfs create` of a zvol of `sizeKib` (sparse: no reservation, ZFS_THIN), options before the name. */
export function createArgv(dataset: string, sizeKib: number, sparse: boolean, options: readonly string[]): string[] {
  assertZfsName(dataset)
  if (!Number.isSafeInteger(sizeKib) || sizeKib <= 0) throw new RangeError(`zvol size must be a positive whole number of KiB, got ${sizeKib}`)
  // zfs reads K as KiB (its units are powers of 2), as LINSTOR's "<n>KB".
  return ['create', ...(sparse ? ['-s'] : []), '-V', `${sizeKib}K`, ...options, dataset]
}

/** `zfs set volsize`: grows a zvol (its reservation too, when it has one). */
export function resizeArgv(dataset: string, sizeKib: number): string[] {
  assertZfsName(dataset)
  if (!Number.isSafeInteger(sizeKib) || sizeKib <= 0) throw new RangeError(`zvol size must be a positive whole number of KiB, got ${sizeKib}`)
  return ['set', `volsize=${sizeKib}K`, dataset]
}

export function destroyArgv(dataset: string): string[] {
  assertZfsName(dataset)
  return ['destroy', dataset]
}

/** Options of `zfs create` a pool may give (StorDriver/ZfscreateOptions), parsed. */
export interface CreateOptions {
  argv: string[]
  /** The volblocksize they ask for, bytes; undefined: ZFS's default. */
  volblocksize?: number
}

/** ZFS property names: lower-case letters, digits, '_' (native) or a user property `module:name`. */
const PROPERTY = /^(?:[a-z][a-z0-9_]*|[a-z0-9_.-]+:[a-z0-9_.:-]+)$/

/** `8K`, `16k`, `131072`, `1M` → bytes. */
export function parseBlockSize(value: string): number | null {
  const m = /^(\d+)([KkMm])?$/.exec(value)
  if (m === null) return null
  const n = Number(m[1]) * (m[2] === undefined ? 1 : /k/i.test(m[2]) ? 1024 : 1024 * 1024)
  // volblocksize is a power of two from 512 bytes up (zfs_prop.c: SPA_MINBLOCKSIZE .. SPA_MAXBLOCKSIZE).
  return n >= 512 && (n & (n - 1)) === 0 ? n : null
}

/**
 * Splits and checks `StorDriver/ZfscreateOptions` (LINSTOR splits it as a shell would): only
 * `-o property=value` and `-b <volblocksize>` are taken — anything else (`-V`, `-s`, a dataset name)
 * would change what the provider creates. Throws a RangeError naming the offending word.
 */
export function parseCreateOptions(text: string | undefined): CreateOptions {
  const words = shellSplit(text ?? '')
  const argv: string[] = []
  let volblocksize: number | undefined
  const block = (value: string | undefined): void => {
    const n = value === undefined ? null : parseBlockSize(value)
    if (n === null) throw new RangeError(`volblocksize '${value ?? ''}' is not a power of two of at least 512 bytes (e.g. 16K)`)
    volblocksize = n
  }
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    if (w === '-o' || w === '-b') {
      const value = words[++i]
      if (value === undefined) throw new RangeError(`'${w}' needs a value`)
      if (w === '-b') block(value)
      else {
        const eq = value.indexOf('=')
        const prop = eq < 0 ? '' : value.slice(0, eq)
        if (!PROPERTY.test(prop) || value.length === eq + 1) throw new RangeError(`'-o ${value}' is not property=value`)
        if (prop === 'volsize' || prop === 'refreservation' || prop === 'reservation') {
          throw new RangeError(`'-o ${prop}' is the provider's to set (the volume's size, and ZFS_THIN's sparseness)`)
        }
        if (prop === 'volblocksize') block(value.slice(eq + 1))
      }
      argv.push(w, value)
    } else {
      throw new RangeError(`'${w}' is not allowed: only -o property=value and -b volblocksize are`)
    }
  }
  return volblocksize === undefined ? { argv } : { argv, volblocksize }
}

/** Words of `text` as a POSIX shell splits them: blanks separate, quotes and backslashes group. */
export function shellSplit(text: string): string[] {
  const words: string[] = []
  let word: string | null = null
  let quote: '"' | "'" | null = null
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quote === "'") {
      if (c === "'") quote = null
      else word += c
    } else if (quote === '"') {
      if (c === '"') quote = null
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i]!
      else word += c
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (word !== null) words.push(word)
      word = null
    } else if (c === "'" || c === '"') {
      quote = c
      word ??= ''
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i]!
    } else {
      word = (word ?? '') + c
    }
  }
  if (quote !== null) throw new RangeError(`unterminated ${quote} quote in '${text}'`)
  if (word !== null) words.push(word)
  return words
}

/**
 * Resolves once `link` (a zvol's `/dev/zvol/<dataset>` link) answers BLKGETSIZE64. The kernel's
 * uevent names the zvol's device `zdN` and says nothing of which zvol it is; the name is udev's
 * doing (60-zvol.rules asks zvol_id), so the wait is for udev's link, watched with inotify on the
 * deepest of its directories that exists — no polling. Rejects with DeviceWaitTimeoutError after
 * `timeoutMs`.
 */
export async function waitForZvol(link: string, timeoutMs: number): Promise<void> {
  if (!link.startsWith('/dev/zvol/')) throw new RangeError(`not a zvol link: ${link}`)
  const deadline = performance.now() + timeoutMs
  const answers = (): Promise<boolean> => blockSize(link).then(() => true, () => false)
  for (;;) {
    let watcher: FSWatcher | undefined
    let dir = dirname(link)
    const changed = new Promise<void>((resolve) => {
      // Listen before looking: a link made between the look and the listen is not missed.
      for (;;) {
        try {
          watcher = watch(dir, { persistent: false }, () => resolve())
          watcher.on('error', () => resolve())
          return
        } catch {
          // Not there yet: its parent says when it is made. Nothing watchable at all: the timeout ends it.
          if (dir === '/') return
          dir = dirname(dir)
        }
      }
    })
    try {
      if (await answers()) return
      const left = deadline - performance.now()
      if (left <= 0) throw new DeviceWaitTimeoutError(link, timeoutMs)
      let timer: NodeJS.Timeout | undefined
      const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), left)))
      const what = await Promise.race([changed, expired])
      clearTimeout(timer)
      if (what === 'expired' && !(await answers())) throw new DeviceWaitTimeoutError(link, timeoutMs)
    } finally {
      watcher?.close()
    }
  }
}
