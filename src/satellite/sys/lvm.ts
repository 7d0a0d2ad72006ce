/**
 * Running LVM commands (DESIGN.md §2.6). In process through liblvm2cmd when it loads: one handle for
 * the life of the process and no fork+exec, program load and configuration parse per command (a VG
 * report took 80–120 ms in process and 570–920 ms as `lvm vgs` in the VM). Otherwise the `lvm`
 * tool through execa, with argument arrays and a timeout.
 *
 * The library is not thread-safe and `lvm2_run` blocks for seconds: every call goes to one worker
 * thread, one at a time (`LibLvm`). Its output reaches us through the log callback: what a
 * report prints arrives at level LVM2_LOG_PRINT from libdm's report code, errors at LVM2_LOG_ERROR
 * or below (lvm2 lib/log/log.c `_vprint_log` hands every message to the callback, debug ones too).
 *
 * A forked child of lvm2_run would call the same callback, JavaScript in a forked copy of a
 * multi-threaded process: with koffi's `.async` the child hung for ever, and lvm2_run with it (its
 * parent waits for the child; seen in the VM with lvm2 2.03.16: the first thin volume of a pool
 * deactivates the pool's own device and runs `thin_check`). So nothing forks in process: dmeventd monitoring is
 * disabled on the handle, `thin_check` is not configured for in-process commands (the tool, and
 * the system's own activations at boot, still check pool metadata), and a `modprobe` of a missing
 * target is avoided by capabilities loading dm_thin_pool first.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { execa } from 'execa'
import { logger } from '../../common/log.js'

const log = logger('sys.lvm')

/** The soname Debian's liblvm2cmd2.03 installs. */
export const LVM_LIBRARY = 'liblvm2cmd.so.2.03'

/**
 * Configuration of every in-process command:
 * - nothing that forks (see above);
 * - anonymous memory left unlocked: around a suspend LVM mlock()s every readable mapping of the
 *   process listed in /proc/self/maps (lvm2 lib/mm/memlock.c `_memlock_maps`), except those whose
 *   line matches `activation/mlock_filter`. In node that is V8's heap, whose pages V8 keeps
 *   discarding and re-protecting from other threads; on locked pages that fails, and V8 aborts
 *   (seen in the VM with 2.03.16: "Check failed" in SetPermissions, and in
 *   MemoryChunk::DiscardUnusedMemory). The filter "00:00" matches the device field of anonymous
 *   mappings only, so LVM still locks the mapped files (node, the libraries). reserved_memory=0: no
 *   memory is set aside and touched before the lock. What the lock is for, not faulting on a
 *   suspended device, does not concern the satellite's heap unless swap lives on a volume LVM is
 *   suspending;
 * - device nodes and /dev/<vg>/<lv> links made by LVM itself, synchronously, instead of waiting
 *   for udev to make them (udev_rules=0, udev_sync=0: LVM's mode for systems without udev; the
 *   cookie tells udev's rules to leave them alone). Waiting for udev was most of a thin volume's
 *   create+delete in the VM (1.8 of 2.9 s).
 */
export const IN_PROCESS_CONFIG = 'global{thin_check_executable=""} activation{reserved_memory=0 mlock_filter=["00:00"] udev_sync=0 udev_rules=0}'

/** lvm2cmd.h's levels and return value. */
const LVM2_LOG_ERROR = 3
const LVM2_LOG_PRINT = 4
const LVM2_COMMAND_SUCCEEDED = 1

/** How long one LVM command may take before it is given up on (a thin pool's creation takes ~5 s in the VM). */
export const DEFAULT_LVM_TIMEOUT_MS = 120_000

/**
 * LVM's rule for VG and LV names (lvm2 lib/misc/lvm-string.c `_validate_name`): 1–127 characters
 * of `[A-Za-z0-9+_.-]`, not starting with '-', not '.' or '..'. Checked before a name reaches a
 * command line, where a space or quote would split or end an argument.
 */
export function lvmNameProblem(name: string): string | null {
  if (typeof name !== 'string' || name === '') return 'is empty'
  if (name.length > 127) return `is ${name.length} characters long (at most 127)`
  if (name === '.' || name === '..') return `may not be '${name}'`
  if (name.startsWith('-')) return "may not start with '-'"
  if (!/^[A-Za-z0-9+_.-]+$/.test(name)) return 'may only contain A-Z a-z 0-9 + _ . -'
  return null
}

/** Throws a RangeError when `name` is no valid LVM name (`what` says which: "VG", "LV"). */
export function assertLvmName(what: string, name: string): void {
  const problem = lvmNameProblem(name)
  if (problem !== null) throw new RangeError(`LVM ${what} name '${name}' ${problem}`)
}

/** isspace() in the C locale, the separator of lvm2's `lvm_split`. */
const SPACE = /[ \t\n\v\f\r]/

/**
 * One command line for `lvm2_run` from an argument array, as lvm2's `lvm_split` (tools/lvmcmdline.c)
 * splits it: arguments are separated by white space; an argument that starts with ' or " runs to the
 * next such quote, with no escapes; a word starting with '#' ends the line. So an argument is quoted
 * when it is empty, contains white space or starts with a quote or '#', with a quote character it
 * does not contain. An argument with white space and both quotes cannot be written: RangeError.
 */
export function lvmCommandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new RangeError('lvmCommandLine: no command')
  return argv
    .map((arg) => {
      if (typeof arg !== 'string' || arg.includes('\0')) throw new RangeError(`lvmCommandLine: bad argument ${JSON.stringify(arg)}`)
      if (arg !== '' && !SPACE.test(arg) && !/^['"#]/.test(arg)) return arg
      if (!arg.includes("'")) return `'${arg}'`
      if (!arg.includes('"')) return `"${arg}"`
      throw new RangeError(`lvmCommandLine: ${JSON.stringify(arg)} has white space and both quote characters: lvm_split cannot take it`)
    })
    .join(' ')
}

/** What a command printed. */
export interface LvmOutput {
  /** The report (`--reportformat json`): its text, "" for a command that reports nothing. */
  report: string
  /** Other messages at print level or above: warnings and what a change says it did. */
  messages: string[]
}

/** A failed LVM command: its argv, and what it said at error level (stderr for the tool). */
export class LvmCommandError extends Error {
  readonly code = 'ELVM'
  constructor(
    readonly argv: readonly string[],
    /** lvm2_run's return value or the tool's exit code; null when it did not finish. */
    readonly exitCode: number | null,
    readonly errors: string,
  ) {
    super(`lvm ${argv.join(' ')} failed${exitCode !== null ? ` (${exitCode})` : ''}: ${errors.trim() || 'no message'}`)
  }
}
Object.defineProperty(LvmCommandError.prototype, 'name', { value: 'LvmCommandError', writable: true, enumerable: false, configurable: true })

/** Runs LVM commands; every implementation runs one command at a time per VG change (see {@link Lvm}). */
export interface LvmRunner {
  /** Whether commands run in this process (liblvm2cmd) rather than as `lvm` children. */
  readonly inProcess: boolean
  /** Runs `argv` (e.g. `['lvs', …]`), rejecting with {@link LvmCommandError} when it fails. */
  run(argv: readonly string[]): Promise<LvmOutput>
  /** Releases what the runner holds (the library handle). */
  close(): void
}

/** The `lvm` tool, one child per command. */
export class ToolLvm implements LvmRunner {
  readonly inProcess = false
  constructor(readonly timeoutMs = DEFAULT_LVM_TIMEOUT_MS) {}

  async run(argv: readonly string[]): Promise<LvmOutput> {
    // A daemon's open descriptors are inherited and lvm warns about each one on stderr.
    const r = await execa('lvm', argv, { reject: false, timeout: this.timeoutMs, stdin: 'ignore', env: { LVM_SUPPRESS_FD_WARNINGS: '1' } })
    const stdout = String(r.stdout ?? '')
    const stderr = String(r.stderr ?? '')
    if (r.failed) throw new LvmCommandError(argv, r.exitCode ?? null, r.timedOut ? `timed out after ${this.timeoutMs} ms` : stderr || (r.message ?? ''))
    const lines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter((l) => l !== '')
    // A change prints what it did on stdout: only report commands print JSON there.
    if (!stdout.trimStart().startsWith('{')) return { report: '', messages: [...lines(stdout), ...lines(stderr)] }
    return { report: stdout, messages: lines(stderr) }
  }

  close(): void {}
}

/** What the worker answers for one command. */
interface WorkerReply {
  rc: number
  report: string[]
  messages: string[]
  errors: string[]
}

/**
 * The body of the LVM worker thread, run from its source text (so the satellite stays one bundle
 * file): it loads the library, owns the one handle, and runs each command line it is sent with a
 * synchronous lvm2_run — the log callback then runs on this same thread as a plain call. Given
 * `.async` on the main thread instead, each of the ~400 messages of a command (debug ones included)
 * hopped to the main thread and back: 0.4 ms each in the VM, more than the fork it saves.
 * Self-contained: it sees nothing of this module, and gets the worker's `require` as `load`.
 */
function lvmWorkerMain(load: NodeJS.Require): void {
  const { parentPort, workerData } = load('node:worker_threads') as typeof import('node:worker_threads')
  const { koffiPath, library, printLevel, errorLevel } = workerData as { koffiPath: string; library: string; printLevel: number; errorLevel: number }
  const port = parentPort!
  let capture: { report: string[]; messages: string[]; errors: string[] } | null = null
  try {
    const koffi = load(koffiPath) as typeof import('koffi').default
    const lib = koffi.load(library)
    const LogFn = koffi.proto('void lvm2_log_fn_t(int level, const char *file, int line, int dm_errno, const char *message)')
    const callback = koffi.register((level: number, file: string | null, _line: number, _errno: number, message: string | null) => {
      if (capture === null || level > printLevel) return
      if (level <= errorLevel) capture.errors.push(message ?? '')
      else if ((file ?? '').endsWith('libdm-report.c')) capture.report.push(message ?? '')
      else capture.messages.push(message ?? '')
    }, koffi.pointer(LogFn))
    lib.func('void lvm2_log_fn(lvm2_log_fn_t *fn)')(callback)
    // lvm2_init (unthreaded) would set up line buffering on stdin/stdout, node's own descriptors.
    const handle: unknown = lib.func('void *lvm2_init_threaded(void)')()
    if (handle === null) throw new Error('lvm2_init_threaded failed')
    lib.func('void lvm2_disable_dmeventd_monitoring(void *handle)')(handle)
    const run = lib.func('int lvm2_run(void *handle, const char *cmdline)')
    const exit = lib.func('void lvm2_exit(void *handle)')
    port.on('message', (line: string | null) => {
      if (line === null) {
        exit(handle)
        koffi.unregister(callback)
        port.close()
        return
      }
      capture = { report: [], messages: [], errors: [] }
      const rc = run(handle, line) as number
      port.postMessage({ rc, ...capture })
      capture = null
    })
    port.postMessage({ ready: true })
  } catch (e) {
    port.postMessage({ ready: false, error: `${library}: ${(e as Error).message}` })
  }
}

/**
 * liblvm2cmd in process, on a worker thread of its own. Commands queue behind each other (the
 * library is one context). A command that does not return within the timeout cannot be stopped:
 * it is reported failed, and the library is not used again (every later command goes to the tool,
 * whose own locks then wait for the stuck one).
 */
export class LibLvm implements LvmRunner {
  readonly inProcess = true
  readonly #worker: Worker
  #queue: Promise<unknown> = Promise.resolve()
  #wedged = false
  #closed = false

  private constructor(worker: Worker, readonly fallback: LvmRunner, readonly timeoutMs: number) {
    this.#worker = worker
  }

  /** Starts the worker and loads the library; rejects when it cannot be loaded or initialised. */
  static async open(fallback: LvmRunner, timeoutMs = DEFAULT_LVM_TIMEOUT_MS): Promise<LibLvm> {
    const koffiPath = createRequire(import.meta.url).resolve('koffi')
    // `require` goes in as an argument: a bundler renames the identifier inside a function's text.
    const worker = new Worker(`(${lvmWorkerMain.toString()})(require)`, {
      eval: true,
      workerData: { koffiPath, library: LVM_LIBRARY, printLevel: LVM2_LOG_PRINT, errorLevel: LVM2_LOG_ERROR },
    })
    // An idle worker must not keep the process alive; a command's reply is awaited with a timer.
    worker.unref()
    const ready = await new Promise<{ ready: boolean; error?: string }>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    if (!ready.ready) {
      await worker.terminate()
      throw new Error(ready.error ?? 'the LVM worker did not start')
    }
    return new LibLvm(worker, fallback, timeoutMs)
  }

  run(argv: readonly string[]): Promise<LvmOutput> {
    if (this.#closed) return Promise.reject(new Error('LVM library closed'))
    if (this.#wedged) return this.fallback.run(argv)
    const line = lvmCommandLine([argv[0]!, '--config', IN_PROCESS_CONFIG, ...argv.slice(1)])
    const result = this.#queue.then(() => (this.#wedged ? this.fallback.run(argv) : this.#runNow(argv, line)))
    this.#queue = result.catch(() => {})
    return result
  }

  #runNow(argv: readonly string[], line: string): Promise<LvmOutput> {
    return new Promise<LvmOutput>((resolve, reject) => {
      const onError = (err: Error): void => {
        clearTimeout(timer)
        this.#worker.off('message', onReply)
        this.#wedged = true
        reject(err)
      }
      const onReply = (r: WorkerReply): void => {
        clearTimeout(timer)
        this.#worker.off('error', onError)
        if (r.rc !== LVM2_COMMAND_SUCCEEDED) reject(new LvmCommandError(argv, r.rc, r.errors.join('\n')))
        else resolve({ report: r.report.join('\n'), messages: r.messages })
      }
      const timer = setTimeout(() => {
        this.#wedged = true
        this.#worker.off('message', onReply)
        this.#worker.off('error', onError)
        log.error('an in-process LVM command did not return: LVM commands run as tools from now on', { command: line, timeoutMs: this.timeoutMs })
        reject(new LvmCommandError(argv, null, `no answer after ${this.timeoutMs} ms`))
      }, this.timeoutMs)
      this.#worker.once('message', onReply)
      this.#worker.once('error', onError)
      this.#worker.postMessage(line)
    })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    // A stuck command still uses the handle: leave the worker alone (it is unref'd).
    if (!this.#wedged) void this.#queue.then(() => this.#worker.postMessage(null))
  }
}

/**
 * The runner for this process: liblvm2cmd when it loads, otherwise the `lvm` tool. `prefer: 'tool'`
 * forces the tool (a comparison, or a library that misbehaves on some system).
 */
export async function openLvm(opts: { prefer?: 'library' | 'tool'; timeoutMs?: number } = {}): Promise<LvmRunner> {
  const tool = new ToolLvm(opts.timeoutMs)
  if (opts.prefer === 'tool') return tool
  try {
    return await LibLvm.open(tool, opts.timeoutMs)
  } catch (e) {
    log.info('LVM commands run as tools: the library is not usable', { library: LVM_LIBRARY, error: (e as Error).message })
    return tool
  }
}

/**
 * Serializes changes per VG (LVM takes a VG's lock itself, but two changes at once make the second
 * wait inside LVM — holding the library, or a child — and fail after its lock timeout): `run` for
 * reports, `change` for metadata changes, which run one after the other per VG.
 */
export class Lvm {
  readonly #chains = new Map<string, Promise<unknown>>()
  constructor(readonly runner: LvmRunner) {}

  run(argv: readonly string[]): Promise<LvmOutput> {
    return this.runner.run(argv)
  }

  /** Runs the change `argv` on VG `vg` after every earlier change on it has finished. */
  change(vg: string, argv: readonly string[]): Promise<LvmOutput> {
    const prev = this.#chains.get(vg) ?? Promise.resolve()
    const next = prev.then(() => this.runner.run(argv))
    const tail = next.catch(() => {})
    this.#chains.set(vg, tail)
    void tail.then(() => {
      if (this.#chains.get(vg) === tail) this.#chains.delete(vg)
    })
    return next
  }
}

/** One row of a JSON report: field name → value as LVM printed it. */
export type ReportRow = Readonly<Record<string, string>>

/**
 * The rows of report `key` ("vg", "lv") in `--reportformat json` output (lvm2 prints
 * `{"report": [{"<key>": [{field: "value", …}, …]}]}`, one entry per VG for some commands).
 */
export function reportRows(json: string, key: string): ReportRow[] {
  if (json.trim() === '') return []
  const doc = JSON.parse(json) as { report?: Array<Record<string, unknown>> }
  if (!Array.isArray(doc.report)) throw new SyntaxError('LVM report: no "report" array')
  const rows: ReportRow[] = []
  for (const part of doc.report) {
    const list = part[key]
    if (list === undefined) continue
    if (!Array.isArray(list)) throw new SyntaxError(`LVM report: "${key}" is not an array`)
    for (const row of list as Array<Record<string, unknown>>) {
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(row)) out[k] = String(v)
      rows.push(out)
    }
  }
  return rows
}
