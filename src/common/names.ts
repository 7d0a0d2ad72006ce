/**
 * Object names, validated before they reach a map, a device path or a command line. Rules are LINSTOR's
 * (its NodeName, ResourceName, StorPoolName, NetInterfaceName, SnapshotName … checks): names compare
 * case-insensitively, so every map is keyed by {@link nameKey}.
 */
import { ApiError, type ErrorCode } from './errors.js'

export type NameKind = 'node' | 'rsc' | 'storPool' | 'netIf' | 'snapshot' | 'kvs' | 'rscGrp'

interface Rule { code: ErrorCode; min: number; max: number; pattern: RegExp; what: string }

// A letter or underscore first, then letters, digits, underscores, dashes: never a path separator, a dot
// (so never '.' or '..'), whitespace or a shell metacharacter.
const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/
// RFC 1123 hostname labels; LINSTOR also accepts '_' in node names (hostnames of some clouds).
const HOST = /^(?=.{2,255}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/

const RULES: Record<NameKind, Rule> = {
  node: { code: 'ERR_NAME_NODE', min: 2, max: 255, pattern: HOST, what: 'a hostname' },
  rsc: { code: 'ERR_NAME_RSC', min: 2, max: 48, pattern: IDENT, what: 'an identifier' },
  storPool: { code: 'ERR_NAME_STOR_POOL', min: 2, max: 48, pattern: IDENT, what: 'an identifier' },
  netIf: { code: 'ERR_NAME_NET_IF', min: 2, max: 32, pattern: IDENT, what: 'an identifier' },
  snapshot: { code: 'ERR_NAME_SNAPSHOT', min: 2, max: 48, pattern: IDENT, what: 'an identifier' },
  kvs: { code: 'ERR_NAME_KVS', min: 2, max: 48, pattern: IDENT, what: 'an identifier' },
  rscGrp: { code: 'ERR_NAME_RSC_GRP', min: 2, max: 48, pattern: IDENT, what: 'an identifier' },
}

/** The map key of a name: names are case-insensitive, as LINSTOR's. */
export function nameKey(name: string): string {
  return name.toUpperCase()
}

/**
 * Check a name of the given kind; returns it unchanged (its display form) or throws the kind's
 * `ERR_NAME_*` ApiError saying what is wrong.
 */
export function checkName(kind: NameKind, value: unknown): string {
  const rule = RULES[kind]
  if (typeof value !== 'string') throw new ApiError(rule.code, { name: String(value), problem: 'a name must be a string' })
  const shown = value.length > 80 ? value.slice(0, 77) + '...' : value
  if (value.length < rule.min) throw new ApiError(rule.code, { name: shown, problem: `shorter than ${rule.min} characters` })
  if (value.length > rule.max) throw new ApiError(rule.code, { name: shown, problem: `longer than ${rule.max} characters` })
  if (!rule.pattern.test(value)) {
    // Name the first offending character when there is one: it is what the user has to change.
    const allowed = rule.pattern === HOST ? /[A-Za-z0-9_.-]/ : /[A-Za-z0-9_-]/
    const bad = [...value].find((c) => !allowed.test(c))
    let problem = `not ${rule.what}`
    if (bad !== undefined) problem = `character '${bad === '\0' ? '\\0' : bad}' is not allowed`
    else if (rule.pattern === IDENT) problem = 'it must start with a letter or an underscore'
    throw new ApiError(rule.code, { name: shown, problem })
  }
  // LINSTOR requires at least one letter in identifiers ("1234" or "__" are not names).
  if (rule.pattern === IDENT && !/[A-Za-z]/.test(value)) throw new ApiError(rule.code, { name: shown, problem: 'it must contain a letter' })
  return value
}
