// tap coverage map: test/unit/a/b.test.ts covers src/a/b.ts (STYLE.md §6), test/unit/integration/x.test.ts
// covers the VM harness's integration/harness/x.ts; other suites map to nothing.
export default function coverageMap(testFile) {
  const m = /^test\/unit\/(.+)\.test\.ts$/.exec(testFile.replace(/\\/g, '/'))
  if (m === null) return null
  const harness = /^integration\/(.+)$/.exec(m[1])
  return harness ? `integration/harness/${harness[1]}.ts` : `src/${m[1]}.ts`
}
