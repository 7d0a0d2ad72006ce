/**
 * The satellite: link server, desired store, work queue and reconcile engine, started and stopped as
 * one. Desired state arrives only from the accepted controller; each resource it names is enqueued;
 * each pass's observed state goes back on the link, with pool capacities after a full sync, after
 * storage changed, and every minute.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { HostPort } from '../common/config.js'
import { logger } from '../common/log.js'
import { nameKey } from '../common/names.js'
import { VERSION } from '../common/version.js'
import type { CapacityReport, FullSync, LayerSupport, Message, ResourceObserved, StorPoolCapacity } from '../proto/messages.js'
import { loopUnavailable, nodeCapabilities } from './capabilities.js'
import { DesiredStore } from './desired-store.js'
import { DrbdLayer } from './layers/drbd/drbd-layer.js'
import { StorageLayer } from './layers/storage/storage-layer.js'
import { LinkServer, type ControllerLink, type LinkHandler } from './link/server.js'
import { DisklessProvider } from './providers/diskless.js'
import { FileProvider } from './providers/file.js'
import { LvmProvider } from './providers/lvm.js'
import { ZfsProvider } from './providers/zfs.js'
import { ReconcileEngine } from './reconcile/engine.js'
import { toReportedError } from './reconcile/errors.js'
import { WorkQueue } from './reconcile/queue.js'

const log = logger('satellite')

/** Pool capacities are sent at least this often while linked, ms. */
const CAPACITY_PERIOD_MS = 60_000
/** Capacity changes of a burst of passes are sent once, this long after the first, ms. */
const CAPACITY_DEBOUNCE_MS = 500

export interface SatelliteOptions {
  nodeName: string
  listen: HostPort
  stateDir: string
  /** The cluster secret (config.ts resolveClusterSecret). */
  secret: string
  /** Link set-up step limit and controller silence limit, ms (default 10 000 each). */
  handshakeTimeoutMs?: number
  silenceTimeoutMs?: number
  /** Wait for a new loop device, ms (default 10 000). */
  deviceTimeoutMs?: number
  /** Resources reconciled at once (default 32). */
  concurrency?: number
}

export interface RunningSatellite {
  /** Bound link port (differs from the option when it was 0). */
  readonly port: number
  readonly store: DesiredStore
  readonly queue: WorkQueue
  stop(): Promise<void>
}

export async function startSatellite(opts: SatelliteOptions): Promise<RunningSatellite> {
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 })
  const store = new DesiredStore()
  const deviceTimeout = opts.deviceTimeoutMs !== undefined ? { deviceTimeoutMs: opts.deviceTimeoutMs } : {}
  const lvm = new LvmProvider(deviceTimeout)
  const storage = new StorageLayer([new FileProvider(deviceTimeout), lvm, new ZfsProvider(deviceTimeout), new DisklessProvider()])
  let link: ControllerLink | null = null
  const send = (m: Message): void => {
    link?.send(m)
  }

  // DRBD's notifications enqueue the resource they concern; lost ones, every resource.
  let queue: WorkQueue | undefined
  const { layer: drbd, support: drbdSupport } = await openDrbd(opts, (key) => {
    for (const k of key === null ? [...store.resources.keys()] : [key]) queue?.enqueue(k)
  })

  let capacityTimer: NodeJS.Timeout | undefined
  const sendCapacity = async (): Promise<void> => {
    clearTimeout(capacityTimer)
    capacityTimer = undefined
    send(await capacityReport(store, storage))
  }
  const capacitySoon = (): void => {
    capacityTimer ??= setTimeout(() => void sendCapacity(), CAPACITY_DEBOUNCE_MS)
  }

  const engine = new ReconcileEngine({
    store,
    storage,
    ...(drbd !== null ? { drbd } : {}),
    report: (o: ResourceObserved) => send({ type: 'ResourceObserved', ...o }),
    onStorageChanged: capacitySoon,
  })
  queue = new WorkQueue((key) => engine.reconcile(key), {
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    onError: (key, err, retryInMs) => log.debug('pass failed', { rsc: key, retryInMs, error: err instanceof Error ? err.message : String(err) }),
  })

  // Desired state is taken in arrival order: a full sync's capacity report (async) must not be
  // overtaken by a later message's passes.
  let inbox: Promise<void> = Promise.resolve()
  const fullSync = async (sync: FullSync): Promise<void> => {
    const keys = store.replace(sync)
    log.info('full sync', { syncId: sync.syncId, storPools: sync.storPools.length, resources: sync.resources.length })
    await sendCapacity()
    send({ type: 'FullSyncApplied', syncId: sync.syncId })
    for (const k of keys) queue.enqueue(k)
  }
  let periodic: NodeJS.Timeout | undefined
  const handler: LinkHandler = {
    accepted(l) {
      link = l
      send(nodeCapabilities(drbdSupport))
      clearInterval(periodic)
      periodic = setInterval(() => void sendCapacity(), CAPACITY_PERIOD_MS)
    },
    desired(msg) {
      inbox = inbox.then(async () => {
        switch (msg.type) {
          case 'FullSync':
            return fullSync(msg)
          case 'ResourceDesired': {
            const { type: _t, ...r } = msg
            const key = store.setResource(r)
            if (key === null) log.debug('stale desired state ignored', { rsc: r.name, generation: r.generation, held: store.resources.get(nameKey(r.name))?.generation })
            else queue.enqueue(key)
            return
          }
          case 'StorPoolDesired': {
            const { type: _t, ...p } = msg
            store.setPool(p)
            capacitySoon()
            return
          }
        }
      }).catch((e: unknown) => log.error('desired state not applied', { type: msg.type, error: e instanceof Error ? e.stack ?? e.message : String(e) }))
    },
    closed(reason) {
      link = null
      clearInterval(periodic)
      clearTimeout(capacityTimer)
      capacityTimer = undefined
      log.info('no controller linked: devices are kept as they are until one links again', { reason })
    },
  }

  const server = new LinkServer({
    host: opts.listen.host,
    port: opts.listen.port,
    nodeName: opts.nodeName,
    secret: opts.secret,
    blockyardVersion: VERSION,
    handler,
    ...(opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}),
    ...(opts.silenceTimeoutMs !== undefined ? { silenceTimeoutMs: opts.silenceTimeoutMs } : {}),
  })
  const port = await server.start()
  const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host
  const noLoop = loopUnavailable()
  if (noLoop !== null) log.warn('FILE and FILE_THIN pools cannot work here', { reason: noLoop })
  log.info('satellite ready', { link: `ws://${host}:${port}/`, node: opts.nodeName, stateDir: opts.stateDir })
  return {
    port,
    store,
    queue,
    stop: async () => {
      server.stop()
      clearInterval(periodic)
      clearTimeout(capacityTimer)
      await queue.close()
      // No LVM command runs any more: the library's handle and its thread can go.
      await lvm.close()
    },
  }
}

/**
 * The DRBD layer, or null (logged with the reason) where DRBD does not work on this node, and what the
 * node's capabilities say about it.
 */
async function openDrbd(opts: SatelliteOptions, onChange: (key: string | null) => void): Promise<{ layer: DrbdLayer | null; support: LayerSupport }> {
  try {
    const opened = await DrbdLayer.open({ nodeName: opts.nodeName, confDir: join(opts.stateDir, 'drbd'), onChange })
    if (opened.layer === null) log.info('no DRBD layer on this node', { reason: opened.support.reason })
    else log.info('DRBD layer ready', { version: opened.support.version })
    return opened
  } catch (e) {
    const reason = `opening the DRBD layer failed: ${e instanceof Error ? e.message : String(e)}`
    log.warn('no DRBD layer on this node', { reason })
    return { layer: null, support: { kind: 'DRBD', supported: false, reason } }
  }
}

/** Capacities of every pool of the node; a pool that cannot be read says why (syscall, errno). */
async function capacityReport(store: DesiredStore, storage: StorageLayer): Promise<CapacityReport> {
  const pools = [...store.pools.values()]
  const storPools = await Promise.all(
    pools.map(async (p): Promise<StorPoolCapacity> => {
      try {
        const space = await storage.space(p)
        return space === undefined ? { name: p.name, errors: [] } : { name: p.name, freeKib: space.freeKib, totalKib: space.totalKib, errors: [] }
      } catch (e) {
        return { name: p.name, errors: [toReportedError(e)] }
      }
    }),
  )
  return { type: 'CapacityReport', storPools }
}
