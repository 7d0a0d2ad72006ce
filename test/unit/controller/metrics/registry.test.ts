import t from 'tap'
import { setLogSink } from '../../../../src/common/log.js'
import { formatValue, MetricsRegistry } from '../../../../src/controller/metrics/registry.js'
import { histogram, parse, samples, value } from '../../../helpers/prometheus.js'

setLogSink(null)

t.test('counters: cached children, labels escaped, HELP and TYPE as the parser reads them', async (t) => {
  const r = new MetricsRegistry()
  const c = r.counter('x_requests_total', 'Requests.\nSecond line with a \\ backslash.', ['path'])
  const child = c.child('/a')
  t.equal(c.child('/a'), child, 'the same child for the same values')
  child.inc()
  child.inc(2)
  c.child('we"ird\\\nvalue').inc()
  const plain = r.counter('x_plain_total', 'No labels.')
  const f = parse(r.expose())
  t.equal(value(f, 'x_requests_total', { path: '/a' }), 3)
  t.equal(value(f, 'x_requests_total', { path: 'we"ird\\\nvalue' }), 1, 'escaped quote, backslash and newline read back')
  t.equal(f.get('x_requests_total')?.type, 'COUNTER')
  t.equal(f.get('x_requests_total')?.help, 'Requests.\nSecond line with a \\ backslash.')
  t.equal(value(f, 'x_plain_total'), 0, 'a counter without labels shows 0 before its first inc')
  plain.inc(5)
  t.equal(value(parse(r.expose()), 'x_plain_total'), 5)
})

t.test('histograms: cumulative buckets, +Inf, sum and count, per series', async (t) => {
  const r = new MetricsRegistry()
  const h = r.histogram('x_seconds', 'Durations.', ['route'], [0.001, 0.01, 0.1])
  for (const x of [0.0005, 0.001, 0.005, 0.05, 0.5, 7]) h.child('/a').observe(x)
  h.child('/b').observe(0.02)
  const text = r.expose()
  const a = histogram(text, 'x_seconds', { route: '/a' })
  t.same(a && [...a.buckets], [['0.001', 2], ['0.01', 3], ['0.1', 4], ['+Inf', 6]], 'a bound includes its value (le), counts accumulate')
  t.equal(a?.count, 6)
  t.ok(Math.abs(a!.sum - 7.5565) < 1e-9)
  const b = histogram(text, 'x_seconds', { route: '/b' })
  t.same(b && [...b.buckets], [['0.001', 0], ['0.01', 0], ['0.1', 1], ['+Inf', 1]])
  t.equal(histogram(text, 'x_seconds', { route: '/c' }), null)
  h.retain(([route]) => route === '/b')
  t.equal(histogram(r.expose(), 'x_seconds', { route: '/a' }), null, 'retain dropped the series')
  const unlabelled = r.histogram('x_plain_seconds', 'No labels.', [], [1])
  t.same(histogram(r.expose(), 'x_plain_seconds', {}), { buckets: new Map([['1', 0], ['+Inf', 0]]), sum: 0, count: 0 }, 'shown empty from the start')
  unlabelled.child().observe(2)
  t.equal(histogram(r.expose(), 'x_plain_seconds', {})?.buckets.get('+Inf'), 1)
})

t.test('collected metrics: read at every scrape; beforeScrape runs first', async (t) => {
  const r = new MetricsRegistry()
  let n = 1
  const order: string[] = []
  r.beforeScrape(() => order.push('hook'))
  r.gauge('x_things', 'Things.', [], () => {
    order.push('collect')
    return n
  })
  r.gauge('x_by_kind', 'By kind.', ['kind'], () => [[['a'], n], [['b'], 2 * n]])
  r.collected('counter', 'x_done_total', 'Done.', [], () => 10 * n)
  t.equal(value(parse(r.expose()), 'x_things'), 1)
  n = 4
  const f = parse(r.expose())
  t.equal(value(f, 'x_things'), 4)
  t.same(samples(f, 'x_by_kind'), [[{ kind: 'a' }, 4], [{ kind: 'b' }, 8]])
  t.equal(f.get('x_done_total')?.type, 'COUNTER')
  t.equal(value(f, 'x_done_total'), 40)
  t.same(order, ['hook', 'collect', 'hook', 'collect'])
})

t.test('one labelled family, collectors from several modules', async (t) => {
  const r = new MetricsRegistry()
  r.gauge('x_subscribers', 'Subscribers.', ['transport'], () => [[['ws'], 3]])
  r.gauge('x_subscribers', 'Subscribers.', ['transport'], () => [[['sse'], 2]])
  const text = r.expose()
  t.same(samples(parse(text), 'x_subscribers'), [[{ transport: 'ws' }, 3], [{ transport: 'sse' }, 2]])
  t.equal(text.split('# TYPE x_subscribers').length, 2, 'one HELP and TYPE for the family')
  t.throws(() => r.gauge('x_subscribers', 'x', ['other'], () => []), TypeError, 'other labels')
  t.throws(() => r.collected('counter', 'x_subscribers', 'x', ['transport'], () => []), TypeError, 'another type')
  r.gauge('x_single', 'x', [], () => 1)
  t.throws(() => r.gauge('x_single', 'x', [], () => 2), TypeError, 'an unlabelled value has one source')
})

t.test('a collector that throws is left out; the rest is served', async (t) => {
  const r = new MetricsRegistry()
  const logged: string[] = []
  setLogSink((l) => logged.push(l))
  t.teardown(() => setLogSink(null))
  r.beforeScrape(() => {
    throw new Error('hook broke')
  })
  r.gauge('x_broken', 'Broken.', [], () => {
    throw new Error('collector broke')
  })
  r.gauge('x_wrong_arity', 'Wrong number of label values.', ['a'], () => [[['1', '2'], 1]])
  r.gauge('x_fine', 'Fine.', [], () => 1)
  const text = r.expose()
  const f = parse(text)
  t.notOk(f.has('x_broken'))
  t.notOk(text.includes('x_wrong_arity'), 'no HELP or TYPE either')
  t.equal(value(f, 'x_fine'), 1)
  t.equal(logged.length, 3)
})

t.test('misuse is refused at registration', async (t) => {
  const r = new MetricsRegistry()
  r.counter('x_total', 'x')
  t.throws(() => r.counter('x_total', 'again'), TypeError, 'a name twice')
  t.throws(() => r.gauge('x-bad', 'x', [], () => 0), TypeError, 'an invalid name')
  t.throws(() => r.counter('x_a_total', 'x', ['bad-label']), TypeError, 'an invalid label name')
  t.throws(() => r.counter('x_b_total', 'x', ['__reserved']), TypeError, 'a reserved label name')
  t.throws(() => r.counter('x_c_total', 'x', ['a', 'a']), TypeError, 'a repeated label')
  t.throws(() => r.histogram('x_h', 'x', ['le'], [1]), TypeError, 'le in a histogram')
  t.throws(() => r.histogram('x_h2', 'x', [], [2, 1]), TypeError, 'buckets out of order')
  t.throws(() => r.histogram('x_h3', 'x', [], []), TypeError, 'no buckets')
  t.notOk(r.has('x_h3'), 'a refused metric is not registered')
  const c = r.counter('x_d_total', 'x', ['a'])
  t.throws(() => c.child(), RangeError, 'too few label values')
  t.throws(() => c.child('1', '2'), RangeError, 'too many')
  r.gauge('x_e', 'x', ['a'], () => 1)
  t.notOk(r.expose().includes('# TYPE x_e'), 'a labelled gauge must return samples')
})

t.test('values: the special floats as the format spells them', async (t) => {
  t.same([formatValue(NaN), formatValue(Infinity), formatValue(-Infinity), formatValue(1e-7), formatValue(42)], ['NaN', '+Inf', '-Inf', '1e-7', '42'])
  const r = new MetricsRegistry()
  r.gauge('x_inf', 'x', [], () => Infinity)
  t.equal(value(parse(r.expose()), 'x_inf'), Infinity)
})
