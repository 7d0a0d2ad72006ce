/**
 * What the client commands print, in the forms LINSTOR's `linstor` prints them, so that eyes and scripts
 * used to it read ours the same way:
 * - tables framed as linstor's (`╭─╮ ┊ ╞═╡ ╰─╯`, ASCII `+-| =` with `--no-utf8`), drawn by cli-table3;
 * - reply blocks (`SUCCESS:` / `WARNING:` / `ERROR:` with Description, Cause, Correction, Details);
 * - `-m` JSON as Python's `json.dumps(…, indent=2)` writes it (ASCII-escaped), ret_codes exact;
 * - LINSTOR's colour codes.
 */
import Table from 'cli-table3'
import { isErrorRc, rcSeverity } from '../client/errors.js'
import type { ApiCallRc } from '../client/types.js'

/** linstor's colours (`linstor_client.consts.Color`): normal and bold ANSI foregrounds. */
export const COLOR = {
  DARKGREEN: '\x1b[0;32m',
  DARKBLUE: '\x1b[0;34m',
  DARKPINK: '\x1b[0;35m',
  GRAY: '\x1b[0;37m',
  RED: '\x1b[1;31m',
  GREEN: '\x1b[1;32m',
  YELLOW: '\x1b[1;33m',
  BLUE: '\x1b[1;34m',
  NONE: '\x1b[0m',
} as const
export type Color = Exclude<keyof typeof COLOR, 'NONE'>

/** How to print: colours and frame characters. */
export interface Style {
  color: boolean
  utf8: boolean
}

/** Colours `text` when the style has colours. */
export function paint(text: string, color: Color | null | undefined, style: Style): string {
  return color && style.color ? `${COLOR[color]}${text}${COLOR.NONE}` : text
}

/** A table cell: text, or text with its own colour (a state). */
export type Cell = string | number | { text: string; color: Color | null }

export interface Column {
  name: string
  /** Colour of the column's data cells unless a cell has its own (linstor colours e.g. State green). */
  color?: Color
  /** Right-aligned text (sizes, numbers). */
  right?: boolean
}

const FRAME_UTF8 = { tl: '╭', tr: '╮', bl: '╰', br: '╯', ml: '╞', mr: '╡', dot: '┄', line: '─', pipe: '┊', hr: '═' }
const FRAME_ASCII = { tl: '+', tr: '+', bl: '+', br: '+', ml: '|', mr: '|', dot: '-', line: '-', pipe: '|', hr: '=' }

/**
 * Renders a table as linstor does: a frame without column junctions on the outer lines, the header
 * underlined with `═`, and (only when a cell spans several lines) dotted lines between rows.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly Cell[])[], style: Style): string {
  const f = style.utf8 ? FRAME_UTF8 : FRAME_ASCII
  const multiLine = rows.some((r) => r.some((c) => String(typeof c === 'object' ? c.text : c).includes('\n')))
  const t = new Table({
    head: columns.map((c) => c.name),
    colAligns: columns.map((c) => (c.right === true ? 'right' : 'left')),
    style: { head: [], border: [], compact: !multiLine, 'padding-left': 1, 'padding-right': 1 },
    chars: {
      top: f.line, 'top-mid': f.line, 'top-left': f.tl, 'top-right': f.tr,
      bottom: f.line, 'bottom-mid': f.line, 'bottom-left': f.bl, 'bottom-right': f.br,
      left: f.pipe, 'left-mid': f.ml, mid: multiLine ? f.dot : f.hr, 'mid-mid': multiLine ? f.dot : f.hr, right: f.pipe, 'right-mid': f.mr, middle: f.pipe,
    },
  })
  for (const r of rows) {
    t.push(r.map((c, i) => {
      const own = typeof c === 'object' ? c : null
      const text = own !== null ? own.text : String(c)
      const color = own !== null ? own.color : columns[i]?.color
      // Colour each line on its own: cli-table3 pads line by line.
      return text.split('\n').map((line) => paint(line, color, style)).join('\n')
    }))
  }
  const lines = t.toString().split('\n')
  // cli-table3 underlines the header only above a first row; linstor underlines it in an empty table too.
  if (rows.length === 0 && lines.length >= 3) lines.splice(2, 0, f.ml + f.hr.repeat(lines[0]!.length - 2) + f.mr)
  // With dotted row separators the header's own separator (the third line) is still drawn with `═`.
  if (multiLine && lines.length > 2) lines[2] = lines[2]!.split(f.dot).join(f.hr)
  return lines.join('\n') + '\n'
}

/** linstor's `Output.print_with_indent`: every line of `text` indented by four spaces. */
function indent(text: string): string {
  return text.split('\n').filter((l, i, a) => !(l === '' && i === a.length - 1)).map((l) => `    ${l}\n`).join('')
}

/**
 * One reply entry as linstor prints it (`Output.handle_ret`): the severity line, then Description,
 * Cause, Correction, Details and the error reports to look at.
 */
export function renderReply(rc: ApiCallRc, style: Style): string {
  const sev = rcSeverity(rc)
  const head = { ERROR: ['ERROR:', 'RED'], WARN: ['WARNING:', 'YELLOW'], INFO: ['INFO:', 'BLUE'], SUCCESS: ['SUCCESS:', 'GREEN'] } as const
  let s = paint(head[sev][0], head[sev][1], style) + '\n'
  const has = (v: string | undefined): v is string => v !== undefined && v !== null && v.length > 0
  if (has(rc.message) && (has(rc.cause) || has(rc.correction) || has(rc.details))) s += 'Description:\n'
  if (has(rc.message)) s += indent(rc.message)
  if (has(rc.cause)) s += 'Cause:\n' + indent(rc.cause)
  if (has(rc.correction)) s += 'Correction:\n' + indent(rc.correction)
  if (has(rc.details)) s += 'Details:\n' + indent(rc.details)
  if (rc.error_report_ids !== undefined && rc.error_report_ids.length > 0) s += 'Show reports:\n' + indent(`blockyard error-reports show ${rc.error_report_ids.join(' ')}`)
  return s
}

/** Exit codes as linstor's (`linstor_client.consts.ExitCode`). */
export const EXIT = {
  OK: 0,
  UNKNOWN_ERROR: 1,
  USAGE: 2,
  OBJECT_NOT_FOUND: 3,
  API_ERROR: 10,
  CONNECTION_ERROR: 20,
  CONNECTION_TIMEOUT: 21,
} as const

/** The exit code of a reply: 10 when an entry is an error (or a warning, with `--warn-as-error`). */
export function replyExitCode(rcs: readonly ApiCallRc[], warnAsError: boolean): number {
  return rcs.some((rc) => isErrorRc(rc) || (warnAsError && rcSeverity(rc) === 'WARN')) ? EXIT.API_ERROR : EXIT.OK
}

const BIG = '\u0000big:'

/**
 * JSON as Python's `json.dumps(value, indent=2)` writes it — what `linstor -m` prints: two-space indent,
 * `": "`, every character outside printable ASCII escaped as `\uXXXX`. bigint ret_codes keep their digits.
 */
export function machineJson(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? BIG + v.toString() : v), 2) ?? 'null'
  return text
    .replace(/"\\u0000big:(-?\d+)"/g, '$1')
    .replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Python's `str()` of a list of strings, as linstor shows select-filter lists: `['a', 'b']`. */
export function pyList(items: readonly string[]): string {
  return `[${items.map((s) => `'${s}'`).join(', ')}]`
}

/** Python's `str()` of a mapping of strings to numbers: `{'a': 1}`. */
export function pyDict(map: Readonly<Record<string, number>>): string {
  return `{${Object.entries(map).map(([k, v]) => `'${k}': ${v}`).join(', ')}}`
}

/** A time in ms since the epoch as linstor's `str(datetime)[:19]`: local `YYYY-MM-DD HH:MM:SS`. */
export function localTime(ms: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}
