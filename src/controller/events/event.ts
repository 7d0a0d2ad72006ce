/**
 * The cluster events stream's vocabulary (DESIGN.md §2.9): what an event is, its kinds and actions, and
 * how a subscriber's filter selects events. Transports (ws/, the SSE routes) and the hub share it;
 * docs/events.md is the user's description of the same.
 *
 * On the wire an event is one JSON object:
 *   {"revision":1042,"time":"2026-11-22T22:40:01.123456Z","kind":"resource","action":"create",
 *    "resource":"pvc-1","node":"alpha","object":{…LINSTOR's JSON of the object…}}
 * `revision` is the cluster revision of the unit (API call, or batch of satellite reports) that made
 * it; one unit may yield several events, all with its revision. `time` is when the unit became durable.
 */
import { nameKey } from '../../common/names.js'

/** Where the controller serves the events stream over WebSocket (the REST port). */
export const EVENTS_PATH = '/v1/x-blockyard/events'

/** The kinds of objects events are about, with LINSTOR's nouns. */
export const EVENT_KINDS = [
  'controller',
  'node',
  'storage_pool_definition',
  'storage_pool',
  'resource_group',
  'resource_definition',
  'resource',
  'volume',
  'snapshot',
  'key_value_store',
] as const
export type EventKind = (typeof EVENT_KINDS)[number]

/**
 * create / modify / delete: a committed change (a delete carries the object as it was last);
 * state: what a satellite reported changed (node connection, pool capacity, volume device, disk and replication
 * states, a resource's DRBD role, connections and may-promote);
 * current: the object as it is, sent to a subscriber that asked for the current state first.
 */
export type EventAction = 'create' | 'modify' | 'delete' | 'state' | 'current'

/** The names an event is about, as the object spells them. */
export interface EventNames {
  node?: string
  storage_pool?: string
  resource_group?: string
  resource?: string
  snapshot?: string
  key_value_store?: string
  volume_number?: number
}

/** An event ready to send: what filters look at, and its JSON text without revision and time. */
export class PreparedEvent {
  constructor(
    readonly kind: EventKind,
    readonly action: EventAction,
    /** Upper-cased name of the object itself (its resource for volumes, snapshots and resources). */
    readonly nameKey: string | null,
    /** Upper-cased name of the node it is on (nodes, storage pools, resources, volumes), else null. */
    readonly nodeKey: string | null,
    /** `"kind":…,"action":…,<names>,` — the event's JSON members between time and object. */
    readonly head: string,
    /** The object's JSON text. */
    readonly object: string,
  ) {}
}

/** An event as published: prepared, with its unit's revision and the time it became durable. */
export class ClusterEvent extends PreparedEvent {
  /** The whole JSON object, as sent. */
  readonly text: string

  constructor(e: PreparedEvent, readonly revision: number, time: string) {
    super(e.kind, e.action, e.nameKey, e.nodeKey, e.head, e.object)
    this.text = flat(eventText(revision, time, e))
  }
}

/**
 * `s` as one flat string. A text built by concatenation is a tree of pieces until first read whole;
 * an event's text is kept in the history and sent many times, so it is joined once, now. Reading it as
 * a number is what joins it.
 */
function flat(s: string): string {
  Number(s)
  return s
}

/** Which events a subscriber gets; null means "any". */
export interface EventFilter {
  readonly kinds: ReadonlySet<EventKind> | null
  /** Upper-cased object names (see PreparedEvent.nameKey). */
  readonly names: ReadonlySet<string> | null
  /** Upper-cased node names: events about objects on these nodes (and the nodes themselves). */
  readonly nodes: ReadonlySet<string> | null
}

export const ANY_EVENT: EventFilter = { kinds: null, names: null, nodes: null }

export function matches(f: EventFilter, e: PreparedEvent): boolean {
  if (f.kinds !== null && !f.kinds.has(e.kind)) return false
  if (f.names !== null && (e.nameKey === null || !f.names.has(e.nameKey))) return false
  if (f.nodes !== null && (e.nodeKey === null || !f.nodes.has(e.nodeKey))) return false
  return true
}

/**
 * A filter from lists as a client gives them (comma-separated query values, CLI options). Unknown
 * kinds are refused with the list of known ones; names are compared case-insensitively as LINSTOR does.
 */
export function eventFilter(kinds: readonly string[], names: readonly string[], nodes: readonly string[]): EventFilter {
  const ks = new Set<EventKind>()
  for (const k of kinds) {
    const norm = k.trim().toLowerCase().replace(/-/g, '_')
    if (norm === '') continue
    if (!(EVENT_KINDS as readonly string[]).includes(norm)) throw new RangeError(`unknown event kind '${k}'; known kinds: ${EVENT_KINDS.join(', ')}`)
    ks.add(norm as EventKind)
  }
  const keys = (xs: readonly string[]): ReadonlySet<string> | null => {
    const s = new Set(xs.map((x) => x.trim()).filter((x) => x !== '').map(nameKey))
    return s.size === 0 ? null : s
  }
  return { kinds: ks.size === 0 ? null : ks, names: keys(names), nodes: keys(nodes) }
}

/** `t` (ms since the epoch, fractional) as ISO 8601 UTC with microseconds. */
export function isoMicros(t: number): string {
  const ms = Math.floor(t)
  const micros = Math.floor((t - ms) * 1000)
  const iso = new Date(ms).toISOString() // …T22:40:01.123Z
  return `${iso.slice(0, -1)}${String(micros).padStart(3, '0')}Z`
}

/** The wire text of a prepared event with its revision and time. */
export function eventText(revision: number, time: string, e: PreparedEvent): string {
  return `{"revision":${revision},"time":"${time}",${e.head}"object":${e.object}}`
}
