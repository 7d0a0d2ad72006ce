/**
 * Reading /metrics in tests with an independent parser (parse-prometheus-text-format), so that the
 * exposition is checked against someone else's reading of the format, not against our own writer.
 *
 * That parser folds every series of a histogram into one (it keeps buckets by `le` only and drops
 * labelled _sum/_count), so `histogram()` hands it one series at a time: the family's lines whose labels
 * include the given ones, with those labels taken out.
 */
import { createRequire } from 'node:module'

interface ParsedSample { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string; sum?: string }
export interface ParsedFamily { name: string; help: string; type: string; metrics: ParsedSample[] }

const parsePrometheusText = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[]

export function parse(text: string): Map<string, ParsedFamily> {
  return new Map(parsePrometheusText(text).map((f) => [f.name, f]))
}

/** The parser keeps values as text; JS's Number() does not read the format's `+Inf`. */
const num = (v: string | undefined): number => (v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v))

const matches = (s: ParsedSample, labels: Record<string, string>): boolean => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v)

/** The value of the one sample of `name` with these labels (others may have more), undefined if none. */
export function value(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = (families.get(name)?.metrics ?? []).filter((s) => matches(s, labels))
  if (found.length > 1) throw new Error(`${name}: ${found.length} samples match ${JSON.stringify(labels)}`)
  return found[0] === undefined ? undefined : num(found[0].value)
}

/** Every sample of `name` as [labels, value]. */
export function samples(families: Map<string, ParsedFamily>, name: string): [Record<string, string>, number][] {
  return (families.get(name)?.metrics ?? []).map((s) => [s.labels ?? {}, num(s.value)])
}

export interface ParsedHistogram { buckets: Map<string, number>; sum: number; count: number }

/** One series of histogram `name`: the one whose labels are exactly `labels` (plus `le`); null if absent. */
export function histogram(text: string, name: string, labels: Record<string, string>): ParsedHistogram | null {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  const lines: string[] = []
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) {
      if (line.startsWith(`# HELP ${name} `) || line.startsWith(`# TYPE ${name} `)) lines.push(line)
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || ![`${name}_bucket`, `${name}_sum`, `${name}_count`].includes(m[1]!)) continue
    const own = m[2] === undefined ? [] : m[2].split(',')
    const rest = own.filter((p) => !pairs.includes(p))
    if (own.length - rest.length !== pairs.length || rest.some((p) => !p.startsWith('le='))) continue
    lines.push(rest.length > 0 ? `${m[1]}{${rest.join(',')}} ${m[3]}` : `${m[1]} ${m[3]}`)
  }
  const f = parse(lines.join('\n') + '\n').get(name)
  const s = f?.metrics[0]
  if (f === undefined || f.type !== 'HISTOGRAM' || s?.buckets === undefined) return null
  // The parser keeps buckets in an object, where integer-like keys ('1', '30') come first: order by bound.
  const buckets = Object.entries(s.buckets).sort(([a], [b]) => num(a) - num(b))
  return { buckets: new Map(buckets.map(([le, n]) => [le, num(n)])), sum: num(s.sum), count: num(s.count) }
}
