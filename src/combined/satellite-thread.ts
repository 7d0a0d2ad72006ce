/**
 * The combined node's satellite, on a worker thread of its own. The controller commits with an fsync on
 * its event loop (synchronous=FULL); on the same loop the satellite would stop for every commit, and
 * controller and satellite would share one core. Here the satellite keeps its own loop and the node
 * uses both cores (bench/churn.ts measured about 1.8× the volumes per second on two cores).
 *
 * The thread's log records go to the main thread's log sink; the thread is started with
 * {@link startSatelliteThread} and this module is also its entry point.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import type { HostPort } from '../common/config.js'
import { logger, setLogLevel, setLogSink, writeLogLine, type LogLevel } from '../common/log.js'

const log = logger('combined')

export interface SatelliteThreadOptions {
  nodeName: string
  listen: HostPort
  stateDir: string
  secret: string
  logLevel: LogLevel
}

/** The satellite thread as the main thread sees it. */
export interface SatelliteThread {
  /** Bound link port (differs from the option when it was 0). */
  readonly port: number
  /** Stop the satellite (devices stay as they are) and end the thread. */
  stop(): Promise<void>
}

/** Marks the worker data of a satellite thread (this module is loaded on other threads too). */
const THREAD_TAG = 'blockyardSatelliteThread'

type ToThread = { type: 'stop' }
type FromThread = { type: 'ready'; port: number } | { type: 'failed'; message: string } | { type: 'log'; line: string } | { type: 'stopped' }

/**
 * Start the satellite on a worker thread; resolves once it listens. Rejects with the satellite's error
 * when it cannot start. A thread that dies later takes the process with it (exit code 1): a combined
 * node without its satellite would only look alive.
 */
export function startSatelliteThread(opts: SatelliteThreadOptions): Promise<SatelliteThread> {
  // The entry is this very file, compiled or (under a TypeScript loader, which the worker inherits) not.
  const worker = new Worker(new URL(import.meta.url), { workerData: { [THREAD_TAG]: true, ...opts } })
  let stopping: (() => void) | null = null
  let started = false
  return new Promise((resolve, reject) => {
    worker.on('message', (m: FromThread) => {
      switch (m.type) {
        case 'log':
          writeLogLine(m.line)
          return
        case 'ready':
          started = true
          resolve({
            port: m.port,
            stop: () => new Promise<void>((done) => {
              stopping = done
              worker.postMessage({ type: 'stop' } satisfies ToThread)
            }),
          })
          return
        case 'failed':
          reject(new Error(m.message))
          return
        case 'stopped':
          void worker.terminate().then(() => stopping?.())
      }
    })
    const died = (why: string): void => {
      if (!started) {
        reject(new Error(`the satellite thread ${why}`))
        return
      }
      if (stopping !== null) return
      log.error('the satellite thread ended; stopping the node', { why })
      process.exitCode = 1
      setImmediate(() => process.exit(1))
    }
    worker.on('error', (e) => died(`failed: ${e.stack ?? e.message}`))
    worker.on('exit', (code) => died(`exited with ${code}`))
  })
}

/** The thread's side: start the satellite, report, stop when told. */
async function runThread(port: NonNullable<typeof parentPort>, opts: SatelliteThreadOptions): Promise<void> {
  setLogLevel(opts.logLevel)
  setLogSink((line) => port.postMessage({ type: 'log', line } satisfies FromThread))
  // Loaded here: the main thread never needs the satellite's modules (nor its native addon's state).
  const { startSatellite } = await import('../satellite/satellite.js')
  let sat
  try {
    sat = await startSatellite({ nodeName: opts.nodeName, listen: opts.listen, stateDir: opts.stateDir, secret: opts.secret })
  } catch (e) {
    port.postMessage({ type: 'failed', message: (e as Error).message } satisfies FromThread)
    return
  }
  const running = sat
  port.on('message', (m: ToThread) => {
    if (m.type === 'stop') void running.stop().then(() => port.postMessage({ type: 'stopped' } satisfies FromThread))
  })
  port.postMessage({ type: 'ready', port: running.port } satisfies FromThread)
}

if (!isMainThread && parentPort !== null && (workerData as Record<string, unknown> | null)?.[THREAD_TAG] === true) {
  void runThread(parentPort, workerData as SatelliteThreadOptions)
}
