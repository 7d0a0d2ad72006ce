// fallocate through the native addon (src/satellite/sys/file.ts) on the real filesystem.
import t from 'tap'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allocateFile } from '../../../../src/satellite/sys/file.js'
import { SysError } from '../../../../src/satellite/sys/native.js'

const MiB = 1024 * 1024
// No root needed, but the addon is Linux's.
const skip = process.platform !== 'linux' ? `fallocate is Linux's (this is ${process.platform})` : false

t.test('allocateFile', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'blockyard-falloc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const f = join(dir, 'v.img')
  writeFileSync(f, '')
  await allocateFile(f, 8 * MiB)
  t.equal(statSync(f).size, 8 * MiB, 'extended to the length')
  t.ok(statSync(f).blocks * 512 >= 8 * MiB, 'blocks reserved, not sparse')
  await allocateFile(f, 12 * MiB)
  t.equal(statSync(f).size, 12 * MiB, 'grown')
  await allocateFile(f, 4 * MiB)
  t.equal(statSync(f).size, 12 * MiB, 'a shorter length never shrinks')
  const missing = await allocateFile(join(dir, 'missing.img'), MiB).catch((e: unknown) => e)
  t.ok(missing instanceof SysError, 'a SysError')
  t.match(missing, { code: 'ENOENT', errno: 2, syscall: 'open', target: join(dir, 'missing.img') })
  t.match(await allocateFile(dir, MiB).catch((e: unknown) => e), { name: 'SysError', code: 'EISDIR', syscall: 'open' })
  await t.rejects(allocateFile('relative.img', MiB), TypeError)
  await t.rejects(allocateFile(f, 0), RangeError)
  await t.rejects(allocateFile(f, 1.5), RangeError)
})
