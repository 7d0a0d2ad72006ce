/**
 * Nodes and their net interfaces: /v1/nodes… (LINSTOR Nodes.java). A node is the place satellites run;
 * until it has connected it is OFFLINE and reports no layers or providers.
 */
import { randomUUID } from 'node:crypto'
import { isIP } from 'node:net'
import { ApiError, rcEntry, SUCCESS, WARN } from '../../common/errors.js'
import { checkName, nameKey } from '../../common/names.js'
import type { Core } from '../core.js'
import type { Router } from '../http/router.js'
import { DFLT_DISKLESS_STOR_POOL, type Model } from '../model/model.js'
import { hasAllProps, modifyProps } from '../model/props.js'
import { NODE_TYPES, type NetInterface, type Node, type NodeType } from '../model/types.js'
import { changed, oneOrList } from './_reply.js'
import { deleteResource, withFlag } from './_resources.js'
import { obj, optBool, optInt, optProps, optStr, page, propsModify, queryList, str, type Body } from './_input.js'
import { awaitSatellites, withSatelliteOutcome } from '../satellites/wait.js'

export const DEFAULT_SATELLITE_PORT = 3366
export const DEFAULT_SATELLITE_SSL_PORT = 3367

export function registerNodeApi(r: Router, core: Core): void {
  const N = { obj: 'NODE' } as const
  const IF = { obj: 'NET_IF' } as const

  const list = (single: string | null, q: URLSearchParams): ReturnType<typeof oneOrList> => {
    const m = core.model
    const names = single !== null ? [single] : queryList(q, 'nodes')
    const props = queryList(q, 'props')
    const want = names.length > 0 ? new Set(names.map(nameKey)) : null
    const nodes = [...m.nodes.values()]
      .filter((n) => (want === null || want.has(nameKey(n.name))) && hasAllProps(n.props, props))
      .sort((a, b) => a.name.localeCompare(b.name))
    return oneOrList(page(nodes, q).map((n) => nodeJson(m, n)), single !== null, 'ERR_NOT_FOUND_NODE', { node: single ?? '' })
  }
  r.get('/v1/nodes', (req) => list(null, req.query), N)
  r.get('/v1/nodes/{node}', (req) => list(req.params['node']!, req.query), N)

  r.post('/v1/nodes', async (req) => {
    const b = obj(req.body)
    const name = checkName('node', str(b, 'name'))
    const type = nodeType(str(b, 'type'))
    const props = optProps(b, 'props') ?? {}
    const ifBodies = b['net_interfaces'] ?? []
    if (!Array.isArray(ifBodies)) throw new ApiError('ERR_REQ_FIELD', { field: 'net_interfaces', problem: 'must be an array' })
    const netIfs = ifBodies.map((x, i) => netInterfaceFrom(obj(x, `net_interfaces[${i}]`), `net_interfaces[${i}]`, type))
    if (netIfs.length === 0 && type !== 'Auxiliary' && type !== 'Controller') {
      throw new ApiError('ERR_REQ_FIELD', { field: 'net_interfaces', problem: 'a satellite node needs at least one net interface' })
    }
    const seen = new Set<string>()
    for (const ni of netIfs) {
      if (seen.has(nameKey(ni.name))) throw new ApiError('ERR_EXISTS_NET_IF', { netIf: ni.name, node: name })
      seen.add(nameKey(ni.name))
    }
    // The satellite is dialled on one interface: the one flagged active, else the first with a port.
    if (!netIfs.some((n) => n.isActive)) {
      const first = netIfs.find((n) => n.satellitePort !== null)
      if (first) first.isActive = true
    }
    modifyProps({}, { override: props }) // validates keys and values
    await core.mutate((tx, m) => {
      if (m.getNode(name)) throw new ApiError('ERR_EXISTS_NODE', { node: name })
      const active = netIfs.find((n) => n.isActive)
      const node: Node = {
        name, type, flags: [], netInterfaces: netIfs, uuid: randomUUID(),
        props: { ...props, NodeUname: props['NodeUname'] ?? name, ...(active ? { CurStltConnName: active.name } : {}) },
      }
      m.putNode(tx, node)
      // Every satellite gets the diskless pool LINSTOR creates for diskless (client) replicas.
      if (type === 'Satellite' || type === 'Combined') {
        m.putStorPool(tx, { nodeName: name, name: DFLT_DISKLESS_STOR_POOL, providerKind: 'DISKLESS', props: {}, sharedSpace: null, externalLocking: false, uuid: randomUUID() })
      }
    })
    return changed('CRT', 'NODE', `New node '${name}' registered.`, { Node: name },
      type === 'Auxiliary' ? [] : [rcEntry(WARN.NOT_CONNECTED, `No active connection to satellite '${name}'.`, 'CRT', 'NODE', { obj_refs: { Node: name } })])
  }, { op: 'CRT', ...N })

  r.put('/v1/nodes/{node}', async (req) => {
    const b = obj(req.body)
    const newType = optStr(b, 'node_type')
    const type = newType !== undefined ? nodeType(newType) : undefined
    const mod = propsModify(b)
    const node = await core.mutate((tx, m) => {
      const n = requireNode(m, req.params['node']!)
      const { props } = modifyProps(n.props, mod)
      n.props = props
      if (type !== undefined) n.type = type
      m.putNode(tx, n)
      return n
    })
    return changed('MOD', 'NODE', `Node '${node.name}' modified.`, { Node: node.name })
  }, { op: 'MOD', ...N })

  // As LINSTOR: deleting a node deletes its resources (two-phase where its satellite is connected, see
  // _resources.deleteResource); the node goes with them, or with the last confirmation.
  r.delete('/v1/nodes/{node}', async (req) => {
    const out = await core.mutate((tx, m) => {
      const n = requireNode(m, req.params['node']!)
      const snaps = [...m.allSnapshotDfns()].filter((s) => s.snapshots.some((x) => nameKey(x.nodeName) === nameKey(n.name)))
      if (snaps.length > 0) {
        throw new ApiError('ERR_IN_USE', { what: `Node '${n.name}'`, by: `snapshots ${snaps.map((s) => `${s.rscName}/${s.name}`).join(', ')}` }, { correction: 'Delete the snapshots first.' })
      }
      const rscs = [...m.resourcesOnNode(n.name)]
      const waiting = rscs.filter((x) => !deleteResource(tx, m, x))
      if (waiting.length > 0) {
        n.flags = withFlag(n.flags, 'DELETE')
        m.putNode(tx, n)
        return { name: n.name, gone: false, rscs, waiting }
      }
      // The node's storage pools go with it (they hold no volumes any more).
      for (const sp of [...m.storPoolsOfNode(n.name)]) m.deleteStorPool(tx, sp)
      m.deleteNode(tx, n)
      return { name: n.name, gone: true, rscs, waiting }
    })
    const deleted = out.rscs.length > 0 ? ` with its resources ${out.rscs.slice(0, 10).map((x) => `'${x.rscName}'`).join(', ')}${out.rscs.length > 10 ? ', …' : ''}` : ''
    const reply = changed('DEL', 'NODE', out.gone ? `Node '${out.name}' deleted${deleted}.` : `Node '${out.name}' marked for deletion; its resources are being removed by its satellite.`, { Node: out.name })
    // The satellite removes the resources; the node goes with the last one (satellites/observed.ts).
    const rcs = await awaitSatellites(core, out.waiting.map((x) => ({ rscName: x.rscName, nodeName: x.nodeName, goal: 'GONE' })))
    if (rcs.length > 0 && core.model.getNode(out.name) === undefined) rcs.push(rcEntry(SUCCESS.DELETED, `Node '${out.name}' deleted.`, 'DEL', 'NODE', { obj_refs: { Node: out.name } }))
    return withSatelliteOutcome(reply, rcs)
  }, { op: 'DEL', ...N })

  // `node lost`: the node is gone for good; forget it and everything on it without asking it.
  r.delete('/v1/nodes/{node}/lost', async (req) => {
    const name = await core.mutate((tx, m) => {
      const n = requireNode(m, req.params['node']!)
      for (const rsc of [...m.resourcesOnNode(n.name)]) m.deleteResource(tx, rsc)
      for (const sd of [...m.allSnapshotDfns()]) {
        const keep = sd.snapshots.filter((s) => nameKey(s.nodeName) !== nameKey(n.name))
        if (keep.length !== sd.snapshots.length) {
          sd.snapshots = keep
          m.putSnapshotDfn(tx, sd)
        }
      }
      for (const sp of [...m.storPoolsOfNode(n.name)]) m.deleteStorPool(tx, sp)
      m.deleteNode(tx, n)
      return n.name
    })
    return changed('DEL', 'NODE', `Node '${name}' deleted as lost, with its resources and storage pools.`, { Node: name })
  }, { op: 'DEL', ...N })

  // Net interfaces
  r.get('/v1/nodes/{node}/net-interfaces', (req) => {
    const n = requireNode(core.model, req.params['node']!)
    return { status: 200, body: n.netInterfaces.map(netInterfaceJson) }
  }, IF)
  r.get('/v1/nodes/{node}/net-interfaces/{netif}', (req) => {
    const n = requireNode(core.model, req.params['node']!)
    return { status: 200, body: netInterfaceJson(requireNetIf(n, req.params['netif']!)) }
  }, IF)
  r.post('/v1/nodes/{node}/net-interfaces', async (req) => {
    const b = obj(req.body)
    const nodeName = req.params['node']!
    const created = await core.mutate((tx, m) => {
      const n = requireNode(m, nodeName)
      const ni = netInterfaceFrom(b, 'body', n.type)
      if (n.netInterfaces.some((x) => nameKey(x.name) === nameKey(ni.name))) throw new ApiError('ERR_EXISTS_NET_IF', { netIf: ni.name, node: n.name })
      if (ni.isActive) for (const x of n.netInterfaces) x.isActive = false
      n.netInterfaces.push(ni)
      if (ni.isActive) n.props['CurStltConnName'] = ni.name
      m.putNode(tx, n)
      return { node: n.name, netIf: ni.name }
    })
    return changed('CRT', 'NET_IF', `New net interface '${created.netIf}' on node '${created.node}' created.`, { Node: created.node, NetInterface: created.netIf })
  }, { op: 'CRT', ...IF })
  r.put('/v1/nodes/{node}/net-interfaces/{netif}', async (req) => {
    const b = obj(req.body)
    const done = await core.mutate((tx, m) => {
      const n = requireNode(m, req.params['node']!)
      const cur = requireNetIf(n, req.params['netif']!)
      const merged = { name: cur.name, address: cur.address, satellite_port: cur.satellitePort, satellite_encryption_type: cur.satelliteEncryptionType, is_active: cur.isActive, ...b }
      const next = netInterfaceFrom(merged, 'body', n.type)
      if (nameKey(next.name) !== nameKey(cur.name)) throw new ApiError('ERR_REQ_FIELD', { field: 'name', problem: 'a net interface cannot be renamed' })
      if (next.isActive) {
        for (const x of n.netInterfaces) x.isActive = false
        n.props['CurStltConnName'] = cur.name
      }
      Object.assign(cur, { address: next.address, satellitePort: next.satellitePort, satelliteEncryptionType: next.satelliteEncryptionType, isActive: next.isActive || cur.isActive })
      m.putNode(tx, n)
      return { node: n.name, netIf: cur.name }
    })
    return changed('MOD', 'NET_IF', `Net interface '${done.netIf}' on node '${done.node}' modified.`, { Node: done.node, NetInterface: done.netIf })
  }, { op: 'MOD', ...IF })
  r.delete('/v1/nodes/{node}/net-interfaces/{netif}', async (req) => {
    const done = await core.mutate((tx, m) => {
      const n = requireNode(m, req.params['node']!)
      const ni = requireNetIf(n, req.params['netif']!)
      if (ni.isActive) {
        throw new ApiError('ERR_IN_USE', { what: `Net interface '${ni.name}'`, by: `it is the active satellite connection of node '${n.name}'` }, { correction: 'Make another interface active first (PUT with is_active: true).' })
      }
      n.netInterfaces = n.netInterfaces.filter((x) => x !== ni)
      m.putNode(tx, n)
      return { node: n.name, netIf: ni.name }
    })
    return changed('DEL', 'NET_IF', `Net interface '${done.netIf}' on node '${done.node}' deleted.`, { Node: done.node, NetInterface: done.netIf })
  }, { op: 'DEL', ...IF })
}

export function requireNode(m: Model, name: string): Node {
  const n = m.getNode(name)
  if (n === undefined) throw new ApiError('ERR_NOT_FOUND_NODE', { node: name })
  return n
}

function requireNetIf(n: Node, name: string): NetInterface {
  const ni = n.netInterfaces.find((x) => nameKey(x.name) === nameKey(name))
  if (ni === undefined) throw new ApiError('ERR_NOT_FOUND_NET_IF', { netIf: name, node: n.name })
  return ni
}

function nodeType(v: string): NodeType {
  const t = NODE_TYPES.find((x) => x.toLowerCase() === v.toLowerCase())
  if (t === undefined) throw new ApiError('ERR_NODE_TYPE', { type: v })
  return t
}

function netInterfaceFrom(b: Body, path: string, type: NodeType): NetInterface {
  const name = checkName('netIf', str(b, 'name', `${path}.name`))
  const address = str(b, 'address', `${path}.address`)
  if (isIP(address) === 0) throw new ApiError('ERR_NET_ADDR', { address })
  const enc = optStr(b, 'satellite_encryption_type', `${path}.satellite_encryption_type`)
  const encryption = enc === undefined ? null : enc.toUpperCase()
  if (encryption !== null && encryption !== 'PLAIN' && encryption !== 'SSL') throw new ApiError('ERR_NET_ENCRYPTION', { type: enc ?? '' })
  let port = optInt(b, 'satellite_port', 1, 65535, `${path}.satellite_port`) ?? null
  // A satellite's interface without a port gets the default for its encryption (LINSTOR does the same).
  if (port === null && encryption !== null) port = encryption === 'SSL' ? DEFAULT_SATELLITE_SSL_PORT : DEFAULT_SATELLITE_PORT
  if (port === null && type !== 'Auxiliary' && type !== 'Controller' && b['satellite_port'] === undefined && enc === undefined) port = DEFAULT_SATELLITE_PORT
  return {
    name, address, satellitePort: port,
    satelliteEncryptionType: port === null ? null : ((encryption ?? 'PLAIN') as 'PLAIN' | 'SSL'),
    isActive: optBool(b, 'is_active', `${path}.is_active`) ?? false,
    uuid: randomUUID(),
  }
}

export function netInterfaceJson(ni: NetInterface): Record<string, unknown> {
  const out: Record<string, unknown> = { name: ni.name, address: ni.address, is_active: ni.isActive, uuid: ni.uuid }
  if (ni.satellitePort !== null) {
    out['satellite_port'] = ni.satellitePort
    out['satellite_encryption_type'] = ni.satelliteEncryptionType ?? 'PLAIN'
  }
  return out
}

export function nodeJson(m: Model, n: Node): Record<string, unknown> {
  const rt = m.runtime.nodes.get(nameKey(n.name))
  const out: Record<string, unknown> = {
    name: n.name,
    type: n.type.toUpperCase(),
    flags: n.flags,
    props: n.props,
    net_interfaces: n.netInterfaces.map(netInterfaceJson),
    connection_status: rt?.connectionStatus ?? 'OFFLINE',
    uuid: n.uuid,
    storage_providers: rt?.supportedProviders ?? [],
    resource_layers: rt?.supportedLayers ?? [],
    unsupported_providers: rt?.unsupportedProviders ?? {},
    unsupported_layers: rt?.unsupportedLayers ?? {},
  }
  return out
}
