/**
 * A controller with fake satellites that report a DRBD version, for the DRBD placement tests: each
 * peer answers desired state READY (GONE when deleted) and says which DRBD it has, as a satellite's
 * NodeCapabilities does.
 */
import { CAPABILITIES, type SatellitePeer } from '../../../helpers/satellite-peer.js'
import { controller, must, peerNode, until, waitStatus } from '../../../helpers/satellite-setup.js'
import type { TestController } from '../../../helpers/controller.js'
import { MASK } from '../../../../src/common/api-codes.js'

export { must }

export interface DrbdCluster {
  tc: TestController
  stop(): Promise<void>
}

/** A controller and one online peer per entry of `nodes`: name → the DRBD version its module reports. */
export async function drbdCluster(nodes: Record<string, string>): Promise<DrbdCluster> {
  const tc = await controller({ satelliteTimeoutMs: 5000 })
  const peers: SatellitePeer[] = []
  for (const [name, version] of Object.entries(nodes)) {
    const peer = await peerNode(tc, name)
    peers.push(peer)
    await waitStatus(tc, name, 'ONLINE')
    peer.send({ ...CAPABILITIES, layers: [{ kind: 'STORAGE', supported: true }, { kind: 'DRBD', supported: true, version }] })
    await until(`${name} reports DRBD ${version}`, () => tc.ctrl.core.model.runtime.nodes.get(name.toUpperCase())?.drbdVersion === version)
  }
  return {
    tc,
    stop: async () => {
      for (const p of peers) await p.stop()
      await tc.stop()
    },
  }
}

/** A resource definition with one volume of `sizeKib` in the peers' pool 'pool1', with `props` and the other fields of `extra` (group). */
export async function rscDfn(tc: TestController, name: string, props: Record<string, string> = {}, extra: object = {}, sizeKib = 65536): Promise<void> {
  await must(tc.post('/v1/resource-definitions', { resource_definition: { name, props: { StorPoolName: 'pool1', ...props }, ...extra } }))
  await must(tc.post(`/v1/resource-definitions/${name}/volume-definitions`, { volume_definition: { size_kib: sizeKib } }))
}

/** The resources of a definition as `node: flags`, by node name. */
export async function replicas(tc: TestController, rsc: string): Promise<Record<string, string[]>> {
  const list = (await tc.get(`/v1/resource-definitions/${rsc}/resources`)).body as { node_name: string; flags: string[] }[]
  return Object.fromEntries(list.map((r) => [r.node_name, r.flags]))
}

/** The layer types of the first resource of a definition, top first. */
export async function stackOf(tc: TestController, rsc: string): Promise<string[]> {
  const list = (await tc.get(`/v1/resource-definitions/${rsc}/resources`)).body as { layer_object: Layer }[]
  const out: string[] = []
  for (let l: Layer | undefined = list[0]?.layer_object; l !== undefined; l = l.children[0]) out.push(l.type)
  return out
}
interface Layer { type: string; children: Layer[] }

/** The definition's properties. */
export async function rdProps(tc: TestController, rsc: string): Promise<Record<string, string>> {
  return (await tc.get(`/v1/resource-definitions/${rsc}`)).body.props as Record<string, string>
}

/** The code bits (LINSTOR's number without severity, operation and object) of every ret_code in a reply. */
export const codes = (r: { retCodes: bigint[] }): bigint[] => r.retCodes.map((c) => c & MASK.BITS_CODE)

/** The messages of a reply's entries. */
export const messages = (r: { body: unknown }): string => (r.body as { message: string; correction?: string }[]).map((e) => `${e.message} ${e.correction ?? ''}`).join('\n')
