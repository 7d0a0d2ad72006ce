/**
 * Daemon configuration: defaults ← config file (TOML or JSON) ← BLOCKYARD_* environment ← flags, each
 * option declared once in a spec table so that its flag, variable, file key and parser cannot drift.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { LOG_LEVELS, type LogLevel } from './log.js'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export interface OptionSpec<T> {
  /** Flag without dashes, e.g. 'rest-listen'; env is BLOCKYARD_REST_LISTEN; file key rest_listen. */
  flag: string
  help: string
  parse(text: string, from: string): T
  default(base: { stateDir: string }): T
}

export interface HostPort { host: string; port: number }

export function parseHostPort(text: string, from: string): HostPort {
  // [v6]:port | host:port
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:\s]+):(\d+)$/.exec(text)
  const port = m ? Number(m[2]) : NaN
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${from}: '${text}' is not HOST:PORT (e.g. 127.0.0.1:3370 or [::1]:3370)`)
  }
  return { host: m[1]!, port }
}

export function parseLogLevel(text: string, from: string): LogLevel {
  if (!(LOG_LEVELS as string[]).includes(text)) throw new ConfigError(`${from}: log level '${text}' is not one of ${LOG_LEVELS.join(', ')}`)
  return text as LogLevel
}

export function parsePositiveInt(text: string, from: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`${from}: '${text}' is not a positive integer`)
  return n
}

/** The default state directory: /var/lib/blockyard as root, ./var otherwise. */
export function defaultStateDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/blockyard' : resolve('var')
}

export type Spec = Record<string, OptionSpec<unknown>>
export type Resolved<S extends Spec> = { [K in keyof S]: ReturnType<S[K]['parse']> } & { stateDir: string; logLevel: LogLevel }

const envName = (flag: string): string => 'BLOCKYARD_' + flag.toUpperCase().replace(/-/g, '_')
const fileKey = (flag: string): string => flag.replace(/-/g, '_')

/**
 * Resolve options. `flags` are parsed flag values (strings) keyed by flag name; `section` is the config
 * file table read for this daemon (keys at the top level apply to every daemon).
 */
export function resolveConfig<S extends Spec>(spec: S, flags: Record<string, string | undefined>, env: NodeJS.ProcessEnv, section: string): Resolved<S> {
  const configPath = flags['config'] ?? env['BLOCKYARD_CONFIG']
  const file = configPath !== undefined ? readConfigFile(configPath, true) : readConfigFile('/etc/blockyard/blockyard.toml', false)
  const fileVals: Record<string, unknown> = { ...file.top, ...file.sections[section] }
  const pick = (flag: string): [string, string] | undefined => {
    const f = flags[flag]
    if (f !== undefined) return [f, `--${flag}`]
    const e = env[envName(flag)]
    if (e !== undefined && e !== '') return [e, envName(flag)]
    const v = fileVals[fileKey(flag)]
    if (v !== undefined) return [String(v), `${file.path}: ${fileKey(flag)}`]
    return undefined
  }
  const sd = pick('state-dir')
  const stateDir = sd !== undefined ? resolve(sd[0]) : defaultStateDir()
  const ll = pick('log-level')
  const out: Record<string, unknown> = { stateDir, logLevel: ll !== undefined ? parseLogLevel(ll[0], ll[1]) : 'info' }
  for (const [key, opt] of Object.entries(spec)) {
    const got = pick(opt.flag)
    out[key] = got !== undefined ? opt.parse(got[0], got[1]) : opt.default({ stateDir })
  }
  return out as Resolved<S>
}

interface ConfigFile { path: string; top: Record<string, unknown>; sections: Record<string, Record<string, unknown>> }

function readConfigFile(path: string, required: boolean): ConfigFile {
  const empty: ConfigFile = { path, top: {}, sections: {} }
  if (!existsSync(path)) {
    if (required) throw new ConfigError(`config file ${path} does not exist`)
    return empty
  }
  const text = readFileSync(path, 'utf8')
  let doc: Record<string, unknown>
  try {
    doc = path.endsWith('.json') ? (JSON.parse(text) as Record<string, unknown>) : (parseToml(text) as Record<string, unknown>)
  } catch (e) {
    throw new ConfigError(`config file ${path}: ${(e as Error).message}`)
  }
  for (const [k, v] of Object.entries(doc)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) empty.sections[k] = v as Record<string, unknown>
    else empty.top[k] = v
  }
  return empty
}

/** Help lines for a spec, for `--help`. */
export function describeOptions(spec: Spec): string {
  const common: [string, string][] = [
    ['config FILE', 'config file, TOML or JSON (BLOCKYARD_CONFIG; default /etc/blockyard/blockyard.toml if present)'],
    ['state-dir DIR', 'state directory (default /var/lib/blockyard as root, ./var otherwise)'],
    ['log-level LEVEL', `one of ${LOG_LEVELS.join(', ')} (default info)`],
  ]
  const rows = [...common, ...Object.values(spec).map((o): [string, string] => [o.flag, o.help])]
  return rows.map(([f, h]) => `  --${f.padEnd(26)} ${h}`).join('\n')
}

export const joinState = (base: { stateDir: string }, name: string): string => join(base.stateDir, name)
