import { existsSync } from 'node:fs'
import t from 'tap'
import { loadModule, moduleLoaded } from '../../../../src/satellite/sys/kmod.js'

t.test('a module already in the kernel is not loaded again', async (t) => {
  // /sys/module/kernel is there on every Linux (the kernel's own parameters).
  t.ok(moduleLoaded('kernel'))
  t.equal(loadModule('kernel'), null)
})

t.test('a module that does not exist: why, naming it', async (t) => {
  const name = 'blockyard_no_such_module'
  t.notOk(moduleLoaded(name))
  const why = loadModule(name)
  if (existsSync('/usr/sbin/modprobe') || existsSync('/sbin/modprobe')) {
    t.match(why, new RegExp(`^the ${name} kernel module does not load: .+`), "modprobe's reason")
    t.notMatch(why, /ENOENT/, 'modprobe itself was found')
  } else {
    t.equal(why, `the ${name} kernel module is not loaded, and modprobe is not installed to load it (Debian: kmod)`)
  }
})

t.test('modprobe is found where Debian puts it, whatever PATH says', async (t) => {
  const saved = process.env.PATH
  process.env.PATH = ''
  t.teardown(() => void (process.env.PATH = saved))
  t.notMatch(loadModule('blockyard_no_such_module'), /spawn|ENOENT/)
})
