/**
 * The durable store: better-sqlite3 in WAL mode, numbered migrations, and group commit: every Tx handed
 * to `commit()` during one event-loop turn is written in one SQLite transaction at the end of the turn,
 * and their promises resolve once it is on disk. Replies are sent only after that (DESIGN.md §2.2: an
 * acknowledged change survives a power cut).
 *
 * The sync is ours, not SQLite's: with synchronous=FULL every commit would block the event loop in
 * fsync (about a millisecond here under churn, most of the controller's time). Instead SQLite runs with
 * synchronous=NORMAL, which in WAL mode keeps the database consistent after a power cut but may lose
 * the last transactions, and the store then syncs the WAL file itself with fdatasync on libuv's thread
 * pool before it acknowledges them. Acknowledged therefore still means durable, as with FULL, while
 * the event loop goes on serving the calls that make up the next group. One sync is in flight at a
 * time; groups written meanwhile wait for the next one, which covers them all. (Checkpoints, inside
 * the occasional commit, are synced by SQLite itself under NORMAL.)
 *
 * A failed write is not survivable in-process: memory already holds the change. The store then calls
 * `onFatal`, whose job is to stop the controller; the database still holds the last committed state.
 *
 * Every committed Tx gets the next **cluster revision**, written in the same transaction (migration
 * 002), so revisions are gap-free in commit order and never go backwards across restarts. Modules that
 * follow changes (satellite links, events) register one `onCommit` listener and see every committed Tx
 * with its revision and ops: that is the only way the rest of the controller learns what changed.
 */
import Database from 'better-sqlite3'
import { closeSync, constants as fsc, fdatasync, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TABLES, dataJson, extraColumns, type Kind, type KindType } from './tables.js'
import type { Tx, Op } from './tx.js'
import type { Props } from '../model/types.js'
import { logger } from '../../common/log.js'

const log = logger('store')
const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations')

interface Pending { tx: Tx; resolve: () => void; reject: (e: Error) => void }

/** A group written to the WAL, waiting for the sync that makes it durable. */
interface Written { group: Committed[]; batch: Pending[] }

/** One API call's committed changes and the cluster revision they got. */
export interface Committed {
  readonly tx: Tx
  readonly revision: number
}

/**
 * Follows every group commit. Both callbacks get the group's Txs in commit order, and run while the
 * model holds exactly what the database holds after the group.
 */
export interface CommitListener {
  /**
   * Inside the group's SQLite transaction, after its changes are written, while the model holds
   * exactly what the database holds: rows that must be durable together with them (through
   * `Store.db`). Throwing fails the commit, which is fatal (`onFatal`).
   */
  inTransaction?(group: readonly Committed[]): void
  /**
   * Once the group is durable, before the callers' `commit()` promises resolve. Groups come in
   * revision order, but the model may already hold later groups (written, not yet durable): read it
   * for the newest state, never as the state right after this group. Throws are logged.
   */
  committed?(group: readonly Committed[]): void
}

export interface Rows {
  ctrlProps: Props
  objects: { [K in Kind]: KindType[K][] }
}

export class Store {
  readonly db: Database.Database
  private pending: Pending[] = []
  private scheduled = false
  private readonly upserts = new Map<Kind, Database.Statement>()
  private readonly deletes = new Map<Kind, Database.Statement>()
  private readonly putCtrlProps: Database.Statement
  private readonly putRevision: Database.Statement
  private readonly listeners: CommitListener[] = []
  private lastRevision: number
  /** The WAL file, synced before groups are acknowledged (null for an in-memory database). */
  private walFd: number | null = null
  /** Written groups the sync in flight covers, and those written since (the next sync's). */
  private syncing: Written[] | null = null
  private written: Written[] = []
  private closed = false
  /** Called when a commit fails: memory and disk disagree, the process must stop. */
  onFatal: (err: Error) => void = (err) => {
    throw err
  }
  /** Number of SQLite transactions committed and API units they carried (for benchmarks, metrics). */
  readonly stats = { commits: 0, units: 0 }

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    this.db = new Database(path)
    // One controller per database: an exclusive lock refuses a second one on the same file, and spares
    // WAL mode its shared-memory index and the fcntl locks every transaction would otherwise take.
    this.db.pragma('locking_mode = EXCLUSIVE')
    try {
      this.db.pragma('journal_mode = WAL')
    } catch (e) {
      this.db.close()
      if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new Error(`the database ${path} is in use by another controller`)
      throw e
    }
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('foreign_keys = ON')
    this.migrate()
    // SQLite keeps the WAL file (same inode, rewound after checkpoints) while the connection is open.
    // A database opened without a write yet may have none: created here, SQLite opens the same file.
    if (path !== ':memory:') this.walFd = openSync(`${path}-wal`, fsc.O_RDONLY | fsc.O_CREAT, 0o600)
    for (const kind of Object.keys(TABLES) as Kind[]) {
      const t = TABLES[kind]
      const extra = kind === 'rscDfn' ? ['rsc_grp'] : []
      const cols = [...t.keyColumns, ...extra, 'data', 'props']
      const updates = [...extra, 'data', 'props'].map((c) => `${c} = excluded.${c}`).join(', ')
      this.upserts.set(kind, this.db.prepare(
        `INSERT INTO ${t.table} (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')}) ` +
        `ON CONFLICT (${t.keyColumns.join(', ')}) DO UPDATE SET ${updates}`))
      this.deletes.set(kind, this.db.prepare(`DELETE FROM ${t.table} WHERE ${t.keyColumns.map((c) => `${c} = ?`).join(' AND ')}`))
    }
    this.putCtrlProps = this.db.prepare('INSERT INTO ctrl_props (id, props) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET props = excluded.props')
    this.putRevision = this.db.prepare('UPDATE cluster_revision SET revision = ? WHERE id = 1')
    this.lastRevision = this.db.prepare('SELECT revision FROM cluster_revision WHERE id = 1').pluck().get() as number
  }

  /** The cluster revision of the last committed Tx (0 before the first). */
  get revision(): number {
    return this.lastRevision
  }

  /** Follow every commit from now on; returns the function that stops it. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.push(listener)
    return () => {
      const i = this.listeners.indexOf(listener)
      if (i >= 0) this.listeners.splice(i, 1)
    }
  }

  /** Apply every numbered migration newer than the database's `user_version`, each in its own transaction. */
  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{3}-.*\.sql$/.test(f)).sort()
    for (const f of files) {
      const version = Number(f.slice(0, 3))
      if (version <= current) continue
      const sql = readFileSync(join(MIGRATIONS_DIR, f), 'utf8')
      this.db.transaction(() => {
        this.db.exec(sql)
        this.db.pragma(`user_version = ${version}`)
      })()
      log.info('applied migration', { file: f })
    }
  }

  /** Every row, decoded; the model rebuilds itself from this at start-up. */
  loadAll(): Rows {
    const objects = {} as Rows['objects']
    for (const kind of Object.keys(TABLES) as Kind[]) {
      const t = TABLES[kind]
      const rows = this.db.prepare(`SELECT data, props FROM ${t.table}`).raw().all() as [string, string][]
      ;(objects as Record<Kind, unknown[]>)[kind] = rows.map(([d, p]) => t.fromRow(d, p))
    }
    const row = this.db.prepare('SELECT props FROM ctrl_props WHERE id = 1').pluck().get() as string | undefined
    return { ctrlProps: row === undefined ? {} : (JSON.parse(row) as Props), objects }
  }

  /** Queue a unit for the group commit at the end of this event-loop turn; resolves once it is durable. */
  commit(tx: Tx): Promise<void> {
    if (tx.size === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ tx, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /**
   * Write everything queued now (also used before a model reload, so no queued unit is lost); it is
   * acknowledged once synced.
   */
  flush(): void {
    this.scheduled = false
    const batch = this.pending
    if (batch.length === 0) return
    this.pending = []
    let revision = this.lastRevision
    const group: Committed[] = batch.map((p) => ({ tx: p.tx, revision: ++revision }))
    try {
      this.db.transaction(() => {
        for (const p of batch) {
          p.tx.seal()
          for (const op of p.tx.changes()) this.write(op)
        }
        this.putRevision.run(revision)
        for (const l of this.listeners) l.inTransaction?.(group)
      })()
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e))
      log.error('commit failed; memory and database disagree', { error: err.message })
      for (const p of batch) p.reject(err)
      this.onFatal(err)
      return
    }
    this.lastRevision = revision
    this.stats.commits++
    this.stats.units += batch.length
    this.written.push({ group, batch })
    this.sync()
  }

  /** Start a sync of the WAL for the groups written, unless one is in flight (it starts the next). */
  private sync(): void {
    if (this.syncing !== null || this.written.length === 0) return
    const groups = this.written
    this.written = []
    if (this.walFd === null) {
      this.acknowledge(groups)
      return
    }
    this.syncing = groups
    fdatasync(this.walFd, (err) => {
      if (this.closed) return // close() synced and acknowledged them
      this.syncing = null
      if (err !== null) {
        this.failSync(groups, err)
        return
      }
      this.acknowledge(groups)
      this.sync()
    })
  }

  private acknowledge(groups: readonly Written[]): void {
    for (const { group, batch } of groups) {
      for (const l of this.listeners) {
        try {
          l.committed?.(group)
        } catch (e) {
          log.error('commit listener failed', { error: e instanceof Error ? e.message : String(e) })
        }
      }
      for (const p of batch) p.resolve()
    }
  }

  /** The WAL could not be synced: nothing written since the last sync may be acknowledged. */
  private failSync(groups: readonly Written[], err: Error): void {
    log.error('syncing the database failed; unacknowledged changes may be lost', { error: err.message })
    const all = [...groups, ...this.written]
    this.written = []
    for (const { batch } of all) for (const p of batch) p.reject(err)
    this.onFatal(err)
  }

  private write(op: Op): void {
    if (op.kind === 'ctrlProps') {
      this.putCtrlProps.run(JSON.stringify(op.value))
      return
    }
    if (op.value === null) {
      this.deletes.get(op.kind)!.run(...op.key)
      return
    }
    const params: Record<string, string> = { data: dataJson(op.value), props: JSON.stringify(op.value.props) }
    TABLES[op.kind].keyColumns.forEach((c, i) => (params[c] = op.key[i]!))
    Object.assign(params, extraColumns(op.kind, op.value))
    this.upserts.get(op.kind)!.run(params)
  }

  /** Write, sync and acknowledge everything queued, then close. */
  close(): void {
    this.flush()
    const groups = [...(this.syncing ?? []), ...this.written]
    this.closed = true
    this.syncing = null
    this.written = []
    if (this.walFd !== null) {
      try {
        fdatasyncSync(this.walFd)
      } catch (e) {
        this.failSync(groups, e as Error)
        return
      } finally {
        closeSync(this.walFd)
      }
    }
    this.acknowledge(groups)
    this.db.close()
  }
}
