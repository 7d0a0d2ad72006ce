/**
 * Desired state as a satellite receives it (schemas/state.fbs), computed from the model: one
 * ResourceDesired per resource and node, one StorPoolDesired per pool. Pure functions of the model;
 * sync.ts decides when to send them and with which generation.
 */
import { createHash } from 'node:crypto'
import { nameKey } from '../../common/names.js'
import type { DrbdPeer, DrbdResource, ProviderKind, ResourceDesired, StorPoolDesired, VolumeDesired } from '../../proto/messages.js'
import type { Model } from '../model/model.js'
import { allocatedKib, isDiskless } from '../model/pool-usage.js'
import { effectiveProps } from '../model/props.js'
import type { Node, Props, Resource, RscDfn, StorPool } from '../model/types.js'

const isDeleting = (x: { flags: readonly string[] }): boolean => x.flags.includes('DELETE')

/** A pool's props as the satellite sees them: the pool definition's, overridden by the pool's own. */
export function storPoolProps(m: Model, sp: StorPool): Props {
  return effectiveProps([sp.props, m.getStorPoolDfn(sp.name)?.props])
}

export function storPoolDesired(m: Model, sp: StorPool, deleted: boolean): StorPoolDesired {
  return { name: sp.name, providerKind: sp.providerKind, props: deleted ? {} : storPoolProps(m, sp), deleted }
}

/**
 * The desired state of resource `r` on its node. A resource flagged DELETE, or `deleted` (a resource
 * already gone from the model, for its tombstone), is wanted gone: it keeps its volumes, so that the
 * satellite knows what to tear down. Otherwise volumes flagged DELETE are left out (not wanted).
 * Volumes whose pool or definition is gone are left out too: there is nothing to say about them.
 */
export function resourceDesired(m: Model, r: Resource, generation: number, deleted = isDeleting(r)): ResourceDesired {
  const rd = m.getRscDfn(r.rscName)
  const drbd = r.layerStack.includes('DRBD')
  const volumes: VolumeDesired[] = []
  for (const v of [...r.volumes].sort((a, b) => a.vlmNr - b.vlmNr)) {
    if (!deleted && isDeleting(v)) continue
    const sp = m.getStorPool(r.nodeName, v.storPoolName)
    if (sp === undefined) continue
    const vd = rd?.vlmDfns.find((x) => x.vlmNr === v.vlmNr)
    const netSizeKib = vd?.sizeKib ?? 0
    const out: VolumeDesired = {
      number: v.vlmNr,
      netSizeKib,
      grossSizeKib: rd === undefined || vd === undefined ? 0 : allocatedKib(rd, r.layerStack, vd.sizeKib, vd.flags.includes('GROSS_SIZE')),
      storPoolName: sp.name,
      providerKind: sp.providerKind,
      storPoolProps: storPoolProps(m, sp),
      props: effectiveProps([v.props, vd?.props]),
    }
    if (drbd && vd?.minor != null) out.drbdMinor = vd.minor
    if (drbd && rd !== undefined && newReplicasZeroed(m, rd, v.vlmNr)) out.newReplicasZeroed = true
    volumes.push(out)
  }
  const out: ResourceDesired = {
    name: r.rscName,
    generation: BigInt(generation),
    deleted,
    layers: [...r.layerStack],
    flags: [...r.flags],
    // As LINSTOR merges them for a resource: controller, group, definition, resource.
    props: effectiveProps([r.props, rd?.props, rd === undefined ? undefined : m.getRscGrp(rd.rscGrpName)?.props, m.ctrlProps]),
    volumes,
  }
  const d = drbd && rd !== undefined ? drbdDesired(m, rd, r) : undefined
  if (d !== undefined) out.drbd = d
  return out
}

/** Provider kinds whose new volumes read as zeros: two new replicas on them are identical without a sync. */
const ZEROED_KINDS: readonly ProviderKind[] = ['LVM_THIN', 'ZFS_THIN', 'FILE_THIN']

/**
 * Whether every diskful replica of volume `vlmNr` of `rd` (being deleted or not: a replica on its way
 * out still syncs until it is gone) lives in a pool of a zeroed kind. Decided here, where every
 * replica's pool is known: a satellite knows only its own, and skipping the initial sync between a
 * thin replica and a thick one would leave them different.
 */
function newReplicasZeroed(m: Model, rd: RscDfn, vlmNr: number): boolean {
  for (const p of m.resourcesOf(rd.name)) {
    if (!p.layerStack.includes('DRBD') || isDiskless(p)) continue
    const v = p.volumes.find((x) => x.vlmNr === vlmNr)
    const kind = v === undefined ? undefined : m.getStorPool(p.nodeName, v.storPoolName)?.providerKind
    if (kind === undefined || !ZEROED_KINDS.includes(kind)) return false
  }
  return true
}

function drbdDesired(m: Model, rd: RscDfn, r: Resource): DrbdResource | undefined {
  const node = m.getNode(r.nodeName)
  const address = node === undefined ? undefined : drbdAddress(node, r)
  if (r.drbdNodeId === null || r.drbdTcpPort === null || address === undefined) return undefined
  const peers: DrbdPeer[] = []
  for (const p of m.resourcesOf(rd.name)) {
    if (p === r || isDeleting(p) || p.drbdNodeId === null || p.drbdTcpPort === null) continue
    const pn = m.getNode(p.nodeName)
    const pa = pn === undefined ? undefined : drbdAddress(pn, p)
    if (pa === undefined) continue
    peers.push({ nodeName: p.nodeName, nodeId: p.drbdNodeId, address: pa, port: p.drbdTcpPort, diskless: isDiskless(p) })
  }
  peers.sort((a, b) => a.nodeId - b.nodeId)
  const out: DrbdResource = { nodeId: r.drbdNodeId, address, port: r.drbdTcpPort, peerSlots: rd.drbd?.peerSlots ?? 7, peers }
  if (rd.drbd !== null && rd.drbd.secret !== '') out.sharedSecret = rd.drbd.secret
  return out
}

/** The address DRBD uses on a node: the net interface named by PrefNic, else the active one. */
function drbdAddress(node: Node, r: Resource): string | undefined {
  const pref = r.props['PrefNic'] ?? node.props['PrefNic']
  const byPref = pref === undefined ? undefined : node.netInterfaces.find((x) => nameKey(x.name) === nameKey(pref))
  return (byPref ?? node.netInterfaces.find((x) => x.isActive) ?? node.netInterfaces[0])?.address
}

/** A digest of desired state without its generation: equal digests, nothing to send. */
export function fingerprint(d: ResourceDesired): string {
  const json = JSON.stringify({ ...d, generation: undefined })
  return createHash('sha1').update(json).digest('base64')
}

/** ResourceDesired to JSON and back (tombstones are stored as JSON; the generation is a bigint). */
export function desiredToJson(d: ResourceDesired): string {
  return JSON.stringify({ ...d, generation: d.generation.toString() })
}

export function desiredFromJson(text: string): ResourceDesired {
  const o = JSON.parse(text) as Omit<ResourceDesired, 'generation'> & { generation: string }
  return { ...o, generation: BigInt(o.generation) }
}
