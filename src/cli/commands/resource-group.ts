/** `blockyard resource-group` (`rg`) and `blockyard volume-group` (`vg`): linstor's group commands. */
import type { Command } from 'commander'
import type { AutoSelectFilter, VolumeGroup } from '../../client/types.js'
import type { CliContext } from '../context.js'
import { pyDict, pyList } from '../output.js'
import {
  action, command, group, intArg, listOptions, listTable, printList, printProps, printPropsOf, propertyArgs, propertyModify, selectFilter,
  selectFilterOptions, sizeArg,
} from './_common.js'

/** The SelectFilter column: linstor prints `str(SelectFilter)`, one `Key: value` line per set field. */
export function selectFilterText(f: AutoSelectFilter | undefined): string {
  if (f === undefined) return ''
  const lines: string[] = []
  if (f.place_count) lines.push(`PlaceCount: ${f.place_count}`)
  if (f.storage_pool !== undefined || (f.storage_pool_list ?? []).length > 0) lines.push(`StoragePool(s): ${(f.storage_pool_list ?? [f.storage_pool!]).join(', ')}`)
  if (f.diskless_on_remaining !== undefined) lines.push(`DisklessOnRemaining: ${f.diskless_on_remaining ? 'True' : 'False'}`)
  if ((f.not_place_with_rsc ?? []).length > 0) lines.push(`NotPlaceWithRsc: ${pyList(f.not_place_with_rsc!)}`)
  if (f.not_place_with_rsc_regex) lines.push(`NotPlaceWithRscRegex: ${f.not_place_with_rsc_regex}`)
  if ((f.replicas_on_same ?? []).length > 0) lines.push(`ReplicasOnSame: ${pyList(f.replicas_on_same!)}`)
  if ((f.replicas_on_different ?? []).length > 0) lines.push(`ReplicasOnDifferent: ${pyList(f.replicas_on_different!)}`)
  if (f.x_replicas_on_different_map !== undefined && Object.keys(f.x_replicas_on_different_map).length > 0) lines.push(`XReplicasOnDifferent: ${pyDict(f.x_replicas_on_different_map)}`)
  if ((f.layer_stack ?? []).length > 0) lines.push(`LayerStack: ${pyList(f.layer_stack!)}`)
  if ((f.provider_list ?? []).length > 0) lines.push(`ProviderList: ${pyList(f.provider_list!)}`)
  return lines.join('\n')
}

function peerSlots(v: string | undefined): number | undefined {
  return v === undefined ? undefined : intArg(v, '--peer-slots', 1, 31)
}

export function registerResourceGroup(program: Command, ctx: CliContext): void {
  const rg = group(program, 'resource-group', 'rg', 'Resource group subcommands', ['resource-group list', 'rg c web --place-count 2 --storage-pool pool1'])

  action(selectFilterOptions(command(rg, 'create', 'c', 'Creates a resource group: placement rules and defaults for the definitions spawned from it.', ['resource-group create web --place-count 2 --storage-pool pool1', 'rg c db --place-count 3 --replicas-on-different rack'])
    .option('-d, --description <text>', 'description of the group')
    .option('--peer-slots <n>', '(DRBD) peer slots of new resources'), 'place-count')
    .argument('<name>', 'name of the resource group'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.resourceGroupCreate({
      name: String(r.args[0]),
      select_filter: selectFilter(r.opts, 'placeCount'),
      ...(r.opts['description'] !== undefined ? { description: r.opts['description'] } : {}),
      ...(r.opts['peerSlots'] !== undefined ? { peer_slots: peerSlots(r.opts['peerSlots']) } : {}),
    }))
  })

  action(selectFilterOptions(command(rg, 'modify', 'm', 'Changes a resource group.', ['resource-group modify web --place-count 3'])
    .option('-d, --description <text>', 'description of the group')
    .option('--peer-slots <n>', '(DRBD) peer slots of new resources'), 'place-count')
    .argument('<name>', 'name of the resource group'), ctx, async (r) => {
    const f = selectFilter(r.opts, 'placeCount')
    r.ctx.replies(r.g, await r.client.resourceGroupModify(String(r.args[0]), {
      ...(Object.keys(f).length > 0 ? { select_filter: f } : {}),
      ...(r.opts['description'] !== undefined ? { description: r.opts['description'] } : {}),
      ...(r.opts['peerSlots'] !== undefined ? { peer_slots: peerSlots(r.opts['peerSlots']) } : {}),
    }))
  })

  const columns = ['ResourceGroup', 'SelectFilter', 'VlmNrs', 'Description']
  action(listOptions(command(rg, 'list', 'l', 'Prints the resource groups.', ['resource-group list', 'rg l -r web']), columns)
    .option('-r, --resource-groups <names...>', 'only these groups')
    .option('--props <props...>', 'only groups with these properties (KEY=VALUE)'), ctx, async (r) => {
    const groups = await r.client.resourceGroupList({ resourceGroups: r.opts['resourceGroups'], props: r.opts['props'] })
    if (r.g.machineReadable) {
      printList(r, groups, () => '')
      return
    }
    // linstor's table shows each group's volume numbers: one more call per group, as linstor makes.
    const vgs = new Map<string, VolumeGroup[]>()
    for (const g of groups) vgs.set(g.name, await r.client.volumeGroupList(g.name))
    r.ctx.io.out(listTable(r, columns.map((name) => ({ name })), groups.map((g) => ({
      cells: [g.name, selectFilterText(g.select_filter), (vgs.get(g.name) ?? []).map((v) => v.volume_number).join(','), g.description ?? ''],
      props: g.props,
    }))))
  })

  action(command(rg, 'delete', 'd', 'Removes a resource group (refused while resource definitions use it).', ['resource-group delete web'])
    .argument('<name>', 'name of the resource group'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.resourceGroupDelete(String(r.args[0])))
  })

  action(command(rg, 'list-properties', 'lp', 'Prints the properties of a resource group.', ['resource-group list-properties web'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<name>', 'resource group'), ctx, async (r) => {
    printProps(r, (await r.client.resourceGroupGet(String(r.args[0]))).props ?? {})
  })

  action(propertyArgs(command(rg, 'set-property', 'sp', 'Sets a property of a resource group; an empty value deletes it.', ['resource-group set-property web DrbdOptions/Net/protocol C'])
    .argument('<name>', 'resource group')), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.resourceGroupModify(String(r.args[0]), propertyModify(r, 1)))
  })

  action(selectFilterOptions(command(rg, 'spawn-resources', 'spawn', 'Creates a resource definition with volumes of the given sizes from a group, and places it as the group says.', ['resource-group spawn web site1 64M', 'rg spawn --place-count 1 web scratch 1G 512M'])
    .option('-p, --partial', 'allow fewer sizes than the group has volume groups')
    .option('-d, --definition-only', 'only create the definitions; do not place resources')
    .option('--external-name <name>', 'user-specified name (the resource name is derived from it)')
    .option('--peer-slots <n>', '(DRBD) peer slots of new resources')
    .option('--async', 'accepted for compatibility with linstor (the controller answers once the satellites are done)'), 'place-count', false)
    .argument('<resource_group_name>', 'group to spawn from')
    .argument('<resource_definition_name>', 'name of the new resource definition')
    .argument('[volume_sizes...]', 'sizes, one per volume group (64M, 1G; a bare number is GiB)'), ctx, async (r) => {
    const [grp, rd, sizes] = r.args as [string, string, string[]]
    const f = selectFilter(r.opts, 'placeCount')
    const ext = r.opts['externalName'] as string | undefined
    const work = r.client.resourceGroupSpawn(grp, {
      resource_definition_name: ext !== undefined ? '' : rd,
      ...(ext !== undefined ? { resource_definition_external_name: ext } : {}),
      volume_sizes: sizes.map(sizeArg),
      partial: r.opts['partial'] === true,
      definitions_only: r.opts['definitionOnly'] === true,
      select_filter: f,
      ...(r.opts['peerSlots'] !== undefined ? { peer_slots: peerSlots(r.opts['peerSlots']) } : {}),
    })
    r.ctx.replies(r.g, await r.ctx.progress(r.g, `Spawning ${rd} from ${grp}`, work))
  })
}

export function registerVolumeGroup(program: Command, ctx: CliContext): void {
  const vg = group(program, 'volume-group', 'vg', 'Volume group subcommands', ['volume-group list web'])

  action(command(vg, 'create', 'c', 'Adds a volume group to a resource group: spawned definitions get one volume per group.', ['volume-group create web', 'vg c -n 1 web'])
    .option('-n, --vlmnr <number>', 'volume number (the next free one when not given)')
    .option('--gross', 'sizes of this volume are gross sizes (including metadata)')
    .argument('<name>', 'resource group'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.volumeGroupCreate(String(r.args[0]), {
      ...(r.opts['vlmnr'] !== undefined ? { volume_number: intArg(r.opts['vlmnr'], '--vlmnr', 0, 65534) } : {}),
      ...(r.opts['gross'] === true ? { flags: ['GROSS_SIZE'] } : {}),
    }))
  })

  action(listOptions(command(vg, 'list', 'l', 'Prints the volume groups of a resource group.', ['volume-group list web']), ['volumenr', 'flags'])
    .argument('<name>', 'resource group'), ctx, async (r) => {
    const list = await r.client.volumeGroupList(String(r.args[0]))
    printList(r, list, () => listTable(r, [{ name: 'VolumeNr' }, { name: 'Flags' }], list.map((v) => ({ cells: [String(v.volume_number), (v.flags ?? []).join(', ')], props: v.props }))))
  })

  action(command(vg, 'delete', 'd', 'Removes a volume group.', ['volume-group delete web 0'])
    .argument('<name>', 'resource group')
    .argument('<volume_nr>', 'volume number'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.volumeGroupDelete(String(r.args[0]), intArg(String(r.args[1]), 'volume_nr')))
  })

  action(command(vg, 'list-properties', 'lp', 'Prints the properties of a volume group.', ['volume-group list-properties web 0'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<name>', 'resource group')
    .argument('<volume_nr>', 'volume number'), ctx, async (r) => {
    const nr = intArg(String(r.args[1]), 'volume_nr')
    const found = (await r.client.volumeGroupList(String(r.args[0]))).find((v) => v.volume_number === nr)
    printPropsOf(r, found, `Volume group ${nr} of resource group '${String(r.args[0])}' not found.`)
  })

  action(propertyArgs(command(vg, 'set-property', 'sp', 'Sets a property of a volume group; an empty value deletes it.', ['volume-group set-property web 0 Aux/tier fast'])
    .argument('<name>', 'resource group')
    .argument('<volume_nr>', 'volume number')), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.volumeGroupModify(String(r.args[0]), intArg(String(r.args[1]), 'volume_nr'), propertyModify(r, 2)))
  })
}
