/**
 * What a client call throws. Every failure is one of three typed errors, so that a program (the CLI,
 * the benchmarks, an orchestrator) can tell "the controller refused" from "no controller there" from
 * "something that is not a LINSTOR controller answered":
 * - {@link ApiCallError}: the controller answered with LINSTOR's ApiCallRc list and at least one entry is
 *   an error (LINSTOR's clients decide by the ret_code bits, not by the HTTP status);
 * - {@link ConnectionError}: no controller could be reached (refused, unresolvable, timed out);
 * - {@link UnexpectedReplyError}: a reply that is not LINSTOR's JSON.
 */
import { MASK, severityOf } from '../common/api-codes.js'
import type { ApiCallRc } from './types.js'

/** Whether a reply entry is an error (both severity bits set, as LINSTOR's `MASK_ERROR` test). */
export function isErrorRc(rc: ApiCallRc): boolean {
  return (BigInt.asUintN(64, rc.ret_code) & MASK.ERROR) === MASK.ERROR
}

/** The severity of a reply entry: ERROR, WARN, INFO or SUCCESS. */
export function rcSeverity(rc: ApiCallRc): 'ERROR' | 'WARN' | 'INFO' | 'SUCCESS' {
  return severityOf(rc.ret_code)
}

/**
 * The controller refused (part of) a call. `replies` is the whole reply, success entries included: a
 * call can partly succeed (a resource created, its satellite then failed) and the caller should see all.
 */
export class ApiCallError extends Error {
  override readonly name = 'ApiCallError'
  constructor(
    /** Every entry of the reply, in the controller's order. */
    readonly replies: ApiCallRc[],
    /** HTTP status of the reply. */
    readonly status: number,
    /** `METHOD /path` of the call, for messages. */
    readonly call: string,
  ) {
    super(replies.find(isErrorRc)?.message ?? `${call} failed with status ${status}`)
  }

  /** The error entries of the reply. */
  get errors(): ApiCallRc[] {
    return this.replies.filter(isErrorRc)
  }
}

/** No controller answered at `address` (for several controllers: the last one tried; `tried` has all). */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError'
  constructor(
    /** The controller URL that could not be reached. */
    readonly address: string,
    /** Why, as the system said it (e.g. `connect ECONNREFUSED 127.0.0.1:3370`). */
    readonly reason: string,
    /** True when the controller was reached but did not answer in time. */
    readonly timedOut: boolean,
    /** Every controller URL tried, in order. */
    readonly tried: readonly string[] = [address],
  ) {
    super(`Unable to connect to ${address}: ${reason}`)
  }
}

/** The controller answered with something that is not LINSTOR's JSON (an HTML error page, an empty body…). */
export class UnexpectedReplyError extends Error {
  override readonly name = 'UnexpectedReplyError'
  constructor(
    readonly status: number,
    readonly call: string,
    /** The reply body (cut to 500 characters). */
    readonly body: string,
    problem: string,
  ) {
    super(`${call} returned status ${status}: ${problem}`)
  }
}
