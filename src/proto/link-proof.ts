/**
 * The link's challenge–response (DESIGN.md §2.3, `schemas/link.fbs`): each side proves it knows the
 * cluster secret without sending it.
 *
 *   proof(role) = HMAC-SHA256(secret, "blockyard link v1 " + role + "\0" || S || C || nodeName)
 *
 * S is the satellite's challenge (from Hello), C the controller's (from ControllerAuth), both exactly
 * 32 bytes, and nodeName the UTF-8 bytes of Hello's node name; the fixed lengths keep the input
 * unambiguous. The role label differs for the two proofs, so one side's proof cannot be reflected back
 * as the other's; fresh challenges on both sides keep a recorded exchange from being replayed.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { CHALLENGE_BYTES, PROOF_BYTES } from './messages.js'

/** Which side's proof. */
export type LinkRole = 'controller' | 'satellite'

export interface LinkProofInput {
  /** The cluster secret (bytes or text, as read from the secret file). */
  secret: Uint8Array | string
  /** S, from Hello. */
  satelliteChallenge: Uint8Array
  /** C, from ControllerAuth. */
  controllerChallenge: Uint8Array
  /** Hello's node name, exactly as sent. */
  nodeName: string
}

/** A fresh random challenge for one link. */
export function newChallenge(): Uint8Array {
  return new Uint8Array(randomBytes(CHALLENGE_BYTES))
}

/** The proof `role` sends (32 bytes). Throws `RangeError` for an empty secret or a wrong-sized challenge. */
export function linkProof(role: LinkRole, input: LinkProofInput): Uint8Array {
  if (role !== 'controller' && role !== 'satellite') throw new RangeError(`linkProof: unknown role ${String(role)}`)
  const { secret, satelliteChallenge: s, controllerChallenge: c, nodeName } = input
  if (secret.length === 0) throw new RangeError('linkProof: the cluster secret is empty')
  for (const [name, v] of [['satelliteChallenge', s], ['controllerChallenge', c]] as const) {
    if (!(v instanceof Uint8Array) || v.length !== CHALLENGE_BYTES) {
      throw new RangeError(`linkProof: ${name} must be ${CHALLENGE_BYTES} bytes`)
    }
  }
  if (typeof nodeName !== 'string') throw new TypeError('linkProof: nodeName must be a string')
  const mac = createHmac('sha256', secret)
  mac.update(`blockyard link v1 ${role}\0`, 'utf8')
  mac.update(s)
  mac.update(c)
  mac.update(nodeName, 'utf8')
  return new Uint8Array(mac.digest())
}

/** Whether `proof` is `role`'s proof for `input`, compared in constant time. */
export function verifyLinkProof(role: LinkRole, input: LinkProofInput, proof: Uint8Array): boolean {
  const want = linkProof(role, input)
  return proof instanceof Uint8Array && proof.length === PROOF_BYTES && timingSafeEqual(want, proof)
}
