/** Where the external tools the satellite runs are installed. */
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/** PATH's directories (Debian's default for root when PATH is unset). */
function pathDirs(): string[] {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).filter((d) => d !== '')
}

/** The path of tool `name`: in `dirs` first, then on PATH; null when it is in neither. */
export function toolPath(name: string, dirs: readonly string[] = []): string | null {
  return [...dirs, ...pathDirs()].map((d) => join(d, name)).find((p) => existsSync(p)) ?? null
}
