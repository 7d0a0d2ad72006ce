/**
 * Runs client commands of `blockyard` as child processes against a controller, with a clean home (no
 * linstor-client.conf) and no inherited LS_CONTROLLERS / NO_COLOR.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnBlockyard } from './cli.js'

export interface CliResult {
  code: number | null
  out: string
  err: string
}

/** Returns a runner bound to a controller URL (or none) and a fresh HOME, removed when `t` ends. */
export function cliRunner(t: { teardown(fn: () => void): void }, url: string | null, baseEnv: NodeJS.ProcessEnv = {}): { run: (args: string[], env?: NodeJS.ProcessEnv) => Promise<CliResult>; home: string } {
  const home = mkdtempSync(join(tmpdir(), 'blockyard-cli-home-'))
  t.teardown(() => rmSync(home, { recursive: true, force: true }))
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> => {
    const child = spawnBlockyard(args, { HOME: home, LS_CONTROLLERS: url ?? '', NO_COLOR: '', ...baseEnv, ...env })
    let out = ''
    let err = ''
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })))
  }
  return { run, home }
}

/** Parses `-m` output: linstor wraps a list reply in one more list. */
export function machine(r: CliResult): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse(r.out)
}

/**
 * Runs client command lines in this process (the same tree and code as the child process, without the
 * start-up cost): output is captured, stdout and stderr are not terminals.
 */
export function clientRunner(url: string | null, opts: { configFiles?: () => string[]; tty?: boolean } = {}): (args: string[], env?: NodeJS.ProcessEnv) => Promise<CliResult> {
  return async (args, env = {}) => {
    let out = ''
    let err = ''
    const { runClient } = await import('../../src/cli/program.js')
    const code = await runClient(args, {
      out: (s) => void (out += s),
      err: (s) => void (err += s),
      stdoutTTY: opts.tty === true,
      stderrTTY: false,
      env: { LS_CONTROLLERS: url ?? '', ...env },
      configFiles: opts.configFiles ?? ((): string[] => []),
    })
    return { code, out, err }
  }
}
