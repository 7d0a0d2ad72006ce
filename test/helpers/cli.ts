/**
 * Run `blockyard` as a child process from the sources (so a test never runs a stale build), with tsx
 * (esbuild) as the e2e helpers do: tap's own TypeScript loader takes ~10 s to start a child where tsx
 * takes ~1 s, and on a loaded machine a file of such children ran past tap's timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ENTRY = fileURLToPath(new URL('./run-cli.ts', import.meta.url))
const LOADER_ARGS = ['--import', new URL('./tsx-register.mjs', import.meta.url).href]

export function spawnBlockyard(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [...LOADER_ARGS, ENTRY, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Start a controller child and resolve with its REST URL once it logs that it is ready. */
export function spawnController(stateDir: string, extra: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnBlockyard(['controller', '--state-dir', stateDir, '--rest-listen', '127.0.0.1:0', ...extra])
  return new Promise((resolve, reject) => {
    let err = ''
    const timer = setTimeout(() => reject(new Error(`controller did not start:\n${err}`)), 30_000)
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      const m = /controller ready \{"rest":"(http:\/\/[^"]+)"/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve({ child, url: m[1]! })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`controller exited with ${code}:\n${err}`))
    })
  })
}
