/**
 * What the command groups share: declaring a command with its alias, help example and global options;
 * running its action with the context; list and property output; linstor's select-filter options.
 */
import { Command, Option } from 'commander'
import type { BlockyardClient } from '../../client/blockyard-client.js'
import type { ApiCallRc, AutoSelectFilter, Props } from '../../client/types.js'
import { parseSizeKib } from '../../common/units.js'
import { addGlobalOptions, UsageError, type CliContext, type Globals } from '../context.js'
import { EXIT, machineJson, renderTable, type Cell, type Column } from '../output.js'

/** What an action gets. */
export interface Run {
  ctx: CliContext
  g: Globals
  client: BlockyardClient
  /** Positional arguments, variadic ones as arrays. */
  args: unknown[]
  // Commander's option bag: the values' types follow each command's declarations.
  opts: Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Declares a sub-command of `parent` with linstor's long name, its short alias (if any), a description
 * and examples shown by `--help`.
 */
export function command(parent: Command, name: string, alias: string | null, description: string, examples: readonly string[]): Command {
  const c = parent.command(name).description(description)
  if (alias !== null && alias !== name) c.alias(alias)
  const shown = examples.map((e) => `  $ blockyard ${e}`).join('\n')
  c.addHelpText('after', `\nExample${examples.length > 1 ? 's' : ''}:\n${shown}`)
  return c
}

/** Declares a group (`node`, `resource`…): sub-commands only, help when called alone. */
export function group(parent: Command, name: string, alias: string | null, description: string, examples: readonly string[]): Command {
  const c = command(parent, name, alias, description, examples)
  addGlobalOptions(c)
  return c
}

/** Finishes a leaf command: global options, then the action, run in the context with failures reported. */
export function action(cmd: Command, ctx: CliContext, fn: (r: Run) => Promise<void>): Command {
  addGlobalOptions(cmd)
  cmd.action(async (...params: unknown[]) => {
    const self = params[params.length - 1] as Command
    let g: Globals | null = null
    try {
      g = ctx.globals(self)
      await fn({ ctx, g, client: ctx.client(g), args: self.processedArgs, opts: self.opts() })
    } catch (e) {
      ctx.report(e, g)
    }
  })
  return cmd
}

/**
 * One call per target, as linstor's commands that name several (nodes, definitions, interfaces): each
 * reply is printed, and a target that fails is reported while the others are still done.
 */
export async function eachTarget<T>(r: Run, targets: readonly T[], call: (target: T) => Promise<ApiCallRc[]>): Promise<void> {
  for (const target of targets) {
    try {
      r.ctx.replies(r.g, await call(target))
    } catch (e) {
      r.ctx.report(e, r.g)
    }
  }
}

/** linstor's list options shared by the table commands (`-s` is `--show-props` unless `shortShowProps` is false). */
export function listOptions(cmd: Command, columns: readonly string[], shortShowProps = true): Command {
  return cmd
    .option('-p, --pastable', 'generate pastable output (no colours, ASCII frames)')
    .addOption(new Option('-g, --groupby <columns...>', 'sort (group) the rows by these columns').choices(columns.map((c) => c.toLowerCase())))
    .option(`${shortShowProps ? '-s, ' : ''}--show-props <keys...>`, 'show these properties as columns; KEY=HEADER names the column')
}

/** Prints a list reply: `-m` JSON wrapped in a list as linstor prints it, or the table. */
export function printList(r: Run, data: unknown, table: () => string): void {
  if (r.g.machineReadable) r.ctx.io.out(machineJson([data]) + '\n')
  else r.ctx.io.out(table())
}

/**
 * A table with linstor's list options applied: `--show-props` adds property columns, `--groupby` sorts
 * the rows (by the first column unless given), `--pastable` drops colours and UTF-8 frames.
 */
export function listTable(r: Run, columns: readonly Column[], rows: readonly { cells: Cell[]; props?: Props }[]): string {
  const showProps = ((r.opts['showProps'] as string[] | undefined) ?? []).map((s) => {
    const [key, header] = s.split('=', 2) as [string, string | undefined]
    return { key, header: header ?? key }
  })
  const cols = [...columns, ...showProps.map((p) => ({ name: p.header }))]
  const groupBy = ((r.opts['groupby'] as string[] | undefined) ?? [columns[0]!.name.toLowerCase()])
    .map((name) => columns.findIndex((c) => c.name.toLowerCase() === name.toLowerCase())).filter((i) => i >= 0)
  const text = (c: Cell | undefined): string => (c === undefined ? '' : typeof c === 'object' ? c.text : String(c))
  const sorted = rows
    .map((row) => [...row.cells, ...showProps.map((p) => row.props?.[p.key] ?? '')])
    .sort((a, b) => {
      for (const i of groupBy) {
        const d = text(a[i]).localeCompare(text(b[i]), 'en', { numeric: true })
        if (d !== 0) return d
      }
      return 0
    })
  const style = r.opts['pastable'] === true ? { color: false, utf8: false } : r.g.style
  return renderTable(cols, sorted, style)
}

/** `list-properties`: linstor's Key/Value table, or `-m` as `[[{"key": …, "value": …}]]`. */
export function printProps(r: Run, props: Props): void {
  const keys = Object.keys(props).sort()
  if (r.g.machineReadable) {
    r.ctx.io.out(machineJson([keys.map((k) => ({ key: k, value: props[k] }))]) + '\n')
    return
  }
  const style = r.opts['pastable'] === true ? { color: false, utf8: false } : r.g.style
  r.ctx.io.out(renderTable([{ name: 'Key' }, { name: 'Value' }], keys.map((k) => [k, props[k]!]), style))
}

/**
 * `list-properties` of an object looked up first: its properties, or, when it was not found, linstor's
 * "Error: …" line with `notFound` and the not-found exit code.
 */
export function printPropsOf(r: Run, found: { props?: Props } | undefined, notFound: string): void {
  if (found === undefined) {
    r.ctx.io.err(`Error: ${notFound}\n`)
    r.ctx.fail(EXIT.OBJECT_NOT_FOUND)
    return
  }
  printProps(r, found.props ?? {})
}

/** `set-property … KEY [VALUE]` arguments (with `--aux`): an empty value deletes the property. */
export function propertyArgs(cmd: Command): Command {
  return cmd
    .argument('<key>', 'property key')
    .argument('[value]', 'value; empty or missing deletes the property', '')
    .option('--aux', 'the property is an auxiliary user property (Aux/KEY)')
}

/** The modification `set-property` asks for. */
export function propertyModify(r: Run, keyIndex: number): { override_props?: Props; delete_props?: string[] } {
  const key = (r.opts['aux'] === true ? 'Aux/' : '') + String(r.args[keyIndex])
  const value = String(r.args[keyIndex + 1] ?? '')
  return value === '' ? { delete_props: [key] } : { override_props: { [key]: value } }
}

/** A whole number argument (volume numbers, ports). */
export function intArg(v: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`${what}: '${v}' is not a whole number`)
  const n = Number(v)
  if (n < min || n > max) throw new UsageError(`${what}: ${n} is not in range [${min}, ${max}]`)
  return n
}

/** A size as linstor's clients take it (`64M`, `1G`, a bare number in GiB), in KiB. */
export function sizeArg(v: string): number {
  try {
    return parseSizeKib(v, 'GiB')
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
}

/** Layers linstor's `-l/--layer-list` accepts. */
export const LAYERS = ['drbd', 'luks', 'storage', 'nvme', 'writecache', 'cache', 'bcache'] as const
/** Storage providers `--providers` accepts. */
export const PROVIDERS = ['LVM', 'LVM_THIN', 'ZFS', 'ZFS_THIN', 'DISKLESS', 'FILE', 'FILE_THIN'] as const

/** `-l drbd,storage`: checked, lower-case as linstor sends it. */
export function layerList(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined
  const list = v.split(',').map((x) => x.trim().toLowerCase()).filter((x) => x !== '')
  for (const l of list) if (!(LAYERS as readonly string[]).includes(l)) throw new UsageError(`Layer '${l}' is not valid; possible layers are: ${LAYERS.join(',')}`)
  return list
}

function providerList(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined
  const list = v.split(',').map((x) => x.trim().toUpperCase()).filter((x) => x !== '')
  for (const p of list) if (!(PROVIDERS as readonly string[]).includes(p)) throw new UsageError(`Provider "${p}" not valid; possible providers are: ${PROVIDERS.join(',')}`)
  return list
}

/**
 * linstor's auto-select options (`add_auto_select_argparse_arguments`). `count` names the replica count
 * option: `--place-count` on groups, `--auto-place` on `resource create`. `-p` is `--providers` unless
 * the command uses it for itself (spawn's `--partial`).
 */
export function selectFilterOptions(cmd: Command, count: 'place-count' | 'auto-place', shortProviders = true): Command {
  return cmd
    .option('-s, --storage-pool [names...]', 'storage pool name(s) to use; an empty string removes them')
    .option('--diskless-storage-pool [names...]', 'diskless storage pool name(s) to use')
    .option(`--${count} <replicas>`, count === 'auto-place' ? 'auto-place the resource on this many nodes (+N: N more; max: all)' : 'number of replicas to place (+N: N more; 0 removes it)')
    .option('--do-not-place-with [resources...]', 'avoid nodes that already have these resources')
    .option('--do-not-place-with-regex [regex]', 'avoid nodes that have a resource whose name matches')
    .option('--replicas-on-same [props...]', 'place replicas on nodes with the same value of these Aux properties')
    .option('--replicas-on-different [props...]', 'place replicas on nodes with different values of these Aux properties')
    .option('--x-replicas-on-different [pairs...]', 'pairs PROP COUNT: at most COUNT replicas per value of Aux/PROP')
    .option('--diskless-on-remaining [bool]', 'add a diskless resource on every other node ("false" unsets)')
    .option('-l, --layer-list <layers>', `comma-separated layers, top first: ${LAYERS.join(',')}`)
    .option(shortProviders ? '-p, --providers <providers>' : '--providers <providers>', `comma-separated storage providers: ${PROVIDERS.join(',')}`)
}

/** A list option as linstor's `prepare_argparse_list`: not given → undefined, `''` → [], else the values. */
function listOpt(v: unknown, prefix = ''): string[] | undefined {
  if (v === undefined) return undefined
  const list = v === true ? [] : (v as string[])
  return list.length === 0 || list[0] === '' ? [] : list.map((x) => prefix + x)
}

/** The replica count: `N`, `+N` (additional), `max`/`all` (every node). */
export function placeCount(v: string | undefined): { place_count?: number; additional_place_count?: number } {
  if (v === undefined) return {}
  if (v.startsWith('+')) return { additional_place_count: intArg(v.slice(1), 'replica count') }
  if (v === 'max' || v === 'all') return { place_count: -1, additional_place_count: 0 }
  return { place_count: intArg(v, 'replica count') }
}

/** The AutoSelectFilter the select-filter options describe. */
export function selectFilter(opts: Record<string, unknown>, count: 'placeCount' | 'autoPlace'): AutoSelectFilter {
  const f: AutoSelectFilter = { ...placeCount(opts[count] as string | undefined) }
  const pools = listOpt(opts['storagePool'])
  if (pools !== undefined) f.storage_pool_list = pools
  const diskless = listOpt(opts['disklessStoragePool'])
  if (diskless !== undefined) f.storage_pool_diskless_list = diskless
  const notWith = listOpt(opts['doNotPlaceWith'])
  if (notWith !== undefined) f.not_place_with_rsc = notWith
  if (typeof opts['doNotPlaceWithRegex'] === 'string') f.not_place_with_rsc_regex = opts['doNotPlaceWithRegex']
  const same = listOpt(opts['replicasOnSame'], 'Aux/')
  if (same !== undefined) f.replicas_on_same = same
  const different = listOpt(opts['replicasOnDifferent'], 'Aux/')
  if (different !== undefined) f.replicas_on_different = different
  const x = listOpt(opts['xReplicasOnDifferent'])
  if (x !== undefined) {
    if (x.length % 2 !== 0) throw new UsageError('--x-replicas-on-different takes pairs: PROPERTY COUNT …')
    const map: Record<string, number> = {}
    for (let i = 0; i < x.length; i += 2) map[`Aux/${x[i]}`] = intArg(x[i + 1]!, '--x-replicas-on-different')
    f.x_replicas_on_different_map = map
  }
  const dor = disklessOnRemaining(opts)
  if (dor !== undefined) f.diskless_on_remaining = dor
  const layers = layerList(opts['layerList'] as string | undefined)
  if (layers !== undefined) f.layer_stack = layers
  const providers = providerList(opts['providers'] as string | undefined)
  if (providers !== undefined) f.provider_list = providers
  return f
}

/** `--diskless-on-remaining [bool]`: given alone → true, "false" → false. */
export function disklessOnRemaining(opts: Record<string, unknown>): boolean | undefined {
  const v = opts['disklessOnRemaining']
  if (v === undefined) return undefined
  return v === true || String(v).toLowerCase() !== 'false'
}
