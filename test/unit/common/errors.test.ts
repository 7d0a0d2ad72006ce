import t from 'tap'
import { ApiError, ERRORS, API_CALL_PARSE_ERROR, UNKNOWN_API_CALL, formatTemplate, type ErrorCode } from '../../../src/common/errors.js'
import { MASK, OBJ, OP, retCode, severityOf } from '../../../src/common/api-codes.js'

const codes = Object.keys(ERRORS) as ErrorCode[]

t.test('every code is ERR_<AREA>_<WHAT>, has a 4xx/5xx status and a LINSTOR error ret_code', async (t) => {
  for (const c of codes) {
    const def = ERRORS[c]
    t.match(c, /^ERR_[A-Z]+(_[A-Z0-9]+)+$/, `${c}: name`)
    t.ok(def.status >= 400 && def.status <= 599, `${c}: status ${def.status}`)
    t.equal(severityOf(def.rc), 'ERROR', `${c}: error severity`)
    if (def.rc !== API_CALL_PARSE_ERROR && def.rc !== UNKNOWN_API_CALL) {
      // Only severity and code bits: operation and object come from the API call.
      t.equal(BigInt.asUintN(64, def.rc) & (MASK.BITS_OP | MASK.BITS_OBJ), 0n, `${c}: no op/obj bits`)
      t.ok((def.rc & MASK.BITS_CODE) > 0n, `${c}: has a code`)
    }
    t.ok(def.message.length > 0, `${c}: message`)
  }
})

t.test('codes are unique by name and bad input is never a 5xx', async (t) => {
  t.equal(new Set(codes).size, codes.length)
  for (const c of codes) {
    if (/^ERR_(NAME|REQ_FIELD|REQ_JSON|REQ_QUERY|PROP|VLM_SIZE|NOT_FOUND|EXISTS)/.test(c)) t.ok(ERRORS[c].status < 500, `${c} is a client error`)
  }
})

t.test('ret_code layout matches LINSTOR (exact 64-bit values)', async (t) => {
  // FAIL_NOT_FOUND_NODE in a node delete: ERROR | DEL | NODE | 300
  t.equal(retCode(MASK.ERROR | 300n, 'DEL', 'NODE'), BigInt.asIntN(64, 0xc000000000000000n | 0x3000000n | 0x3c0000n | 300n))
  t.equal(retCode(1n, 'CRT', 'RSC_DFN'), 0x1000000n | 0x380000n | 1n)
  t.equal(API_CALL_PARSE_ERROR, -3458764513820540931n)
  t.equal(UNKNOWN_API_CALL, -3458764513820540929n)
  t.equal(OP.DEL, 0x3000000n)
  t.equal(OBJ.STOR_POOL, 0x140000n)
  t.equal(severityOf(MASK.WARN | 5n), 'WARN')
  t.equal(severityOf(MASK.INFO | 5n), 'INFO')
  t.equal(severityOf(5n), 'SUCCESS')
})

t.test('ApiError renders an ApiCallRc', async (t) => {
  const e = new ApiError('ERR_NOT_FOUND_NODE', { node: 'n1' }, { cause: 'because', details: 'more', objRefs: { Node: 'n1' } })
  t.equal(e.status, 404)
  const rc = e.toRc('DEL', 'NODE')
  t.equal(rc.message, "Node 'n1' not found.")
  t.equal(rc.cause, 'because')
  t.equal(rc.details, 'more')
  t.same(rc.obj_refs, { Node: 'n1' })
  t.match(rc.correction, /node list/)
  t.equal(rc.ret_code, retCode(MASK.ERROR | 300n, 'DEL', 'NODE'))
  const special = new ApiError('ERR_REQ_JSON').toRc('CRT', 'NODE')
  t.equal(special.ret_code, API_CALL_PARSE_ERROR, 'special LINSTOR constants are not re-masked')
})

t.test('templates keep unknown placeholders visible', async (t) => {
  t.equal(formatTemplate('a {x} {y}', { x: 1 }), 'a 1 {y}')
})
