/**
 * Controller properties whose values Blockyard interprets, with their parsers and defaults. A bad value is
 * refused when it is set, not discovered at the next allocation.
 */
import { ApiError } from '../../common/errors.js'
import type { Props } from './types.js'

export const TCP_PORT_AUTO_RANGE = 'TcpPortAutoRange'
export const MINOR_NR_AUTO_RANGE = 'MinorNrAutoRange'
export const DEFAULT_TCP_PORT_RANGE: Range = { min: 7000, max: 7999 }
export const DEFAULT_MINOR_RANGE: Range = { min: 1000, max: 49999 }
/** LINSTOR's autoplacer weights (Autoplacer/Weights/<strategy>). */
export const WEIGHT_KEYS = {
  maxFreeSpace: 'Autoplacer/Weights/MaxFreeSpace',
  minReservedSpace: 'Autoplacer/Weights/MinReservedSpace',
  minRscCount: 'Autoplacer/Weights/MinRscCount',
} as const

export interface Range { min: number; max: number }

/** Parse "A-B" (inclusive) within [lo, hi]; null when malformed. */
export function parseRange(text: string, lo: number, hi: number): Range | null {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text)
  if (!m) return null
  const min = Number(m[1])
  const max = Number(m[2])
  return min <= max && min >= lo && max <= hi ? { min, max } : null
}

export function tcpPortRange(props: Props): Range {
  const v = props[TCP_PORT_AUTO_RANGE]
  return (v !== undefined ? parseRange(v, 1, 65535) : null) ?? DEFAULT_TCP_PORT_RANGE
}

export function minorRange(props: Props): Range {
  const v = props[MINOR_NR_AUTO_RANGE]
  return (v !== undefined ? parseRange(v, 0, 1048575) : null) ?? DEFAULT_MINOR_RANGE
}

/** Validator for `modifyProps` on controller (and node, for TcpPortAutoRange) properties. */
export function validateCtrlProp(key: string, value: string): string {
  if (key === TCP_PORT_AUTO_RANGE && parseRange(value, 1, 65535) === null) {
    throw new ApiError('ERR_PROP', { key, problem: `'${value}' is not a port range` }, { correction: "Give two ports from 1 to 65535 as 'FIRST-LAST', e.g. '7000-7999'." })
  }
  if (key === MINOR_NR_AUTO_RANGE && parseRange(value, 0, 1048575) === null) {
    throw new ApiError('ERR_PROP', { key, problem: `'${value}' is not a minor number range` }, { correction: "Give two minor numbers from 0 to 1048575 as 'FIRST-LAST', e.g. '1000-49999'." })
  }
  if ((Object.values(WEIGHT_KEYS) as string[]).includes(key) && !(Number.isFinite(Number(value)) && value.trim() !== '')) {
    throw new ApiError('ERR_PROP', { key, problem: `'${value}' is not a number` }, { correction: 'Give a weight such as 1 or 0.5.' })
  }
  return value
}
