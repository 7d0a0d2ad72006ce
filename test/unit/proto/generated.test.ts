// The committed src/proto/gen/ is what flatc makes of schemas/*.fbs (STYLE.md §6: regenerate, then
// diff). Needs flatc 2.0.8 (Debian's flatbuffers-compiler); skipped with the reason where it is absent.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../../../scripts/gen-proto.mjs', import.meta.url))
const flatc = spawnSync(process.env.FLATC || 'flatc', ['--version'], { encoding: 'utf8' })
const skip = flatc.error ? 'flatc is not installed (apt-get install -y flatbuffers-compiler); CI runs npm run check:proto' : false

t.test('generated code is up to date', { skip }, async (t) => {
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' })
  t.equal(r.status, 0, `${r.stdout}${r.stderr}`)
  t.match(r.stdout, /is up to date/)
})

t.test('the check names a missing flatc', async (t) => {
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8', env: { ...process.env, FLATC: '/nonexistent/flatc' } })
  t.equal(r.status, 1)
  t.match(r.stderr, /check:proto: flatc not found .*flatbuffers-compiler/)
})
