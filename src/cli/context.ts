/**
 * The run-time of one client command: global options (on the root and on every command, so that
 * `blockyard -m node list` and `blockyard node list -m` both work), the client, output streams, progress
 * while the controller works, and the mapping of failures to linstor's exit codes.
 */
import { Command, Option } from 'commander'
import { createSpinner } from 'nanospinner'
import { BlockyardClient } from '../client/blockyard-client.js'
import { ApiCallError, ConnectionError, UnexpectedReplyError } from '../client/errors.js'
import type { ApiCallRc } from '../client/types.js'
import { configFiles, configSection, resolveControllers } from './client-config.js'
import { EXIT, machineJson, renderReply, replyExitCode, type Style } from './output.js'

/** Where a command writes, and what it knows about the terminal. */
export interface Io {
  out(text: string): void
  err(text: string): void
  stdoutTTY: boolean
  stderrTTY: boolean
  env: NodeJS.ProcessEnv
  /** Config files to read (linstor's, unless a test says otherwise). */
  configFiles?: () => string[]
}

/** Global options, resolved over flags, environment, config file and defaults. */
export interface Globals {
  controllers: string[]
  machineReadable: boolean
  warnAsError: boolean
  timeoutMs: number
  style: Style
}

/** A usage error found after parsing (a size that is not a size…): exit 2 with the message. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** The options every command accepts; flags and descriptions as linstor's global options. */
const GLOBAL_OPTIONS: readonly { flags: string; short?: string; description: string }[] = [
  { flags: '--controllers <list>', description: 'comma-separated controllers, e.g. "host1:3370,host2:3370" (LS_CONTROLLERS is appended; default 127.0.0.1:3370)' },
  { flags: '--machine-readable', short: '-m', description: 'print JSON, as linstor -m' },
  { flags: '--no-color', description: 'do not use colours in output' },
  { flags: '--no-utf8', description: 'do not use UTF-8 characters in output (tables)' },
  { flags: '--warn-as-error', description: 'treat warnings as errors (exit 10)' },
  { flags: '--timeout <seconds>', short: '-t', description: 'connection and command timeout in seconds (default 300)' },
  { flags: '--disable-config', description: 'do not read linstor-client.conf files' },
]

/**
 * Adds the global options to a command, leaving out a short flag the command uses for itself (linstor's
 * `volume-definition create -m` is the minor number; there `-m` must come before the command, as in
 * linstor).
 */
export function addGlobalOptions(cmd: Command): Command {
  const taken = new Set(cmd.options.map((o) => o.short).filter((s): s is string => s !== undefined))
  for (const g of GLOBAL_OPTIONS) {
    const flags = g.short !== undefined && !taken.has(g.short) ? `${g.short}, ${g.flags}` : g.flags
    cmd.addOption(new Option(flags, g.description).helpGroup('Global options:'))
  }
  return cmd
}

/** An option's value as given on the command line of `cmd` or one of its parents (innermost wins). */
function given(cmd: Command, key: string): unknown {
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    const src = c.getOptionValueSource(key)
    if (src === 'cli' || src === 'env') return c.getOptionValue(key)
  }
  return undefined
}

export class CliContext {
  /** The exit code so far (the worst of the command's calls). */
  exitCode: number = EXIT.OK
  constructor(
    readonly io: Io,
    /** Clients by controller list: shared across the command lines of an interactive session. */
    private readonly clients = new Map<string, BlockyardClient>(),
  ) {}

  /** Resolves the global options for a command. */
  globals(cmd: Command): Globals {
    const env = this.io.env
    const disable = given(cmd, 'disableConfig') === true
    const config = disable ? new Map<string, string>() : configSection('global', (this.io.configFiles ?? configFiles)())
    const flag = (key: string, configKey: string): boolean => (given(cmd, key) as boolean | undefined) ?? config.has(configKey)
    const color = given(cmd, 'color') === false || config.has('no-color') || (env['NO_COLOR'] ?? '') !== '' ? false : this.io.stdoutTTY
    // linstor draws ASCII frames when stdout is not a terminal.
    const utf8 = given(cmd, 'utf8') === false || config.has('no-utf8') ? false : this.io.stdoutTTY
    const timeoutText = (given(cmd, 'timeout') as string | undefined) ?? config.get('timeout') ?? '300'
    const timeout = Number(timeoutText)
    if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout: '${timeoutText}' is not a number of seconds`)
    return {
      controllers: resolveControllers(given(cmd, 'controllers') as string | undefined, env, config),
      machineReadable: flag('machineReadable', 'machine-readable'),
      warnAsError: flag('warnAsError', 'warn-as-error'),
      timeoutMs: timeout * 1000,
      style: { color, utf8 },
    }
  }

  /** The client for these globals (one per controller list, reused in interactive mode). */
  client(g: Globals): BlockyardClient {
    const key = `${g.controllers.join(',')}|${g.timeoutMs}`
    let c = this.clients.get(key)
    if (c === undefined) {
      try {
        c = new BlockyardClient({ controllers: g.controllers, timeoutMs: g.timeoutMs })
      } catch (e) {
        throw new UsageError(`--controllers: ${(e as Error).message}`)
      }
      this.clients.set(key, c)
    }
    return c
  }

  /** Records an exit code; the worst one wins (an error after a success still fails the command). */
  fail(code: number): void {
    if (code > this.exitCode) this.exitCode = code
  }

  /** Prints replies of mutating calls as linstor does (JSON with `-m`) and records the exit code. */
  replies(g: Globals, rcs: readonly ApiCallRc[]): void {
    if (g.machineReadable) this.io.out(machineJson(rcs) + '\n')
    else for (const rc of rcs) this.io.out(renderReply(rc, g.style))
    this.fail(replyExitCode(rcs, g.warnAsError))
  }

  /**
   * Awaits a call the controller may take long over (it answers once the satellites are done): on a
   * terminal, a spinner with the elapsed seconds shows that it is working.
   */
  async progress<T>(g: Globals, text: string, work: Promise<T>): Promise<T> {
    if (!this.io.stderrTTY || g.machineReadable) return work
    const start = Date.now()
    let spinner: ReturnType<typeof createSpinner> | null = null
    const show = setTimeout(() => {
      spinner = createSpinner(text, { stream: process.stderr }).start()
    }, 300)
    const tick = setInterval(() => spinner?.update({ text: `${text} (${Math.round((Date.now() - start) / 1000)} s)` }), 1000)
    try {
      return await work
    } finally {
      clearTimeout(show)
      clearInterval(tick)
      ;(spinner as ReturnType<typeof createSpinner> | null)?.stop()
    }
  }

  /** Maps a failure of a command to linstor's output and exit code. */
  report(e: unknown, g: Globals | null): void {
    if (e instanceof ApiCallError) {
      this.replies(g ?? { controllers: [], machineReadable: false, warnAsError: false, timeoutMs: 0, style: { color: false, utf8: false } }, e.replies)
      this.fail(EXIT.API_ERROR)
    } else if (e instanceof ConnectionError) {
      this.io.err(`Error: ${e.message}\n`)
      if (e.tried.length > 1) this.io.err(`  tried: ${e.tried.join(', ')}\n`)
      this.fail(e.timedOut ? EXIT.CONNECTION_TIMEOUT : EXIT.CONNECTION_ERROR)
    } else if (e instanceof UsageError || e instanceof RangeError) {
      this.io.err(`Error: ${e.message}\n`)
      this.fail(EXIT.USAGE)
    } else if (e instanceof UnexpectedReplyError) {
      this.io.err(`Error: ${e.message}\n`)
      this.fail(EXIT.UNKNOWN_ERROR)
    } else {
      throw e
    }
  }
}
