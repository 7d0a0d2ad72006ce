/**
 * A unit of work: the changes one API call makes, recorded as it changes the in-memory model and
 * written to SQLite in one transaction by the store. Keyed by (kind, key), so writing an object twice in
 * one call stores it once, with its last value.
 */
import type { Kind, KindType } from './tables.js'
import { TABLES } from './tables.js'
import type { Props } from '../model/types.js'

export type Op =
  | { kind: Kind; key: string[]; value: KindType[Kind] }
  /** A deletion; `old` is the object as it was deleted, for those who follow commits (it keeps the names' case). */
  | { kind: Kind; key: string[]; value: null; old: KindType[Kind] }
  | { kind: 'ctrlProps'; key: []; value: Props }

export class Tx {
  private readonly ops = new Map<string, Op>()

  put<K extends Kind>(kind: K, obj: KindType[K]): void {
    const key = TABLES[kind].keyOf(obj as never)
    this.ops.set(kind + '\0' + key.join('\0'), { kind, key, value: obj })
  }

  del<K extends Kind>(kind: K, obj: KindType[K]): void {
    const key = TABLES[kind].keyOf(obj as never)
    this.ops.set(kind + '\0' + key.join('\0'), { kind, key, value: null, old: obj })
  }

  putCtrlProps(props: Props): void {
    this.ops.set('ctrlProps', { kind: 'ctrlProps', key: [], value: props })
  }

  get size(): number {
    return this.ops.size
  }

  /** The recorded changes, in the order first touched. */
  changes(): Iterable<Op> {
    return this.ops.values()
  }
}
