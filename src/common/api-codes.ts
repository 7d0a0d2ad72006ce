/**
 * LINSTOR's ApiCallRc bit layout and the codes Blockyard answers with. The numbers are LINSTOR's
 * (they are part of the wire contract its clients read), kept as bigint because ret_code is a signed
 * 64-bit mask and a JS number would lose its low bits.
 *
 * Layout: bits 62–63 severity, 24–25 operation, 18–22 object, 0–14 code.
 */
export const MASK = {
  ERROR: 0xc000000000000000n,
  WARN: 0x8000000000000000n,
  INFO: 0x4000000000000000n,
  SUCCESS: 0n,
  BITS_TYPE: 0xc000000000000000n,
  BITS_OP: 0x0000000003000000n,
  BITS_OBJ: 0x00000000007c0000n,
  BITS_CODE: 0x0000000000007fffn,
} as const

/** Operation masks (bits 24–25). */
export const OP = { CRT: 0x01000000n, MOD: 0x02000000n, DEL: 0x03000000n } as const
export type Op = keyof typeof OP

/** Object masks (bits 18–22). */
export const OBJ = {
  SCHEDULE: 0x540000n,
  EXT_FILES: 0x500000n,
  PHYSICAL_DEVICE: 0x4c0000n,
  VLM_GRP: 0x480000n,
  RSC_GRP: 0x440000n,
  KVS: 0x400000n,
  NODE: 0x3c0000n,
  RSC_DFN: 0x380000n,
  RSC: 0x340000n,
  VLM_DFN: 0x300000n,
  VLM: 0x2c0000n,
  NODE_CONN: 0x280000n,
  RSC_CONN: 0x240000n,
  VLM_CONN: 0x200000n,
  NET_IF: 0x1c0000n,
  STOR_POOL_DFN: 0x180000n,
  STOR_POOL: 0x140000n,
  CTRL_CONF: 0x100000n,
  SNAPSHOT: 0x0c0000n,
  BACKUP: 0x080000n,
  REMOTE: 0x040000n,
} as const
export type Obj = keyof typeof OBJ

/** Severity of a return code, from its top two bits. */
export function severityOf(retCode: bigint): 'ERROR' | 'WARN' | 'INFO' | 'SUCCESS' {
  const t = BigInt.asUintN(64, retCode) & MASK.BITS_TYPE
  if (t === MASK.ERROR) return 'ERROR'
  if (t === MASK.WARN) return 'WARN'
  if (t === MASK.INFO) return 'INFO'
  return 'SUCCESS'
}

/**
 * Compose a ret_code as LINSTOR's clients read it: severity | operation | object | code, returned as a
 * *signed* 64-bit value (LINSTOR serialises a Java long).
 */
export function retCode(severityAndCode: bigint, op?: Op, obj?: Obj): bigint {
  let v = severityAndCode
  if (op !== undefined) v |= OP[op]
  if (obj !== undefined) v |= OBJ[obj]
  return BigInt.asIntN(64, v)
}
