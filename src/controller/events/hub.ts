/**
 * The events hub: turns every committed unit into cluster events, keeps a bounded history of them for
 * clients that resume, and hands each durable batch to the transports (ws/, the SSE routes).
 *
 * Events are prepared inside the unit's SQLite transaction (the store's `inTransaction`), when the model
 * holds exactly the state the unit left: later units may change the same objects before this one is
 * durable, and the event must show the object as this unit made it. They are published, stamped with
 * the time, once the unit is durable (`committed`), in revision order: a client never hears of a change
 * that a crash could still undo.
 *
 * History: the newest events, up to a byte budget, in memory. A client resuming with `since` gets every
 * event after it when the history reaches back that far, or `too-old` (resync from the current state).
 * After a controller restart the history starts empty at the revision the database holds: a client that
 * had seen everything resumes without loss; one that was behind must resync.
 */
import { logger } from '../../common/log.js'
import { nameKey } from '../../common/names.js'
import { stringifyJson } from '../../common/json.js'
import { resourceJsonText, volumeJson } from '../api/_resources.js'
import { kvsJson } from '../api/key-value-store.js'
import { nodeJson } from '../api/nodes.js'
import { rscDfnJson } from '../api/resource-definitions.js'
import { rscGrpJson } from '../api/resource-groups.js'
import { snapshotDfnJson } from '../api/snapshots.js'
import { storPoolDfnJson } from '../api/storage-pool-definitions.js'
import { storPoolJson } from '../api/storage-pools.js'
import type { Committed, Store } from '../db/store.js'
import { TABLES } from '../db/tables.js'
import type { Observed, Op } from '../db/tx.js'
import type { Model } from '../model/model.js'
import type { Resource } from '../model/types.js'
import { ClusterEvent, isoMicros, matches, type EventAction, type EventFilter, type EventKind, type EventNames, PreparedEvent } from './event.js'

const log = logger('events')

export interface EventHubOptions {
  /** Bytes of event text kept for resuming clients (oldest dropped first; ~1 KiB per resource event). */
  historyBytes: number
}

/** What a resuming client gets: the events after its revision, or why it cannot resume. */
export type Resumed =
  | { ok: true; events: readonly ClusterEvent[] }
  | { ok: false; reason: 'too-old' | 'unknown'; oldest: number; revision: number }

export class EventHub {
  /** Prepared events of written units, by revision, until they are durable. */
  private readonly prepared = new Map<number, PreparedEvent[]>()
  /** Published events, oldest first, from index `head` on. */
  private history: ClusterEvent[] = []
  private head = 0
  private historyBytes = 0
  private readonly maxHistoryBytes: number
  /** Every event after this revision is in the history. */
  private floor: number
  /** The revision of the newest published unit. */
  private published: number
  /** Which objects exist, to tell a create from a modify: `kind\0key…`. */
  private readonly known = new Set<string>()
  /** The volume numbers of each resource (by its `known` key), to tell volumes gained and lost. */
  private readonly volumes = new Map<string, Set<number>>()
  private readonly listeners = new Set<(events: readonly ClusterEvent[]) => void>()
  private readonly stopFollowing: () => void

  constructor(private readonly store: Store, private readonly model: () => Model, opts: EventHubOptions) {
    this.maxHistoryBytes = opts.historyBytes
    this.floor = store.revision
    this.published = store.revision
    this.learn(model())
    this.stopFollowing = store.onCommit({
      inTransaction: (group) => this.prepare(group),
      committed: (group) => this.publish(group),
    })
  }

  /** The revision of the newest event published: a subscriber is up to date at it. */
  get revision(): number {
    return this.published
  }

  /** The oldest revision a client may resume from (`since`). */
  get oldest(): number {
    return this.floor
  }

  /** Hear of every published batch (in revision order); returns the function that stops it. */
  onEvents(fn: (events: readonly ClusterEvent[]) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** The events after `since` that pass `filter`, as far as the history reaches. */
  since(since: number, filter: EventFilter): Resumed {
    if (since > this.published) return { ok: false, reason: 'unknown', oldest: this.floor, revision: this.published }
    if (since < this.floor) return { ok: false, reason: 'too-old', oldest: this.floor, revision: this.published }
    const out: ClusterEvent[] = []
    for (let i = this.firstAfter(since); i < this.history.length; i++) {
      const e = this.history[i]!
      if (matches(filter, e)) out.push(e)
    }
    return { ok: true, events: out }
  }

  /**
   * The current state of every object that passes `filter`, as `current` events, and the revision it
   * is the state at: the model may already hold written units not yet published, so a subscriber
   * taking it skips live events up to that revision.
   */
  current(filter: EventFilter): { revision: number; events: PreparedEvent[] } {
    const m = this.model()
    const out: PreparedEvent[] = []
    const add = (e: PreparedEvent | null): void => {
      if (e !== null && matches(filter, e)) out.push(e)
    }
    const wants = (k: EventKind): boolean => filter.kinds === null || filter.kinds.has(k)
    if (wants('controller')) add(controllerEvent(m, 'current'))
    // Resources also when only their volumes are wanted.
    for (const [kind, o] of objectsOf(m, (k) => wants(EVENT_KIND[k]) || (k === 'resource' && wants('volume')))) {
      if (wants(EVENT_KIND[kind])) add(objectEvent(m, 'current', kind, o))
      if (kind === 'resource' && wants('volume')) for (const v of (o as Resource).volumes) add(volumeEvent(m, 'current', o as Resource, v.vlmNr))
    }
    return { revision: this.store.revision, events: out }
  }

  /** Stop following the store. */
  close(): void {
    this.stopFollowing()
    this.listeners.clear()
  }

  /** Index of the first history event with a revision above `rev`. */
  private firstAfter(rev: number): number {
    let lo = this.head
    let hi = this.history.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.history[mid]!.revision <= rev) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private learn(m: Model): void {
    for (const [kind, o] of objectsOf(m, () => true)) {
      // Keyed as the store keys the object in a Tx op (fromOp compares with those).
      const key = objKey(kind, TABLES[kind].keyOf(o as never))
      this.known.add(key)
      if (kind === 'resource') this.volumes.set(key, new Set((o as Resource).volumes.map((v) => v.vlmNr)))
    }
  }

  private prepare(group: readonly Committed[]): void {
    const m = this.model()
    for (const c of group) {
      const events: PreparedEvent[] = []
      try {
        for (const op of c.tx.changes()) this.fromOp(m, op, events)
        this.fromObservations(m, c.tx.observations(), events)
      } catch (e) {
        // A bug in turning a change into an event must not fail the commit (that would stop the
        // controller); the unit's events are lost and the log says so.
        log.error('cannot prepare the events of a unit', { revision: c.revision, error: e instanceof Error ? e.stack : String(e) })
      }
      this.prepared.set(c.revision, events)
    }
  }

  private fromOp(m: Model, op: Op, out: PreparedEvent[]): void {
    if (op.kind === 'ctrlProps') {
      out.push(controllerEvent(m, 'modify'))
      return
    }
    const key = objKey(op.kind, op.key)
    const value = op.value ?? op.old
    let action: EventAction
    if (op.value === null) {
      action = 'delete'
      this.known.delete(key)
    } else {
      action = this.known.has(key) ? 'modify' : 'create'
      this.known.add(key)
    }
    const e = objectEvent(m, action, op.kind, value)
    if (e !== null) out.push(e)
    if (op.kind === 'resource') this.volumeChanges(m, key, value as Resource, op.value === null, out)
  }

  /** Volumes a resource gained or lost in this change (and all of them when it is deleted). */
  private volumeChanges(m: Model, key: string, r: Resource, deleted: boolean, out: PreparedEvent[]): void {
    const before = this.volumes.get(key) ?? new Set<number>()
    const now = new Set(deleted ? [] : r.volumes.map((v) => v.vlmNr))
    for (const nr of before) if (!now.has(nr)) out.push(volumeGone(r, nr))
    for (const nr of now) {
      if (before.has(nr)) continue
      const e = volumeEvent(m, 'create', r, nr)
      if (e !== null) out.push(e)
    }
    if (deleted) this.volumes.delete(key)
    else this.volumes.set(key, now)
  }

  private fromObservations(m: Model, seen: Iterable<Observed>, out: PreparedEvent[]): void {
    const resources = new Set<Resource>()
    for (const o of seen) {
      switch (o.kind) {
        case 'node': {
          const n = m.getNode(o.node)
          if (n !== undefined) out.push(objectEvent(m, 'state', 'node', n)!)
          break
        }
        case 'storPool': {
          const sp = m.getStorPool(o.node, o.pool)
          if (sp !== undefined) out.push(objectEvent(m, 'state', 'storPool', sp)!)
          break
        }
        case 'resource': {
          const r = m.getResource(o.rsc, o.node)
          if (r !== undefined) resources.add(r)
          break
        }
        case 'volume': {
          const r = m.getResource(o.rsc, o.node)
          if (r === undefined) break
          const e = volumeEvent(m, 'state', r, o.vlmNr)
          if (e !== null) out.push(e)
          resources.add(r)
        }
      }
    }
    // A resource's state is its own DRBD state and its volumes': one event per resource where either changed.
    for (const r of resources) out.push(objectEvent(m, 'state', 'resource', r)!)
  }

  private publish(group: readonly Committed[]): void {
    const time = isoMicros(performance.timeOrigin + performance.now())
    const batch: ClusterEvent[] = []
    for (const c of group) {
      const events = this.prepared.get(c.revision) ?? []
      this.prepared.delete(c.revision)
      for (const e of events) {
        const published = new ClusterEvent(e, c.revision, time)
        batch.push(published)
        this.historyBytes += published.text.length
      }
      this.published = c.revision
    }
    if (batch.length === 0) return
    this.history.push(...batch)
    this.trim()
    for (const fn of this.listeners) {
      try {
        fn(batch)
      } catch (e) {
        log.error('events listener failed', { error: e instanceof Error ? e.stack : String(e) })
      }
    }
  }

  /** Drop the oldest events beyond the budget (whole units' worth are never needed: `floor` says what is whole). */
  private trim(): void {
    while (this.historyBytes > this.maxHistoryBytes && this.head < this.history.length) {
      const e = this.history[this.head++]!
      this.historyBytes -= e.text.length
      if (e.revision > this.floor) this.floor = e.revision
    }
    // Compact once the dropped prefix is the larger part, so dropping stays O(1) amortised.
    if (this.head > 1024 && this.head * 2 > this.history.length) {
      this.history = this.history.slice(this.head)
      this.head = 0
    }
  }
}

function objKey(kind: string, key: readonly string[]): string {
  return kind + '\0' + key.join('\0')
}

function prepared(kind: EventKind, action: EventAction, names: EventNames, nameKeyOf: string | null, nodeKeyOf: string | null, object: string): PreparedEvent {
  const members = JSON.stringify(names).slice(1, -1)
  const head = `"kind":"${kind}","action":"${action}",${members === '' ? '' : members + ','}`
  return new PreparedEvent(kind, action, nameKeyOf, nodeKeyOf, head, object)
}

function controllerEvent(m: Model, action: EventAction): PreparedEvent {
  return prepared('controller', action, {}, null, null, stringifyJson({ props: m.ctrlProps }))
}

type ObjectKind = Exclude<Op['kind'], 'ctrlProps'>

/** The event kind of each kind of model object. */
const EVENT_KIND: Record<ObjectKind, EventKind> = {
  node: 'node',
  storPoolDfn: 'storage_pool_definition',
  storPool: 'storage_pool',
  rscGrp: 'resource_group',
  rscDfn: 'resource_definition',
  resource: 'resource',
  snapshotDfn: 'snapshot',
  kvs: 'key_value_store',
}

/** Every object of the model whose kind `wants`, kind by kind. */
function* objectsOf(m: Model, wants: (k: ObjectKind) => boolean): Iterable<[ObjectKind, unknown]> {
  if (wants('node')) for (const n of m.nodes.values()) yield ['node', n]
  if (wants('storPoolDfn')) for (const d of m.storPoolDfns.values()) yield ['storPoolDfn', d]
  if (wants('storPool')) for (const pools of m.storPools.values()) for (const sp of pools.values()) yield ['storPool', sp]
  if (wants('rscGrp')) for (const rg of m.rscGrps.values()) yield ['rscGrp', rg]
  if (wants('rscDfn')) for (const rd of m.rscDfns.values()) yield ['rscDfn', rd]
  if (wants('resource')) for (const byNode of m.resources.values()) for (const r of byNode.values()) yield ['resource', r]
  if (wants('snapshotDfn')) for (const snaps of m.snapshotDfns.values()) for (const sd of snaps.values()) yield ['snapshotDfn', sd]
  if (wants('kvs')) for (const kv of m.kvs.values()) yield ['kvs', kv]
}

/** The event of one model object, with LINSTOR's JSON of it. */
function objectEvent(m: Model, action: EventAction, kind: ObjectKind, o: unknown): PreparedEvent | null {
  switch (kind) {
    case 'node': {
      const n = o as Parameters<typeof nodeJson>[1]
      const k = nameKey(n.name)
      return prepared('node', action, { node: n.name }, k, k, stringifyJson(nodeJson(m, n)))
    }
    case 'storPoolDfn': {
      const d = o as Parameters<typeof storPoolDfnJson>[0]
      return prepared('storage_pool_definition', action, { storage_pool: d.name }, nameKey(d.name), null, stringifyJson(storPoolDfnJson(d)))
    }
    case 'storPool': {
      const sp = o as Parameters<typeof storPoolJson>[1]
      return prepared('storage_pool', action, { node: sp.nodeName, storage_pool: sp.name }, nameKey(sp.name), nameKey(sp.nodeName), stringifyJson(storPoolJson(m, sp)))
    }
    case 'rscGrp': {
      const rg = o as Parameters<typeof rscGrpJson>[0]
      return prepared('resource_group', action, { resource_group: rg.name }, nameKey(rg.name), null, stringifyJson(rscGrpJson(rg)))
    }
    case 'rscDfn': {
      const rd = o as Parameters<typeof rscDfnJson>[0]
      return prepared('resource_definition', action, { resource: rd.name }, nameKey(rd.name), null, stringifyJson(rscDfnJson(rd, true)))
    }
    case 'resource': {
      const r = o as Resource
      return prepared('resource', action, { resource: r.rscName, node: r.nodeName }, nameKey(r.rscName), nameKey(r.nodeName), resourceJsonText(m, r))
    }
    case 'snapshotDfn': {
      const sd = o as Parameters<typeof snapshotDfnJson>[0]
      return prepared('snapshot', action, { resource: sd.rscName, snapshot: sd.name }, nameKey(sd.rscName), null, stringifyJson(snapshotDfnJson(sd)))
    }
    case 'kvs': {
      const kv = o as Parameters<typeof kvsJson>[0]
      return prepared('key_value_store', action, { key_value_store: kv.name }, nameKey(kv.name), null, stringifyJson(kvsJson(kv)))
    }
  }
}

/** A volume of a resource on a node, as the resource views show it (device, sizes, states). */
function volumeEvent(m: Model, action: EventAction, r: Resource, vlmNr: number): PreparedEvent | null {
  const v = r.volumes.find((x) => x.vlmNr === vlmNr)
  if (v === undefined) return null
  const json = volumeJson(m, m.getRscDfn(r.rscName), r, v)
  return prepared('volume', action, { resource: r.rscName, node: r.nodeName, volume_number: vlmNr }, nameKey(r.rscName), nameKey(r.nodeName), stringifyJson(json))
}

/** A volume that left its resource; the object says only which it was. */
function volumeGone(r: Resource, vlmNr: number): PreparedEvent {
  const object = stringifyJson({ volume_number: vlmNr, resource_name: r.rscName, node_name: r.nodeName })
  return prepared('volume', 'delete', { resource: r.rscName, node: r.nodeName, volume_number: vlmNr }, nameKey(r.rscName), nameKey(r.nodeName), object)
}
