/** `blockyard resource-definition` (`rd`) and `blockyard volume-definition` (`vd`): linstor's definition commands. */
import type { Command } from 'commander'
import type { ResourceDefinition } from '../../client/types.js'
import { formatSizeKib } from '../../common/units.js'
import { UsageError, type CliContext } from '../context.js'
import type { Cell } from '../output.js'
import {
  action, command, disklessOnRemaining, eachTarget, group, intArg, layerList, listOptions, listTable, printList, printProps, printPropsOf, propertyArgs,
  propertyModify, selectFilter, selectFilterOptions, sizeArg,
} from './_common.js'

function rdState(rd: ResourceDefinition): Cell {
  const flags = rd.flags ?? []
  if (flags.includes('DELETE') || flags.includes('FAILED')) return { text: 'DELETE', color: 'RED' }
  if (flags.includes('CLONING') || flags.includes('RESTORE_TARGET')) return { text: 'CLONING', color: 'YELLOW' }
  return { text: 'ok', color: 'DARKGREEN' }
}

export function registerResourceDefinition(program: Command, ctx: CliContext): void {
  const rd = group(program, 'resource-definition', 'rd', 'Resource definition subcommands', ['resource-definition list', 'rd c site1'])

  action(command(rd, 'create', 'c', 'Defines a resource: its name, layers and group; volumes come with volume-definition create.', ['resource-definition create site1', 'rd c --layer-list drbd,storage --resource-group web site2'])
    .option('-p, --port <port>', '(DRBD) preferred TCP port')
    .option('-e, --external-name <name>', 'user-specified name (the resource name is derived from it)')
    .option('-l, --layer-list <layers>', 'comma-separated layers, top first: drbd,luks,storage,nvme,writecache,cache,bcache')
    .option('--peer-slots <n>', '(DRBD) peer slots of new resources')
    .option('--resource-group <name>', 'attach the definition to this resource group (default DfltRscGrp)')
    .argument('[name]', 'name of the new resource definition (ignored with --external-name)'), ctx, async (r) => {
    const name = r.args[0] as string | undefined
    const ext = r.opts['externalName'] as string | undefined
    if (name === undefined && ext === undefined) throw new UsageError('At least resource name or external name has to be specified.')
    const layers = layerList(r.opts['layerList'])
    r.ctx.replies(r.g, await r.client.resourceDefinitionCreate({
      resource_definition: {
        ...(ext !== undefined ? { external_name: ext } : { name: name! }),
        ...(layers !== undefined ? { layer_data: layers.map((type) => ({ type })) } : {}),
        ...(r.opts['resourceGroup'] !== undefined ? { resource_group_name: r.opts['resourceGroup'] } : {}),
      },
      ...(r.opts['port'] !== undefined ? { drbd_port: intArg(r.opts['port'], '--port', 1, 65535) } : {}),
      ...(r.opts['peerSlots'] !== undefined ? { drbd_peer_slots: intArg(r.opts['peerSlots'], '--peer-slots', 1, 31) } : {}),
    }))
  })

  action(selectFilterOptions(command(rd, 'auto-place', 'ap', 'Places the resources of a definition on nodes chosen by the filter.', ['resource-definition auto-place site1 --place-count 2'])
    .option('--nvme-initiator', 'mark the resources as NVMe initiators')
    .option('--drbd-diskless', 'mark the resources as DRBD diskless'), 'place-count')
    .argument('<resource_definition_name>', 'definition to place'), ctx, async (r) => {
    const name = String(r.args[0])
    const f = selectFilter(r.opts, 'placeCount')
    if (r.opts['drbdDiskless'] === true) f.diskless_type = 'DRBD_DISKLESS'
    else if (r.opts['nvmeInitiator'] === true) f.diskless_type = 'NVME_INITIATOR'
    const work = r.client.resourceAutoPlace(name, { select_filter: f, diskless_on_remaining: disklessOnRemaining(r.opts) ?? null, ...(f.layer_stack !== undefined ? { layer_list: f.layer_stack } : {}) })
    r.ctx.replies(r.g, await r.ctx.progress(r.g, `Placing ${name}`, work))
  })

  action(command(rd, 'modify', 'm', 'Changes a resource definition: peer slots, DRBD port, resource group.', ['resource-definition modify --resource-group web site1'])
    .option('--peer-slots <n>', '(DRBD) peer slots of new resources')
    .option('-p, --port <port>', '(DRBD) preferred TCP port')
    .option('--resource-group <name>', 'move the definition to this resource group')
    .argument('<name>', 'resource definition'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.resourceDefinitionModify(String(r.args[0]), {
      ...(r.opts['peerSlots'] !== undefined ? { drbd_peer_slots: intArg(r.opts['peerSlots'], '--peer-slots', 1, 31) } : {}),
      ...(r.opts['port'] !== undefined ? { drbd_port: intArg(r.opts['port'], '--port', 1, 65535) } : {}),
      ...(r.opts['resourceGroup'] !== undefined ? { resource_group: r.opts['resourceGroup'] } : {}),
    }))
  })

  const columns = ['ResourceName', 'ResourceGroup', 'Layers', 'State']
  action(listOptions(command(rd, 'list', 'l', 'Prints the resource definitions.', ['resource-definition list', 'rd l -r site1 site2']), columns)
    .option('-r, --resource-definitions <names...>', 'only these definitions')
    .option('-e, --external-name', 'show the user-specified names')
    .option('--props <props...>', 'only definitions with these properties (KEY=VALUE)')
    .option('--show-preferred-drbd-ports', 'show the preferred DRBD TCP ports'), ctx, async (r) => {
    const list = await r.client.resourceDefinitionList({ resourceDefinitions: r.opts['resourceDefinitions'], props: r.opts['props'] })
    printList(r, list, () => {
      const ext = r.opts['externalName'] === true
      const ports = r.opts['showPreferredDrbdPorts'] === true
      const cols = [{ name: 'ResourceName' }, ...(ext ? [{ name: 'External' }] : []), ...(ports ? [{ name: 'Port' }] : []), { name: 'ResourceGroup' }, { name: 'Layers' }, { name: 'State' }]
      return listTable(r, cols, list.map((d) => {
        const drbd = (d.layer_data ?? []).find((l) => l.type === 'DRBD')
        const port = drbd?.data?.['port']
        return {
          cells: [
            d.name,
            ...(ext ? [d.external_name ?? '-'] : []),
            ...(ports ? [typeof port === 'number' && port > 0 ? String(port) : '-'] : []),
            d.resource_group_name ?? '', (d.layer_data ?? []).map((l) => l.type).join(','), rdState(d),
          ],
          props: d.props,
        }
      }))
    })
  })

  action(command(rd, 'delete', 'd', 'Removes resource definitions with all their resources (their satellites undeploy them first).', ['resource-definition delete site1', 'rd d site1 site2'])
    .option('--async', 'accepted for compatibility with linstor (the controller answers once the satellites are done)')
    .argument('<name...>', 'resource definitions'), ctx, async (r) => {
    await eachTarget(r, r.args[0] as string[], (name) => r.ctx.progress(r.g, `Deleting ${name}`, r.client.resourceDefinitionDelete(name)))
  })

  action(command(rd, 'list-properties', 'lp', 'Prints the properties of a resource definition.', ['resource-definition list-properties site1'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<resource_name>', 'resource definition'), ctx, async (r) => {
    printProps(r, (await r.client.resourceDefinitionGet(String(r.args[0]))).props ?? {})
  })

  action(propertyArgs(command(rd, 'set-property', 'sp', 'Sets a property of a resource definition; an empty value deletes it.', ['resource-definition set-property site1 DrbdOptions/Net/protocol C'])
    .argument('<name>', 'resource definition')), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.resourceDefinitionModify(String(r.args[0]), propertyModify(r, 1)))
  })
}

export function registerVolumeDefinition(program: Command, ctx: CliContext): void {
  const vd = group(program, 'volume-definition', 'vd', 'Volume definition subcommands', ['volume-definition list', 'vd c site1 64M'])
  const sizeHelp = 'size: a whole number with an optional unit (K, M, G, T, P binary; kB, MB, GB… decimal); a bare number is GiB'

  action(command(vd, 'create', 'c', 'Adds a volume of the given size to a resource definition.', ['volume-definition create site1 64M', 'vd c -n 1 --storage-pool pool1 site1 1G'])
    .option('-s, --storage-pool <name>', 'storage pool of this volume')
    .option('-n, --vlmnr <number>', 'volume number (the next free one when not given)')
    .option('-m, --minor <minor>', '(DRBD) minor number (allocated when not given)')
    .option('--gross', 'the size includes the metadata')
    .argument('<resource_name>', 'resource definition')
    .argument('<size>', sizeHelp), ctx, async (r) => {
    const [rsc, size] = r.args as [string, string]
    r.ctx.replies(r.g, await r.client.volumeDefinitionCreate(rsc, {
      volume_definition: {
        size_kib: sizeArg(size),
        flags: r.opts['gross'] === true ? ['GROSS_SIZE'] : [],
        ...(r.opts['vlmnr'] !== undefined ? { volume_number: intArg(r.opts['vlmnr'], '--vlmnr', 0, 65534) } : {}),
        ...(r.opts['storagePool'] !== undefined ? { props: { StorPoolName: r.opts['storagePool'] } } : {}),
      },
      ...(r.opts['minor'] !== undefined ? { drbd_minor_number: intArg(r.opts['minor'], '--minor') } : {}),
    }))
  })

  const columns = ['ResourceName', 'VolumeNr', 'VolumeMinor', 'Size', 'Gross', 'State']
  action(listOptions(command(vd, 'list', 'l', 'Prints the volume definitions.', ['volume-definition list', 'vd l -r site1']), columns)
    .option('-r, --resource-definitions <names...>', 'only of these definitions')
    .option('-e, --external-name', 'show the user-specified names'), ctx, async (r) => {
    const list = await r.client.resourceDefinitionList({ resourceDefinitions: r.opts['resourceDefinitions'], withVolumeDefinitions: true })
    printList(r, list, () => {
      const ext = r.opts['externalName'] === true
      const cols = [{ name: 'ResourceName' }, ...(ext ? [{ name: 'External' }] : []), { name: 'VolumeNr' }, { name: 'VolumeMinor' }, { name: 'Size' }, { name: 'Gross' }, { name: 'State', color: 'DARKGREEN' as const }]
      return listTable(r, cols, list.flatMap((d) => (d.volume_definitions ?? []).map((v) => {
        const flags = v.flags ?? []
        const minor = (v.layer_data ?? []).find((l) => l.type === 'DRBD')?.data?.['minor_number']
        const state: Cell = flags.includes('DELETE') ? { text: 'DELETING', color: 'RED' } : flags.includes('RESIZE') ? { text: 'resizing', color: 'DARKPINK' } : { text: 'ok', color: 'DARKGREEN' }
        return {
          cells: [d.name, ...(ext ? [d.external_name ?? '-'] : []), String(v.volume_number), minor !== undefined ? String(minor) : '', formatSizeKib(v.size_kib), flags.includes('GROSS_SIZE') ? '+' : '', state],
          props: v.props,
        }
      })))
    })
  })

  action(command(vd, 'delete', 'd', 'Removes a volume definition and its volumes.', ['volume-definition delete site1 0'])
    .option('--async', 'accepted for compatibility with linstor (the controller answers once the satellites are done)')
    .argument('<resource_name>', 'resource definition')
    .argument('<volume_nr>', 'volume number'), ctx, async (r) => {
    const [rsc, nr] = r.args as [string, string]
    r.ctx.replies(r.g, await r.ctx.progress(r.g, `Deleting volume ${nr} of ${rsc}`, r.client.volumeDefinitionDelete(rsc, intArg(nr, 'volume_nr'))))
  })

  action(command(vd, 'set-size', 'size', 'Changes the size of a volume (shrinking only while the definition has no resources).', ['volume-definition set-size site1 0 128M'])
    .option('--gross', 'the size includes the metadata')
    .argument('<resource_name>', 'resource definition')
    .argument('<volume_nr>', 'volume number')
    .argument('<size>', sizeHelp), ctx, async (r) => {
    const [rsc, nr, size] = r.args as [string, string, string]
    const work = r.client.volumeDefinitionModify(rsc, intArg(nr, 'volume_nr'), { size_kib: sizeArg(size), ...(r.opts['gross'] === true ? { flags: ['GROSS_SIZE'] } : {}) })
    r.ctx.replies(r.g, await r.ctx.progress(r.g, `Resizing volume ${nr} of ${rsc}`, work))
  })

  action(command(vd, 'list-properties', 'lp', 'Prints the properties of a volume definition.', ['volume-definition list-properties site1 0'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<resource_definition>', 'resource definition')
    .argument('<volume_nr>', 'volume number'), ctx, async (r) => {
    const nr = intArg(String(r.args[1]), 'volume_nr')
    const found = (await r.client.volumeDefinitionList(String(r.args[0]))).find((v) => v.volume_number === nr)
    printPropsOf(r, found, `Volume definition ${nr} of '${String(r.args[0])}' not found.`)
  })

  action(propertyArgs(command(vd, 'set-property', 'sp', 'Sets a property of a volume definition; an empty value deletes it.', ['volume-definition set-property site1 0 Aux/tier fast'])
    .argument('<resource_name>', 'resource definition')
    .argument('<volume_nr>', 'volume number')), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.volumeDefinitionModify(String(r.args[0]), intArg(String(r.args[1]), 'volume_nr'), propertyModify(r, 2)))
  })
}
