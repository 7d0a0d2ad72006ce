/**
 * A small Prometheus registry and its text exposition (format 0.0.4), written here rather than taken
 * from prom-client: the controller needs three kinds of metric, and the request path must stay at a few
 * hundred nanoseconds without a dependency's label handling in it.
 *
 * Registration API (one registry per controller: `RunningController.metrics`):
 * - `counter(name, help, labelNames)` → {@link Counter}: `counter.child(...labelValues)` returns the
 *   series for those values (cached: keep the child where it is used often, then `child.inc(n = 1)`
 *   costs one addition); `counter.inc(n)` for a counter without labels.
 * - `histogram(name, help, labelNames, buckets)` → {@link Histogram}: `child(...values).observe(x)`.
 *   Buckets are upper bounds, ascending; `+Inf` is added.
 * - `gauge(name, help, labelNames, collect)` and `collected('counter', …)`: values read at scrape time.
 *   `collect()` returns a number (no labels) or an iterable of `[labelValues, value]` samples. A labelled
 *   name registered again (same type and labels) gets a second collector for its other series. Use this
 *   for anything another object already counts (the model, the store, a set of subscribers): nothing is
 *   kept up to date between scrapes. Example (the events hub):
 *   `metrics.gauge('blockyard_event_subscribers', 'Event subscribers connected.', ['transport'],
 *      () => [[['ws'], ws.size], [['sse'], sse.size]])`.
 * - `beforeScrape(fn)`: runs at the start of every scrape, for collectors that share one pass over the
 *   model, or to drop series of objects that are gone (`Counter.retain`, `Histogram.retain`).
 * Names and label names are checked at registration; a name registered twice is a TypeError, a wrong
 * number of label values a RangeError (programmer misuse, STYLE.md §3).
 */
import { logger } from '../../common/log.js'

const log = logger('metrics')

/** One series of a collected metric: its label values (in the order of the label names) and value. */
export type Sample = readonly [labelValues: readonly string[], value: number]
export type Collect = () => number | Iterable<Sample>
export type MetricType = 'counter' | 'gauge' | 'histogram'

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

interface Family {
  readonly name: string
  readonly help: string
  readonly type: MetricType
  /** Append the family's sample lines (without HELP/TYPE). */
  write(out: string[]): void
}

/** Where a metric keeps its children: one per label-value combination, keyed by the joined values. */
abstract class Labelled<C> implements Family {
  abstract readonly type: MetricType
  protected readonly children = new Map<string, { values: readonly string[]; child: C }>()

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {}

  /** The series for `values` (created at first use, then the same object). */
  child(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new RangeError(`${this.name} has labels (${this.labelNames.join(', ')}), got ${values.length} values`)
    }
    const key = values.join('\0')
    let e = this.children.get(key)
    if (e === undefined) this.children.set(key, (e = { values, child: this.create() }))
    return e.child
  }

  /** Keep only the series whose label values pass `keep` (e.g. drop those of a deleted node). */
  retain(keep: (values: readonly string[]) => boolean): void {
    for (const [k, e] of this.children) if (!keep(e.values)) this.children.delete(k)
  }

  protected abstract create(): C
  abstract write(out: string[]): void
}

export class CounterChild {
  value = 0
  inc(n = 1): void {
    this.value += n
  }
}

export class Counter extends Labelled<CounterChild> {
  readonly type = 'counter'
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, labelNames)
    // A counter without labels shows 0 from the start: rate() needs the sample before the first inc.
    if (labelNames.length === 0) this.child()
  }
  protected create(): CounterChild {
    return new CounterChild()
  }
  /** For a counter without labels. */
  inc(n = 1): void {
    this.child().inc(n)
  }
  write(out: string[]): void {
    for (const { values, child } of this.children.values()) out.push(sampleLine(this.name, this.labelNames, values, child.value))
  }
}

export class HistogramChild {
  /** Observations per bucket, not cumulative (the exposition sums them); the last is +Inf. */
  readonly counts: Float64Array
  sum = 0
  count = 0
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1)
  }
  observe(x: number): void {
    const b = this.bounds
    let i = 0
    while (i < b.length && x > b[i]!) i++
    this.counts[i]!++
    this.sum += x
    this.count++
  }
}

export class Histogram extends Labelled<HistogramChild> {
  readonly type = 'histogram'
  private readonly les: string[]

  constructor(name: string, help: string, labelNames: readonly string[], readonly buckets: readonly number[]) {
    super(name, help, labelNames)
    if (labelNames.includes('le')) throw new TypeError(`${name}: 'le' is reserved in histograms`)
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new TypeError(`${name}: buckets must be finite and ascending`)
    }
    this.les = [...buckets.map(formatValue), '+Inf']
    if (labelNames.length === 0) this.child()
  }
  protected create(): HistogramChild {
    return new HistogramChild(this.buckets)
  }
  write(out: string[]): void {
    const names = [...this.labelNames, 'le']
    for (const { values, child } of this.children.values()) {
      let cumulative = 0
      for (let i = 0; i < this.les.length; i++) {
        cumulative += child.counts[i]!
        out.push(sampleLine(`${this.name}_bucket`, names, [...values, this.les[i]!], cumulative))
      }
      out.push(sampleLine(`${this.name}_sum`, this.labelNames, values, child.sum))
      out.push(sampleLine(`${this.name}_count`, this.labelNames, values, child.count))
    }
  }
}

/**
 * A counter or gauge whose values are read from elsewhere at scrape time; several modules may each add
 * the series they know (the WebSocket and SSE transports of `blockyard_event_subscribers`).
 */
class Collected implements Family {
  readonly collectors: Collect[] = []
  constructor(readonly type: 'counter' | 'gauge', readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {}
  write(out: string[]): void {
    for (const collect of this.collectors) {
      const v = collect()
      if (typeof v === 'number') {
        if (this.labelNames.length > 0) throw new RangeError(`${this.name} has labels: collect must return samples`)
        out.push(sampleLine(this.name, [], [], v))
        continue
      }
      for (const [values, value] of v) {
        if (values.length !== this.labelNames.length) throw new RangeError(`${this.name} has labels (${this.labelNames.join(', ')}), got ${values.length} values`)
        out.push(sampleLine(this.name, this.labelNames, values, value))
      }
    }
  }
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>()
  private readonly hooks: (() => void)[] = []

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, checkLabels(name, labelNames)))
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, checkLabels(name, labelNames), buckets))
  }

  gauge(name: string, help: string, labelNames: readonly string[], collect: Collect): void {
    this.collected('gauge', name, help, labelNames, collect)
  }

  /**
   * A counter or gauge read at scrape time (a counter: a total kept by someone else, never going down).
   * Registering a name again with the same type and label names adds a collector to it: each must then
   * give series (label values) the others do not.
   */
  collected(type: 'counter' | 'gauge', name: string, help: string, labelNames: readonly string[], collect: Collect): void {
    const labels = checkLabels(name, labelNames)
    const known = this.families.get(name)
    if (known instanceof Collected && known.type === type && known.labelNames.join(',') === labels.join(',') && labels.length > 0) {
      known.collectors.push(collect)
      return
    }
    this.add(new Collected(type, name, help, labels)).collectors.push(collect)
  }

  /** Run `fn` at the start of every scrape. */
  beforeScrape(fn: () => void): void {
    this.hooks.push(fn)
  }

  /** Whether a metric of that name is registered. */
  has(name: string): boolean {
    return this.families.has(name)
  }

  /**
   * The text exposition of every metric. A collector that throws is logged and its metric left out,
   * so one broken collector does not cost the whole scrape.
   */
  expose(): string {
    for (const h of this.hooks) {
      try {
        h()
      } catch (e) {
        log.error('metrics hook failed', { error: e instanceof Error ? e.message : String(e) })
      }
    }
    const out: string[] = []
    for (const f of this.families.values()) {
      const lines: string[] = []
      try {
        f.write(lines)
      } catch (e) {
        log.error('metrics collector failed', { metric: f.name, error: e instanceof Error ? e.message : String(e) })
        continue
      }
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`)
      for (const l of lines) out.push(l)
    }
    out.push('')
    return out.join('\n')
  }

  private add<F extends Family>(f: F): F {
    if (!METRIC_NAME.test(f.name)) throw new TypeError(`invalid metric name '${f.name}'`)
    if (this.families.has(f.name)) throw new TypeError(`metric '${f.name}' is already registered`)
    this.families.set(f.name, f)
    return f
  }
}

function checkLabels(name: string, labelNames: readonly string[]): readonly string[] {
  for (const l of labelNames) {
    if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new TypeError(`${name}: invalid label name '${l}'`)
  }
  if (new Set(labelNames).size !== labelNames.length) throw new TypeError(`${name}: a label name is repeated`)
  return [...labelNames]
}

function sampleLine(name: string, labelNames: readonly string[], values: readonly string[], value: number): string {
  if (labelNames.length === 0) return `${name} ${formatValue(value)}`
  let labels = ''
  for (let i = 0; i < labelNames.length; i++) {
    if (i > 0) labels += ','
    labels += `${labelNames[i]}="${escapeLabel(values[i]!)}"`
  }
  return `${name}{${labels}} ${formatValue(value)}`
}

/** Go's ParseFloat reads JS's number text (including exponents); only the special values differ. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

/** Label values escape backslash, double quote and line feed (format 0.0.4). */
function escapeLabel(s: string): string {
  return /[\\"\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : s
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}
