/**
 * Snapshots: /v1/resource-definitions/{resource}/snapshots…, restore into a resource definition,
 * rollback, and the view /v1/view/snapshots (LINSTOR Snapshots.java, SnapshotRestoreResource.java,
 * SnapshotRestoreVolumeDefinition.java, SnapshotRollback.java, View.java; semantics of
 * CtrlSnapshotCrtHelper, CtrlSnapshotDeleteApiCallHandler, CtrlSnapshotRestoreApiCallHandler,
 * CtrlSnapshotRestoreVlmDfnApiCallHandler, CtrlSnapshotRollbackApiCallHandler).
 *
 * The controller records desired state; satellites act on it and confirm (a later stage):
 * - create: a SnapshotDfn with one Snapshot per node (see types.ts for the round satellites run and the
 *   SUCCESSFUL / FAILED_DEPLOYMENT flags their confirmation sets). Until then nothing can use it.
 * - restore: new resources flagged RESTORE_FROM_SNAPSHOT whose volumes carry {@link
 *   PROP_RESTORE_FROM_RESOURCE} and {@link PROP_RESTORE_FROM_SNAPSHOT}. The satellite creates each
 *   backing device as a clone of that snapshot volume, in the pool the volume names, keeping the DRBD
 *   metadata the snapshot holds (same DRBD node id), instead of an empty device; once it has confirmed,
 *   the controller removes the two properties (as LINSTOR does after deployment). Until then the
 *   snapshot cannot be deleted.
 * - rollback: {@link PROP_ROLLBACK_TARGET} on every resource of the definition, see there.
 * - delete: two-phase per node, as resources (_resources.deleteResource).
 */
import { randomUUID } from 'node:crypto'
import { MASK } from '../../common/api-codes.js'
import { ApiError, rcEntry, SUCCESS, WARN, type ApiCallRc } from '../../common/errors.js'
import { checkName, nameKey } from '../../common/names.js'
import type { Core } from '../core.js'
import type { Tx } from '../db/tx.js'
import type { Reply, Router } from '../http/router.js'
import type { Model } from '../model/model.js'
import { hasAllProps, modifyProps } from '../model/props.js'
import { PROVIDER_KINDS, type Props, type Resource, type RscDfn, type Snapshot, type SnapshotDfn, type VlmDfn } from '../model/types.js'
import { changed, ok } from './_reply.js'
import { createResource, isDeleting, isDiskless, satelliteConnected, withFlag } from './_resources.js'
import { obj, optObj, optProps, optStr, optStrArray, page, propsModify, queryList, str, type Body } from './_input.js'
import { requireNode } from './nodes.js'
import { requireRscDfn, sortedVlmDfns } from './resource-definitions.js'
import { supportsSnapshots } from './storage-pools.js'

/**
 * Resource property naming the snapshot the resource is to be rolled back to (LINSTOR
 * KEY_RSC_ROLLBACK_TARGET). It is set on every resource of the definition at once, only while all their
 * satellites are connected. What the satellites do with it (the later stage):
 * 1. each refuses if its device is in use (opened, DRBD Primary) and reports that; the controller then
 *    removes the property everywhere and nothing is touched;
 * 2. otherwise each takes the resource down (DRBD too) and reports it;
 * 3. when all are down, each diskful one replaces its volumes by the snapshot's (thin LV / dataset /
 *    file copy of the snapshot; ZFS: `zfs rollback`) and reports it, staying down: a replica that came
 *    up early would resync the newer data of a peer back over the rolled-back one;
 * 4. when all have reported, the controller removes the property and the satellites bring it up.
 */
export const PROP_ROLLBACK_TARGET = 'RollbackTarget'
/** Volume property: the resource definition of the snapshot the volume is cloned from (LINSTOR KEY_VLM_RESTORE_FROM_RESOURCE). */
export const PROP_RESTORE_FROM_RESOURCE = 'RestoreFromResource'
/** Volume property: the snapshot the volume is cloned from (LINSTOR KEY_VLM_RESTORE_FROM_SNAPSHOT). */
export const PROP_RESTORE_FROM_SNAPSHOT = 'RestoreFromSnapshot'
/** Resource flag of resources created from a snapshot (LINSTOR Resource.Flags.RESTORE_FROM_SNAPSHOT). */
export const FLAG_RESTORE_FROM_SNAPSHOT = 'RESTORE_FROM_SNAPSHOT'

/** The volume definition's initial DRBD generation id: restored volumes keep it (LINSTOR copies it too). */
const PROP_DRBD_CURRENT_GI = 'DrbdCurrentGi'
/** Properties of an operation in flight: never copied into a snapshot, nor from one. */
const TRANSIENT_KEYS = [PROP_ROLLBACK_TARGET, PROP_RESTORE_FROM_RESOURCE, PROP_RESTORE_FROM_SNAPSHOT]
/** LINSTOR's SnapshotRollback.zfs_rollback_strategy values. */
const ROLLBACK_STRATEGIES = ['rollback', 'clone', 'dynamic']

export function registerSnapshotApi(r: Router, core: Core): void {
  const S = { obj: 'SNAPSHOT' } as const
  const base = '/v1/resource-definitions/{resource}/snapshots'

  r.get(base, (req) => {
    const rd = requireRscDfn(core.model, req.params['resource']!)
    return ok(page(sortedSnapshotDfns(core.model.snapshotDfnsOf(rd.name)), req.query).map(snapshotDfnJson))
  }, S)
  r.get(`${base}/{snapshot}`, (req) => {
    const rd = requireRscDfn(core.model, req.params['resource']!)
    return ok(snapshotDfnJson(requireSnapshotDfn(core.model, rd, req.params['snapshot']!)))
  }, S)

  r.get('/v1/view/snapshots', (req) => {
    const q = req.query
    const nodes = new Set(queryList(q, 'nodes').map(nameKey))
    const rscs = new Set(queryList(q, 'resources').map(nameKey))
    const snaps = new Set(queryList(q, 'snapshots').map(nameKey))
    const props = queryList(q, 'props')
    const list = sortedSnapshotDfns(core.model.allSnapshotDfns()).filter((sd) =>
      (rscs.size === 0 || rscs.has(nameKey(sd.rscName)))
      && (snaps.size === 0 || snaps.has(nameKey(sd.name)))
      && (nodes.size === 0 || sd.snapshots.some((s) => nodes.has(nameKey(s.nodeName))))
      && hasAllProps(sd.props, props))
    return ok(page(list, q).map(snapshotDfnJson))
  }, S)

  r.post(base, async (req) => {
    const rscName = checkName('rsc', req.params['resource']!)
    const b = obj(req.body)
    const name = checkName('snapshot', str(b, 'name'))
    const bodyRsc = optStr(b, 'resource_name')
    if (bodyRsc !== undefined && nameKey(bodyRsc) !== nameKey(rscName)) {
      throw new ApiError('ERR_REQ_FIELD', { field: 'resource_name', problem: `differs from the resource of the path ('${rscName}')` })
    }
    const nodes = nodeList(b, 'nodes')
    // LINSTOR reads snapshot_definition_props; `props` is the older name of the same map.
    const props = optProps(b, 'snapshot_definition_props') ?? optProps(b, 'props') ?? {}
    modifyProps({}, { override: props }) // validates keys and values
    const out = await core.mutate((tx, m) => createSnapshotDfn(tx, m, rscName, name, nodes, props))
    const sd = out.sd
    const on = sd.snapshots.map((s) => `'${s.nodeName}'`).join(', ')
    return {
      status: 201,
      body: [
        rcEntry(SUCCESS.CREATED, `New snapshot '${sd.name}' of resource '${sd.rscName}' registered for node(s) ${on}; it becomes SUCCESSFUL once their satellites have taken it.`, 'CRT', 'SNAPSHOT', { obj_refs: refs(sd) }),
        ...out.warnings,
        ...sd.snapshots.filter((s) => !satelliteConnected(core.model, s.nodeName)).map((s) => rcEntry(WARN.NOT_CONNECTED,
          `No active connection to satellite '${s.nodeName}': the snapshot is taken once the satellites of all its nodes are connected.`, 'CRT', 'SNAPSHOT', { obj_refs: { ...refs(sd), Node: s.nodeName } })),
      ],
    }
  }, { op: 'CRT', ...S })

  r.put(`${base}/{snapshot}`, async (req) => {
    const mod = propsModify(obj(req.body))
    const out = await core.mutate((tx, m) => {
      const sd = requireSnapshotDfn(m, requireRscDfn(m, req.params['resource']!), req.params['snapshot']!)
      const { props, unsetKeys } = modifyProps(sd.props, mod)
      sd.props = props
      m.putSnapshotDfn(tx, sd)
      return { sd, unsetKeys }
    })
    const warnings = out.unsetKeys.map((k) => rcEntry(WARN.DEL_UNSET_PROP, `Property '${k}' was not set.`, 'MOD', 'SNAPSHOT'))
    return changed('MOD', 'SNAPSHOT', `Snapshot '${out.sd.name}' of resource '${out.sd.rscName}' modified.`, refs(out.sd), warnings)
  }, { op: 'MOD', ...S })

  r.delete(`${base}/{snapshot}`, async (req) => {
    const rscName = checkName('rsc', req.params['resource']!)
    const snapName = checkName('snapshot', req.params['snapshot']!)
    const nodes = queryList(req.query, 'nodes').map((n) => checkName('node', n))
    return core.mutate((tx, m) => deleteSnapshotDfn(tx, m, rscName, snapName, nodes))
  }, { op: 'DEL', ...S })

  r.post('/v1/resource-definitions/{resource}/snapshot-restore-resource/{snapshot}', async (req) => {
    const spec = restoreSpecFrom(req.params['resource']!, req.params['snapshot']!, obj(req.body))
    const out = await core.mutate((tx, m) => restoreResources(tx, m, spec))
    const nodes = out.made.map((x) => `'${x.nodeName}'`).join(', ')
    const vds = out.vlmDfns.length > 0 ? ` with the snapshot's volume definitions ${out.vlmDfns.map((vd) => vd.vlmNr).join(', ')}` : ''
    return {
      status: 200,
      body: [
        rcEntry(SUCCESS.CREATED, `Resource '${out.target.name}' on node(s) ${nodes} restored from resource '${out.from.rscName}', snapshot '${out.from.name}'${vds}.`, 'CRT', 'RSC', {
          obj_refs: { RscDfn: out.target.name, Snapshot: out.from.name },
          details: `Resource UUIDs: ${out.made.map((x) => x.uuid).join(', ')}`,
        }),
        ...out.made.filter((x) => !satelliteConnected(core.model, x.nodeName)).map((x) => rcEntry(WARN.NOT_CONNECTED,
          `No active connection to satellite '${x.nodeName}': the resource is created from the snapshot when it connects.`, 'CRT', 'RSC', { obj_refs: { RscDfn: x.rscName, Node: x.nodeName } })),
      ],
    }
  }, { op: 'CRT', obj: 'RSC' })

  r.post('/v1/resource-definitions/{resource}/snapshot-restore-volume-definition/{snapshot}', async (req) => {
    const spec = restoreSpecFrom(req.params['resource']!, req.params['snapshot']!, obj(req.body))
    const out = await core.mutate((tx, m) => {
      const sd = requireSnapshotDfn(m, requireRscDfn(m, spec.rscName), spec.snapName)
      const target = requireRestoreTarget(m, spec.toRsc)
      for (const sv of sd.vlmDfns) {
        if (target.vlmDfns.some((vd) => vd.vlmNr === sv.vlmNr)) throw new ApiError('ERR_EXISTS_VLM_DFN', { vlmNr: sv.vlmNr, rsc: target.name })
      }
      return { sd, target, made: addVlmDfnsFromSnapshot(tx, m, target, sd) }
    })
    const nrs = out.made.map((vd) => vd.vlmNr).join(', ')
    return {
      status: 200,
      body: [rcEntry(SUCCESS.CREATED, `Volume definition(s) ${nrs} of resource definition '${out.target.name}' restored from resource '${out.sd.rscName}', snapshot '${out.sd.name}'.`, 'CRT', 'SNAPSHOT', { obj_refs: { RscDfn: out.target.name, Snapshot: out.sd.name } })],
    }
  }, { op: 'CRT', ...S })

  r.post('/v1/resource-definitions/{resource}/snapshot-rollback/{snapshot}', async (req) => {
    const b = req.body === undefined || req.body === null ? {} : obj(req.body)
    const strategy = optStr(b, 'zfs_rollback_strategy')?.toLowerCase()
    if (strategy !== undefined && !ROLLBACK_STRATEGIES.includes(strategy)) {
      throw new ApiError('ERR_REQ_FIELD', { field: 'zfs_rollback_strategy', problem: `must be one of ${ROLLBACK_STRATEGIES.join(', ')}` })
    }
    // LINSTOR's 'clone' renames the volume and clones the snapshot under its name; Blockyard rolls back in
    // place only ('dynamic' is 'rollback' here, as a rollback goes to the most recent snapshot anyway).
    if (strategy === 'clone') {
      throw new ApiError('ERR_REQ_UNSUPPORTED', { what: "The ZFS rollback strategy 'clone'", correction: "Omit zfs_rollback_strategy, or use 'rollback' or 'dynamic'." })
    }
    const out = await core.mutate((tx, m) => rollback(tx, m, req.params['resource']!, req.params['snapshot']!))
    const nodes = out.rscs.map((x) => `'${x.nodeName}'`).join(', ')
    return changed('MOD', 'SNAPSHOT',
      `Resource '${out.sd.rscName}' marked for rollback to snapshot '${out.sd.name}' on node(s) ${nodes}; its satellites take it down, roll its volumes back and bring it up again.`,
      refs(out.sd))
  }, { op: 'MOD', ...S })
}

/** The snapshot definition `name` of `rd` (name validated), or ERR_NOT_FOUND_SNAPSHOT_DFN. */
export function requireSnapshotDfn(m: Model, rd: RscDfn, name: string): SnapshotDfn {
  checkName('snapshot', name)
  const sd = m.getSnapshotDfn(rd.name, name)
  if (sd === undefined) throw new ApiError('ERR_NOT_FOUND_SNAPSHOT_DFN', { snap: name, rsc: rd.name })
  return sd
}

/** LINSTOR's Snapshot JSON (Json.apiToSnapshot): `props` merges both maps, as LINSTOR's compat field does. */
export function snapshotDfnJson(sd: SnapshotDfn): Record<string, unknown> {
  return {
    name: sd.name,
    resource_name: sd.rscName,
    nodes: sd.snapshots.map((s) => s.nodeName),
    props: { ...sd.rscDfnProps, ...sd.props },
    snapshot_definition_props: sd.props,
    resource_definition_props: sd.rscDfnProps,
    flags: sd.flags,
    volume_definitions: sd.vlmDfns.map((v) => ({
      volume_number: v.vlmNr,
      size_kib: v.sizeKib,
      snapshot_volume_definition_props: v.props,
      volume_definition_props: v.vlmDfnProps,
    })),
    uuid: sd.uuid,
    snapshots: sd.snapshots.map((s) => snapshotJson(sd, s)),
  }
}

/** LINSTOR's SnapshotNode JSON; create_timestamp only once the satellite has taken it (never null). */
function snapshotJson(sd: SnapshotDfn, s: Snapshot): Record<string, unknown> {
  const out: Record<string, unknown> = { snapshot_name: sd.name, node_name: s.nodeName }
  if (s.createTimestamp !== null) out['create_timestamp'] = s.createTimestamp
  out['flags'] = s.flags
  out['uuid'] = s.uuid
  out['snapshot_props'] = s.props
  out['resource_props'] = s.rscProps
  out['snapshot_volumes'] = s.volumes.map((v) => ({
    uuid: v.uuid,
    vlm_nr: v.vlmNr,
    props: { ...v.vlmProps, ...v.props },
    snapshot_volume_props: v.props,
    volume_props: v.vlmProps,
  }))
  return out
}

// ---------------------------------------------------------------------------------------------------
// Create

function createSnapshotDfn(tx: Tx, m: Model, rscName: string, name: string, nodeNames: string[], props: Props): { sd: SnapshotDfn; warnings: ApiCallRc[] } {
  const rd = requireRscDfn(m, rscName)
  if (isDeleting(rd)) throw new ApiError('ERR_RSC_STATE', { problem: `Resource definition '${rd.name}' is being deleted` }, { correction: 'Take snapshots of definitions that stay.' })
  refuseDuringRollback(m, rd)
  if (m.getSnapshotDfn(rd.name, name) !== undefined) throw new ApiError('ERR_EXISTS_SNAPSHOT_DFN', { snap: name, rsc: rd.name })
  const vlmDfns = sortedVlmDfns(rd).filter((vd) => !isDeleting(vd))
  if (vlmDfns.length === 0) {
    throw new ApiError('ERR_RSC_STATE', { problem: `Resource definition '${rd.name}' has no volume definitions: a snapshot of it would hold nothing` }, { correction: 'Create a volume definition first.' })
  }

  // Default: every diskful resource that stays (LINSTOR: every diskful resource).
  const rscs = nodeNames.length === 0
    ? [...m.resourcesOf(rd.name)].filter((x) => !isDiskless(x) && !isDeleting(x)).sort((a, b) => a.nodeName.localeCompare(b.nodeName))
    : nodeNames.map((n) => {
      const node = requireNode(m, n)
      const x = m.getResource(rd.name, node.name)
      if (x === undefined) throw new ApiError('ERR_NOT_FOUND_RSC', { rsc: rd.name, node: node.name })
      if (isDiskless(x)) throw new ApiError('ERR_SNAPSHOT_DISKLESS', { rsc: rd.name, node: x.nodeName })
      if (isDeleting(x)) throw new ApiError('ERR_RSC_STATE', { problem: `Resource '${rd.name}' on node '${x.nodeName}' is being deleted` }, { correction: 'Leave that node out.' })
      return x
    })
  // As LINSTOR: a node being evacuated gets no new snapshot, with a warning.
  const warnings: ApiCallRc[] = []
  const taken = rscs.filter((x) => {
    if (!(m.getNode(x.nodeName)?.flags.includes('EVACUATE') ?? false)) return true
    warnings.push(rcEntry(MASK.WARN, `Snapshot '${name}' of resource '${rd.name}' is not created on node '${x.nodeName}': the node is being evacuated.`, 'CRT', 'SNAPSHOT'))
    return false
  })
  if (taken.length === 0) throw new ApiError('ERR_SNAPSHOT_NO_RSC', { rsc: rd.name })
  for (const x of taken) checkPoolsSupportSnapshots(m, x)

  const wanted = new Set(vlmDfns.map((vd) => vd.vlmNr))
  const sd: SnapshotDfn = {
    rscName: rd.name,
    name,
    props,
    rscDfnProps: { ...rd.props },
    flags: [],
    sequenceNumber: Math.max(0, ...[...m.snapshotDfnsOf(rd.name)].map((x) => x.sequenceNumber)) + 1,
    vlmDfns: vlmDfns.map((vd) => ({
      vlmNr: vd.vlmNr,
      sizeKib: vd.sizeKib,
      props: {},
      vlmDfnProps: { ...vd.props },
      flags: vd.flags.filter((f) => f === 'GROSS_SIZE'),
      uuid: randomUUID(),
    })),
    snapshots: taken.map((x) => ({
      nodeName: x.nodeName,
      props: {},
      rscProps: withoutTransient(x.props),
      flags: [],
      layerStack: [...x.layerStack],
      drbdNodeId: x.drbdNodeId,
      volumes: x.volumes.filter((v) => wanted.has(v.vlmNr) && !isDeleting(v)).map((v) => ({
        vlmNr: v.vlmNr, storPoolName: v.storPoolName, props: {}, vlmProps: withoutTransient(v.props), uuid: randomUUID(),
      })),
      createTimestamp: null,
      uuid: randomUUID(),
    })),
    uuid: randomUUID(),
  }
  m.putSnapshotDfn(tx, sd)
  return { sd, warnings }
}

/** Every volume of the resource must be in a pool whose provider can take snapshots. */
function checkPoolsSupportSnapshots(m: Model, x: Resource): void {
  for (const v of x.volumes) {
    const sp = m.getStorPool(x.nodeName, v.storPoolName)
    if (sp === undefined) throw new ApiError('ERR_NOT_FOUND_STOR_POOL', { pool: v.storPoolName, node: x.nodeName })
    if (!supportsSnapshots(sp.providerKind)) {
      throw new ApiError('ERR_SNAPSHOT_NOT_SUPPORTED', { pool: sp.name, node: x.nodeName, provider: sp.providerKind, supported: PROVIDER_KINDS.filter(supportsSnapshots).join(', ') })
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Delete

/**
 * Deletes a snapshot definition, or its snapshots on `nodeNames` only. Each snapshot goes the way of
 * _resources.deleteResource: flagged DELETE while its satellite is connected (the confirmation removes
 * it), removed at once when it is not (the satellite deletes what its next full sync no longer has).
 * The definition is flagged DELETE when no snapshot of it stays, and goes with its last snapshot.
 */
function deleteSnapshotDfn(tx: Tx, m: Model, rscName: string, snapName: string, nodeNames: string[]): Reply {
  const rd = requireRscDfn(m, rscName)
  const sd = m.getSnapshotDfn(rd.name, snapName)
  // As LINSTOR: deleting what is not there is a warning, not an error.
  if (sd === undefined) {
    return { status: 200, body: [rcEntry(WARN.NOT_FOUND, `Snapshot '${snapName}' of resource '${rd.name}' not found.`, 'DEL', 'SNAPSHOT', { obj_refs: { RscDfn: rd.name, Snapshot: snapName } })] }
  }
  refuseIfSnapshotInUse(m, sd)
  const want = nodeNames.length > 0 ? new Set(nodeNames.map(nameKey)) : null
  const targets = sd.snapshots.filter((s) => want === null || want.has(nameKey(s.nodeName)))
  const missing = nodeNames.filter((n) => !sd.snapshots.some((s) => nameKey(s.nodeName) === nameKey(n)))
  const warnings = missing.map((n) => rcEntry(WARN.NOT_FOUND, `Snapshot '${sd.name}' of resource '${sd.rscName}' was not found on node '${n}'.`, 'DEL', 'SNAPSHOT', { obj_refs: { ...refs(sd), Node: n } }))
  if (targets.length === 0 && want !== null) return { status: 200, body: warnings }

  const waiting: Snapshot[] = []
  for (const s of targets) {
    if (satelliteConnected(m, s.nodeName)) {
      s.flags = withFlag(s.flags, 'DELETE')
      waiting.push(s)
    } else sd.snapshots = sd.snapshots.filter((x) => x !== s)
  }
  const gone = targets.filter((s) => !waiting.includes(s))
  if (sd.snapshots.length === 0) m.deleteSnapshotDfn(tx, sd)
  else {
    if (sd.snapshots.every(isDeleting)) sd.flags = withFlag(sd.flags, 'DELETE')
    m.putSnapshotDfn(tx, sd)
  }

  const what = `Snapshot '${sd.name}' of resource '${sd.rscName}'`
  const list = (xs: Snapshot[]): string => xs.map((s) => `'${s.nodeName}'`).join(', ')
  let message: string
  if (want === null) {
    message = waiting.length === 0 ? `${what} deleted.` : `${what} marked for deletion; it is removed once the satellites of ${list(waiting)} confirm.`
  } else {
    message = [
      gone.length > 0 ? `${what} deleted on node(s) ${list(gone)}.` : '',
      waiting.length > 0 ? `${what} marked for deletion on node(s) ${list(waiting)}; removed once their satellites confirm.` : '',
    ].filter((x) => x !== '').join(' ')
  }
  return changed('DEL', 'SNAPSHOT', message, { ...refs(sd), UUID: sd.uuid }, warnings)
}

/** A snapshot a pending rollback goes to, or pending restores clone from, must stay. */
function refuseIfSnapshotInUse(m: Model, sd: SnapshotDfn): void {
  const what = `Snapshot '${sd.name}' of resource '${sd.rscName}'`
  const rollingBack = [...m.resourcesOf(sd.rscName)].filter((x) => nameKey(x.props[PROP_ROLLBACK_TARGET] ?? '') === nameKey(sd.name))
  if (rollingBack.length > 0) {
    throw new ApiError('ERR_IN_USE', { what, by: `the pending rollback of resource '${sd.rscName}' on node(s) ${rollingBack.map((x) => `'${x.nodeName}'`).join(', ')}` }, { correction: 'Wait until the rollback has finished.' })
  }
  const restoring: string[] = []
  for (const x of m.allResources()) {
    if (x.volumes.some((v) => nameKey(v.props[PROP_RESTORE_FROM_RESOURCE] ?? '') === nameKey(sd.rscName) && nameKey(v.props[PROP_RESTORE_FROM_SNAPSHOT] ?? '') === nameKey(sd.name))) {
      restoring.push(`'${x.rscName}' on '${x.nodeName}'`)
    }
  }
  if (restoring.length > 0) {
    throw new ApiError('ERR_IN_USE', { what, by: `resources restored from it that their satellites have not created yet: ${restoring.join(', ')}` }, { correction: 'Wait until they are deployed, or delete them.' })
  }
}

// ---------------------------------------------------------------------------------------------------
// Restore

interface RestoreSpec {
  rscName: string
  snapName: string
  toRsc: string
  nodes: string[]
  /** Upper-cased source pool name → target pool name (LINSTOR stor_pool_rename). */
  rename: Map<string, string>
}

/** LINSTOR's SnapshotRestore body: to_resource, nodes, stor_pool_rename. */
function restoreSpecFrom(rscName: string, snapName: string, b: Body): RestoreSpec {
  const rename = new Map<string, string>()
  for (const [from, to] of Object.entries(optObj(b, 'stor_pool_rename') ?? {})) {
    if (typeof to !== 'string') throw new ApiError('ERR_REQ_FIELD', { field: `stor_pool_rename.${from.slice(0, 40)}`, problem: 'must be a string' })
    rename.set(nameKey(checkName('storPool', from)), checkName('storPool', to))
  }
  return {
    rscName: checkName('rsc', rscName),
    snapName: checkName('snapshot', snapName),
    toRsc: checkName('rsc', str(b, 'to_resource')),
    nodes: nodeList(b, 'nodes'),
    rename,
  }
}

/** A definition to restore into: it exists, stays, and has no resources (LINSTOR's rule). */
function requireRestoreTarget(m: Model, name: string): RscDfn {
  const target = requireRscDfn(m, name)
  if (isDeleting(target)) throw new ApiError('ERR_RSC_STATE', { problem: `Resource definition '${target.name}' is being deleted` }, { correction: 'Restore into a definition that stays.' })
  if ([...m.resourcesOf(target.name)].length > 0) throw new ApiError('ERR_RESTORE_TARGET_HAS_RSC', { rsc: target.name })
  return target
}

/**
 * Creates, on each node of the snapshot (or on the given ones), a resource of the target definition
 * whose volumes are clones of the snapshot's. The target's volume definitions must be the snapshot's
 * (numbers and sizes); a target without any gets the snapshot's first.
 */
function restoreResources(tx: Tx, m: Model, spec: RestoreSpec): { from: SnapshotDfn; target: RscDfn; made: Resource[]; vlmDfns: VlmDfn[] } {
  const sd = requireSnapshotDfn(m, requireRscDfn(m, spec.rscName), spec.snapName)
  const target = requireRestoreTarget(m, spec.toRsc)
  requireUsable(sd)
  const snaps = spec.nodes.length === 0
    ? sd.snapshots.filter((s) => !isDeleting(s))
    : spec.nodes.map((n) => {
      const node = requireNode(m, n)
      const s = sd.snapshots.find((x) => nameKey(x.nodeName) === nameKey(node.name))
      if (s === undefined || isDeleting(s)) throw new ApiError('ERR_NOT_FOUND_SNAPSHOT', { snap: sd.name, rsc: sd.rscName, node: node.name })
      return s
    })
  if (snaps.length === 0) throw new ApiError('ERR_SNAPSHOT_UNUSABLE', { snap: sd.name, rsc: sd.rscName, problem: 'it is being deleted on every node', correction: 'Use another snapshot.' })

  const targetVds = target.vlmDfns.filter((vd) => !isDeleting(vd))
  for (const vd of targetVds) {
    const sv = sd.vlmDfns.find((x) => x.vlmNr === vd.vlmNr)
    if (sv === undefined) throw new ApiError('ERR_NOT_FOUND_SNAPSHOT_VLM_DFN', { snap: sd.name, rsc: sd.rscName, vlmNr: vd.vlmNr })
    if (sv.sizeKib !== vd.sizeKib) throw new ApiError('ERR_SNAPSHOT_VLM_SIZE', { vlmNr: vd.vlmNr, snap: sd.name, snapKib: sv.sizeKib, rsc: target.name, kib: vd.sizeKib })
  }
  const vlmNrs = (targetVds.length > 0 ? targetVds : sd.vlmDfns).map((x) => x.vlmNr)
  // A clone stays with its origin: the target pool (renamed or not) must be of the snapshot pool's kind.
  const plans = snaps.map((s) => {
    const pools = new Map<number, string>()
    for (const vlmNr of vlmNrs) {
      const sv = s.volumes.find((v) => v.vlmNr === vlmNr)
      if (sv === undefined) throw new ApiError('ERR_NOT_FOUND_SNAPSHOT_VLM_DFN', { snap: sd.name, rsc: sd.rscName, vlmNr }, { details: `No volume ${vlmNr} in the snapshot on node '${s.nodeName}'.` })
      const from = m.getStorPool(s.nodeName, sv.storPoolName)
      if (from === undefined) throw new ApiError('ERR_NOT_FOUND_STOR_POOL', { pool: sv.storPoolName, node: s.nodeName })
      const toName = spec.rename.get(nameKey(sv.storPoolName)) ?? sv.storPoolName
      const to = m.getStorPool(s.nodeName, toName)
      if (to === undefined) throw new ApiError('ERR_NOT_FOUND_STOR_POOL', { pool: toName, node: s.nodeName })
      if (to.providerKind !== from.providerKind) {
        throw new ApiError('ERR_RSC_STATE', { problem: `Storage pool '${to.name}' on node '${s.nodeName}' is ${to.providerKind}, but volume ${vlmNr} of the snapshot is in '${from.name}' (${from.providerKind})` }, { correction: 'A volume restored from a snapshot is a clone in a pool of the same kind; rename to such a pool, or not at all.' })
      }
      pools.set(vlmNr, to.name)
    }
    return { snap: s, pools }
  })

  const vlmDfns = targetVds.length === 0 ? addVlmDfnsFromSnapshot(tx, m, target, sd) : []
  // As LINSTOR: the target takes the properties the definition and its volume definitions had.
  target.props = { ...target.props, ...sd.rscDfnProps }
  for (const vd of target.vlmDfns) {
    const sv = sd.vlmDfns.find((x) => x.vlmNr === vd.vlmNr)
    if (sv !== undefined) vd.props = { ...vd.props, ...sv.vlmDfnProps }
  }
  m.putRscDfn(tx, target)
  const made = plans.map(({ snap, pools }) => {
    const poolName = pools.get(vlmNrs[0]!)
    const x = createResource(tx, m, target, {
      nodeName: snap.nodeName,
      ...(poolName !== undefined ? { poolName } : {}),
      props: withoutTransient(snap.rscProps),
      flags: [FLAG_RESTORE_FROM_SNAPSHOT],
      layerStack: snap.layerStack,
      ...(snap.drbdNodeId !== null ? { drbdNodeId: snap.drbdNodeId } : {}),
    })
    for (const v of x.volumes) {
      const sv = snap.volumes.find((y) => y.vlmNr === v.vlmNr)!
      v.storPoolName = pools.get(v.vlmNr)!
      v.props = { ...withoutTransient(sv.vlmProps), [PROP_RESTORE_FROM_RESOURCE]: sd.rscName, [PROP_RESTORE_FROM_SNAPSHOT]: sd.name }
    }
    m.putResource(tx, x)
    return x
  })
  return { from: sd, target, made, vlmDfns }
}

/**
 * Gives `rd` (which has no resources) the snapshot's volume definitions: numbers, sizes, GROSS_SIZE and
 * the DRBD generation id (LINSTOR CtrlSnapshotRestoreVlmDfnApiCallHandler), a DRBD minor each when the
 * definition has DRBD data.
 */
function addVlmDfnsFromSnapshot(tx: Tx, m: Model, rd: RscDfn, sd: SnapshotDfn): VlmDfn[] {
  const made: VlmDfn[] = sd.vlmDfns.map((sv) => {
    const props: Props = {}
    const gi = sv.vlmDfnProps[PROP_DRBD_CURRENT_GI]
    if (gi !== undefined) props[PROP_DRBD_CURRENT_GI] = gi
    return {
      vlmNr: sv.vlmNr,
      sizeKib: sv.sizeKib,
      props,
      flags: [...sv.flags],
      minor: rd.drbd !== null ? m.allocMinor() : null,
      uuid: randomUUID(),
    }
  })
  rd.vlmDfns = sortedVlmDfns({ ...rd, vlmDfns: [...rd.vlmDfns, ...made] })
  m.putRscDfn(tx, rd)
  return made
}

// ---------------------------------------------------------------------------------------------------
// Rollback

/**
 * Records a rollback (see {@link PROP_ROLLBACK_TARGET}). Refused, as by LINSTOR, unless the snapshot
 * is SUCCESSFUL, is the most recent one, exists on every diskful node, the volume definitions are still
 * the snapshot's, and the satellites of all the resource's nodes are connected: only they can tell
 * that it is not in use, and they must take it down together. (LINSTOR's newer rollback through a
 * restore lifts the most-recent rule for LVM; here one rule holds for every provider, as ZFS needs it.)
 */
function rollback(tx: Tx, m: Model, rscName: string, snapName: string): { sd: SnapshotDfn; rscs: Resource[] } {
  const rd = requireRscDfn(m, rscName)
  const sd = requireSnapshotDfn(m, rd, snapName)
  requireUsable(sd)
  refuseDuringRollback(m, rd)
  const newer = [...m.snapshotDfnsOf(rd.name)].filter((x) => x.sequenceNumber > sd.sequenceNumber).sort((a, b) => a.sequenceNumber - b.sequenceNumber)
  if (newer.length > 0) throw new ApiError('ERR_SNAPSHOT_NOT_NEWEST', { snap: sd.name, rsc: rd.name, newer: newer.map((x) => `'${x.name}'`).join(', ') })

  const rscs = [...m.resourcesOf(rd.name)].sort((a, b) => a.nodeName.localeCompare(b.nodeName))
  const restoreInstead = `Restore snapshot '${sd.name}' into another resource definition instead.`
  if (rscs.length === 0) throw new ApiError('ERR_RSC_STATE', { problem: `Resource definition '${rd.name}' has no resources to roll back` }, { correction: restoreInstead })
  const deleting = rscs.find(isDeleting)
  if (deleting !== undefined) throw new ApiError('ERR_RSC_STATE', { problem: `Resource '${rd.name}' on node '${deleting.nodeName}' is being deleted` }, { correction: 'Wait until it is gone.' })
  const now = sortedVlmDfns(rd).filter((vd) => !isDeleting(vd)).map((vd) => `${vd.vlmNr}:${vd.sizeKib}`).join(' ')
  const then = [...sd.vlmDfns].sort((a, b) => a.vlmNr - b.vlmNr).map((v) => `${v.vlmNr}:${v.sizeKib}`).join(' ')
  if (now !== then) {
    throw new ApiError('ERR_RSC_STATE', { problem: `The volume definitions of '${rd.name}' (number:KiB ${now || 'none'}) are no longer those of snapshot '${sd.name}' (${then})` }, { correction: restoreInstead })
  }
  for (const x of rscs) {
    if (isDiskless(x)) continue
    const s = sd.snapshots.find((y) => nameKey(y.nodeName) === nameKey(x.nodeName))
    if (s === undefined || isDeleting(s)) {
      throw new ApiError('ERR_RSC_STATE', { problem: `Snapshot '${sd.name}' has no copy on node '${x.nodeName}', where resource '${rd.name}' is diskful` }, { correction: `Roll back to a snapshot taken on every diskful node, or delete the resource on '${x.nodeName}' first.` })
    }
  }
  const away = rscs.find((x) => !satelliteConnected(m, x.nodeName))
  if (away !== undefined) {
    throw new ApiError('ERR_NOT_CONNECTED', { node: away.nodeName, correction: 'A rollback needs the satellites of all nodes of the resource connected: they check that it is not in use and take it down together.' })
  }
  for (const x of rscs) {
    x.props = { ...x.props, [PROP_ROLLBACK_TARGET]: sd.name }
    m.putResource(tx, x)
  }
  return { sd, rscs }
}

// ---------------------------------------------------------------------------------------------------
// Shared checks and helpers

/** Only a snapshot its satellites have taken (SUCCESSFUL) and that stays can be restored or rolled back to. */
function requireUsable(sd: SnapshotDfn): void {
  const fail = (problem: string, correction: string): ApiError => new ApiError('ERR_SNAPSHOT_UNUSABLE', { snap: sd.name, rsc: sd.rscName, problem, correction })
  if (isDeleting(sd)) throw fail('it is being deleted', 'Use another snapshot.')
  if (sd.flags.includes('FAILED_DEPLOYMENT')) throw fail('taking it failed', 'Delete it and take a new one.')
  if (!sd.flags.includes('SUCCESSFUL')) {
    throw fail('its satellites have not taken it yet (it is not SUCCESSFUL)', "It is taken once the satellites of all its nodes are connected; 'snapshot list' shows it as Successful then.")
  }
}

/** While a rollback of the definition is pending, neither a new one nor a new snapshot can start. */
function refuseDuringRollback(m: Model, rd: RscDfn): void {
  for (const x of m.resourcesOf(rd.name)) {
    const target = x.props[PROP_ROLLBACK_TARGET]
    if (target !== undefined) throw new ApiError('ERR_SNAPSHOT_ROLLBACK_IN_PROGRESS', { rsc: rd.name, snap: target })
  }
}

function withoutTransient(props: Props): Props {
  const out = { ...props }
  for (const k of TRANSIENT_KEYS) delete out[k]
  return out
}

/** A list of node names in a body: each a valid name, none twice. */
function nodeList(b: Body, key: string): string[] {
  const nodes = optStrArray(b, key) ?? []
  const seen = new Set<string>()
  for (const n of nodes) {
    checkName('node', n)
    if (seen.has(nameKey(n))) throw new ApiError('ERR_REQ_FIELD', { field: key, problem: `node '${n}' is named twice` })
    seen.add(nameKey(n))
  }
  return nodes
}

function refs(sd: SnapshotDfn): Record<string, string> {
  return { RscDfn: sd.rscName, Snapshot: sd.name }
}

function sortedSnapshotDfns(list: Iterable<SnapshotDfn>): SnapshotDfn[] {
  return [...list].sort((a, b) => a.rscName.localeCompare(b.rscName) || a.name.localeCompare(b.name))
}
