// SysError and the loader's failure modes. The addon's calls are tested on the real kernel under
// test/local/satellite/sys (STYLE.md §6: native code only through sys/*.ts).
import t from 'tap'
import { errnoName, native, SysError } from '../../../../src/satellite/sys/native.js'

t.test('SysError', async (t) => {
  const e = new SysError(16, 'ioctl(LOOP_CONFIGURE)', '/dev/loop3')
  t.ok(e instanceof Error)
  t.equal(e.name, 'SysError')
  t.match(e, { errno: 16, code: 'EBUSY', syscall: 'ioctl(LOOP_CONFIGURE)', target: '/dev/loop3' })
  t.equal(e.message, 'ioctl(LOOP_CONFIGURE) /dev/loop3: EBUSY (resource busy or locked)')
  t.match(e.stack, /SysError: ioctl\(LOOP_CONFIGURE\)/)
  t.equal(Object.keys(e).includes('name'), false, 'name is not an own enumerable field')
  const odd = new SysError(4000, 'ioctl(X)', '/dev/x')
  t.equal(odd.code, 'E4000', 'an errno node does not know keeps its number')
  t.equal(odd.message, 'ioctl(X) /dev/x: E4000')
})

t.test('errnoName', async (t) => {
  const table: Array<[number, string]> = [
    [1, 'EPERM'],
    [2, 'ENOENT'],
    [6, 'ENXIO'],
    [11, 'EAGAIN'],
    [16, 'EBUSY'],
    [22, 'EINVAL'],
    [25, 'ENOTTY'],
    [105, 'ENOBUFS'],
  ]
  for (const [n, name] of table) t.equal(errnoName(n), name)
})

t.test('a missing addon says how to build it', async (t) => {
  const saved = process.env.BLOCKYARD_NATIVE_ADDON
  process.env.BLOCKYARD_NATIVE_ADDON = '/nonexistent/blockyard.node'
  t.teardown(() => {
    if (saved === undefined) delete process.env.BLOCKYARD_NATIVE_ADDON
    else process.env.BLOCKYARD_NATIVE_ADDON = saved
  })
  t.throws(() => native(), { message: /not built \(\/nonexistent\/blockyard\.node is missing\): run `npm ci`, or `npm run build:native`/ })
})
