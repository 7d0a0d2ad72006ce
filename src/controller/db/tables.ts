/**
 * How each kind of object maps to its table: key columns (upper-cased names), the `data` JSON (the object
 * without its props) and the `props` JSON. The one place that knows the row layout of migrations/*.sql.
 */
import type { KeyValueStore, Node, Props, Resource, RscDfn, RscGrp, SnapshotDfn, StorPool, StorPoolDfn } from '../model/types.js'
import { nameKey } from '../../common/names.js'

export interface TableSpec<T> {
  table: string
  keyColumns: readonly string[]
  keyOf(obj: T): string[]
  /** Restore an object from its row (data JSON + props JSON). */
  fromRow(data: string, props: string): T
}

function spec<T extends { props: Props }>(table: string, keyColumns: readonly string[], keyOf: (o: T) => string[]): TableSpec<T> {
  return {
    table,
    keyColumns,
    keyOf,
    fromRow: (data, props) => ({ ...(JSON.parse(data) as object), props: JSON.parse(props) as Props }) as T,
  }
}

export const TABLES = {
  node: spec<Node>('nodes', ['name'], (o) => [nameKey(o.name)]),
  storPoolDfn: spec<StorPoolDfn>('stor_pool_dfns', ['name'], (o) => [nameKey(o.name)]),
  storPool: spec<StorPool>('stor_pools', ['node', 'name'], (o) => [nameKey(o.nodeName), nameKey(o.name)]),
  rscGrp: spec<RscGrp>('rsc_grps', ['name'], (o) => [nameKey(o.name)]),
  rscDfn: spec<RscDfn>('rsc_dfns', ['name'], (o) => [nameKey(o.name)]),
  resource: spec<Resource>('resources', ['rsc', 'node'], (o) => [nameKey(o.rscName), nameKey(o.nodeName)]),
  snapshotDfn: spec<SnapshotDfn>('snapshot_dfns', ['rsc', 'name'], (o) => [nameKey(o.rscName), nameKey(o.name)]),
  kvs: spec<KeyValueStore>('kv_stores', ['name'], (o) => [nameKey(o.name)]),
} as const

export type Kind = keyof typeof TABLES
export interface KindType {
  node: Node
  storPoolDfn: StorPoolDfn
  storPool: StorPool
  rscGrp: RscGrp
  rscDfn: RscDfn
  resource: Resource
  snapshotDfn: SnapshotDfn
  kvs: KeyValueStore
}

/** Extra columns beyond keys/data/props, derived from the object (foreign keys). */
export function extraColumns(kind: Kind, obj: KindType[Kind]): Record<string, string> {
  if (kind === 'rscDfn') return { rsc_grp: nameKey((obj as RscDfn).rscGrpName) }
  return {}
}

/** The object as stored in `data`: everything but props. */
export function dataJson(obj: { props: Props }): string {
  const { props: _props, ...rest } = obj
  return JSON.stringify(rest)
}
