/**
 * A unit of work: the changes one API call makes, recorded as it changes the in-memory model and
 * written to SQLite in one transaction by the store. Keyed by (kind, key), so writing an object twice in
 * one call stores it once, with its last value.
 *
 * A unit may also carry what satellites reported (`observe`): that is never stored, but it takes a
 * cluster revision like any change, so the events stream numbers observed state and committed changes
 * in one order (src/controller/events/).
 */
import type { Kind, KindType } from './tables.js'
import { TABLES } from './tables.js'
import type { Props } from '../model/types.js'

export type Op =
  | { kind: Kind; key: string[]; value: KindType[Kind] }
  /** A deletion; `old` is the object as it was deleted, for those who follow commits (it keeps the names' case). */
  | { kind: Kind; key: string[]; value: null; old: KindType[Kind] }
  | { kind: 'ctrlProps'; key: []; value: Props }

/** Runtime state a satellite reported changed (model.runtime); the key as the model keys it. */
export type Observed =
  | { kind: 'node'; node: string }
  | { kind: 'storPool'; node: string; pool: string }
  | { kind: 'resource'; rsc: string; node: string }
  | { kind: 'volume'; rsc: string; node: string; vlmNr: number }

export class Tx {
  private readonly ops = new Map<string, Op>()
  private readonly seen = new Map<string, Observed>()
  /** Set by the store once it has read the unit: later changes would be lost, so they are refused. */
  private isSealed = false

  put<K extends Kind>(kind: K, obj: KindType[K]): void {
    this.writable()
    const key = TABLES[kind].keyOf(obj as never)
    this.ops.set(kind + '\0' + key.join('\0'), { kind, key, value: obj })
  }

  del<K extends Kind>(kind: K, obj: KindType[K]): void {
    this.writable()
    const key = TABLES[kind].keyOf(obj as never)
    this.ops.set(kind + '\0' + key.join('\0'), { kind, key, value: null, old: obj })
  }

  putCtrlProps(props: Props): void {
    this.writable()
    this.ops.set('ctrlProps', { kind: 'ctrlProps', key: [], value: props })
  }

  /** Record that a satellite's report changed runtime state (kept once per object). */
  observe(o: Observed): void {
    this.writable()
    const key = o.kind === 'volume' ? `${o.kind}\0${o.rsc}\0${o.node}\0${o.vlmNr}`
      : o.kind === 'resource' ? `${o.kind}\0${o.rsc}\0${o.node}`
      : o.kind === 'storPool' ? `${o.kind}\0${o.node}\0${o.pool}` : `${o.kind}\0${o.node}`
    this.seen.set(key, o)
  }

  /** Changes plus observations: a unit of size 0 has nothing to commit. */
  get size(): number {
    return this.ops.size + this.seen.size
  }

  get sealed(): boolean {
    return this.isSealed
  }

  /** The store has read the unit for writing. */
  seal(): void {
    this.isSealed = true
  }

  private writable(): void {
    if (this.isSealed) throw new Error('Tx: changed after the store wrote it')
  }

  /** The recorded changes, in the order first touched. */
  changes(): Iterable<Op> {
    return this.ops.values()
  }

  /** The recorded observations, in the order first seen. */
  observations(): Iterable<Observed> {
    return this.seen.values()
  }
}
