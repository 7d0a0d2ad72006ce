import t from 'tap'
import { ApiCallError, ConnectionError, isErrorRc, rcSeverity, UnexpectedReplyError } from '../../../src/client/errors.js'

const rc = (ret_code: bigint, message = 'm'): { ret_code: bigint; message: string } => ({ ret_code, message })

t.test('severity from the ret_code bits, signed or unsigned', async (t) => {
  t.equal(isErrorRc(rc(-4611686018427387604n)), true)
  t.equal(isErrorRc(rc(0xc00000000000012cn)), true, 'the unsigned form as well')
  t.equal(isErrorRc(rc(-9223372036834065430n)), false, 'a warning is not an error')
  t.equal(rcSeverity(rc(-9223372036834065430n)), 'WARN')
  t.equal(rcSeverity(rc(0x4000000000000001n)), 'INFO')
  t.equal(rcSeverity(rc(20709377n)), 'SUCCESS')
  t.equal(rcSeverity(rc(-4611686018427387604n)), 'ERROR')
})

t.test('ApiCallError takes its message from the first error entry', async (t) => {
  const e = new ApiCallError([rc(20709377n, 'created'), rc(-4611686018427387604n, 'not found')], 500, 'POST /v1/x')
  t.equal(e.message, 'not found')
  t.equal(e.name, 'ApiCallError')
  t.equal(e.errors.length, 1)
  t.equal(e.replies.length, 2)
  const odd = new ApiCallError([rc(20709377n)], 500, 'POST /v1/x')
  t.equal(odd.message, 'POST /v1/x failed with status 500')
})

t.test('ConnectionError and UnexpectedReplyError say where and what', async (t) => {
  const c = new ConnectionError('http://h:1', 'connect ECONNREFUSED', false)
  t.equal(c.message, 'Unable to connect to http://h:1: connect ECONNREFUSED')
  t.same(c.tried, ['http://h:1'])
  const u = new UnexpectedReplyError(502, 'GET /v1/nodes', '<html>', 'the reply is not JSON')
  t.equal(u.message, 'GET /v1/nodes returned status 502: the reply is not JSON')
})
