import t from 'tap'
import { SIZE_UNITS, formatSizeKib, parseSizeKib } from '../../../src/common/units.js'

// Expected values are what linstor-client's parse_size_str / linstor-api-py's SizeCalc give.
const parses: [string, number][] = [
  ['150m', 153600],
  ['150M', 153600],
  ['150MiB', 153600],
  ['1G', 1048576],
  ['1GiB', 1048576],
  ['1gib', 1048576],
  ['512K', 512],
  ['512k', 512],
  ['512KiB', 512],
  ['1T', 1073741824],
  ['1TiB', 1073741824],
  ['1P', 1099511627776],
  ['5M', 5120],
  // Decimal units: LINSTOR treats MB as 10^6 bytes; rounded up to whole KiB.
  ['10MB', 9766],
  ['100MB', 97657],
  ['1GB', 976563],
  ['1gb', 976563],
  ['1TB', 976562500],
  ['2PB', 1953125000000],
  ['1kB', 1],
  ['1kb', 1],
  ['1KB', 1],
  // Bytes and sectors.
  ['1B', 1],
  ['1000B', 1],
  ['1023B', 1],
  ['1024B', 1],
  ['1025B', 2],
  ['1S', 1],
  ['3s', 2],
  ['4S', 2],
  // A bare number is in the default unit (GiB, as `linstor vd create`).
  ['7', 7340032],
  ['0', 0],
  ['010G', 10485760],
  // Blanks around and between number and unit are ignored.
  ['  64 MiB ', 65536],
  ['64\tM', 65536],
  ['8191P', 8191 * 1099511627776],
]

t.test('parseSizeKib', async (t) => {
  for (const [text, kib] of parses) t.equal(parseSizeKib(text), kib, JSON.stringify(text))
})

t.test('parseSizeKib with another default unit', async (t) => {
  t.equal(parseSizeKib('512', 'KiB'), 512)
  t.equal(parseSizeKib('512', 'K'), 512)
  t.equal(parseSizeKib('512', 'MB'), 500000)
  t.equal(parseSizeKib('2048', 'B'), 2)
  t.equal(parseSizeKib('1M', 'KiB'), 1024, 'an explicit unit wins')
  t.throws(() => parseSizeKib('1', 'XiB' as never), { name: 'TypeError', message: /default unit XiB is not one of B, S, K/ })
  t.throws(() => parseSizeKib('1', 1024 as never), { name: 'TypeError', message: /default unit 1024 is not/ })
  t.throws(() => parseSizeKib('1', 'toString' as never), TypeError, 'no prototype keys')
})

const bad: [unknown, string, RegExp][] = [
  ['', 'RangeError', /the size is empty/],
  ['   ', 'RangeError', /the size is empty/],
  ['-1G', 'RangeError', /size '-1G' must be a whole number without a sign/],
  ['+1G', 'RangeError', /without a sign/],
  ['1.5G', 'RangeError', /size '1.5G' is fractional; use a whole number of a smaller unit \(e.g. 1536M for 1.5G\)/],
  ['.5G', 'RangeError', /is fractional/],
  ['1,5G', 'RangeError', /is fractional/],
  ['100%', 'RangeError', /'100%' is not a size: expected a whole number and an optional unit/],
  ['G', 'RangeError', /'G' is not a size/],
  ['10G5', 'RangeError', /'10G5' is not a size/],
  ['1 G B', 'RangeError', /is not a size/],
  ['1e9', 'RangeError', /'1e9' is not a size/],
  ['1Q', 'RangeError', /'Q' in size '1Q' is not a unit; valid units: B, S, K, kB, KiB, M, MB, MiB, G, GB, GiB, T, TB, TiB, P, PB, PiB/],
  ['1XB', 'RangeError', /'XB' in size '1XB' is not a unit/],
  ['1EiB', 'RangeError', /'EiB' .* is not a unit/],
  ['1Gi', 'RangeError', /'Gi' .* is not a unit/],
  ['8192P', 'RangeError', /size '8192P' is too large/],
  ['99999999999999999999K', 'RangeError', /too large/],
  [1024, 'TypeError', /a size must be a string, got number/],
  [null, 'TypeError', /got object/],
]

t.test('parseSizeKib refuses bad input with the reason', async (t) => {
  for (const [input, name, message] of bad) {
    t.throws(() => parseSizeKib(input as string), { name, message }, JSON.stringify(input))
  }
})

t.test('every listed unit parses, in any case', async (t) => {
  for (const u of SIZE_UNITS) {
    t.ok(parseSizeKib(`1${u}`) >= 1, u)
    t.equal(parseSizeKib(`1${u.toUpperCase()}`), parseSizeKib(`1${u.toLowerCase()}`), `${u} case-insensitive`)
  }
})

// Expected strings are what SizeCalc.approximate_size_string prints.
const formats: [number, string][] = [
  [0, '0 KiB'],
  [1, '1 KiB'],
  [1023, '1023 KiB'],
  [1024, '1 MiB'],
  [1025, '1.00 MiB'],
  [1126, '1.10 MiB'],
  [1127, '1.10 MiB'],
  [1152, '1.12 MiB'], // 1.125 exactly: half-to-even, as Python
  [1160, '1.13 MiB'],
  [1536, '1.50 MiB'],
  [3077, '3.00 MiB'],
  [10757, '10.50 MiB'],
  [65536, '64 MiB'],
  [1048575, '1024.00 MiB'], // LINSTOR's quirk kept: just under 1 GiB shows as 1024.00 MiB
  [1048576, '1 GiB'],
  [1572864, '1.50 GiB'],
  [1073741824, '1 TiB'],
  [1099511627776, '1 PiB'],
  [5 * 1099511627776 + 1, '5.00 PiB'],
  [3000 * 1099511627776, '3000 PiB'],
  [-1536, '-1.50 MiB'],
]

t.test('formatSizeKib', async (t) => {
  for (const [kib, text] of formats) t.equal(formatSizeKib(kib), text, String(kib))
  t.throws(() => formatSizeKib(1.5), { name: 'RangeError', message: /whole number of KiB, got 1.5/ })
  t.throws(() => formatSizeKib(Number.MAX_SAFE_INTEGER + 1), RangeError)
  t.throws(() => formatSizeKib('1' as unknown as number), TypeError)
})

t.test('format then parse stays within the rounding of the display', async (t) => {
  for (const kib of [1, 512, 1024, 65536, 1048576, 5 * 1073741824]) {
    t.equal(parseSizeKib(formatSizeKib(kib).replace(' ', '')), kib, `${kib} KiB round-trips`)
  }
})
