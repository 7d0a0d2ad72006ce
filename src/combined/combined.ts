/**
 * `blockyard combined` (DESIGN.md §2.10, the README's main command): a controller and a satellite in one
 * process (the satellite on a worker thread), with this host registered as a node of its own
 * controller. The controller starts as `blockyard controller` would; the satellite listens on 127.0.0.1
 * and an unused port (or `--satellite-listen`) and proves the controller's own cluster secret; the node
 * (type Combined, address 127.0.0.1) gets a FILE_THIN pool `DfltStorPool` in
 * `<state-dir>/pools/DfltStorPool`. docs/combined.md has the decisions.
 *
 * Registration goes through the controller's REST API, so it is validated and committed like any
 * client's call. It is idempotent: a node or pool that exists is kept as it is, except that the node's
 * satellite address follows where the satellite listens now.
 *
 * This is the one module that imports both sides (controller/ and satellite/ never import each other).
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseHostPort, type HostPort, type OptionSpec, type Resolved } from '../common/config.js'
import { logger } from '../common/log.js'
import { nameKey } from '../common/names.js'
import { CONTROLLER_OPTIONS } from '../controller/config.js'
import { startController, type RunningController } from '../controller/controller.js'
import { loadClusterSecret } from '../controller/satellites/cluster-secret.js'
import { loopUnavailable } from '../satellite/capabilities.js'
import { SATELLITE_OPTIONS } from '../satellite/config.js'
import { startSatelliteThread, type SatelliteThread } from './satellite-thread.js'

const log = logger('combined')

/** The pool every combined node gets (LINSTOR's default pool name). */
export const COMBINED_POOL = 'DfltStorPool'
/** The net interface the node is registered with. */
const NET_IF = 'default'
/** How long start-up waits for the node to come ONLINE before it says why not (and runs on). */
const ONLINE_TIMEOUT_MS = 15_000

export const COMBINED_OPTIONS = {
  ...CONTROLLER_OPTIONS,
  nodeName: { ...SATELLITE_OPTIONS.nodeName, help: 'the name this host is registered as (default: the hostname)' },
  satelliteListen: {
    flag: 'satellite-listen',
    help: 'HOST:PORT of the local satellite (default 127.0.0.1 and an unused port)',
    parse: parseHostPort,
    default: (): HostPort | undefined => undefined,
  } satisfies OptionSpec<HostPort | undefined>,
}

export type CombinedOptions = Resolved<typeof COMBINED_OPTIONS>

export interface RunningCombined {
  readonly controller: RunningController
  /** The satellite, on a thread of its own (satellite-thread.ts). */
  readonly satellite: SatelliteThread
  /** The node this host is registered as. */
  readonly nodeName: string
  /** The controller's REST URL. */
  readonly url: string
  /** Stop the controller, then the satellite; devices stay as they are. */
  stop(): Promise<void>
}

/**
 * Why a combined node cannot run here and what to do, or null when it can: its satellite makes loop
 * devices, which need root and the loop module. Checked before anything is started or written.
 */
export function combinedUnavailable(): string | null {
  if (process.getuid?.() !== 0) {
    return [
      'loop devices need root (the local satellite makes real /dev/loopN devices).',
      'Run it as root: sudo npm start, or sudo ./bin/blockyard.js combined',
      '(the controller alone runs as any user: ./bin/blockyard.js controller)',
    ].join('\n')
  }
  const why = loopUnavailable()
  return why === null ? null : `loop devices are not usable here: ${why}`
}

/**
 * Start the controller and the local satellite, and register this host as a node with its pool;
 * resolves once the node is ONLINE with its pool's capacity known (or, after 15 s, with a warning
 * logged saying why it is not).
 * On a failure everything started is stopped again and the error is thrown.
 */
export async function startCombined(opts: CombinedOptions): Promise<RunningCombined> {
  // Created now if missing, so that the satellite can be given the very secret the controller loads.
  const secret = loadClusterSecret(opts.clusterSecretFile)
  const controller = await startController(opts)
  let satellite: SatelliteThread | undefined
  try {
    const dir = join(opts.stateDir, 'pools', COMBINED_POOL)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    // An unused port unless one is given: the node's address is updated to it on every start, and the
    // kernel's choice cannot collide with a socket someone else bound with SO_REUSEPORT (as uWS does).
    const listen = opts.satelliteListen ?? { host: '127.0.0.1', port: 0 }
    satellite = await startSatelliteThread({ nodeName: opts.nodeName, listen, stateDir: opts.stateDir, secret, logLevel: opts.logLevel })
    const address = dialAddress(listen.host)
    await register(controller.url, opts.nodeName, address, satellite.port, dir)
    await untilReady(controller, opts.nodeName)
    log.info('combined node ready', { rest: controller.url, node: opts.nodeName, satellite: `${address}:${satellite.port}`, pool: COMBINED_POOL })
  } catch (e) {
    await controller.stop()
    await satellite?.stop()
    throw e
  }
  const running = satellite
  return {
    controller,
    satellite: running,
    nodeName: opts.nodeName,
    url: controller.url,
    stop: async () => {
      await controller.stop()
      await running.stop()
    },
  }
}

/** The address the controller dials for a satellite listening on `host` (any-address → loopback). */
function dialAddress(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '::1'
  return host
}

/** Create the node and its pool, or keep them, pointing the node's satellite address at `address:port`. */
async function register(url: string, nodeName: string, address: string, port: number, dir: string): Promise<void> {
  const enc = encodeURIComponent
  const node = await rest(url, 'GET', `/v1/nodes/${enc(nodeName)}`, undefined, [200, 404])
  if (node.status === 404) {
    await rest(url, 'POST', '/v1/nodes', {
      name: nodeName,
      type: 'Combined',
      net_interfaces: [{ name: NET_IF, address, satellite_port: port, satellite_encryption_type: 'PLAIN', is_active: true }],
    })
    log.info('registered this host as a node', { node: nodeName, address, port })
  } else {
    const n = node.body as { type: string; net_interfaces: { name: string; address: string; satellite_port?: number; is_active: boolean }[] }
    if (n.type !== 'SATELLITE' && n.type !== 'COMBINED') {
      throw new Error(`node '${nodeName}' exists as a ${n.type} node, which has no satellite; choose another name with --node-name`)
    }
    const active = n.net_interfaces.find((x) => x.is_active)
    if (active === undefined) {
      await rest(url, 'POST', `/v1/nodes/${enc(nodeName)}/net-interfaces`, { name: NET_IF, address, satellite_port: port, satellite_encryption_type: 'PLAIN', is_active: true })
    } else if (active.address !== address || active.satellite_port !== port) {
      await rest(url, 'PUT', `/v1/nodes/${enc(nodeName)}/net-interfaces/${enc(active.name)}`, { address, satellite_port: port, satellite_encryption_type: 'PLAIN' })
      log.info("the node's satellite address changed", { node: nodeName, from: `${active.address}:${active.satellite_port ?? '-'}`, to: `${address}:${port}` })
    }
  }
  const pool = await rest(url, 'GET', `/v1/nodes/${enc(nodeName)}/storage-pools/${COMBINED_POOL}`, undefined, [200, 404])
  if (pool.status === 404) {
    await rest(url, 'POST', `/v1/nodes/${enc(nodeName)}/storage-pools`, { storage_pool_name: COMBINED_POOL, provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': dir } })
    log.info('created the storage pool', { node: nodeName, pool: COMBINED_POOL, providerKind: 'FILE_THIN', dir })
  }
}

/**
 * Wait until the node is ONLINE and its satellite has reported the pool's capacity: until then a
 * placement would warn that the pool's free space is unknown. The link and the reports go to the
 * controller's model, which start-up reads every 10 ms (a readiness check of a few dozen reads, not a
 * device wait); after 15 s it logs the link's status and reason and returns (the link keeps trying).
 */
async function untilReady(ctrl: RunningController, nodeName: string): Promise<void> {
  const key = nameKey(nodeName)
  const poolKey = `${key}\0${nameKey(COMBINED_POOL)}`
  const end = Date.now() + ONLINE_TIMEOUT_MS
  for (;;) {
    const pool = ctrl.core.model.runtime.storPools.get(poolKey)
    if (ctrl.satellites.links.isOnline(key) && pool !== undefined) {
      if (pool.reports.length > 0) log.warn('the storage pool is not usable', { node: nodeName, pool: COMBINED_POOL, reports: pool.reports })
      return
    }
    if (Date.now() > end) {
      const rt = ctrl.core.model.runtime.nodes.get(key)
      log.warn('the local satellite is not online yet', { node: nodeName, status: rt?.connectionStatus ?? 'OFFLINE', reason: rt?.reason ?? '' })
      return
    }
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** One REST call to the controller; a status not in `ok` throws with the reply's messages. */
async function rest(url: string, method: string, path: string, body?: unknown, ok = [200, 201]): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url + path, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } } : {}) })
  const text = await res.text()
  const parsed: unknown = text === '' ? null : JSON.parse(text)
  if (!ok.includes(res.status)) {
    const msgs = Array.isArray(parsed) ? parsed.map((rc: { message?: string }) => rc.message).join(' ') : text
    throw new Error(`${method} ${path}: ${res.status} ${msgs}`)
  }
  return { status: res.status, body: parsed }
}
