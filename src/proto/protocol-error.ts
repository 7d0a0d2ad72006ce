/** Why a frame was refused. */
export type ProtocolErrorReason =
  /** Shorter than its header, or shorter or longer than its size prefix says. */
  | 'TRUNCATED'
  /** Not a Blockyard frame: wrong file identifier. */
  | 'BAD_IDENTIFIER'
  /** A Blockyard frame of another protocol version (`peerVersion` says which). */
  | 'VERSION_MISMATCH'
  /** An offset, vtable or length points outside the frame or outside its object. */
  | 'OUT_OF_BOUNDS'
  /** Structurally wrong: missing required field, invalid UTF-8, duplicate prop key, offsets that share or loop. */
  | 'MALFORMED'
  /** A message type (union tag) this protocol version does not know, or none. */
  | 'UNKNOWN_MESSAGE'
  /** A field holds a value outside its domain: unknown enum value, number beyond 2^53 − 1, wrong nonce length. */
  | 'INVALID_VALUE'

/**
 * A frame that cannot be decoded. The only error `decode()` throws for bad input: the link closes with
 * `LINK_CLOSE.VERSION_MISMATCH` for reason `VERSION_MISMATCH` and `LINK_CLOSE.PROTOCOL_ERROR` otherwise,
 * with `message` as the close reason.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  constructor(
    readonly reason: ProtocolErrorReason,
    message: string,
    /** For `VERSION_MISMATCH`: the protocol version the peer speaks. */
    readonly peerVersion?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
