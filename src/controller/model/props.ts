/**
 * Properties: LINSTOR's string→string maps on every object, changed with override/delete/namespace
 * deletes, and resolved most-specific-first: resource → resource definition → resource group →
 * node / storage pool → controller.
 */
import { ApiError } from '../../common/errors.js'
import type { Props } from './types.js'

// Keys are LINSTOR paths like 'DrbdOptions/Net/protocol' or 'Aux/rack'; never control characters,
// never empty segments. Values are free text but bounded, as they end up in configuration files.
const KEY = /^[A-Za-z0-9_.:+-]+(?:\/[A-Za-z0-9_.:+-]+)*$/
const MAX_KEY = 512
const MAX_VALUE = 8192

export function checkPropKey(key: string): void {
  // '__proto__' as a map key would change the object's prototype instead of adding a property.
  if (key.length === 0 || key.length > MAX_KEY || !KEY.test(key) || key === '__proto__') {
    throw new ApiError('ERR_PROP_INVALID', { key: key.slice(0, 80), problem: 'not a property path' }, { correction: "Use '/'-separated segments of letters, digits and . _ : + -, e.g. 'Aux/rack'." })
  }
}

export function checkPropValue(key: string, value: string): void {
  if (value.length > MAX_VALUE) throw new ApiError('ERR_PROP_INVALID', { key, problem: `value longer than ${MAX_VALUE} characters` }, { correction: 'Shorten the value.' })
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(value)) throw new ApiError('ERR_PROP_INVALID', { key, problem: 'value contains control characters' }, { correction: 'Remove them.' })
}

export interface PropsModify {
  override?: Props
  deleteKeys?: string[]
  deleteNamespaces?: string[]
}

/**
 * The props after a LINSTOR-style modify, as a new object (the caller installs it, so a validation
 * failure leaves the old map untouched). `validate` may reject or normalise individual values.
 */
export function modifyProps(current: Props, mod: PropsModify, validate?: (key: string, value: string) => string): { props: Props; unsetKeys: string[] } {
  const next: Props = { ...current }
  const unsetKeys: string[] = []
  for (const ns of mod.deleteNamespaces ?? []) {
    checkPropKey(ns)
    const prefix = ns + '/'
    for (const k of Object.keys(next)) if (k.startsWith(prefix)) delete next[k]
  }
  for (const k of mod.deleteKeys ?? []) {
    checkPropKey(k)
    if (k in next) delete next[k]
    else unsetKeys.push(k)
  }
  for (const [k, v] of Object.entries(mod.override ?? {})) {
    checkPropKey(k)
    checkPropValue(k, v)
    next[k] = validate !== undefined ? validate(k, v) : v
  }
  return { props: next, unsetKeys }
}

/** First value of `key` along a chain of property maps, most specific first. */
export function resolveProp(key: string, chain: readonly (Props | undefined)[]): string | undefined {
  for (const p of chain) {
    const v = p?.[key]
    if (v !== undefined) return v
  }
  return undefined
}

/** Every key visible through the chain, with the most specific value winning. */
export function effectiveProps(chain: readonly (Props | undefined)[]): Props {
  const out: Props = {}
  for (let i = chain.length - 1; i >= 0; i--) Object.assign(out, chain[i])
  return out
}

/** Keep only the entries whose key is in `filter` (LINSTOR list calls' `props=` query). */
export function hasAllProps(props: Props, wanted: readonly string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=')
    return eq < 0 ? w in props : props[w.slice(0, eq)] === w.slice(eq + 1)
  })
}
