/**
 * Sizes as LINSTOR's clients write and read them. Parsing follows linstor-client's `parse_size_str`
 * over linstor-api-py's `SizeCalc` unit table; formatting follows `SizeCalc.approximate_size_string`,
 * so our CLI prints what `linstor` prints. Sizes inside Blockyard are integer KiB, as LINSTOR's API.
 */

/**
 * Units accepted, matched case-insensitively as `SizeCalc.UNITS_MAP` does. One letter and `…iB` are
 * binary, `…B` is decimal (LINSTOR: `MB` = 10^6 bytes, `M` = `MiB` = 2^20), `S` is a 512-byte sector,
 * `B` a byte.
 */
export const SIZE_UNITS = [
  'B', 'S',
  'K', 'kB', 'KiB',
  'M', 'MB', 'MiB',
  'G', 'GB', 'GiB',
  'T', 'TB', 'TiB',
  'P', 'PB', 'PiB',
] as const
export type SizeUnit = (typeof SIZE_UNITS)[number]

const bin = (power: number): bigint => 1n << BigInt(power)
const dec = (power: number): bigint => 10n ** BigInt(power)
const UNIT_BYTES: Readonly<Record<SizeUnit, bigint>> = {
  B: 1n,
  S: 512n,
  K: bin(10), kB: dec(3), KiB: bin(10),
  M: bin(20), MB: dec(6), MiB: bin(20),
  G: bin(30), GB: dec(9), GiB: bin(30),
  T: bin(40), TB: dec(12), TiB: bin(40),
  P: bin(50), PB: dec(15), PiB: bin(50),
}
const BY_LOWER: ReadonlyMap<string, bigint> = new Map(
  SIZE_UNITS.map((u) => [u.toLowerCase(), UNIT_BYTES[u]] as [string, bigint]),
)
const UNIT_LIST = SIZE_UNITS.join(', ')
const MAX_KIB = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * Parses a size such as `150m`, `1G`, `1GiB`, `512K`, `1T`, `10MB` into KiB, rounded up to a whole KiB
 * (so `1000B` is 1 KiB, and `100MB` is 97657 KiB, large enough to hold 10^8 bytes). Blanks around the
 * number and unit are ignored.
 *
 * @param text a whole number followed by an optional unit from {@link SIZE_UNITS} (case-insensitive)
 * @param defaultUnit the unit of a bare number; `GiB` as in `linstor volume-definition create`
 * @returns the size in KiB, a safe integer ≥ 0
 * @throws TypeError when `text` is not a string or `defaultUnit` not a unit
 * @throws RangeError when `text` is not a size (empty, negative, fractional, unknown unit, trailing
 *   characters) or exceeds 2^53−1 KiB; the message says which
 */
export function parseSizeKib(text: string, defaultUnit: SizeUnit = 'GiB'): number {
  if (typeof text !== 'string') throw new TypeError(`a size must be a string, got ${typeof text}`)
  // hasOwn, not a plain lookup: 'toString' must not pass as a unit.
  if (typeof defaultUnit !== 'string' || !Object.hasOwn(UNIT_BYTES, defaultUnit)) {
    throw new TypeError(`default unit ${String(defaultUnit)} is not one of ${UNIT_LIST}`)
  }
  const defaultBytes = UNIT_BYTES[defaultUnit]
  const s = text.trim()
  if (s === '') throw new RangeError('the size is empty')
  // Fail with the reason rather than a generic "not a size": these are the usual slips.
  if (/^[-+]/.test(s)) throw new RangeError(`size '${text}' must be a whole number without a sign`)
  if (/^\d*[.,]\d/.test(s)) {
    throw new RangeError(
      `size '${text}' is fractional; use a whole number of a smaller unit (e.g. 1536M for 1.5G)`,
    )
  }
  const m = /^(\d+)\s*([A-Za-z]*)$/.exec(s)
  if (m === null) {
    throw new RangeError(
      `'${text}' is not a size: expected a whole number and an optional unit, e.g. 150M, 1GiB, 10MB`,
    )
  }
  const [, digits, unit] = m as unknown as [string, string, string]
  const unitBytes = unit === '' ? defaultBytes : BY_LOWER.get(unit.toLowerCase())
  if (unitBytes === undefined) {
    throw new RangeError(`'${unit}' in size '${text}' is not a unit; valid units: ${UNIT_LIST}`)
  }
  const bytes = BigInt(digits) * unitBytes
  const kib = (bytes + 1023n) / 1024n
  if (kib > MAX_KIB) throw new RangeError(`size '${text}' is too large (over ${Number.MAX_SAFE_INTEGER} KiB)`)
  return Number(kib)
}

const FORMAT_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const

/**
 * Formats a KiB count as `linstor` shows sizes: the largest binary unit up to PiB that the size reaches,
 * a whole number when it divides evenly (`64 MiB`), otherwise two decimals rounded half-to-even as
 * Python's `%.2f` (`1.50 GiB`). Negative sizes (an overcommitted pool's free space) get a minus sign.
 *
 * @throws TypeError when `kib` is not a number; RangeError when it is not a safe integer
 */
export function formatSizeKib(kib: number): string {
  if (typeof kib !== 'number') throw new TypeError(`a size must be a number of KiB, got ${typeof kib}`)
  if (!Number.isSafeInteger(kib)) throw new RangeError(`a size must be a whole number of KiB, got ${kib}`)
  if (kib < 0) return `-${formatSizeKib(-kib)}`
  let index = 0
  while (index + 1 < FORMAT_UNITS.length && kib >= 1024 ** (index + 1)) index++
  const unit = FORMAT_UNITS[index]!
  const mag = 1n << BigInt(10 * index)
  const k = BigInt(kib)
  if (k % mag === 0n) return `${k / mag} ${unit}`
  // Exact arithmetic: a double would do here (division by a power of two is exact below 2^53), but
  // JS's toFixed rounds ties away from zero where Python rounds them to even (1.125 → "1.12").
  const scaled = k * 100n
  let hundredths = scaled / mag
  const twiceRest = (scaled % mag) * 2n
  if (twiceRest > mag || (twiceRest === mag && hundredths % 2n === 1n)) hundredths++
  return `${hundredths / 100n}.${String(hundredths % 100n).padStart(2, '0')} ${unit}`
}
