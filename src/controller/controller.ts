/** The controller: store + model + REST, started and stopped as one. */
import { logger } from '../common/log.js'
import type { HostPort } from '../common/config.js'
import { Core } from './core.js'
import { Store } from './db/store.js'
import { ensureDefaults } from './defaults.js'
import { registerApis } from './api/index.js'
import { Router } from './http/router.js'
import { startHttp } from './http/server.js'

const log = logger('controller')

export interface ControllerOptions {
  restListen: HostPort
  dbPath: string
  maxBodyBytes: number
}

export interface RunningController {
  readonly core: Core
  /** Bound REST port (differs from the option when it was 0). */
  readonly port: number
  readonly url: string
  stop(): Promise<void>
}

export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const t0 = performance.now()
  const store = new Store(opts.dbPath)
  const core = new Core(store)
  store.onFatal = (err) => {
    log.error('database write failed, stopping: the database holds the last committed state', { error: err.message })
    process.exitCode = 1
    setImmediate(() => process.exit(1))
  }
  await ensureDefaults(core)
  const router = new Router()
  registerApis(router, core)
  const http = await startHttp(router, { host: opts.restListen.host, port: opts.restListen.port, maxBodyBytes: opts.maxBodyBytes })
  const host = opts.restListen.host.includes(':') ? `[${opts.restListen.host}]` : opts.restListen.host
  const url = `http://${host}:${http.port}`
  log.info('controller ready', { rest: url, db: opts.dbPath, startupMs: Math.round(performance.now() - t0), nodes: core.model.nodes.size, resourceDefinitions: core.model.rscDfns.size })
  return {
    core, port: http.port, url,
    stop: async () => {
      http.close()
      store.close()
    },
  }
}
