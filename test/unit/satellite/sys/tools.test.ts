import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { toolPath } from '../../../../src/satellite/sys/tools.js'

t.test('a tool is found in the given directories first, then on PATH; null when nowhere', async (t) => {
  const first = mkdtempSync(join(tmpdir(), 'blockyard-tools-'))
  const onPath = mkdtempSync(join(tmpdir(), 'blockyard-tools-'))
  const saved = process.env.PATH
  t.teardown(() => {
    process.env.PATH = saved
    for (const d of [first, onPath]) rmSync(d, { recursive: true, force: true })
  })
  for (const d of [first, onPath]) {
    writeFileSync(join(d, 'tool'), '#!/bin/sh\n')
    chmodSync(join(d, 'tool'), 0o755)
  }
  process.env.PATH = onPath
  t.equal(toolPath('tool'), join(onPath, 'tool'))
  t.equal(toolPath('tool', [first]), join(first, 'tool'))
  t.equal(toolPath('blockyard-no-such-tool', [first]), null)
  process.env.PATH = ''
  t.equal(toolPath('tool'), null, 'an empty PATH has no directories')
})
