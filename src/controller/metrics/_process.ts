/**
 * Process metrics, read at scrape time from what Node keeps anyway (no timers, no sampling). The three
 * `process_*` names are the ones every Prometheus client library exports, so stock dashboards and alerts
 * work; the Node-specific ones are ours.
 */
import { performance } from 'node:perf_hooks'
import type { MetricsRegistry } from './registry.js'

export function registerProcessMetrics(registry: MetricsRegistry): void {
  registry.collected('counter', 'process_cpu_seconds_total', 'User and system CPU time spent by the controller process, in seconds.', [], () => {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1e6
  })
  registry.gauge('process_resident_memory_bytes', 'Resident memory of the controller process, in bytes.', [], () => process.memoryUsage.rss())
  const started = Date.now() / 1000 - process.uptime()
  registry.gauge('process_start_time_seconds', 'When the process started, in seconds since the epoch.', [], () => started)
  registry.gauge('blockyard_heap_used_bytes', 'JavaScript heap in use, in bytes.', [], () => process.memoryUsage().heapUsed)
  // Node counts the event loop's busy time since start; as a counter, rate() over it is the loop's
  // utilisation (1: saturated), the measure that says when the controller itself is the bottleneck.
  registry.collected('counter', 'blockyard_event_loop_busy_seconds_total', 'Time the event loop spent busy (not waiting for I/O), in seconds; rate() of it is the loop\'s utilisation.', [],
    () => performance.eventLoopUtilization().active / 1000)
}
