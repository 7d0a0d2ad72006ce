/**
 * `blockyard storage-pool` (`sp`) and `blockyard storage-pool-definition` (`spd`): linstor's storage
 * pool commands; `create` has one sub-command per provider kind, as linstor's.
 */
import type { Command } from 'commander'
import type { ProviderKind, StoragePool } from '../../client/types.js'
import { formatSizeKib } from '../../common/units.js'
import { isErrorRc, rcSeverity } from '../../client/errors.js'
import type { CliContext } from '../context.js'
import { renderReply, type Cell } from '../output.js'
import { action, command, eachTarget, group, listOptions, listTable, printList, printPropsOf, propertyArgs, propertyModify } from './_common.js'

/** linstor's `storage-pool create` kinds: name, provider, what the driver argument is. */
const KINDS: readonly { name: string; kind: ProviderKind; arg: string | null; example: string }[] = [
  { name: 'lvm', kind: 'LVM', arg: 'the LVM volume group to use', example: 'storage-pool create lvm alpha pool1 vg0' },
  { name: 'lvmthin', kind: 'LVM_THIN', arg: 'the LVM thin pool to use, as VG/LV', example: 'sp c lvmthin alpha pool1 vg0/thin' },
  { name: 'zfs', kind: 'ZFS', arg: 'the zpool (or dataset) to use', example: 'storage-pool create zfs alpha pool1 tank' },
  { name: 'zfsthin', kind: 'ZFS_THIN', arg: 'the zpool (or dataset) to use', example: 'sp c zfsthin alpha pool1 tank' },
  { name: 'file', kind: 'FILE', arg: 'the directory to use', example: 'storage-pool create file alpha pool1 /var/lib/blockyard/pool1' },
  { name: 'filethin', kind: 'FILE_THIN', arg: 'the directory to use', example: 'sp c filethin alpha pool1 /var/lib/blockyard/pool1' },
  { name: 'diskless', kind: 'DISKLESS', arg: null, example: 'storage-pool create diskless alpha nodisk' },
]

function poolState(sp: StoragePool): Cell {
  const reports = sp.reports ?? []
  if (reports.some(isErrorRc)) return { text: 'Error', color: 'RED' }
  if (reports.some((r) => rcSeverity(r) === 'WARN')) return { text: 'Warning', color: 'YELLOW' }
  return { text: 'Ok', color: 'GREEN' }
}

/** The PoolName column: the driver's pool (directory, VG, zpool) as linstor shows it. */
function poolName(sp: StoragePool): string {
  return sp.props?.['StorDriver/StorPoolName'] ?? ''
}

export function registerStoragePool(program: Command, ctx: CliContext): void {
  const sp = group(program, 'storage-pool', 'sp', 'Storage pool subcommands', ['storage-pool list', 'sp c filethin alpha pool1 /var/lib/blockyard/pool1'])

  const create = group(sp, 'create', 'c', 'Defines a storage pool on a node; one sub-command per kind.', KINDS.map((k) => k.example).slice(4, 6))
  for (const k of KINDS) {
    const c = command(create, k.name, null, `Creates a ${k.kind} storage pool.`, [k.example])
      .argument('<node_name>', 'node of the new storage pool')
      .argument('<name>', 'name of the new storage pool')
    if (k.arg !== null) {
      c.argument('<driver_pool_name>', k.arg)
        .option('--shared-space <id>', 'identifier of backing storage shared by several nodes')
        .option('--external-locking', 'skip the internal locking for shared storage pools')
    }
    action(c, ctx, async (r) => {
      const [node, name, driverPool] = r.args as [string, string, string | undefined]
      r.ctx.replies(r.g, await r.client.storagePoolCreate(node, {
        storage_pool_name: name,
        provider_kind: k.kind,
        ...(driverPool !== undefined ? { props: { 'StorDriver/StorPoolName': driverPool } } : {}),
        ...(r.opts['sharedSpace'] !== undefined ? { free_space_mgr_name: r.opts['sharedSpace'] } : {}),
        ...(r.opts['externalLocking'] === true ? { external_locking: true } : {}),
      }))
    })
  }

  const columns = ['StoragePool', 'Node', 'Driver', 'PoolName', 'FreeCapacity', 'TotalCapacity', 'CanSnapshots', 'State', 'SharedName']
  action(listOptions(command(sp, 'list', 'l', 'Prints the storage pools of the cluster.', ['storage-pool list', 'sp l -n alpha -s pool1']), columns, false)
    .option('-n, --nodes <names...>', 'only on these nodes')
    .option('-s, --storage-pools <names...>', 'only these storage pools')
    .option('--props <props...>', 'only pools with these properties (KEY=VALUE)'), ctx, async (r) => {
    const pools = await r.client.storagePoolView({ nodes: r.opts['nodes'], storagePools: r.opts['storagePools'], props: r.opts['props'] })
    printList(r, pools, () => {
      const table = listTable(r, columns.map((name) => ({ name, right: name.endsWith('Capacity') })), pools.map((p) => {
        const sized = p.provider_kind !== 'DISKLESS' && p.free_capacity !== undefined
        const shared = p.free_space_mgr_name ?? ''
        return {
          cells: [
            p.storage_pool_name, p.node_name, p.provider_kind, poolName(p),
            sized ? formatSizeKib(p.free_capacity!) : '', sized && p.total_capacity !== undefined ? formatSizeKib(p.total_capacity) : '',
            p.supports_snapshots === true ? 'True' : 'False', poolState(p), shared.includes(':') ? '' : shared,
          ],
          props: p.props,
        }
      }))
      // linstor prints each pool's problem reports below the table, once each.
      const seen = new Set<string>()
      const reports = pools.flatMap((p) => p.reports ?? []).filter((rc) => {
        const key = `${rc.ret_code}|${rc.message}`
        return seen.has(key) ? false : (seen.add(key), true)
      })
      return table + reports.map((rc) => renderReply(rc, r.g.style)).join('')
    })
  })

  action(command(sp, 'delete', 'd', 'Removes a storage pool from nodes (refused while volumes use it).', ['storage-pool delete alpha pool1', 'sp d alpha beta pool1'])
    .option('-q, --quiet', 'accepted for compatibility with linstor (no question is asked)')
    .argument('<node_name...>', 'nodes, then the storage pool')
    .usage('[options] <node_name...> <name>'), ctx, async (r) => {
    const names = r.args[0] as string[]
    if (names.length < 2) throw new RangeError('storage-pool delete: give the node(s), then the storage pool')
    const pool = names[names.length - 1]!
    await eachTarget(r, names.slice(0, -1), (node) => r.client.storagePoolDelete(node, pool))
  })

  action(command(sp, 'list-properties', 'lp', 'Prints the properties of a storage pool.', ['storage-pool list-properties alpha pool1'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<node_name>', 'node')
    .argument('<storage_pool_name>', 'storage pool'), ctx, async (r) => {
    const [node, name] = r.args as [string, string]
    const pools = await r.client.storagePoolView({ nodes: [node], storagePools: [name] })
    printPropsOf(r, pools[0], `Storage pool '${name}' not found on node '${node}'.`)
  })

  action(propertyArgs(command(sp, 'set-property', 'sp', 'Sets a property of a storage pool; an empty value deletes it.', ['storage-pool set-property alpha pool1 MaxOversubscriptionRatio 3'])
    .argument('<node_name>', 'node')
    .argument('<name>', 'storage pool')), ctx, async (r) => {
    const [node, name] = r.args as [string, string]
    r.ctx.replies(r.g, await r.client.storagePoolModify(node, name, propertyModify(r, 2)))
  })
}

export function registerStoragePoolDefinition(program: Command, ctx: CliContext): void {
  const spd = group(program, 'storage-pool-definition', 'spd', 'Storage pool definition subcommands (the cluster-wide name of pools)', ['storage-pool-definition list'])

  action(command(spd, 'create', 'c', 'Defines a storage pool name for the cluster (storage-pool create also does).', ['storage-pool-definition create pool1'])
    .argument('<name>', 'storage pool name'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.storagePoolDefinitionCreate({ storage_pool_name: String(r.args[0]) }))
  })

  action(listOptions(command(spd, 'list', 'l', 'Prints the storage pool definitions.', ['storage-pool-definition list', 'spd l']), ['storagepool'])
    .option('--storage-pools <names...>', 'only these')
    .option('--props <props...>', 'only definitions with these properties (KEY=VALUE)'), ctx, async (r) => {
    const dfns = await r.client.storagePoolDefinitionList({ storagePools: r.opts['storagePools'], props: r.opts['props'] })
    printList(r, dfns, () => listTable(r, [{ name: 'StoragePool' }], dfns.map((d) => ({ cells: [d.storage_pool_name], props: d.props }))))
  })

  action(command(spd, 'delete', 'd', 'Removes a storage pool definition (refused while pools of that name exist).', ['storage-pool-definition delete pool1'])
    .argument('<name>', 'storage pool name'), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.storagePoolDefinitionDelete(String(r.args[0])))
  })

  action(command(spd, 'list-properties', 'lp', 'Prints the properties of a storage pool definition.', ['storage-pool-definition list-properties pool1'])
    .option('-p, --pastable', 'generate pastable output')
    .argument('<name>', 'storage pool name'), ctx, async (r) => {
    const dfns = await r.client.storagePoolDefinitionList({ storagePools: [String(r.args[0])] })
    printPropsOf(r, dfns[0], `Storage pool definition '${String(r.args[0])}' not found.`)
  })

  action(propertyArgs(command(spd, 'set-property', 'sp', 'Sets a property of a storage pool definition; an empty value deletes it.', ['storage-pool-definition set-property pool1 MaxOversubscriptionRatio 3'])
    .argument('<name>', 'storage pool name')), ctx, async (r) => {
    r.ctx.replies(r.g, await r.client.storagePoolDefinitionModify(String(r.args[0]), propertyModify(r, 1)))
  })
}
