/**
 * Test harness: a real controller in-process on 127.0.0.1:0 with its own temporary state directory,
 * and a tiny HTTP client that keeps ret_codes exact (as bigint) while parsing replies.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startController, type ControllerOptions, type RunningController } from '../../src/controller/controller.js'
import { setLogSink } from '../../src/common/log.js'

export interface ApiReply {
  status: number
  /** Parsed JSON (ret_code values are numbers here and may be inexact: use `retCodes`). */
  body: any // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string
  /** Every ret_code in the reply, exact. */
  retCodes: bigint[]
}

export interface TestController {
  ctrl: RunningController
  url: string
  stateDir: string
  dbPath: string
  call(method: string, path: string, body?: unknown): Promise<ApiReply>
  get(path: string): Promise<ApiReply>
  post(path: string, body?: unknown): Promise<ApiReply>
  put(path: string, body?: unknown): Promise<ApiReply>
  del(path: string, body?: unknown): Promise<ApiReply>
  /** Stop and start again on the same database (a controller restart). */
  restart(): Promise<void>
  stop(): Promise<void>
}

export async function callApi(url: string, method: string, path: string, body?: unknown): Promise<ApiReply> {
  const init: RequestInit = { method }
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
    init.headers = { 'Content-Type': 'application/json' }
  }
  const res = await fetch(url + path, init)
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: keep the text
  }
  const retCodes = [...text.matchAll(/"ret_code":(-?\d+)/g)].map((m) => BigInt(m[1]!))
  return { status: res.status, body: parsed, text, retCodes }
}

/**
 * Start a controller for one test file; `t.teardown(tc.stop)` is registered by the caller. `options`
 * override the controller's (satellite timeout, link timings).
 */
export async function startTestController(opts: { quiet?: boolean; options?: Partial<ControllerOptions> } = {}): Promise<TestController> {
  if (opts.quiet !== false) setLogSink(null)
  const stateDir = mkdtempSync(join(tmpdir(), 'blockyard-test-'))
  const dbPath = join(stateDir, 'controller.db')
  const start = (): Promise<RunningController> => startController({
    restListen: { host: '127.0.0.1', port: 0 },
    dbPath,
    maxBodyBytes: 1024 * 1024,
    clusterSecretFile: join(stateDir, 'cluster-secret'),
    satelliteTimeoutMs: 15_000,
    ...opts.options,
  })
  let ctrl = await start()
  const tc: TestController = {
    get ctrl() {
      return ctrl
    },
    get url() {
      return ctrl.url
    },
    stateDir,
    dbPath,
    call: (method, path, body) => callApi(ctrl.url, method, path, body),
    get: (p) => callApi(ctrl.url, 'GET', p),
    post: (p, b) => callApi(ctrl.url, 'POST', p, b),
    put: (p, b) => callApi(ctrl.url, 'PUT', p, b),
    del: (p, b) => callApi(ctrl.url, 'DELETE', p, b),
    restart: async () => {
      await ctrl.stop()
      ctrl = await start()
    },
    stop: async () => {
      await ctrl.stop()
      rmSync(stateDir, { recursive: true, force: true })
    },
  }
  return tc
}
