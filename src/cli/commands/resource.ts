/** `blockyard resource` (`r`) and `blockyard volume` (`v`): linstor's resource and volume commands. */
import type { Command } from 'commander'
import type { Resource, ResourceCreate, ResourceLayer, Volume } from '../../client/types.js'
import { formatSizeKib } from '../../common/units.js'
import { UsageError, type CliContext } from '../context.js'
import { localTime, type Cell, type Color } from '../output.js'
import {
  action, command, disklessOnRemaining, eachTarget, group, intArg, layerList, listOptions, listTable, printList, printPropsOf, propertyArgs,
  propertyModify, selectFilter, selectFilterOptions,
} from './_common.js'

/** The layers of a resource, top first, each once (linstor's `ordered_unique(layer_stack)`). */
function layers(l: ResourceLayer | undefined): string[] {
  const out: string[] = []
  for (let x = l; x !== undefined; x = x.children?.[0]) if (!out.includes(x.type)) out.push(x.type)
  return out
}

/** linstor's `volume_state_cell`: the disk state a volume shows, and its colour (null: the column's). */
export function volumeState(v: Volume, rscFlags: readonly string[]): [string, Color | null] {
  const prefix = (v.flags ?? []).includes('RESIZE') ? 'Resizing, ' : ''
  const top = v.layer_data_list?.[0]?.type
  const disk = v.state?.disk_state
  if (top !== 'DRBD') return [`${prefix}Created`, null]
  if (disk === undefined || disk === '') return [`${prefix}Unknown`, 'YELLOW']
  if (disk === 'DUnknown') return [`${prefix}Unknown`, 'YELLOW']
  if (disk === 'Diskless') {
    if (!rscFlags.includes('DISKLESS')) return [`${prefix}${disk}`, 'RED']
    if (rscFlags.includes('TIE_BREAKER')) return ['TieBreaker', null]
    return [`${prefix}${disk}`, null]
  }
  if (['Inconsistent', 'Failed', 'To: Creating', 'To: Attachable', 'To: Attaching'].includes(disk)) return [`${prefix}${disk}`, 'RED']
  if (['UpToDate', 'Created', 'Attached'].includes(disk)) return [`${prefix}${disk}`, null]
  return [`${prefix}${disk}`, 'YELLOW']
}

/** Replication states that linstor shows with the progress of the resync or verify. */
const WITH_PROGRESS = ['SyncTarget', 'PausedSyncS', 'PausedSyncT', 'VerifyT']

/**
 * linstor's `format_repl_states`, the Repl column of the volume list: `Established(N)` when every peer is
 * in sync, else a line per peer (`beta: SyncTarget(42.00%)`).
 */
export function replicationCell(v: Volume): Cell {
  const states = Object.entries(v.state?.replication_states ?? {})
  if (states.length === 0) return ''
  if (states.every(([, s]) => s.replication_state === 'Established')) return { text: `Established(${states.length})`, color: 'GREEN' }
  const lines = states.map(([peer, s]) => {
    const state = s.replication_state ?? 'Unknown'
    if (!WITH_PROGRESS.includes(state)) return `${peer}: ${state}`
    return `${peer}: ${state}(${s.done_percentage === undefined ? '?' : `${s.done_percentage.toFixed(2)}%`})`
  })
  return { text: lines.join('\n'), color: states.some(([, s]) => s.replication_state === 'VerifyT') ? 'GRAY' : 'YELLOW' }
}

/** How many nodes have each resource in use (DRBD Primary): linstor shows InUse yellow for more than one. */
function inUseCounts(list: readonly Resource[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const x of list) if (x.state?.in_use === true) counts.set(x.name, (counts.get(x.name) ?? 0) + 1)
  return counts
}

/** linstor's usage cell: InUse (yellow when another node has it in use too), Unused, or empty while unknown. */
function usageCell(x: Resource, inUseCount: ReadonlyMap<string, number>): Cell {
  if (x.state?.in_use === undefined) return ''
  return x.state.in_use ? { text: 'InUse', color: (inUseCount.get(x.name) ?? 0) > 1 ? 'YELLOW' : 'GREEN' } : 'Unused'
}

/** linstor's Conns column: the DRBD connections that are down, by state (`Connecting(beta,gamma)`); '' when none is. */
export function failedConnections(x: Resource): string {
  const byMessage = new Map<string, string[]>()
  for (const [peer, c] of Object.entries(x.layer_object?.drbd?.connections ?? {})) {
    if (!c.connected) byMessage.set(c.message, [...(byMessage.get(c.message) ?? []), peer])
  }
  return [...byMessage].map(([m, peers]) => `${m}(${peers.join(',')})`).join(',')
}

/** Whether any DRBD connection of the resource is down. */
const connectionFailed = (x: Resource): boolean => Object.values(x.layer_object?.drbd?.connections ?? {}).some((c) => !c.connected)

/** One row of `resource list`, as linstor computes its Usage, Conns and State columns. */
export function resourceRow(x: Resource, inUseCount: ReadonlyMap<string, number>): { cells: Cell[]; faulty: boolean } {
  const flags = x.flags ?? []
  let state = 'Unknown'
  let color: Color | null = 'YELLOW'
  let usage: Cell = ''
  if (flags.includes('DELETE') || flags.includes('DRBD_DELETE')) {
    state = 'DELETING'
    color = 'RED'
  } else if (flags.includes('INACTIVE')) {
    state = 'INACTIVE'
  } else {
    usage = usageCell(x, inUseCount)
    for (const v of x.volumes ?? []) {
      ;[state, color] = volumeState(v, flags)
      if (flags.includes('EVACUATE')) state += ', Evacuating'
      if (color !== null) break
    }
  }
  let conns = ''
  let failed = false
  if (state !== 'Unknown') {
    conns = failedConnections(x)
    failed = conns !== ''
    if (!failed) conns = 'Ok'
  }
  const cells: Cell[] = [
    x.name, x.node_name, layers(x.layer_object).join(','), usage,
    failed ? { text: conns, color: 'RED' } : conns,
    { text: state, color: failed ? 'RED' : color ?? 'DARKGREEN' },
    x.create_timestamp !== undefined ? localTime(x.create_timestamp) : '',
  ]
  return { cells, faulty: color !== null || failed }
}

/** A row of the volume list up to State, as linstor's `show_volumes` fills it. */
export function volumeCells(x: Resource, v: Volume, inUseCount: ReadonlyMap<string, number>): Cell[] {
  const [state, color] = volumeState(v, x.flags ?? [])
  const hasErrors = (v.reports ?? []).some((rc) => (BigInt.asUintN(64, rc.ret_code) >> 62n) === 3n)
  const minor = (v.layer_data_list ?? []).find((l) => l.type === 'DRBD')?.data?.['drbd_volume_definition'] as { minor_number?: number } | undefined
  return [
    x.name, x.node_name, v.storage_pool_name ?? '', String(v.volume_number), minor?.minor_number !== undefined ? String(minor.minor_number) : '',
    v.device_path ?? '', v.allocated_size_kib ? formatSizeKib(v.allocated_size_kib) : '',
    usageCell(x, inUseCount),
    // A connection down makes the state red, whatever the disk's.
    hasErrors ? { text: 'Error', color: 'RED' } : { text: state, color: connectionFailed(x) ? 'RED' : color ?? 'DARKGREEN' },
  ]
}

export function registerResource(program: Command, ctx: CliContext): void {
  const r0 = group(program, 'resource', 'r', 'Resource subcommands', ['resource list', 'r c --auto-place 2 site1'])

  action(selectFilterOptions(command(r0, 'create', 'c', 'Deploys a resource definition on the given nodes, or on nodes chosen with --auto-place and its filters.', ['resource create alpha beta site1', 'r c --auto-place 2 --storage-pool pool1 site1', 'r c --drbd-diskless gamma site1'])
    .option('-d, --diskless', 'deprecated: use --drbd-diskless or --nvme-initiator')
    .option('--node-id <id>', '(DRBD) node id of the resource')
    .option('--async', 'accepted for compatibility with linstor (the controller answers once the satellites are done)')
    .option('--nvme-initiator', 'mark the resource as NVMe initiator')
    .option('--drbd-diskless', 'mark the resource as DRBD diskless')
    .option('--inactive', 'create the resource inactive')
    .option('--drbd-tcp-port <port>', '(DRBD) TCP port of the resource'), 'auto-place')
    .argument('<names...>', 'nodes (none with --auto-place), then the resource definition')
    .usage('[options] [node_name...] <resource_definition_name>'), ctx, async (r) => {
    const names = r.args[0] as string[]
    const rsc = names[names.length - 1]!
    const nodes = names.slice(0, -1)
    const o = r.opts
    if (o['autoPlace'] !== undefined) {
      if (nodes.length > 0) throw new UsageError(`resource create: give either nodes or --auto-place, not both (nodes: ${nodes.join(', ')})`)
      const f = selectFilter(o, 'autoPlace')
      if (o['drbdDiskless'] === true) f.diskless_type = 'DRBD_DISKLESS'
      else if (o['nvmeInitiator'] === true) f.diskless_type = 'NVME_INITIATOR'
      else if (o['diskless'] === true) f.diskless_type = 'DISKLESS'
      const work = r.client.resourceAutoPlace(rsc, { select_filter: f, diskless_on_remaining: disklessOnRemaining(o) ?? null, ...(f.layer_stack !== undefined ? { layer_list: f.layer_stack } : {}) })
      r.ctx.replies(r.g, await r.ctx.progress(r.g, `Placing ${rsc} on ${f.place_count ?? `+${f.additional_place_count ?? 0}`} node(s)`, work))
      return
    }
    if (nodes.length === 0) throw new UsageError('resource create: too few arguments: Node name missing (or use --auto-place N).')
    const pools = o['storagePool'] as string[] | true | undefined
    const pool = Array.isArray(pools) && pools[0] !== undefined && pools[0] !== '' ? pools[0] : undefined
    const flags = [
      ...(o['diskless'] === true ? ['DISKLESS'] : []),
      ...(o['drbdDiskless'] === true ? ['DRBD_DISKLESS'] : []),
      ...(o['nvmeInitiator'] === true ? ['NVME_INITIATOR'] : []),
      ...(o['inactive'] === true ? ['INACTIVE'] : []),
    ]
    const layersIn = layerList(o['layerList'])
    const items: ResourceCreate[] = nodes.map((node) => ({
      resource: { node_name: node, flags, ...(pool !== undefined ? { props: { StorPoolName: pool } } : {}) },
      ...(layersIn !== undefined ? { layer_list: layersIn } : {}),
      ...(o['nodeId'] !== undefined ? { drbd_node_id: intArg(o['nodeId'], '--node-id', 0, 31) } : {}),
      ...(o['drbdTcpPort'] !== undefined ? { drbd_tcp_ports: [intArg(o['drbdTcpPort'], '--drbd-tcp-port', 1, 65535)] } : {}),
    }))
    r.ctx.replies(r.g, await r.ctx.progress(r.g, `Creating ${rsc} on ${nodes.join(', ')}`, r.client.resourceCreate(rsc, items)))
  })

  const columns = ['ResourceName', 'Node', 'Layers', 'Usage', 'Conns', 'State', 'CreatedOn']
  action(listOptions(command(r0, 'list', 'l', 'Prints the resources of the cluster and their state.', ['resource list', 'r l -r site1', 'r l --faulty']), columns)
    .option('-r, --resources <names...>', 'only these resources')
    .option('-n, --nodes <names...>', 'only on these nodes')
    .option('-a, --all', 'show all resources (accepted for compatibility with linstor)')
    .option('--faulty', 'only resources that are not healthy')
    .option('--props <props...>', 'only resources with these properties (KEY=VALUE)'), ctx, async (r) => {
    const list = await r.client.resourceView({ resources: r.opts['resources'], nodes: r.opts['nodes'], props: r.opts['props'] })
    printList(r, list, () => {
      const inUse = inUseCounts(list)
      const rows = list.map((x) => ({ ...resourceRow(x, inUse), props: x.props })).filter((row) => r.opts['faulty'] !== true || row.faulty)
      return listTable(r, columns.map((name) => ({ name, ...(name === 'Conns' || name === 'State' ? { color: 'DARKGREEN' as const } : {}), right: name === 'State' })), rows)
    })
  })

  volumeList(r0, ctx, 'list-volumes', 'lv', ['resource list-volumes', 'r lv -n alpha'])

  action(command(r0, 'delete', 'd', 'Removes a resource from nodes (its satellites undeploy it first).', ['resource delete alpha site1', 'r d alpha beta site1'])
    .option('--async', 'accepted for compatibility with linstor (the controller answers once the satellites are done)')
    .option('--keep-tiebreaker', 'keep a DRBD tie-breaker instead of deleting it')
    .argument('<names...>', 'nodes, then the resource')
    .usage('[options] <node_name...> <name>'), ctx, async (r) => {
    const names = r.args[0] as string[]
    if (names.length < 2) throw new UsageError('resource delete: give the node(s), then the resource')
    const rsc = names[names.length - 1]!
    await eachTarget(r, names.slice(0, -1), (node) =>
      r.ctx.progress(r.g, `Deleting ${rsc} on ${node}`, r.client.resourceDelete(rsc, node, { keepTiebreaker: r.opts['keepTiebreaker'] === true })))
  })

  action(command(r0, 'list-properties', 'lp', 'Prints the properties of a resource on a node.', ['resource list-properties alpha site1'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<node_name>', 'node')
    .argument('<resource_name>', 'resource'), ctx, async (r) => {
    const [node, rsc] = r.args as [string, string]
    const found = (await r.client.resourceView({ nodes: [node], resources: [rsc] }))[0]
    printPropsOf(r, found, `Resource '${rsc}' not found on node '${node}'.`)
  })

  action(propertyArgs(command(r0, 'set-property', 'sp', 'Sets a property of a resource on a node; an empty value deletes it.', ['resource set-property alpha site1 Aux/owner web'])
    .argument('<node_name>', 'node')
    .argument('<name>', 'resource')), ctx, async (r) => {
    const [node, rsc] = r.args as [string, string]
    r.ctx.replies(r.g, await r.client.resourceModify(rsc, node, propertyModify(r, 2)))
  })
}

/** The volume list, as linstor has it twice: `resource list-volumes` and `volume list`. */
function volumeList(parent: Command, ctx: CliContext, name: string, alias: string, examples: readonly string[]): void {
  action(command(parent, name, alias, 'Prints the volumes of the resources: device, size, state, replication.', examples)
    .option('-p, --pastable', 'generate pastable output')
    .option('-n, --nodes <names...>', 'only on these nodes')
    .option('-s, --storage-pools <names...>', 'only in these storage pools')
    .option('-r, --resources <names...>', 'only these resources')
    .option('-a, --all', 'show all resources (accepted for compatibility with linstor)')
    .option('--hide-replication-states, --hrep', 'leave out the Repl column')
    .option('--show-props <keys...>', 'show these volume properties as columns; KEY=HEADER names the column'), ctx, async (r) => {
    const list = await r.client.resourceView({ resources: r.opts['resources'], nodes: r.opts['nodes'] })
    const pools = (r.opts['storagePools'] as string[] | undefined)?.map((p) => p.toUpperCase())
    const repl = r.opts['hrep'] !== true // commander names the option after its last flag
    printList(r, list, () => {
      const inUse = inUseCounts(list)
      const rows = list.filter((x) => !(x.flags ?? []).includes('INACTIVE')).flatMap((x) => (x.volumes ?? [])
        .filter((v) => pools === undefined || pools.includes((v.storage_pool_name ?? '').toUpperCase()))
        .map((v) => ({ cells: [...volumeCells(x, v, inUse), ...(repl ? [replicationCell(v)] : [])], props: v.props })))
      const cols = ['Resource', 'Node', 'StoragePool', 'VolNr', 'MinorNr', 'DeviceName', 'Allocated', 'InUse', 'State', ...(repl ? ['Repl'] : [])]
      return listTable(r, cols.map((col) => ({ name: col, right: ['VolNr', 'MinorNr', 'Allocated', 'State'].includes(col) })), rows)
    })
  })
}

/** `blockyard volume` (`v`): linstor's volume commands. */
export function registerVolume(program: Command, ctx: CliContext): void {
  const v0 = group(program, 'volume', 'v', 'Volume subcommands', ['volume list', 'v l -r site1'])
  volumeList(v0, ctx, 'list', 'l', ['volume list', 'v l -r site1 -n alpha'])
}
