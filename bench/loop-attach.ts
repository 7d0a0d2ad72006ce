/**
 * Loop attach + detach, one after the other in a tight loop, through the native addon
 * (src/satellite/sys/loop.ts: LOOP_CTL_GET_FREE, flock, LOOP_CONFIGURE, LOOP_CLR_FD) against the
 * shell-out LINSTOR does (`losetup -f --show FILE`, then `losetup -d DEV`, via child_process with
 * argument arrays). Both sides run in the same process on the same sparse file, measured side by side
 * (alternating rounds, so neither gets a warmer cache); it prints both rates and the ratio. A report,
 * not a test: it never fails on timing.
 *
 * Run as root: node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/loop-attach.ts
 * (or npm run bench:loop). LOOP_BENCH_N=200 iterations per side, LOOP_BENCH_ROUNDS=2 rounds of each.
 * Every device attached is detached by the device it got, also on errors.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { attachLoop, detachLoop } from '../src/satellite/sys/loop.js'

const run = promisify(execFile)
const N = Number(process.env.LOOP_BENCH_N ?? 200)
const ROUNDS = Number(process.env.LOOP_BENCH_ROUNDS ?? 2)

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('loop-attach: skipped, needs root (loop ioctls need CAP_SYS_ADMIN)')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'blockyard-bench-loop-'))
  const file = join(dir, 'bench.img')
  writeFileSync(file, '')
  truncateSync(file, 64 * 1024 * 1024)
  const live = new Set<string>()
  try {
    const addon = async (): Promise<void> => {
      const dev = await attachLoop(file)
      live.add(dev)
      await detachLoop(dev)
      live.delete(dev)
    }
    const losetup = async (): Promise<void> => {
      const { stdout } = await run('losetup', ['-f', '--show', file], { timeout: 10_000 })
      const dev = stdout.trim()
      live.add(dev)
      await run('losetup', ['-d', dev], { timeout: 10_000 })
      live.delete(dev)
    }
    const measure = async (fn: () => Promise<void>): Promise<number> => {
      const start = process.hrtime.bigint()
      for (let i = 0; i < N; i++) await fn()
      return Number(process.hrtime.bigint() - start) / 1e9
    }
    await addon() // load the addon and warm both paths once
    await losetup()
    const rates = { addon: [] as number[], losetup: [] as number[] }
    for (let r = 0; r < ROUNDS; r++) {
      rates.addon.push(N / (await measure(addon)))
      rates.losetup.push(N / (await measure(losetup)))
    }
    const best = (xs: number[]): number => Math.max(...xs)
    const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ')
    console.log(`loop attach+detach, ${N} sequential iterations per round, ${ROUNDS} rounds, 64 MiB sparse file`)
    console.log(`  native addon (ioctls):     ${best(rates.addon).toFixed(0)} /s   (rounds: ${fmt(rates.addon)})`)
    console.log(`  losetup -f --show + -d:    ${best(rates.losetup).toFixed(0)} /s   (rounds: ${fmt(rates.losetup)})`)
    console.log(`  ratio:                     ${(best(rates.addon) / best(rates.losetup)).toFixed(1)}x`)
  } finally {
    for (const dev of live) await detachLoop(dev).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
