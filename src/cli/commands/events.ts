/**
 * `blockyard events`: follows the controller's cluster events (docs/events.md) until interrupted, one
 * line per event, or with `-m` one JSON object per line as the controller sends it. Blockyard's own
 * command (LINSTOR's client has none): its options follow the stream's query.
 */
import type { Command } from 'commander'
import { subscribeEvents, type BlockyardEvent } from '../../client/events.js'
import { formatSizeKib } from '../../common/units.js'
import { UsageError, type CliContext } from '../context.js'
import { action, command } from './_common.js'
import { failedConnections, replicationCell } from './resource.js'

const list = (v: unknown): string[] | undefined => (typeof v !== 'string' ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s !== ''))

export function registerEvents(program: Command, ctx: CliContext): void {
  const cmd = command(program, 'events', null, 'Follows the cluster events (changes and satellite reports) until interrupted.', [
    'events --current',
    'events --kinds resource,volume --names pvc-1',
    '-m events --since 1042 | jq .',
  ])
    .option('--kinds <list>', 'only these kinds, comma-separated: controller, node, storage-pool-definition, storage-pool, resource-group, resource-definition, resource, volume, snapshot, key-value-store')
    .option('--names <list>', 'only objects of these names, comma-separated (a volume\'s or snapshot\'s resource)')
    .option('--nodes <list>', 'only objects on these nodes, comma-separated (and the nodes themselves)')
    .option('--current', 'print the current state of every matching object first')
    .option('--since <revision>', 'start after this cluster revision (what a previous run printed last)')
  action(cmd, ctx, async (r) => {
    const sinceText = r.opts['since'] as string | undefined
    if (sinceText !== undefined && !/^\d+$/.test(sinceText)) throw new UsageError(`--since: '${sinceText}' is not a revision (a whole number)`)
    const out = r.g.machineReadable ? (e: BlockyardEvent): string => JSON.stringify(e) : eventLine
    const print = (events: readonly BlockyardEvent[]): void => r.ctx.io.out(events.map((e) => out(e) + '\n').join(''))
    const sub = subscribeEvents(r.client.urls, {
      kinds: list(r.opts['kinds']),
      names: list(r.opts['names']),
      nodes: list(r.opts['nodes']),
      current: r.opts['current'] === true,
      since: sinceText !== undefined ? Number(sinceText) : undefined,
      connectTimeoutMs: r.g.timeoutMs,
    }, {
      onCurrent: (_revision, events) => print(events),
      onEvents: print,
      onResync: (i) => r.ctx.io.err(`events after revision ${i.from} are no longer kept (the controller has ${i.oldest} to ${i.revision}): continuing from the current state\n`),
      onDisconnect: (i) => r.ctx.io.err(`connection to ${i.url} lost (${i.code}${i.reason !== '' ? ` ${i.reason}` : ''}); reconnecting in ${(i.retryInMs / 1000).toFixed(1)} s\n`),
      onConnect: (i) => {
        if (i.reconnect) r.ctx.io.err(`reconnected to ${i.url}\n`)
      },
    })
    // Until Ctrl-C (or a TERM): the end of a follow, not a failure.
    const stop = (): void => void sub.close()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    try {
      await sub.done
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
  })
}

/** One event as a line: time, revision, kind, action, names, and a short state summary. */
export function eventLine(e: BlockyardEvent): string {
  const names: string[] = []
  if (e.resource !== undefined) names.push(`resource=${e.resource}`)
  if (e.snapshot !== undefined) names.push(`snapshot=${e.snapshot}`)
  if (e.volume_number !== undefined) names.push(`volume=${e.volume_number}`)
  if (e.storage_pool !== undefined) names.push(`pool=${e.storage_pool}`)
  if (e.node !== undefined) names.push(`node=${e.node}`)
  if (e.resource_group !== undefined) names.push(`group=${e.resource_group}`)
  if (e.key_value_store !== undefined) names.push(`store=${e.key_value_store}`)
  const s = summary(e)
  return `${e.time} ${e.revision} ${e.kind} ${e.action}${names.length > 0 ? ' ' + names.join(' ') : ''}${s !== '' ? '  ' + s : ''}`
}

/** What a reader wants to see of the object's state at a glance. */
function summary(e: BlockyardEvent): string {
  const parts: (string | undefined)[] = []
  switch (e.kind) {
    case 'node':
      parts.push(e.object.type, e.object.connection_status)
      break
    case 'storage_pool': {
      const sp = e.object
      parts.push(sp.provider_kind)
      if (sp.free_capacity !== undefined && sp.total_capacity !== undefined && sp.provider_kind !== 'DISKLESS') parts.push(`${formatSizeKib(sp.free_capacity)} free of ${formatSizeKib(sp.total_capacity)}`)
      break
    }
    case 'resource_definition':
      parts.push(`${e.object.volume_definitions?.length ?? 0} volume(s)`, e.object.resource_group_name !== undefined ? `group ${e.object.resource_group_name}` : undefined)
      break
    case 'resource': {
      const states = (e.object.volumes ?? []).map((v) => v.state?.disk_state ?? 'Unknown')
      parts.push(states.length > 0 ? states.join(',') : undefined, e.object.state?.in_use === true ? 'InUse' : undefined, failedConnections(e.object))
      break
    }
    case 'volume':
      if ('state' in e.object || 'device_path' in e.object) {
        const repl = replicationCell(e.object)
        parts.push(e.object.device_path, e.object.state?.disk_state, (typeof repl === 'object' ? repl.text : String(repl)).replaceAll('\n', ', '))
      }
      break
    case 'snapshot':
      parts.push(e.object.nodes !== undefined ? `on ${e.object.nodes.join(',')}` : undefined)
      break
    case 'resource_group':
      parts.push(e.object.select_filter?.place_count !== undefined ? `place_count ${e.object.select_filter.place_count}` : undefined)
      break
  }
  const flags = 'flags' in e.object ? e.object.flags : undefined
  if (flags !== undefined && flags.length > 0) parts.push(flags.join(','))
  return parts.filter((p): p is string => p !== undefined && p !== '').join(' ')
}
