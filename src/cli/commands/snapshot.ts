/** `blockyard snapshot` (`s`) and `blockyard key-value-store` (`kv`): linstor's snapshot and key-value store commands. */
import type { Command } from 'commander'
import type { Snapshot } from '../../client/types.js'
import { formatSizeKib } from '../../common/units.js'
import { UsageError, type CliContext } from '../context.js'
import { localTime, renderTable, type Cell } from '../output.js'
import { action, command, group, printList, printPropsOf, propertyArgs, propertyModify } from './_common.js'

function snapshotState(s: Snapshot): Cell {
  const flags = s.flags ?? []
  if (flags.includes('DELETE')) return { text: 'DELETING', color: 'RED' }
  if (flags.includes('FAILED_DEPLOYMENT')) return { text: 'Failed', color: 'RED' }
  if (flags.includes('FAILED_DISCONNECT')) return { text: 'Satellite disconnected', color: 'RED' }
  if (flags.includes('SUCCESSFUL')) return { text: 'Successful', color: 'DARKGREEN' }
  return { text: 'Incomplete', color: 'DARKBLUE' }
}

/** `--from-resource/--fr`, `--from-snapshot/--fs`, `--to-resource/--tr`: linstor's restore options. */
function restoreOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--from-resource <name>', 'resource definition of the snapshot (also --fr)')
    .requiredOption('--from-snapshot <name>', 'snapshot to restore from (also --fs)')
    .requiredOption('--to-resource <name>', 'resource definition to restore into (also --tr)')
}

/**
 * Commander has no second long flag: linstor's short spellings `--fr`, `--fs`, `--tr` are rewritten to the
 * long ones before parsing.
 */
export function expandRestoreFlags(argv: readonly string[]): string[] {
  const long: Record<string, string> = { '--fr': '--from-resource', '--fs': '--from-snapshot', '--tr': '--to-resource' }
  return argv.map((a) => {
    const [flag, ...rest] = a.split('=')
    const l = long[flag!]
    return l === undefined ? a : [l, ...rest].join('=')
  })
}

export function registerSnapshot(program: Command, ctx: CliContext): void {
  const s = group(program, 'snapshot', 's', 'Snapshot subcommands', ['snapshot list', 's c site1 snap1'])

  action(command(s, 'create', 'c', 'Takes a snapshot of a resource on the given nodes (all nodes with a disk when none is given).', ['snapshot create site1 snap1', 's c alpha site1 snap1'])
    .option('--async', 'accepted for compatibility with linstor (the controller answers once the satellites are done)')
    .argument('<names...>', 'nodes (optional), the resource definition, the snapshot name')
    .usage('[options] [node_name...] <resource_definition_name> <snapshot_name>'), ctx, async (r) => {
    const names = r.args[0] as string[]
    if (names.length < 2) throw new UsageError('snapshot create: give the resource definition and the snapshot name')
    const snap = names[names.length - 1]!
    const rsc = names[names.length - 2]!
    const nodes = names.slice(0, -2)
    const work = r.client.snapshotCreate(rsc, { name: snap, ...(nodes.length > 0 ? { nodes } : {}) })
    r.ctx.replies(r.g, await r.ctx.progress(r.g, `Taking snapshot ${snap} of ${rsc}`, work))
  })

  action(command(s, 'list', 'l', 'Prints the snapshots.', ['snapshot list', 's l -r site1'])
    .option('-p, --pastable', 'generate pastable output')
    .option('-r, --resources <names...>', 'only of these resources')
    .option('-n, --nodes <names...>', 'only on these nodes'), ctx, async (r) => {
    const list = await r.client.snapshotView({ resources: r.opts['resources'], nodes: r.opts['nodes'] })
    printList(r, list, () => renderTable(
      ['ResourceName', 'SnapshotName', 'NodeNames', 'Volumes', 'CreatedOn', 'State'].map((name) => ({ name, ...(name === 'State' ? { color: 'DARKGREEN' as const } : {}) })),
      list.map((x) => {
        const taken = x.snapshots?.[0]?.create_timestamp
        return [
          x.resource_name, x.name, (x.nodes ?? []).join(', '),
          (x.volume_definitions ?? []).map((v) => `${v.volume_number}: ${formatSizeKib(v.size_kib)}`).join(', '),
          taken !== undefined ? localTime(taken) : '', snapshotState(x),
        ]
      }),
      r.opts['pastable'] === true ? { color: false, utf8: false } : r.g.style,
    ))
  })

  action(command(s, 'delete', 'd', 'Deletes a snapshot (or only its copies on some nodes).', ['snapshot delete site1 snap1', 's d site1 snap1 -n beta'])
    .option('--async', 'accepted for compatibility with linstor')
    .option('-n, --nodes <names...>', 'only delete the snapshot on these nodes')
    .argument('<resource_definition_name>', 'resource definition')
    .argument('<snapshot_name>', 'snapshot'), ctx, async (r) => {
    const [rsc, snap] = r.args as [string, string]
    r.ctx.replies(r.g, await r.ctx.progress(r.g, `Deleting snapshot ${snap} of ${rsc}`, r.client.snapshotDelete(rsc, snap, { nodes: r.opts['nodes'] })))
  })

  action(command(s, 'rollback', 'rb', 'Rolls a resource back to its most recent snapshot (the resource must not be in use).', ['snapshot rollback site1 snap1'])
    .argument('<resource_definition_name>', 'resource definition')
    .argument('<snapshot_name>', 'snapshot'), ctx, async (r) => {
    const [rsc, snap] = r.args as [string, string]
    r.ctx.replies(r.g, await r.ctx.progress(r.g, `Rolling ${rsc} back to ${snap}`, r.client.snapshotRollback(rsc, snap)))
  })

  const res = group(s, 'resource', 'r', 'Snapshot restore into resources', ['snapshot resource restore --fr site1 --fs snap1 --tr site1copy'])
  action(restoreOptions(command(res, 'restore', 'rst', 'Creates resources of a definition from a snapshot (on its nodes, or the given ones); the target volume definitions must match the snapshot.', ['snapshot resource restore --from-resource site1 --from-snapshot snap1 --to-resource site1copy', 's r rst alpha --fr site1 --fs snap1 --tr site1copy']))
    .argument('[node_name...]', 'nodes to restore on (all nodes of the snapshot when none is given)'), ctx, async (r) => {
    const nodes = r.args[0] as string[]
    const o = r.opts
    const work = r.client.snapshotRestore(o['fromResource'], o['fromSnapshot'], { to_resource: o['toResource'], ...(nodes.length > 0 ? { nodes } : {}) })
    r.ctx.replies(r.g, await r.ctx.progress(r.g, `Restoring ${String(o['fromSnapshot'])} into ${String(o['toResource'])}`, work))
  })

  const vd = group(s, 'volume-definition', 'vd', 'Snapshot restore of volume definitions', ['snapshot volume-definition restore --fr site1 --fs snap1 --tr site1copy'])
  action(restoreOptions(command(vd, 'restore', 'rst', 'Creates the volume definitions of a resource definition from a snapshot (numbers and sizes).', ['snapshot volume-definition restore --from-resource site1 --from-snapshot snap1 --to-resource site1copy'])), ctx, async (r) => {
    const o = r.opts
    r.ctx.replies(r.g, await r.client.snapshotRestoreVolumeDefinitions(o['fromResource'], o['fromSnapshot'], o['toResource']))
  })

  action(command(s, 'list-properties', 'lp', 'Prints the properties of a snapshot.', ['snapshot list-properties site1 snap1'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<resource_name>', 'resource definition')
    .argument('<snapshot_name>', 'snapshot'), ctx, async (r) => {
    const [rsc, snap] = r.args as [string, string]
    const found = (await r.client.snapshotList(rsc)).find((x) => x.name.toUpperCase() === snap.toUpperCase())
    printPropsOf(r, found, `Snapshot '${snap}' of resource '${rsc}' not found.`)
  })

  action(propertyArgs(command(s, 'set-property', 'sp', 'Sets a property of a snapshot; an empty value deletes it.', ['snapshot set-property site1 snap1 Aux/keep yes'])
    .argument('<resource_name>', 'resource definition')
    .argument('<snapshot_name>', 'snapshot')), ctx, async (r) => {
    const [rsc, snap] = r.args as [string, string]
    r.ctx.replies(r.g, await r.client.snapshotModify(rsc, snap, propertyModify(r, 2)))
  })
}

export function registerKeyValueStore(program: Command, ctx: CliContext): void {
  const kv = group(program, 'key-value-store', 'kv', 'Key-value store subcommands', ['key-value-store list', 'kv modify app1 owner web'])

  action(command(kv, 'list', 'l', 'Lists the key-value store instances.', ['key-value-store list'])
    .option('-p, --pastable', 'generate pastable output'), ctx, async (r) => {
    const list = await r.client.keyValueStoreList()
    printList(r, list, () => renderTable([{ name: 'Name' }], list.map((x) => [x.name]), r.opts['pastable'] === true ? { color: false, utf8: false } : r.g.style))
  })

  action(command(kv, 'show', 's', 'Lists the key-value pairs of an instance.', ['key-value-store show app1'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<instance>', 'key-value store instance'), ctx, async (r) => {
    const store = await r.client.keyValueStoreGet(String(r.args[0]))
    const keys = Object.keys(store.props).sort()
    printList(r, store, () => renderTable([{ name: 'Key' }, { name: 'Value' }], keys.map((k) => [k, store.props[k]!]), r.opts['pastable'] === true ? { color: false, utf8: false } : r.g.style))
  })

  action(command(kv, 'modify', 'm', 'Sets the value of a key (a missing value deletes the key); the instance is created on first use.', ['key-value-store modify app1 owner web', 'kv m app1 owner'])
    .argument('<instance>', 'key-value store instance')
    .argument('<key>', 'key')
    .argument('[value]', 'value; missing deletes the key', ''), ctx, async (r) => {
    const [name, key, value] = r.args as [string, string, string]
    r.ctx.replies(r.g, await r.client.keyValueStoreModify(name, value === '' ? { delete_props: [key] } : { override_props: { [key]: value } }))
  })

  action(command(kv, 'delete', 'd', 'Deletes a key-value store instance with all its keys.', ['key-value-store delete app1'])
    .argument('<instance>', 'key-value store instance'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.keyValueStoreDelete(String(r.args[0])))
  })
}
