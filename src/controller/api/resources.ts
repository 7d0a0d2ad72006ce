/**
 * Resources and their volumes: /v1/resource-definitions/{rsc}/resources…, auto-place, and the
 * /v1/view/resources view (LINSTOR Resources.java, AutoPlace.java, Volumes.java, View.java).
 */
import { ApiError, rcEntry, SUCCESS, WARN, type ApiCallRc } from '../../common/errors.js'
import { LayerStackError, validateLayerStack, type LayerKind } from '../../common/layer-stack.js'
import { nameKey } from '../../common/names.js'
import type { Core } from '../core.js'
import type { Tx } from '../db/tx.js'
import { JsonText, type Router } from '../http/router.js'
import type { Model } from '../model/model.js'
import { hasAllProps, modifyProps } from '../model/props.js'
import type { AutoSelectFilter, Resource, RscDfn } from '../model/types.js'
import { DEFAULT_PLACE_COUNT, mergeFilters, placeResource, type Placement } from '../placement/place.js'
import { checkDrbd84 } from '../placement/drbd84.js'
import { autoWaitTargets, disableAutoTieBreaker, isTieBreaker, manageDrbdAuto, takeOverTieBreaker, takeoverRc } from '../placement/drbd-auto.js'
import { changed, oneOrList, ok } from './_reply.js'
import { resolveLayerStack } from './_layer-stack.js'
import { allResourcesSorted, compareResources, createResource, deleteResource, isDeleting, isDiskless, resourceJsonText, runtimeKeyPrefix, volumeJson } from './_resources.js'
import { requireRscDfn } from './resource-definitions.js'
import { obj, optBool, optInt, optIntArray, optObj, optProps, optStr, optStrArray, page, propsModify, queryList, type Body } from './_input.js'
import { selectFilterFrom } from './_select-filter.js'
import { awaitSatellites, withSatelliteOutcome, type WaitTarget } from '../satellites/wait.js'

export function registerResourceApi(r: Router, core: Core): void {
  const R = { obj: 'RSC' } as const
  const V = { obj: 'VLM' } as const

  // Resources with their volumes, from the text each resource's JSON is cached as (resourceJsonText).
  r.get('/v1/resource-definitions/{rsc}/resources', (req) => {
    const rd = requireRscDfn(core.model, req.params['rsc']!)
    return ok(JsonText.array(page(sorted(core.model.resourcesOf(rd.name)), req.query).map((x) => resourceJsonText(core.model, x))))
  }, R)
  r.get('/v1/resource-definitions/{rsc}/resources/{node}', (req) => {
    const rd = requireRscDfn(core.model, req.params['rsc']!)
    const res = requireResource(core.model, rd, req.params['node']!)
    return ok(new JsonText([resourceJsonText(core.model, res)]))
  }, R)

  r.get('/v1/view/resources', (req) => {
    const m = core.model
    const nodes = new Set(queryList(req.query, 'nodes').map(nameKey))
    const rscs = new Set(queryList(req.query, 'resources').map(nameKey))
    const props = queryList(req.query, 'props')
    const list: Resource[] = []
    for (const res of allResourcesSorted(m)) {
      if (nodes.size > 0 && !nodes.has(nameKey(res.nodeName))) continue
      if (rscs.size > 0 && !rscs.has(nameKey(res.rscName))) continue
      if (props.length > 0 && !hasAllProps(res.props, props)) continue
      list.push(res)
    }
    return ok(JsonText.array(page(list, req.query).map((x) => resourceJsonText(m, x))))
  }, R)

  // Create on named nodes: a list of ResourceCreate, or one on the node of the path.
  const create = async (rscName: string, items: ResourceCreate[]): Promise<ReturnType<typeof changed>> => {
    const out = await core.mutate((tx, m) => {
      const rd = requireRscDfn(m, rscName)
      const seen = new Set<string>()
      for (const it of items) {
        if (seen.has(nameKey(it.nodeName))) throw new ApiError('ERR_REQ_FIELD', { field: 'resource.node_name', problem: `node '${it.nodeName}' is named twice` })
        seen.add(nameKey(it.nodeName))
      }
      const target = { nodeNames: items.map((i) => i.nodeName), diskful: diskfulCount(m, rd) + items.filter((i) => !i.diskless).length }
      const planned = items.map((it) => ({ it, layerStack: resolveLayerStack(m, rd, target, it.layerList) }))
      // A diskless resource asked for where the tiebreaker is takes it over (LINSTOR); a diskful one cannot.
      const onTieBreaker = (it: ResourceCreate): boolean => {
        const x = m.getResource(rd.name, it.nodeName)
        return x !== undefined && isTieBreaker(x) && !isDeleting(x)
      }
      for (const { it } of planned) {
        if (!it.diskless && onTieBreaker(it)) {
          throw new ApiError('ERR_RSC_STATE', { problem: `Node '${it.nodeName}' holds the tiebreaker of resource '${rd.name}', a diskless replica that Blockyard cannot give a disk` }, {
            correction: `Place the replica on another node, or delete the tiebreaker first (DELETE /v1/resource-definitions/${rd.name}/resources/${it.nodeName}, which turns the automatic tiebreaker off for '${rd.name}').`,
          })
        }
      }
      const fresh = planned.filter(({ it }) => !onTieBreaker(it))
      checkDrbd84(m, rd, fresh.map(({ it, layerStack }) => ({ nodeName: it.nodeName, diskless: it.diskless, layerStack })))
      const taken = planned.filter(({ it }) => onTieBreaker(it)).map(({ it }) => takeOverTieBreaker(tx, m, rd, it.nodeName)!)
      const made = fresh.map(({ it, layerStack }) => createResource(tx, m, rd, {
        nodeName: it.nodeName,
        ...(it.poolName !== undefined ? { poolName: it.poolName } : {}),
        props: it.props,
        flags: it.flags,
        diskless: it.diskless,
        layerStack,
        ...(it.nodeId !== undefined ? { drbdNodeId: it.nodeId } : {}),
        ...(it.tcpPort !== undefined ? { drbdTcpPort: it.tcpPort } : {}),
      }))
      const auto = manageDrbdAuto(tx, m, rd)
      return { made, taken, auto }
    })
    const targets = [...readyTargets([...out.made, ...out.taken]), ...autoWaitTargets(out.auto)]
    return withSatelliteOutcome(created(core.model, out.made, [...out.taken.map(takeoverRc), ...out.auto.rcs]), await awaitSatellites(core, targets))
  }
  r.post('/v1/resource-definitions/{rsc}/resources', async (req) => {
    if (!Array.isArray(req.body)) throw new ApiError('ERR_REQ_FIELD', { field: 'body', problem: 'must be an array of ResourceCreate objects' })
    if (req.body.length === 0) throw new ApiError('ERR_REQ_FIELD', { field: 'body', problem: 'names no resource to create' })
    const items = req.body.map((x, i) => resourceCreateFrom(obj(x, `[${i}]`), `[${i}]`))
    return create(req.params['rsc']!, items)
  }, { op: 'CRT', ...R })
  r.post('/v1/resource-definitions/{rsc}/resources/{node}', async (req) => {
    const body = req.body === undefined ? {} : obj(req.body)
    const item = resourceCreateFrom(body, 'body', req.params['node']!)
    return create(req.params['rsc']!, [item])
  }, { op: 'CRT', ...R })

  r.post('/v1/resource-definitions/{rsc}/autoplace', async (req) => {
    const b = req.body === undefined ? {} : obj(req.body)
    const requested = optObj(b, 'select_filter') !== undefined ? selectFilterFrom(b['select_filter'], 'select_filter') : {}
    const layerList = layerListFrom(b, 'layer_list')
    const disklessOnRemaining = optBool(b, 'diskless_on_remaining')
    const outcome = await core.mutate((tx, m) => {
      const rd = requireRscDfn(m, req.params['rsc']!)
      const filter = mergeFilters(m.getRscGrp(rd.rscGrpName)?.selectFilter ?? {}, requested)
      if (disklessOnRemaining !== undefined) filter.diskless_on_remaining = disklessOnRemaining
      return { rscName: rd.name, ...autoplaceResource(tx, m, rd, planAutoplace(m, rd, filter, layerList)) }
    })
    if (outcome.waits.length === 0) {
      return { status: 200, body: [rcEntry(WARN.NO_EFFECT, `Resource '${outcome.rscName}' already has the requested replicas; nothing placed.`, 'CRT', 'RSC', { obj_refs: { RscDfn: outcome.rscName } }), ...outcome.warnings] }
    }
    return withSatelliteOutcome(created(core.model, outcome.made, outcome.warnings), await awaitSatellites(core, outcome.waits))
  }, { op: 'CRT', ...R })

  r.put('/v1/resource-definitions/{rsc}/resources/{node}', async (req) => {
    const mod = propsModify(obj(req.body))
    const res = await core.mutate((tx, m) => {
      const rd = requireRscDfn(m, req.params['rsc']!)
      const x = requireResource(m, rd, req.params['node']!)
      x.props = modifyProps(x.props, mod).props
      m.putResource(tx, x)
      return x
    })
    return changed('MOD', 'RSC', `Resource '${res.rscName}' on node '${res.nodeName}' modified.`, { RscDfn: res.rscName, Node: res.nodeName })
  }, { op: 'MOD', ...R })

  r.delete('/v1/resource-definitions/{rsc}/resources/{node}', async (req) => {
    const out = await core.mutate((tx, m) => {
      const rd = requireRscDfn(m, req.params['rsc']!)
      const x = requireResource(m, rd, req.params['node']!)
      if (!isDeleting(x)) checkNotLastUpToDate(m, x)
      const notes = isTieBreaker(x) && !isDeleting(x) ? [disableAutoTieBreaker(tx, m, rd)] : []
      const gone = deleteResource(tx, m, x)
      // The definition may be gone with its last resource.
      const auto = m.getRscDfn(rd.name) === rd ? manageDrbdAuto(tx, m, rd) : { created: [], deleting: [], rcs: [] }
      return { rsc: x.rscName, node: x.nodeName, gone, notes, auto }
    })
    const message = out.gone
      ? `Resource '${out.rsc}' on node '${out.node}' deleted.`
      : `Resource '${out.rsc}' on node '${out.node}' marked for deletion; it is removed once its satellite confirms.`
    const reply = changed('DEL', 'RSC', message, { RscDfn: out.rsc, Node: out.node }, [...out.notes, ...out.auto.rcs])
    const targets: WaitTarget[] = [...(out.gone ? [] : [{ rscName: out.rsc, nodeName: out.node, goal: 'GONE' as const }]), ...autoWaitTargets(out.auto)]
    return withSatelliteOutcome(reply, await awaitSatellites(core, targets))
  }, { op: 'DEL', ...R })

  // Volumes of a resource
  r.get('/v1/resource-definitions/{rsc}/resources/{node}/volumes', (req) => {
    const m = core.model
    const rd = requireRscDfn(m, req.params['rsc']!)
    const x = requireResource(m, rd, req.params['node']!)
    return ok(page(x.volumes.map((v) => volumeJson(m, rd, x, v)), req.query))
  }, V)
  r.get('/v1/resource-definitions/{rsc}/resources/{node}/volumes/{vlmNr}', (req) => {
    const m = core.model
    const rd = requireRscDfn(m, req.params['rsc']!)
    const x = requireResource(m, rd, req.params['node']!)
    const v = x.volumes.find((y) => String(y.vlmNr) === req.params['vlmNr'])
    return oneOrList(v ? [volumeJson(m, rd, x, v)] : [], true, 'ERR_NOT_FOUND_VLM', { vlmNr: req.params['vlmNr']!, rsc: rd.name, node: x.nodeName })
  }, V)
  r.put('/v1/resource-definitions/{rsc}/resources/{node}/volumes/{vlmNr}', async (req) => {
    const mod = propsModify(obj(req.body))
    const out = await core.mutate((tx, m) => {
      const rd = requireRscDfn(m, req.params['rsc']!)
      const x = requireResource(m, rd, req.params['node']!)
      const v = x.volumes.find((y) => String(y.vlmNr) === req.params['vlmNr'])
      if (v === undefined) throw new ApiError('ERR_NOT_FOUND_VLM', { vlmNr: req.params['vlmNr']!, rsc: rd.name, node: x.nodeName })
      v.props = modifyProps(v.props, mod).props
      m.putResource(tx, x)
      return { rsc: x.rscName, node: x.nodeName, vlmNr: v.vlmNr }
    })
    return changed('MOD', 'VLM', `Volume ${out.vlmNr} of resource '${out.rsc}' on node '${out.node}' modified.`, { RscDfn: out.rsc, Node: out.node, VlmNr: String(out.vlmNr) })
  }, { op: 'MOD', ...V })
}

/** Where an auto-placement puts the replicas of a definition, and with which layer stack. */
export interface AutoplacePlan {
  layerStack: LayerKind[]
  placement: Placement
}

/**
 * Plans the auto-placement of `rd` with an effective select filter (the request's merged over the
 * group's, see mergeFilters): the layer stack is `layerList`, else the filter's, else the one resolved
 * for the definition; then the placer picks nodes and pools, and DRBD 8.4's limits are checked against
 * the result. Changes nothing, and `rd` need not be in the model yet (spawn plans a definition before
 * adding it, so that a placement that cannot be met leaves no trace).
 *
 * @throws ApiError ERR_RSC_STATE (no volume definitions; DRBD 8.4's limits), ERR_PLACEMENT_FAILED (the constraint named)
 */
export function planAutoplace(m: Model, rd: RscDfn, filter: AutoSelectFilter, layerList?: LayerKind[]): AutoplacePlan {
  const existing = diskfulCount(m, rd)
  const additional = filter.additional_place_count ?? 0
  const diskful = additional > 0 ? existing + additional : Math.max(existing, filter.place_count ?? DEFAULT_PLACE_COUNT)
  const layerStack = layerList
    ?? (filter.layer_stack !== undefined && filter.layer_stack.length > 0 ? (filter.layer_stack as LayerKind[]) : resolveLayerStack(m, rd, { nodeNames: [...m.nodes.values()].map((n) => n.name), diskful }))
  if (rd.vlmDfns.length === 0) {
    throw new ApiError('ERR_RSC_STATE', { problem: `Resource definition '${rd.name}' has no volume definitions` }, { correction: 'Create a volume definition first, then place the resource.' })
  }
  const placement = placeResource(m, rd, filter, layerStack)
  checkDrbd84(m, rd, [
    ...placement.selected.map((p) => ({ nodeName: p.nodeName, diskless: false, layerStack })),
    ...placement.disklessOn.map((p) => ({ nodeName: p.nodeName, diskless: true, layerStack })),
  ])
  return { layerStack, placement }
}

/**
 * Creates the resources a plan of {@link planAutoplace} chose (diskful ones, then diskless clients; a
 * client on the tiebreaker's node takes it over), `rd` being in the model with the volume definitions
 * it was planned with, then lets the tiebreaker and quorum follow (placement/drbd-auto.ts).
 *
 * @returns the resources created for the placement, the reply entries beyond one per such resource
 *   (takeovers, the helpers', a warning for each pool whose free space is still unknown), and what the
 *   call waits for (a tiebreaker the helpers added or removed included)
 */
export function autoplaceResource(tx: Tx, m: Model, rd: RscDfn, plan: AutoplacePlan): { made: Resource[]; warnings: ApiCallRc[]; waits: WaitTarget[] } {
  const { placement, layerStack } = plan
  const made = placement.selected.map((p) => createResource(tx, m, rd, { nodeName: p.nodeName, poolName: p.poolName, layerStack }))
  const taken: Resource[] = []
  for (const p of placement.disklessOn) {
    const tb = takeOverTieBreaker(tx, m, rd, p.nodeName)
    if (tb !== undefined) taken.push(tb)
    else made.push(createResource(tx, m, rd, { nodeName: p.nodeName, poolName: p.poolName, diskless: true, layerStack }))
  }
  const auto = manageDrbdAuto(tx, m, rd)
  const warnings = [
    ...placement.unknownCapacity.map((p) => rcEntry(WARN.NOT_CONNECTED,
      `Free space of storage pool '${p.poolName}' on node '${p.nodeName}' is unknown (its satellite has not reported it); placed without a capacity check.`, 'CRT', 'RSC')),
    ...taken.map(takeoverRc),
    ...auto.rcs,
  ]
  return { made, warnings, waits: [...readyTargets([...made, ...taken]), ...autoWaitTargets(auto)] }
}

/** What a create waits for: each new resource READY on its node. */
export function readyTargets(made: readonly Resource[]): WaitTarget[] {
  return made.map((x) => ({ rscName: x.rscName, nodeName: x.nodeName, goal: 'READY' }))
}

/** Diskful replicas of `rd` that stay (not being deleted). */
function diskfulCount(m: Model, rd: RscDfn): number {
  let n = 0
  for (const r of m.resourcesOf(rd.name)) if (!isDeleting(r) && !isDiskless(r)) n++
  return n
}

/** The reply entries for created resources: one per resource, and a warning per node whose satellite is not online. */
export function resourcesCreatedRcs(m: Model, made: readonly Resource[]): ApiCallRc[] {
  const body: ApiCallRc[] = made.map((x) => rcEntry(SUCCESS.CREATED, `Resource '${x.rscName}' on node '${x.nodeName}' created${x.flags.some((f) => f.endsWith('DISKLESS')) ? ' (diskless)' : ''}.`, 'CRT', 'RSC', { obj_refs: { RscDfn: x.rscName, Node: x.nodeName } }))
  for (const x of made) {
    if (m.runtime.nodes.get(nameKey(x.nodeName))?.connectionStatus !== 'ONLINE') {
      body.push(rcEntry(WARN.NOT_CONNECTED, `No active connection to satellite '${x.nodeName}': the resource is deployed when it connects.`, 'CRT', 'RSC', { obj_refs: { RscDfn: x.rscName, Node: x.nodeName } }))
    }
  }
  return body
}

interface ResourceCreate {
  nodeName: string
  poolName?: string
  props: Record<string, string>
  flags: string[]
  diskless: boolean
  layerList?: LayerKind[]
  nodeId?: number
  tcpPort?: number
}

/** LINSTOR's ResourceCreate: {resource: {node_name, props, flags}, layer_list, drbd_node_id, drbd_tcp_ports, drbd_client}. */
function resourceCreateFrom(b: Body, path: string, nodeFromPath?: string): ResourceCreate {
  const res = optObj(b, 'resource', `${path}.resource`) ?? {}
  const nodeName = optStr(res, 'node_name', `${path}.resource.node_name`) ?? nodeFromPath
  if (nodeName === undefined) throw new ApiError('ERR_REQ_FIELD', { field: `${path}.resource.node_name`, problem: 'is required' })
  if (nodeFromPath !== undefined && nameKey(nodeName) !== nameKey(nodeFromPath)) {
    throw new ApiError('ERR_REQ_FIELD', { field: `${path}.resource.node_name`, problem: `differs from the node of the path ('${nodeFromPath}')` })
  }
  const props = optProps(res, 'props', `${path}.resource.props`) ?? {}
  modifyProps({}, { override: props }) // validates keys and values
  const flags = (optStrArray(res, 'flags', `${path}.resource.flags`) ?? []).map((f) => f.toUpperCase())
  const known = new Set(['DISKLESS', 'DRBD_DISKLESS', 'INACTIVE'])
  for (const f of flags) if (!known.has(f)) throw new ApiError('ERR_REQ_FIELD', { field: `${path}.resource.flags`, problem: `flag '${f}' is not one Blockyard accepts at creation (${[...known].join(', ')})` })
  const drbdClient = optBool(b, 'drbd_client', `${path}.drbd_client`) ?? false
  const ports = optIntArray(b, 'drbd_tcp_ports', 1, 65535, `${path}.drbd_tcp_ports`)
  const nodeId = optInt(b, 'drbd_node_id', 0, 31, `${path}.drbd_node_id`)
  const layerList = layerListFrom(b, 'layer_list', `${path}.layer_list`)
  const out: ResourceCreate = { nodeName, props, flags, diskless: drbdClient || flags.includes('DISKLESS') || flags.includes('DRBD_DISKLESS') }
  if (props['StorPoolName'] !== undefined) out.poolName = props['StorPoolName']
  if (layerList !== undefined) out.layerList = layerList
  if (nodeId !== undefined) out.nodeId = nodeId
  if (ports !== undefined && ports.length > 0) out.tcpPort = ports[0]!
  return out
}

function layerListFrom(b: Body, key: string, path = key): LayerKind[] | undefined {
  const list = optStrArray(b, key, path)
  if (list === undefined || list.length === 0) return undefined
  try {
    return validateLayerStack(list)
  } catch (e) {
    if (e instanceof LayerStackError) throw new ApiError('ERR_LAYER_STACK', { stack: JSON.stringify(list), problem: e.message }, { correction: e.correction })
    throw e
  }
}

function created(m: Model, made: Resource[], extra: ApiCallRc[] = []): ReturnType<typeof changed> {
  return { status: 201, body: [...resourcesCreatedRcs(m, made), ...extra] }
}

function requireResource(m: Model, rd: RscDfn, node: string): Resource {
  const x = m.getResource(rd.name, node)
  if (x === undefined) throw new ApiError('ERR_NOT_FOUND_RSC', { rsc: rd.name, node })
  return x
}

function sorted(list: Iterable<Resource>): Resource[] {
  return [...list].sort(compareResources)
}

/** The disk states `r`'s satellite last reported for its volumes; null when any is unknown. */
function diskStates(m: Model, r: Resource): string[] | null {
  const prefix = runtimeKeyPrefix(r)
  const states = r.volumes.map((v) => m.runtime.volumes.get(prefix + v.vlmNr)?.diskState ?? null)
  return states.includes(null) ? null : (states as string[])
}

/**
 * Refuses to delete the one DRBD replica known to be UpToDate while the resource's other diskful
 * replicas are not (resyncing from it, Inconsistent, Outdated): their data would be lost with it.
 * Deleting the whole definition, or a replica whose state or whose peers' states are unknown, is not
 * held back: there is nothing to protect, or nothing known to protect it with.
 *
 * @throws ApiError ERR_RSC_STATE (409) naming the replicas that are behind
 */
function checkNotLastUpToDate(m: Model, r: Resource): void {
  if (!r.layerStack.includes('DRBD') || isDiskless(r)) return
  const mine = diskStates(m, r)
  if (mine === null || !mine.every((d) => d === 'UpToDate')) return
  const others = [...m.resourcesOf(r.rscName)].filter((x) => x !== r && !isDeleting(x) && !isDiskless(x) && x.layerStack.includes('DRBD'))
  if (others.length === 0) return
  const behind: string[] = []
  for (const x of others) {
    const states = diskStates(m, x)
    if (states === null) return
    if (states.every((d) => d === 'UpToDate')) return
    behind.push(`'${x.nodeName}' (${states.filter((d) => d !== 'UpToDate').join(', ')})`)
  }
  throw new ApiError('ERR_RSC_STATE', {
    problem: `Resource '${r.rscName}' on '${r.nodeName}' holds the only UpToDate copy of its data: ${behind.join(', ')} ${behind.length === 1 ? 'is' : 'are'} not UpToDate yet`,
  }, { correction: 'Wait until the other replicas are UpToDate (the resync shows in the volume list), then delete this one; or delete the whole resource definition.' })
}
