// How errors are classified (retry or not) and reported (syscall, errno, code), table-driven.
import t from 'tap'
import { isTerminal, TerminalError, toReportedError } from '../../../../src/satellite/reconcile/errors.js'
import { SysError } from '../../../../src/satellite/sys/native.js'
import type { ReportedError } from '../../../../src/proto/messages.js'

const nodeErr = (code: string, errno: number, syscall: string, path?: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: something, ${syscall}${path ? ` '${path}'` : ''}`), { code, errno: -errno, syscall, ...(path ? { path } : {}) })

const cases: Array<[string, unknown, ReportedError]> = [
  ['SysError EBUSY: retryable', new SysError(16, 'ioctl(LOOP_CONFIGURE)', '/dev/loop3'), {
    message: 'ioctl(LOOP_CONFIGURE) /dev/loop3: EBUSY (resource busy or locked)', code: 'EBUSY', syscall: 'ioctl(LOOP_CONFIGURE)', errno: 16, terminal: false,
  }],
  ['SysError ENOSPC: terminal', new SysError(28, 'fallocate', '/p/f.img'), {
    message: 'fallocate /p/f.img: ENOSPC (no space left on device)', code: 'ENOSPC', syscall: 'fallocate', errno: 28, terminal: true,
  }],
  ['node fs error, errno made positive', nodeErr('EIO', 5, 'read'), { message: 'EIO: something, read', code: 'EIO', syscall: 'read', errno: 5, terminal: false }],
  ['node fs EACCES: terminal', nodeErr('EACCES', 13, 'open', '/p'), { message: "EACCES: something, open '/p'", code: 'EACCES', syscall: 'open', errno: 13, terminal: true }],
  ['TerminalError without cause', new TerminalError('no shrinking'), { message: 'no shrinking', terminal: true }],
  ['TerminalError with a syscall cause: the cause gives syscall and errno', new TerminalError('pool dir missing', { cause: nodeErr('ENOENT', 2, 'stat', '/x') }), {
    message: 'pool dir missing', code: 'ENOENT', syscall: 'stat', errno: 2, terminal: true, details: "ENOENT: something, stat '/x'",
  }],
  ['an Error with a code only', Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }), { message: 'timed out', code: 'ETIMEDOUT', terminal: false }],
  ['a plain Error', new Error('odd'), { message: 'odd', terminal: false }],
  ['not an Error at all', 'a string', { message: 'a string', terminal: false }],
]

for (const [name, err, want] of cases) {
  t.test(name, async (t) => {
    t.strictSame(toReportedError(err), want)
    t.equal(isTerminal(err), want.terminal)
  })
}

t.test('TerminalError is an Error named TerminalError', async (t) => {
  const e = new TerminalError('x')
  t.ok(e instanceof Error)
  t.equal(e.name, 'TerminalError')
  t.equal(Object.keys(e).includes('name'), false)
})
