/**
 * Shared set-up of the controller's satellite tests (test/unit/controller/satellites): a controller
 * with a fast link clock, its cluster secret, and peers registered as nodes.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startTestController, type TestController } from './controller.js'
import { SatellitePeer, type PeerOptions } from './satellite-peer.js'
import { until as poll } from './until.js'

/** Link timings that make a test take milliseconds where production takes seconds. */
export const FAST = { pingIntervalMs: 100, pongTimeoutMs: 2000, handshakeTimeoutMs: 2000, fullSyncTimeoutMs: 2000, backoffMinMs: 30, backoffMaxMs: 200 }

export async function controller(options: { satelliteTimeoutMs?: number; linkTimings?: Partial<typeof FAST> } = {}): Promise<TestController> {
  return startTestController({ options: { linkTimings: { ...FAST, ...options.linkTimings }, satelliteTimeoutMs: options.satelliteTimeoutMs ?? 5000 } })
}

export function secretOf(tc: TestController): string {
  return readFileSync(join(tc.stateDir, 'cluster-secret'), 'utf8').trim()
}

/** Polls `fn` until it returns something truthy (every 10 ms, 5 s at most by default). */
export const until = <T>(what: string, fn: () => T | Promise<T>, timeoutMs = 5000): Promise<NonNullable<T>> => poll(what, fn, timeoutMs, 10)

/** The node's connection_status as GET /v1/nodes/{node} shows it. */
export async function statusOf(tc: TestController, node: string): Promise<string> {
  return (await tc.get(`/v1/nodes/${node}`)).body.connection_status as string
}

export async function waitStatus(tc: TestController, node: string, status: string, timeoutMs = 5000): Promise<void> {
  await until(`${node} ${status}`, async () => (await statusOf(tc, node)) === status, timeoutMs)
}

/** Start a peer and register it as a satellite node with a FILE_THIN pool 'pool1'. */
export async function peerNode(tc: TestController, name: string, opts: Partial<PeerOptions> = {}): Promise<SatellitePeer> {
  const peer = await SatellitePeer.start({ nodeName: name, secret: secretOf(tc), ...opts })
  await must(tc.post('/v1/nodes', { name, type: 'satellite', net_interfaces: [{ name: 'default', address: '127.0.0.1', satellite_port: peer.port }] }))
  await must(tc.post(`/v1/nodes/${name}/storage-pools`, { storage_pool_name: 'pool1', provider_kind: 'FILE_THIN', props: { 'StorDriver/StorPoolName': `/srv/${name}` } }))
  return peer
}

/** A resource definition with volume definitions of `sizes` KiB and a STORAGE-only stack. */
export async function rscDfn(tc: TestController, name: string, sizes: number[] = [65536]): Promise<void> {
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name, layer_data: [{ type: 'STORAGE' }] } }))
  for (const s of sizes) await must(tc.post(`/v1/resource-definitions/${name}/volume-definitions`, { volume_definition: { size_kib: s } }))
}

export async function must<R extends { status: number; text: string }>(p: Promise<R>, ...ok: number[]): Promise<R> {
  const r = await p
  const want = ok.length > 0 ? ok : [200, 201]
  if (!want.includes(r.status)) throw new Error(`expected ${want.join('/')}, got ${r.status}: ${r.text}`)
  return r
}
