import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { configFiles, configSection, parseIni, resolveControllers } from '../../../src/cli/client-config.js'

t.test('INI as Python ConfigParser reads it', async (t) => {
  const s = parseIni('# comment\n; also\n[global]\nControllers = a:1\nno-utf8=\n\n[other]\nx: y\nstray\n')
  t.same([...s.get('global')!], [['controllers', 'a:1'], ['no-utf8', '']])
  t.same([...s.get('other')!], [['x', 'y']])
})

t.test('config files in linstor order; a later section replaces an earlier one', async (t) => {
  const dir = t.testdir({
    etc: { 'linstor-client.conf': '[global]\ncontrollers=sys:1\n', 'linstor-client.d': { 'b.conf': '[global]\ncontrollers=d-b:1\n', 'a.conf': '[global]\ncontrollers=d-a:1\n', 'skip.txt': '' } },
    home: {},
  })
  const etc = join(dir, 'etc')
  const home = join(dir, 'home')
  t.same(configFiles(home, etc), [join(etc, 'linstor-client.d', 'a.conf'), join(etc, 'linstor-client.d', 'b.conf'), join(etc, 'linstor-client.conf')])
  t.equal(configSection('global', configFiles(home, etc)).get('controllers'), 'sys:1')
  mkdirSync(join(home, '.config', 'linstor'), { recursive: true })
  writeFileSync(join(home, '.config', 'linstor', 'linstor-client.conf'), '[global]\ncontrollers=user:1\n')
  t.same(configFiles(home, etc).at(-1), join(home, '.config', 'linstor', 'linstor-client.conf'), 'the user file instead of the system one')
  t.equal(configSection('global', configFiles(home, etc)).get('controllers'), 'user:1')
  t.same(configFiles(home, join(dir, 'none')), [join(home, '.config', 'linstor', 'linstor-client.conf')])
  t.same([...configSection('missing', configFiles(home, etc))], [])
})

t.test('controllers: flag (or config), then LS_CONTROLLERS, else 127.0.0.1:3370', async (t) => {
  const cfg = new Map([['controllers', 'conf:1']])
  t.same(resolveControllers('flag:1', { LS_CONTROLLERS: 'env:1' }, cfg), ['flag:1', 'env:1'])
  t.same(resolveControllers(undefined, { LS_CONTROLLERS: 'env:1' }, cfg), ['conf:1', 'env:1'])
  t.same(resolveControllers(undefined, {}, new Map()), ['127.0.0.1:3370'])
  t.same(resolveControllers(' ', { LS_CONTROLLERS: ' ' }, new Map()), ['127.0.0.1:3370'])
})
