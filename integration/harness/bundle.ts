/**
 * Programs that run inside the guests, bundled on the host: one ES module per entry point under
 * `build/vm/`, which the guests see through the read-only project share. A guest has one slow vCPU
 * (DESIGN.md §4: `node -e 1` takes seconds), so it parses one file instead of resolving hundreds over 9p.
 *
 * Packages with native parts stay outside the bundle and load from the shared `node_modules/`; the
 * satellite's own addon is found by native.ts walking up from the bundle to `build/Release/`.
 */
import { cpSync, mkdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { build } from 'esbuild'
import { GUEST_PROJECT_DIR, PROJECT_DIR } from './cluster.js'

/** Where bundles are written, in the project tree (ignored by git with the rest of build/). */
export const BUNDLE_DIR = join(PROJECT_DIR, 'build', 'vm')

/** Loaded from node_modules at run time: they carry native binaries or load files by path. */
const EXTERNAL = ['uWebSockets.js', 'better-sqlite3', 'koffi']

/** Entry points by bundle name: the satellite's CLI, and guest-side checks and benchmarks. */
export type Entries = Readonly<Record<string, string>>

/** Where the host finds bundle `name`. */
export function hostBundlePath(name: string): string {
  return join(BUNDLE_DIR, `${name}.mjs`)
}

/**
 * Bundles each entry (a path relative to the project) to `build/vm/<name>.mjs` and returns, by name,
 * where the guests find it: under `projectDir`, where they see the project tree.
 */
export async function bundleForGuest(entries: Entries, projectDir = GUEST_PROJECT_DIR): Promise<Record<string, string>> {
  mkdirSync(BUNDLE_DIR, { recursive: true })
  const entryPoints = Object.entries(entries).map(([out, src]) => ({ out, in: join(PROJECT_DIR, src) }))
  await build({
    entryPoints,
    outdir: BUNDLE_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: EXTERNAL,
    // CommonJS dependencies bundled into an ES module still call require() for node's built-ins.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    logLevel: 'warning',
  })
  // The controller's store reads its schema migrations from the directory next to its module, which in
  // a bundle is the bundle's own (as the build script copies them next to dist/controller/db/).
  cpSync(join(PROJECT_DIR, 'src', 'controller', 'db', 'migrations'), join(BUNDLE_DIR, 'migrations'), { recursive: true })
  const guest: Record<string, string> = {}
  for (const name of Object.keys(entries)) guest[name] = join(projectDir, relative(PROJECT_DIR, hostBundlePath(name)))
  return guest
}
