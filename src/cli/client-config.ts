/**
 * Where the client commands find their controller and default options, as LINSTOR's `linstor` does:
 * `--controllers`, then the environment (`LS_CONTROLLERS` is appended), then the config files'
 * `[global]` section (`controllers=…`, or any global flag such as `no-utf8=`), then 127.0.0.1:3370.
 *
 * Config files, read as linstor-api-py's `Config.get_section`: every `/etc/linstor/linstor-client.d/*.conf`
 * in name order, then `~/.config/linstor/linstor-client.conf` if it exists, else
 * `/etc/linstor/linstor-client.conf`; a later file's section replaces an earlier one of the same name.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_CONTROLLER } from '../client/blockyard-client.js'

/** INI sections (lower-cased keys, as Python's ConfigParser) of one file. */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>()
  let current: Map<string, string> | null = null
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const sec = /^\[(.+)\]$/.exec(line)
    if (sec !== null) {
      current = new Map()
      sections.set(sec[1]!.trim(), current)
      continue
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line)
    if (kv !== null && current !== null) current.set(kv[1]!.toLowerCase(), kv[2]!)
  }
  return sections
}

/** The config files linstor reads, in order, under `root` (`/`) and `home`. */
export function configFiles(home = homedir(), etc = '/etc/linstor'): string[] {
  const files: string[] = []
  const dir = join(etc, 'linstor-client.d')
  if (existsSync(dir)) files.push(...readdirSync(dir).filter((f) => f.endsWith('.conf')).sort().map((f) => join(dir, f)))
  const user = join(home, '.config', 'linstor', 'linstor-client.conf')
  const sys = join(etc, 'linstor-client.conf')
  if (existsSync(user)) files.push(user)
  else if (existsSync(sys)) files.push(sys)
  return files
}

/** One section merged over the config files (a later file's section replaces an earlier one). */
export function configSection(section: string, files: readonly string[]): Map<string, string> {
  let found = new Map<string, string>()
  for (const f of files) {
    const s = parseIni(readFileSync(f, 'utf8')).get(section)
    if (s !== undefined) found = s
  }
  return found
}

/**
 * The controllers to try, in order: `--controllers` (else the config's `controllers`), then
 * `LS_CONTROLLERS`; 127.0.0.1:3370 when none is given anywhere.
 */
export function resolveControllers(flag: string | undefined, env: NodeJS.ProcessEnv, config: ReadonlyMap<string, string>): string[] {
  const list: string[] = []
  const first = flag ?? config.get('controllers')
  if (first !== undefined && first.trim() !== '') list.push(first)
  const fromEnv = env['LS_CONTROLLERS']
  if (fromEnv !== undefined && fromEnv.trim() !== '') list.push(fromEnv)
  if (list.length === 0) list.push(DEFAULT_CONTROLLER)
  return list
}
