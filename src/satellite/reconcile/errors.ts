/**
 * Errors of a reconcile pass and how they are reported (STYLE.md §3–4): a {@link TerminalError} stops
 * the retries for the current desired state; anything else is retried with backoff. Both are reported
 * to the controller as `ReportedError`s carrying the failed syscall and errno (or command) when there
 * is one.
 */
import type { ReportedError } from '../../proto/messages.js'
import { SysError } from '../sys/native.js'

/**
 * An error retrying cannot fix: wrong configuration (a pool directory that does not exist), a request
 * this satellite refuses (shrinking a volume), a full filesystem. The resource is reported FAILED and
 * is tried again only when its desired state changes (a new generation, or a full sync).
 */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}
Object.defineProperty(TerminalError.prototype, 'name', { value: 'TerminalError', writable: true, enumerable: false, configurable: true })

/**
 * errno names after which a retry of the same step is pointless until someone changes something: no
 * space or quota, a read-only or permission-denied path, a path component that is no directory, a
 * filesystem that cannot do what was asked.
 */
const TERMINAL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS', 'EACCES', 'EPERM', 'ENOTDIR', 'ENAMETOOLONG', 'EOPNOTSUPP', 'ENOTSUP', 'ELOOP'])

/** Fields of a failed system call, from the addon's SysError or from node's fs (errno negative there). */
interface SyscallFacts {
  code: string
  errno: number
  syscall: string
  target?: string
}

function syscallFacts(err: unknown): SyscallFacts | undefined {
  if (err instanceof SysError) return { code: err.code, errno: err.errno, syscall: err.syscall, target: err.target }
  const e = err as NodeJS.ErrnoException | null
  if (e instanceof Error && typeof e.code === 'string' && typeof e.errno === 'number' && typeof e.syscall === 'string') {
    return { code: e.code, errno: Math.abs(e.errno), syscall: e.syscall, ...(e.path !== undefined ? { target: e.path } : {}) }
  }
  return undefined
}

/** Whether `err` ends the retries: a TerminalError, or a failed syscall whose errno retrying cannot fix. */
export function isTerminal(err: unknown): boolean {
  if (err instanceof TerminalError) return true
  const f = syscallFacts(err)
  return f !== undefined && TERMINAL_CODES.has(f.code)
}

/**
 * `err` as the protocol reports it: the message, and the syscall, errno and errno name of the failed
 * call — of `err` itself or of its `cause` (a TerminalError wrapping a SysError). `terminal` says
 * whether the satellite stopped retrying.
 */
export function toReportedError(err: unknown): ReportedError {
  const terminal = isTerminal(err)
  if (!(err instanceof Error)) return { message: String(err), terminal }
  const facts = syscallFacts(err) ?? syscallFacts(err.cause)
  const out: ReportedError = { message: err.message, terminal }
  if (facts !== undefined) {
    out.code = facts.code
    out.syscall = facts.syscall
    out.errno = facts.errno
  } else {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string') out.code = code
  }
  if (err.cause instanceof Error && err.cause.message !== err.message) out.details = err.cause.message
  return out
}
