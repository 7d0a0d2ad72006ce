/**
 * LINSTOR's automatic DRBD 9 helpers (CtrlRscAutoHelper), run at the end of every call that changes a
 * definition's replicas, in the same transaction: the auto tiebreaker (CtrlRscAutoTieBreakerHelper), then
 * auto quorum (CtrlRscAutoQuorumHelper). Both need DRBD 9 and stay away from 8.4, which has no quorum.
 *
 * - Tiebreaker: an even number of diskful DRBD replicas (2, 4…) and no diskless one gets a diskless
 *   replica flagged TIE_BREAKER on another node, so that a majority exists when one side is lost; it is
 *   deleted once not needed. `DrbdOptions/auto-add-quorum-tiebreaker` (definition → group → controller,
 *   LINSTOR's default True) turns it off; deleting the tiebreaker by hand sets it False on the definition.
 * - Quorum: with three or more diskful replicas, or two and a diskless one, the definition gets
 *   `DrbdOptions/Resource/quorum=majority`; below that the value is removed again. Only while the quorum
 *   is LINSTOR's to manage (`Internal/Drbd/QuorumSetBy`, resolved definition → group → controller, is
 *   not `user`). LINSTOR writes `off` below the threshold; Blockyard removes the key instead, which is
 *   DRBD's default, and which the satellite would refuse in an 8.4 resource file. `on-no-quorum` is not
 *   touched: LINSTOR stopped setting it (its 2025 auto-quorum rework), it inherits as any DRBD option.
 */
import { INFO, rcEntry, WARN, type ApiCallRc } from '../../common/errors.js'
import { nameKey } from '../../common/names.js'
import { createResource, deleteResource, isDeleting, isDiskless } from '../api/_resources.js'
import type { Tx } from '../db/tx.js'
import type { WaitTarget } from '../satellites/wait.js'
import { DFLT_DISKLESS_STOR_POOL, type Model } from '../model/model.js'
import { resolveProp, type PropsModify } from '../model/props.js'
import type { Node, Props, Resource, RscDfn } from '../model/types.js'
import { AUTOPLACE_TARGET_PROP } from './autoplacer.js'
import { drbdSupportsQuorum, drbdSupportsTieBreaker } from './_drbd-version.js'

export const PROP_QUORUM = 'DrbdOptions/Resource/quorum'
/** Who set the quorum: `user`, or LINSTOR's automatic management (absent or `linstor`). */
export const PROP_QUORUM_SET_BY = 'Internal/Drbd/QuorumSetBy'
export const PROP_AUTO_TIEBREAKER = 'DrbdOptions/auto-add-quorum-tiebreaker'
export const TIE_BREAKER = 'TIE_BREAKER'

/** What a call waits for after the helpers: a new tiebreaker READY, one no longer needed GONE. */
export function autoWaitTargets(out: DrbdAutoOutcome): WaitTarget[] {
  return [
    ...out.created.map((r): WaitTarget => ({ rscName: r.rscName, nodeName: r.nodeName, goal: 'READY' })),
    ...out.deleting.map((r): WaitTarget => ({ rscName: r.rscName, nodeName: r.nodeName, goal: 'GONE' })),
  ]
}

export const isTieBreaker = (r: { flags: readonly string[] }): boolean => r.flags.includes(TIE_BREAKER)

/** What the helpers did: resources created or flagged for deletion (to wait for), and the reply entries. */
export interface DrbdAutoOutcome {
  created: Resource[]
  deleting: Resource[]
  rcs: ApiCallRc[]
}

/**
 * Adds or removes `rd`'s tiebreaker and sets or removes its automatic quorum, as its replicas now are.
 * Changes go into `tx` with the call's own; nothing here throws for want of a node (a warning says so).
 */
export function manageDrbdAuto(tx: Tx, m: Model, rd: RscDfn): DrbdAutoOutcome {
  const out: DrbdAutoOutcome = { created: [], deleting: [], rcs: [] }
  if (isDeleting(rd)) return out
  const chain = [rd.props, m.getRscGrp(rd.rscGrpName)?.props, m.ctrlProps]
  // LINSTOR's order: quorum after the tiebreaker, which counts toward it.
  manageTieBreaker(tx, m, rd, chain, out)
  manageQuorum(tx, m, rd, chain, out)
  return out
}

/**
 * A user's diskless resource on the node of `rd`'s tiebreaker: the tiebreaker becomes that resource (its
 * flag goes), as LINSTOR does instead of creating a second one there. Returns it, or undefined when the
 * node holds no tiebreaker of `rd`.
 */
export function takeOverTieBreaker(tx: Tx, m: Model, rd: RscDfn, nodeName: string): Resource | undefined {
  const tb = m.getResource(rd.name, nodeName)
  if (tb === undefined || !isTieBreaker(tb) || isDeleting(tb)) return undefined
  tb.flags = tb.flags.filter((f) => f !== TIE_BREAKER)
  m.putResource(tx, tb)
  return tb
}

/** The reply entry of {@link takeOverTieBreaker}. */
export function takeoverRc(r: Resource): ApiCallRc {
  return rcEntry(INFO.TIE_BREAKER_TAKEOVER, `Tie breaker of '${r.rscName}' on node '${r.nodeName}' taken over as a diskless resource.`, 'CRT', 'RSC', { obj_refs: { RscDfn: r.rscName, Node: r.nodeName } })
}

/**
 * LINSTOR's reaction to a tiebreaker deleted by hand: auto-tiebreaker goes off for the definition, so
 * that the next change does not put one back. Returns the reply entry.
 */
export function disableAutoTieBreaker(tx: Tx, m: Model, rd: RscDfn): ApiCallRc {
  rd.props = { ...rd.props, [PROP_AUTO_TIEBREAKER]: 'False' }
  m.putRscDfn(tx, rd)
  return rcEntry(INFO.PROP_SET, `Disabling auto-tiebreaker on resource-definition '${rd.name}' as tiebreaker resource was manually deleted`, 'DEL', 'RSC')
}

/**
 * `mod` with LINSTOR's marker of a user's quorum: setting or removing `DrbdOptions/Resource/quorum` on a
 * definition, group or the controller sets or removes `Internal/Drbd/QuorumSetBy=user` there, so that
 * auto quorum leaves it alone (CtrlPropsHelper).
 */
export function markUserQuorum(mod: PropsModify): PropsModify {
  const override = { ...(mod.override ?? {}) }
  const deleteKeys = [...(mod.deleteKeys ?? [])]
  if (PROP_QUORUM in override) override[PROP_QUORUM_SET_BY] = 'user'
  if (deleteKeys.includes(PROP_QUORUM)) deleteKeys.push(PROP_QUORUM_SET_BY)
  return { ...mod, override, deleteKeys }
}

/** Whether a property change sets or removes `key` (itself, or a namespace holding it). */
function changesKey(mod: PropsModify, key: string): boolean {
  return key in (mod.override ?? {}) || (mod.deleteKeys ?? []).includes(key) || (mod.deleteNamespaces ?? []).some((ns) => key.startsWith(ns + '/'))
}

/** Whether a property change touches the quorum. */
export const quorumTouched = (mod: PropsModify): boolean => changesKey(mod, PROP_QUORUM)

/** Whether a property change is one the helpers act on (quorum, the tiebreaker switch), as LINSTOR checks. */
export const touchesDrbdAuto = (mod: PropsModify): boolean => quorumTouched(mod) || changesKey(mod, PROP_AUTO_TIEBREAKER)

/**
 * After a group's quorum or tiebreaker switch changed: the helpers run for each of its definitions,
 * which first drop the quorum auto quorum had set on them when the group's quorum changed, so that the
 * group's value applies (LINSTOR's removeQuorumPropIfSetByLinstor).
 */
export function manageGroupDrbdAuto(tx: Tx, m: Model, rds: readonly RscDfn[], quorumChanged: boolean): DrbdAutoOutcome {
  const out: DrbdAutoOutcome = { created: [], deleting: [], rcs: [] }
  for (const rd of rds) {
    if (quorumChanged && !quorumSetByUser([rd.props]) && rd.props[PROP_QUORUM] !== undefined) {
      const props = { ...rd.props }
      delete props[PROP_QUORUM]
      rd.props = props
      m.putRscDfn(tx, rd)
    }
    const one = manageDrbdAuto(tx, m, rd)
    out.created.push(...one.created)
    out.deleting.push(...one.deleting)
    out.rcs.push(...one.rcs)
  }
  return out
}

const versionOf = (m: Model, nodeName: string): string | null | undefined => m.runtime.nodes.get(nameKey(nodeName))?.drbdVersion

/** The definition's DRBD replicas, those LINSTOR counts (neither being deleted nor inactive), and the nodes among all without DRBD quorum. */
function drbdReplicas(m: Model, rd: RscDfn): { live: Resource[]; noQuorum: string[] } {
  const drbd = [...m.resourcesOf(rd.name)].filter((r) => r.layerStack.includes('DRBD'))
  const live = drbd.filter((r) => !isDeleting(r) && !r.flags.includes('INACTIVE'))
  // Quorum needs DRBD ≥ 9.0.18 on every node; an unknown version is not assumed to have it (the
  // satellite refuses a quorum option in an 8.4 resource file).
  const noQuorum = [...new Set(drbd.map((r) => r.nodeName))].filter((n) => !drbdSupportsQuorum(versionOf(m, n)))
  return { live, noQuorum }
}

function manageTieBreaker(tx: Tx, m: Model, rd: RscDfn, chain: (Props | undefined)[], out: DrbdAutoOutcome): void {
  const { live, noQuorum } = drbdReplicas(m, rd)
  const enabled = (resolveProp(PROP_AUTO_TIEBREAKER, chain) ?? 'True').toLowerCase() === 'true'
  // A tiebreaker serves quorum: LINSTOR adds one while quorum is automatic or majority (how it reads an unset one).
  const quorumWanted = !quorumSetByUser(chain) || (resolveProp(PROP_QUORUM, chain) ?? 'majority').toLowerCase() === 'majority'
  const diskful = live.filter((r) => !isDiskless(r))
  const clients = live.filter((r) => isDiskless(r) && !isTieBreaker(r)).length
  const wanted = enabled && quorumWanted && noQuorum.length === 0 && diskful.length >= 2 && diskful.length % 2 === 0 && clients === 0
  const tb = live.find(isTieBreaker)
  if (wanted && tb === undefined) {
    const spot = tieBreakerSpot(m, rd, diskful)
    if (spot === undefined) {
      out.rcs.push(rcEntry(WARN.NOT_ENOUGH_NODES_FOR_TIE_BREAKER, `Could not find suitable node to automatically create a tie breaking resource for '${rd.name}'.`, undefined, 'RSC', {
        details: 'A tiebreaker needs an online node without a replica of the resource, with DRBD 9.0.19 or later and a diskless storage pool.',
      }))
      return
    }
    const r = createResource(tx, m, rd, { nodeName: spot.nodeName, poolName: spot.poolName, diskless: true, flags: [TIE_BREAKER], layerStack: rd.layerStack })
    out.created.push(r)
    out.rcs.push(rcEntry(INFO.TIE_BREAKER_CREATED, `Tie breaker resource '${rd.name}' created on ${r.nodeName}`, 'CRT', 'RSC', { obj_refs: { RscDfn: rd.name, Node: r.nodeName } }))
  } else if (!wanted && tb !== undefined) {
    if (!deleteResource(tx, m, tb)) out.deleting.push(tb)
    out.rcs.push(rcEntry(INFO.TIE_BREAKER_DELETING, `Tie breaker of '${rd.name}' on ${tb.nodeName} marked for deletion`, 'DEL', 'RSC', { obj_refs: { RscDfn: rd.name, Node: tb.nodeName } }))
  }
}

/**
 * Where a tiebreaker goes (LINSTOR's autoplacer for one diskless replica): an online node that holds no
 * resource of `rd`, takes auto-placed resources, runs DRBD ≥ 9.0.19 and has a diskless pool the
 * group's filter allows (LINSTOR's default one first), within the group's node list and on other values
 * of its replicas-on-different keys than the diskful replicas (LINSTOR sends the tiebreaker to a new
 * zone). The node with the fewest resources wins; ties go to the model's order.
 */
function tieBreakerSpot(m: Model, rd: RscDfn, diskful: readonly Resource[]): { nodeName: string; poolName: string } | undefined {
  const filter = m.getRscGrp(rd.rscGrpName)?.selectFilter ?? {}
  const only = filter.node_name_list !== undefined && filter.node_name_list.length > 0 ? new Set(filter.node_name_list.map(nameKey)) : null
  const pools = filter.storage_pool_diskless_list !== undefined && filter.storage_pool_diskless_list.length > 0 ? new Set(filter.storage_pool_diskless_list.map(nameKey)) : null
  const differentKeys = [...(filter.replicas_on_different ?? []).filter((k) => !k.includes('=')), ...Object.keys(filter.x_replicas_on_different_map ?? {})]
  const taken = new Map(differentKeys.map((k) => [k, new Set(diskful.map((r) => m.getNode(r.nodeName)?.props[k]).filter((v) => v !== undefined))]))
  let best: { nodeName: string; poolName: string; load: number } | undefined
  for (const [nk, node] of m.nodes) {
    if (m.getResource(rd.name, node.name) !== undefined || !eligibleNode(m, nk, node)) continue
    if (only !== null && !only.has(nk)) continue
    if (differentKeys.some((k) => node.props[k] !== undefined && taken.get(k)!.has(node.props[k]!))) continue
    let poolName: string | undefined
    for (const sp of m.storPools.get(nk)?.values() ?? []) {
      if (sp.providerKind !== 'DISKLESS' || (pools !== null && !pools.has(nameKey(sp.name)))) continue
      if (poolName === undefined || nameKey(sp.name) === nameKey(DFLT_DISKLESS_STOR_POOL)) poolName = sp.name
    }
    if (poolName === undefined) continue
    const load = m.resourcesByNode.get(nk)?.size ?? 0
    if (best === undefined || load < best.load) best = { nodeName: node.name, poolName, load }
  }
  return best
}

function eligibleNode(m: Model, nk: string, node: Node): boolean {
  if (node.flags.some((f) => f === 'EVICTED' || f === 'EVACUATE' || f === 'DELETE')) return false
  if (node.props[AUTOPLACE_TARGET_PROP]?.toLowerCase() === 'false') return false
  const rt = m.runtime.nodes.get(nk)
  // What createResource checks too: a tiebreaker must not make the user's call fail.
  return rt?.connectionStatus === 'ONLINE' && drbdSupportsTieBreaker(rt.drbdVersion)
    && (rt.supportedLayers == null || rt.supportedLayers.includes('DRBD'))
    && (rt.supportedProviders == null || rt.supportedProviders.includes('DISKLESS'))
}

const quorumSetByUser = (chain: (Props | undefined)[]): boolean => (resolveProp(PROP_QUORUM_SET_BY, chain) ?? 'linstor').toLowerCase() !== 'linstor'

function manageQuorum(tx: Tx, m: Model, rd: RscDfn, chain: (Props | undefined)[], out: DrbdAutoOutcome): void {
  if (quorumSetByUser(chain)) return
  const { live, noQuorum } = drbdReplicas(m, rd)
  const diskful = live.filter((r) => !isDiskless(r)).length
  const feasible = (diskful === 2 && live.length > diskful) || diskful >= 3
  const old = rd.props[PROP_QUORUM]
  if (feasible && noQuorum.length === 0) {
    if (old === 'majority') return
    rd.props = { ...rd.props, [PROP_QUORUM]: 'majority' }
    m.putRscDfn(tx, rd)
    out.rcs.push(rcEntry(INFO.PROP_SET, `Resource-definition property '${PROP_QUORUM}' updated from ${old === undefined ? 'undefined' : `'${old}'`} to 'majority' by AutoQuorum`, 'MOD', 'RSC_DFN', { obj_refs: { RscDfn: rd.name } }))
    return
  }
  if (old === undefined) return
  const props = { ...rd.props }
  delete props[PROP_QUORUM]
  rd.props = props
  m.putRscDfn(tx, rd)
  const why = feasible
    ? ` as the node${noQuorum.length === 1 ? '' : 's'} ${noQuorum.map((n) => `'${n}'`).join(', ')} ${noQuorum.length === 1 ? 'does' : 'do'} not support DRBD quorum (DRBD 9.0.18 or later, reported)`
    : ' as there are not enough resources for quorum'
  out.rcs.push(rcEntry(INFO.PROP_REMOVED, `Resource-definition property '${PROP_QUORUM}' was removed${why}`, 'MOD', 'RSC_DFN', { obj_refs: { RscDfn: rd.name } }))
}
