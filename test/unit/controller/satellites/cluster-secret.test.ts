import t from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setLogSink } from '../../../../src/common/log.js'
import { loadClusterSecret } from '../../../../src/controller/satellites/cluster-secret.js'

const lines: string[] = []
setLogSink((l) => lines.push(l))
const dir = mkdtempSync(join(tmpdir(), 'blockyard-secret-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('created on first use: 32 random bytes as hex, mode 0600, in a new directory if need be', async (t) => {
  const path = join(dir, 'state', 'cluster-secret')
  const secret = loadClusterSecret(path)
  t.match(secret, /^[0-9a-f]{64}$/)
  t.equal(readFileSync(path, 'utf8'), secret + '\n')
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(loadClusterSecret(path), secret, 'read back, not replaced')
  t.not(loadClusterSecret(join(dir, 'other')), secret, 'random')
  t.notOk(lines.some((l) => l.includes(secret)), 'never logged')
})

t.test('an existing secret is used as written, without surrounding whitespace', async (t) => {
  const path = join(dir, 'given')
  writeFileSync(path, '  my-secret \n', { mode: 0o600 })
  t.equal(loadClusterSecret(path), 'my-secret')
})

t.test('refused: empty, unreadable; warned: readable by others', async (t) => {
  const empty = join(dir, 'empty')
  writeFileSync(empty, '\n\n', { mode: 0o600 })
  t.throws(() => loadClusterSecret(empty), { message: /is empty/ })
  const asDir = join(dir, 'a-directory')
  mkdirSync(asDir)
  t.throws(() => loadClusterSecret(asDir), { message: /cannot read the cluster secret/ })
  t.throws(() => loadClusterSecret(join(dir, 'given', 'below-a-file')), { message: /cannot (read|create) the cluster secret/ })
  const open = join(dir, 'open')
  writeFileSync(open, 'x')
  chmodSync(open, 0o644)
  lines.length = 0
  t.equal(loadClusterSecret(open), 'x')
  t.match(lines.join('\n'), /readable by other users/)
})
