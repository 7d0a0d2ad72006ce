/** `blockyard node` (`n`): linstor's node commands, with `interface` (`i`) for net interfaces. */
import { lookup } from 'node:dns/promises'
import { Option, type Command } from 'commander'
import type { Node } from '../../client/types.js'
import { UsageError, type CliContext } from '../context.js'
import { renderTable, type Cell, type Color } from '../output.js'
import { action, command, eachTarget, group, intArg, listOptions, listTable, printList, printPropsOf, propertyArgs, propertyModify } from './_common.js'

const NODE_TYPES = ['controller', 'auxiliary', 'combined', 'satellite']
const TYPE_NAME: Record<string, string> = { controller: 'Controller', auxiliary: 'Auxiliary', combined: 'Combined', satellite: 'Satellite' }

/** linstor's State column for a connection status. */
const CONN_STATE: Record<string, [string, Color]> = {
  OFFLINE: ['OFFLINE', 'RED'],
  CONNECTED: ['Connected', 'YELLOW'],
  ONLINE: ['Online', 'GREEN'],
  VERSION_MISMATCH: ['OFFLINE(VERSION MISMATCH)', 'RED'],
  FULL_SYNC_FAILED: ['OFFLINE(FULL SYNC FAILED)', 'RED'],
  MISSING_EXT_TOOLS: ['OFFLINE(MISSING EXTERNAL TOOLS)', 'RED'],
  AUTHENTICATION_ERROR: ['OFFLINE(AUTHENTICATION ERROR)', 'RED'],
  UNKNOWN: ['Unknown', 'YELLOW'],
  HOSTNAME_MISMATCH: ['OFFLINE(HOSTNAME MISMATCH)', 'RED'],
  OTHER_CONTROLLER: ['OFFLINE(OTHER_CONTROLLER)', 'RED'],
  NO_STLT_CONN: ['OFFLINE(NO CONNECTION TO SATELLITE)', 'RED'],
}

function nodeState(n: Node): Cell {
  const flags = n.flags ?? []
  if (flags.includes('EVICTED')) return { text: 'EVICTED', color: 'RED' }
  if (flags.includes('DELETE')) return { text: 'DELETE', color: 'RED' }
  if (flags.includes('EVACUATE')) return { text: 'EVACUATE', color: 'YELLOW' }
  const [text, color] = CONN_STATE[n.connection_status ?? 'OFFLINE'] ?? [n.connection_status ?? 'OFFLINE', 'YELLOW']
  return { text, color }
}

/** linstor's default satellite port of a node type and communication type. */
function defaultPort(type: string, comm: string): number {
  if (type === 'controller') return comm === 'ssl' ? 3377 : 3376
  return comm === 'ssl' ? 3367 : 3366
}

/** linstor resolves a node's name when no address is given: the first IPv4 address that is not loopback. */
async function resolveAddress(name: string): Promise<string> {
  let found: { address: string }[]
  try {
    found = await lookup(name, { family: 4, all: true })
  } catch (e) {
    throw new UsageError(`Unable to resolve ip address for '${name}': ${(e as Error).message}`)
  }
  const usable = found.find((a) => !a.address.startsWith('127.'))
  if (usable === undefined) throw new UsageError(`Unable to determine a valid ip address for '${name}' (only loopback addresses); give the address: node create ${name} IP`)
  return usable.address
}

export function registerNode(program: Command, ctx: CliContext): void {
  const n = group(program, 'node', 'n', 'Node subcommands', ['node list', 'n c alpha 192.168.10.11'])

  action(command(n, 'create', 'c', 'Creates a node entry for a node that participates in the cluster; the controller connects to its satellite.', ['node create alpha 192.168.10.11', 'n c --node-type combined beta 192.168.10.12'])
    .option('-p, --port <port>', 'satellite port (default: 3366 plain, 3367 ssl; controller nodes 3376/3377)')
    .addOption(new Option('--node-type <type>', 'node type').choices(NODE_TYPES).default('satellite'))
    .addOption(new Option('--communication-type <type>', 'communication type').choices(['plain', 'ssl']).default('plain'))
    .addOption(new Option('--interface-type <type>', 'interface type').choices(['ip']).default('ip'))
    .option('--interface-name <name>', 'interface name', 'default')
    .argument('<name>', 'name of the new node, its hostname')
    .argument('[ip]', 'IP address of the node; resolved from the name when not given'), ctx, async (r) => {
    const [name, ip] = r.args as [string, string | undefined]
    const type = String(r.opts['nodeType']).toLowerCase()
    const comm = String(r.opts['communicationType']).toLowerCase()
    const port = r.opts['port'] !== undefined ? intArg(r.opts['port'], '--port', 1, 65535) : defaultPort(type, comm)
    const address = ip ?? await resolveAddress(name)
    const rcs = await r.client.nodeCreate({
      name,
      type: TYPE_NAME[type]!,
      net_interfaces: [{ name: r.opts['interfaceName'], address, satellite_port: port, satellite_encryption_type: comm.toUpperCase(), is_active: true }],
    })
    r.ctx.replies(r.g, rcs)
  })

  action(listOptions(command(n, 'list', 'l', 'Prints the nodes of the cluster.', ['node list', 'n l -n alpha beta', 'node list --props Aux/rack=r1 -s Aux/rack=Rack']), ['node', 'nodetype', 'addresses', 'state'])
    .option('-n, --nodes <names...>', 'only these nodes')
    .option('--props <props...>', 'only nodes with these properties (KEY=VALUE)')
    .option('--show-aux-props', 'show the Aux properties of the nodes'), ctx, async (r) => {
    const nodes = await r.client.nodeList({ nodes: r.opts['nodes'], props: r.opts['props'] })
    printList(r, nodes, () => {
      const aux = r.opts['showAuxProps'] === true
      const cols = [{ name: 'Node' }, { name: 'NodeType' }, { name: 'Addresses' }, ...(aux ? [{ name: 'AuxProps' }] : []), { name: 'State', color: 'DARKGREEN' as const }]
      return listTable(r, cols, nodes.map((node) => {
        const active = (node.net_interfaces ?? []).filter((i) => i.is_active === true && i.satellite_port !== undefined)
          .map((i) => `${i.address}:${i.satellite_port} (${i.satellite_encryption_type ?? 'PLAIN'})`).at(-1) ?? ''
        const auxProps = Object.entries(node.props ?? {}).filter(([k]) => k.startsWith('Aux/')).map(([k, v]) => `${k}=${v}`).join('\n')
        return { cells: [node.name, node.type, active, ...(aux ? [auxProps] : []), nodeState(node)], props: node.props }
      }))
    })
  })

  action(command(n, 'delete', 'd', 'Removes a node: its resources are undeployed first, then the node entry is removed.', ['node delete alpha'])
    .option('--async', 'accepted for compatibility with linstor (the controller answers once the satellite is done)')
    .argument('<name>', 'name of the node'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.ctx.progress(r.g, `Deleting node ${String(r.args[0])}`, r.client.nodeDelete(String(r.args[0]))))
  })

  action(command(n, 'lost', 'lo', 'Removes a node that will not come back, with everything on it, without its satellite.', ['node lost alpha'])
    .option('--async', 'accepted for compatibility with linstor')
    .argument('<name>', 'name of the node'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.nodeLost(String(r.args[0])))
  })

  action(command(n, 'modify', 'm', 'Changes the type of a node.', ['node modify --node-type combined alpha'])
    .addOption(new Option('-t, --node-type <type>', 'node type').choices(NODE_TYPES).default('satellite'))
    .argument('<node_name>', 'node to modify'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.nodeModify(String(r.args[0]), { node_type: TYPE_NAME[String(r.opts['nodeType']).toLowerCase()]! }))
  })

  action(command(n, 'list-properties', 'lp', 'Prints the properties of a node.', ['node list-properties alpha'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<node_name>', 'node'), ctx, async (r) => {
    const nodes = await r.client.nodeList({ nodes: [String(r.args[0])] })
    printPropsOf(r, nodes[0], `Node '${String(r.args[0])}' not found on controller.`)
  })

  action(propertyArgs(command(n, 'set-property', 'sp', 'Sets a property of a node; an empty value deletes it.', ['node set-property alpha Aux/rack r1', 'n sp --aux alpha rack r1'])
    .argument('<node_name>', 'node')), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.nodeModify(String(r.args[0]), propertyModify(r, 1)))
  })

  registerInterface(n, ctx)
}

function registerInterface(n: Command, ctx: CliContext): void {
  const i = group(n, 'interface', 'i', 'Net interface subcommands', ['node interface list alpha'])

  action(command(i, 'create', 'c', 'Adds a net interface to a node; with --active the satellite is reached through it.', ['node interface create alpha data 10.0.0.11', 'n i c --active -p 3366 alpha data 10.0.0.11'])
    .option('-p, --port <port>', 'satellite port on this interface')
    .addOption(new Option('--communication-type <type>', 'communication type').choices(['plain', 'ssl']).default('plain'))
    .option('--active', 'make this the interface the controller reaches the satellite through')
    .argument('<node_name>', 'node')
    .argument('<interface_name>', 'interface name')
    .argument('<ip>', 'IP address'), ctx, async (r) => {
    const [node, name, ip] = r.args as [string, string, string]
    const port = r.opts['port'] !== undefined ? intArg(r.opts['port'], '--port', 1, 65535) : undefined
    r.ctx.replies(r.g, await r.client.netInterfaceCreate(node, {
      name,
      address: ip,
      ...(port !== undefined ? { satellite_port: port, satellite_encryption_type: String(r.opts['communicationType']).toUpperCase() } : {}),
      ...(r.opts['active'] === true ? { is_active: true } : {}),
    }))
  })

  action(command(i, 'modify', 'm', 'Changes a net interface: address, port, communication type, active.', ['node interface modify --ip 10.0.0.12 alpha data'])
    .option('-p, --port <port>', 'satellite port on this interface')
    .addOption(new Option('--communication-type <type>', 'communication type').choices(['plain', 'ssl']))
    .option('--active', 'make this the interface the controller reaches the satellite through')
    .option('--ip <ip>', 'new IP address')
    .argument('<node_name>', 'node')
    .argument('<interface_name>', 'interface'), ctx, async (r) => {
    const [node, name] = r.args as [string, string]
    const port = r.opts['port'] !== undefined ? intArg(r.opts['port'], '--port', 1, 65535) : undefined
    r.ctx.replies(r.g, await r.client.netInterfaceModify(node, name, {
      name,
      ...(r.opts['ip'] !== undefined ? { address: r.opts['ip'] } : {}),
      ...(port !== undefined ? { satellite_port: port } : {}),
      ...(r.opts['communicationType'] !== undefined ? { satellite_encryption_type: String(r.opts['communicationType']).toUpperCase() } : {}),
      ...(r.opts['active'] === true ? { is_active: true } : {}),
    }))
  })

  action(command(i, 'delete', 'd', 'Removes net interfaces from a node.', ['node interface delete alpha data'])
    .argument('<node_name>', 'node')
    .argument('<interface_name...>', 'interfaces'), ctx, async (r) => {
    const [node, names] = r.args as [string, string[]]
    await eachTarget(r, names, (name) => r.client.netInterfaceDelete(node, name))
  })

  action(command(i, 'list', 'l', 'Prints the net interfaces of a node.', ['node interface list alpha'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<node_name>', 'node'), ctx, async (r) => {
    const node = String(r.args[0])
    const list = await r.client.netInterfaceList(node)
    printList(r, list, () => renderTable(
      [{ name: node, color: 'GREEN' }, { name: 'NetInterface' }, { name: 'IP' }, { name: 'Port' }, { name: 'EncryptionType' }],
      list.map((ni) => [ni.is_active === true ? '+ StltCon' : '+', ni.name, ni.address, ni.satellite_port !== undefined ? String(ni.satellite_port) : '', ni.satellite_encryption_type ?? '']),
      r.opts['pastable'] === true ? { color: false, utf8: false } : r.g.style,
    ))
  })
}
