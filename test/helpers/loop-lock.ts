/**
 * One loop-device test at a time across tap's parallel jobs. Loop devices are the kernel's, shared by
 * every process: a test that frees a device and then looks at that number again (expecting it unbound,
 * or detaching it to see ENXIO) would find another test's volume there, and could even detach it.
 * Tests that bind loop devices hold this lock while they run (test/local; unit tests bind none).
 *
 * The lock is a directory (mkdir is atomic) holding the holder's PID, so that a lock left by a test
 * process that was killed is taken over instead of waited for.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const LOCK = join(tmpdir(), 'blockyard-loop-tests.lock')
const PID_FILE = join(LOCK, 'pid')
/** A lock directory without a PID file this old was left between mkdir and the write. */
const UNFINISHED_MS = 5000

/** Wait for the lock (up to `timeoutMs`), hold it until `t`'s teardown. */
export async function holdLoopLock(t: { teardown(fn: () => unknown): void; comment(...m: unknown[]): void }, timeoutMs = 600_000): Promise<void> {
  const start = Date.now()
  let told = false
  for (;;) {
    try {
      mkdirSync(LOCK)
      writeFileSync(PID_FILE, String(process.pid))
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    if (abandoned()) {
      rmSync(LOCK, { recursive: true, force: true })
      continue
    }
    if (Date.now() - start > timeoutMs) throw new Error(`another loop-device test held ${LOCK} for ${timeoutMs} ms`)
    if (!told) {
      t.comment('waiting for another loop-device test to finish')
      told = true
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  t.teardown(() => {
    if (holder() === process.pid) rmSync(LOCK, { recursive: true, force: true })
  })
}

function holder(): number | null {
  try {
    return Number(readFileSync(PID_FILE, 'utf8'))
  } catch {
    return null
  }
}

function abandoned(): boolean {
  const pid = holder()
  if (pid === null) {
    try {
      return Date.now() - statSync(LOCK).mtimeMs > UNFINISHED_MS
    } catch {
      return false // gone meanwhile: try again
    }
  }
  try {
    process.kill(pid, 0)
    return false
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH'
  }
}
