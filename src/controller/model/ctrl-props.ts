/**
 * Controller properties whose values Blockyard interprets, with their parsers and defaults. A bad value is
 * refused when it is set, not discovered at the next allocation.
 */
import { ApiError } from '../../common/errors.js'
import { DEFAULT_MINOR_NR_RANGE, DEFAULT_TCP_PORT_RANGE, MINOR_NR_LIMITS, TCP_PORT_LIMITS } from '../alloc/allocators.js'
import type { NumberRange } from '../alloc/number-pool.js'
import type { Props } from './types.js'

export const TCP_PORT_AUTO_RANGE = 'TcpPortAutoRange'
export const MINOR_NR_AUTO_RANGE = 'MinorNrAutoRange'
/** LINSTOR's autoplacer weights (Autoplacer/Weights/<strategy>). */
export const WEIGHT_KEYS = {
  maxFreeSpace: 'Autoplacer/Weights/MaxFreeSpace',
  minReservedSpace: 'Autoplacer/Weights/MinReservedSpace',
  minRscCount: 'Autoplacer/Weights/MinRscCount',
} as const

/** Parse "A-B" (inclusive) within `limits`; null when malformed. */
export function parseRange(text: string, limits: NumberRange): NumberRange | null {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text)
  if (!m) return null
  const min = Number(m[1])
  const max = Number(m[2])
  return min <= max && min >= limits.min && max <= limits.max ? { min, max } : null
}

/** The TcpPortAutoRange a property map sets, if it sets a valid one. */
export function tcpPortRangeOf(props: Props): NumberRange | undefined {
  const v = props[TCP_PORT_AUTO_RANGE]
  return (v !== undefined ? parseRange(v, TCP_PORT_LIMITS) : null) ?? undefined
}

export function tcpPortRange(ctrlProps: Props): NumberRange {
  return tcpPortRangeOf(ctrlProps) ?? DEFAULT_TCP_PORT_RANGE
}

export function minorRange(ctrlProps: Props): NumberRange {
  const v = ctrlProps[MINOR_NR_AUTO_RANGE]
  return (v !== undefined ? parseRange(v, MINOR_NR_LIMITS) : null) ?? DEFAULT_MINOR_NR_RANGE
}

/** Validator for `modifyProps` on controller (and node, for TcpPortAutoRange) properties. */
export function validateCtrlProp(key: string, value: string): string {
  if (key === TCP_PORT_AUTO_RANGE && parseRange(value, TCP_PORT_LIMITS) === null) {
    throw new ApiError('ERR_PROP_INVALID', { key, problem: `'${value}' is not a port range` }, { correction: "Give two ports from 1 to 65535 as 'FIRST-LAST', e.g. '7000-7999'." })
  }
  if (key === MINOR_NR_AUTO_RANGE && parseRange(value, MINOR_NR_LIMITS) === null) {
    throw new ApiError('ERR_PROP_INVALID', { key, problem: `'${value}' is not a minor number range` }, { correction: "Give two minor numbers from 0 to 1048575 as 'FIRST-LAST', e.g. '1000-49999'." })
  }
  if ((Object.values(WEIGHT_KEYS) as string[]).includes(key) && !(Number.isFinite(Number(value)) && value.trim() !== '')) {
    throw new ApiError('ERR_PROP_INVALID', { key, problem: `'${value}' is not a number` }, { correction: 'Give a weight such as 1 or 0.5.' })
  }
  return value
}
