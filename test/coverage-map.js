// tap coverage map: test/unit/a/b.test.ts covers src/a/b.ts (STYLE.md §6); other suites map to nothing.
export default function coverageMap(testFile) {
  const m = /^test\/unit\/(.+)\.test\.ts$/.exec(testFile.replace(/\\/g, '/'))
  return m ? `src/${m[1]}.ts` : null
}
