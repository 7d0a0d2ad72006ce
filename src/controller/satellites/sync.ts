/**
 * What each satellite must have, and when it is told (DESIGN.md §2.4).
 *
 * Generations. Every committed Tx has a cluster revision (db/store.ts). The desired state of a resource
 * on a node carries as its generation the revision of the last commit that changed it; a commit that
 * leaves it as it was (compared by a digest) sends nothing and keeps the generation, so a satellite
 * only works when something changed and a REST call waits only for what it changed. After a controller
 * restart every resource starts at the revision the controller started with: no satellite can hold a
 * higher one, and a satellite ignores lower ones.
 *
 * Sending. On a (re)connect the satellite gets a FullSync: its node's pools and resources. After each
 * group commit, the resources and pools the commit touched (directly, through their definition, group,
 * pool, the controller's props, or as DRBD peers) are recomputed and sent if changed, to satellites
 * whose link is up; the others get them with their next full sync.
 *
 * Tombstones. A satellite leaves alone what a full sync does not mention, so a resource removed from
 * the model while its node could not confirm (its satellite was away, or the node was declared away by
 * a repeated delete) would stay on the node for ever. Its removal therefore writes a tombstone in the
 * same transaction: the desired state last meant for the node, with deleted = true, sent in every full
 * sync (and at once if the link is up) until the satellite reports the resource GONE. While a
 * tombstone is pending, a new resource of the same name on that node is held back, so the satellite
 * never adopts the old volumes as the new ones.
 */
import type Database from 'better-sqlite3'
import { logger } from '../../common/log.js'
import { nameKey } from '../../common/names.js'
import type { FullSync, Message, ResourceDesired } from '../../proto/messages.js'
import type { Core } from '../core.js'
import type { Committed } from '../db/store.js'
import type { Node, Resource, StorPool } from '../model/types.js'
import { desiredFromJson, desiredToJson, fingerprint, resourceDesired, storPoolDesired } from './_desired.js'

const log = logger('satellites')

/** How sync reaches satellites: `send` delivers on an accepted link and says false otherwise. */
export interface SyncLinks {
  send(nodeKey: string, msg: Message): boolean
}

interface PairRecord {
  generation: number
  fingerprint: string
}

interface Tombstone {
  nodeKey: string
  rscKey: string
  generation: number
  desired: ResourceDesired
}

/** `NODE\0RSC`: a resource on a node, both names upper-cased. */
export const pairKey = (nodeKey: string, rscKey: string): string => nodeKey + '\0' + rscKey

export class DesiredSync {
  /** Generation and digest of what each node was last given (or would have been, had it been up). */
  private readonly records = new Map<string, PairRecord>()
  private readonly tombstones = new Map<string, Tombstone>()
  /** Resources whose removal after GONE is being committed: they leave no tombstone. */
  private readonly confirmed = new Set<string>()
  /** Generation of every resource not changed since the controller started. */
  private readonly base: number
  private syncIds = 0
  private readonly putTombstone: Database.Statement
  private readonly delTombstone: Database.Statement
  private readonly tombstonesOfNode: Database.Statement
  /** Told of every resource's desired state handed to a live link (metrics time its apply). */
  onSent: ((nodeKey: string, d: ResourceDesired) => void) | null = null

  constructor(private readonly core: Core, private readonly links: SyncLinks) {
    const db = core.store.db
    this.base = core.store.revision
    this.putTombstone = db.prepare(
      'INSERT INTO satellite_tombstones (node, rsc, generation, desired) SELECT @node, @rsc, @generation, @desired ' +
      'WHERE EXISTS (SELECT 1 FROM nodes WHERE name = @node) ' +
      'ON CONFLICT (node, rsc) DO UPDATE SET generation = excluded.generation, desired = excluded.desired')
    this.delTombstone = db.prepare('DELETE FROM satellite_tombstones WHERE node = ? AND rsc = ? AND generation <= ?')
    this.tombstonesOfNode = db.prepare('SELECT rsc, generation, desired FROM satellite_tombstones WHERE node = ?')
    const rows = db.prepare('SELECT node, rsc, generation, desired FROM satellite_tombstones').all() as { node: string; rsc: string; generation: number; desired: string }[]
    for (const row of rows) {
      this.tombstones.set(pairKey(row.node, row.rsc), { nodeKey: row.node, rscKey: row.rsc, generation: row.generation, desired: desiredFromJson(row.desired) })
    }
  }

  /** The generation of the desired state of resource `rscKey` on node `nodeKey`, as last decided. */
  generationOf(nodeKey: string, rscKey: string): number {
    return this.records.get(pairKey(nodeKey, rscKey))?.generation ?? this.base
  }

  /** The pending tombstone of a resource on a node, if any. */
  tombstone(nodeKey: string, rscKey: string): { generation: number } | undefined {
    return this.tombstones.get(pairKey(nodeKey, rscKey))
  }

  /** Tombstones still waiting for their satellite, oldest first (for the node's link view). */
  tombstonesOf(nodeKey: string): { rscName: string; generation: number }[] {
    return [...this.tombstones.values()].filter((t) => t.nodeKey === nodeKey).map((t) => ({ rscName: t.desired.name, generation: t.generation })).sort((a, b) => a.generation - b.generation)
  }

  /** Everything node `node` must have, for the satellite that just authenticated. */
  fullSync(node: Node): FullSync {
    const m = this.core.model
    const nk = nameKey(node.name)
    const resources: ResourceDesired[] = []
    for (const r of m.resourcesOnNode(node.name)) {
      const pk = pairKey(nk, nameKey(r.rscName))
      if (this.tombstones.has(pk)) continue // the tombstone goes first; the resource follows its GONE
      const rec = this.records.get(pk)
      const d = resourceDesired(m, r, rec?.generation ?? this.base)
      if (rec === undefined) this.records.set(pk, { generation: this.base, fingerprint: fingerprint(d) })
      resources.push(d)
    }
    for (const t of this.tombstones.values()) if (t.nodeKey === nk) resources.push(t.desired)
    return {
      type: 'FullSync',
      syncId: ++this.syncIds,
      nodeName: node.name,
      nodeProps: { ...node.props },
      storPools: [...m.storPoolsOfNode(node.name)].map((sp) => storPoolDesired(m, sp, false)),
      resources,
    }
  }

  /** The removal of `r` after its satellite reported it GONE is about to be committed: no tombstone. */
  confirmGone(r: Resource): void {
    this.confirmed.add(pairKey(nameKey(r.nodeName), nameKey(r.rscName)))
  }

  /** A removal announced by {@link confirmGone} was not committed after all. */
  unconfirmGone(r: Resource): void {
    this.confirmed.delete(pairKey(nameKey(r.nodeName), nameKey(r.rscName)))
  }

  /**
   * The satellite of `nodeKey` reported resource `rscKey` GONE at `generation`: a tombstone that
   * generation covers is done. A resource of that name held back by it is sent now.
   *
   * @returns whether a tombstone was cleared
   */
  clearTombstone(nodeKey: string, rscKey: string, generation: number): boolean {
    const pk = pairKey(nodeKey, rscKey)
    const t = this.tombstones.get(pk)
    if (t === undefined || generation < t.generation) return false
    this.delTombstone.run(nodeKey, rscKey, generation)
    this.tombstones.delete(pk)
    log.debug('tombstone cleared', { node: nodeKey, rsc: t.desired.name, generation })
    const r = this.core.model.getResource(rscKey, nodeKey)
    if (r !== undefined) this.send(nodeKey, resourceDesired(this.core.model, r, this.generationOf(nodeKey, rscKey)))
    return true
  }

  /** Inside a group commit's transaction: tombstones for the resources it removed while unconfirmed. */
  inTransaction(group: readonly Committed[]): void {
    const m = this.core.model
    for (const c of group) {
      for (const op of c.tx.changes()) {
        if (op.kind !== 'resource' || op.value !== null) continue
        const [rk, nk] = op.key as [string, string]
        const pk = pairKey(nk, rk)
        // Gone for good only if it is still gone after the whole group, its node stays, and no GONE said so.
        if (m.getResource(rk, nk) !== undefined || !m.nodes.has(nk) || this.confirmed.has(pk)) continue
        const desired = resourceDesired(m, op.old as Resource, c.revision, true)
        // A tombstone replaced by a newer one keeps the volumes only the older one named.
        const prev = this.tombstones.get(pk)
        if (prev !== undefined) {
          const have = new Set(desired.volumes.map((v) => v.number))
          desired.volumes = [...desired.volumes, ...prev.desired.volumes.filter((v) => !have.has(v.number))].sort((a, b) => a.number - b.number)
        }
        this.putTombstone.run({ node: nk, rsc: rk, generation: c.revision, desired: desiredToJson(desired) })
        this.tombstones.set(pk, { nodeKey: nk, rscKey: rk, generation: c.revision, desired })
      }
    }
  }

  /** After a group commit: send what it changed to the satellites that are up. */
  committed(group: readonly Committed[]): void {
    const m = this.core.model
    const { pairs, pools, goneNodes } = this.affected(group)
    for (const nk of goneNodes) this.forgetNode(nk)
    for (const [, p] of pools) {
      const sp = m.getStorPool(p.nodeKey, p.poolKey)
      if (sp !== undefined) this.links.send(p.nodeKey, { type: 'StorPoolDesired', ...storPoolDesired(m, sp, false) })
      else if (p.old !== undefined) this.links.send(p.nodeKey, { type: 'StorPoolDesired', ...storPoolDesired(m, p.old, true) })
    }
    for (const [pk, p] of pairs) {
      const r = m.getResource(p.rscKey, p.nodeKey)
      if (r === undefined) {
        this.records.delete(pk)
        this.confirmed.delete(pk)
        const t = this.tombstones.get(pk)
        if (t !== undefined) this.send(p.nodeKey, t.desired)
        continue
      }
      const d = resourceDesired(m, r, p.revision)
      const fp = fingerprint(d)
      if (this.records.get(pk)?.fingerprint === fp) continue
      this.records.set(pk, { generation: p.revision, fingerprint: fp })
      if (!this.tombstones.has(pk)) this.send(p.nodeKey, d)
    }
  }

  private send(nodeKey: string, d: ResourceDesired): void {
    if (this.links.send(nodeKey, { type: 'ResourceDesired', ...d })) this.onSent?.(nodeKey, d)
  }

  /** A node was deleted: what was recorded for it goes (a node of that name created since starts afresh). */
  private forgetNode(nodeKey: string): void {
    const prefix = nodeKey + '\0'
    for (const k of this.records.keys()) if (k.startsWith(prefix)) this.records.delete(k)
    // The database dropped its tombstones with the node (ON DELETE CASCADE); keep any written after.
    for (const k of this.tombstones.keys()) if (k.startsWith(prefix)) this.tombstones.delete(k)
    for (const row of this.tombstonesOfNode.all(nodeKey) as { rsc: string; generation: number; desired: string }[]) {
      this.tombstones.set(pairKey(nodeKey, row.rsc), { nodeKey, rscKey: row.rsc, generation: row.generation, desired: desiredFromJson(row.desired) })
    }
  }

  /**
   * Which resources on which nodes, and which pools, a group may have changed, with the revision of the
   * last Tx that touched each, and the nodes it deleted. Over-approximates (digests drop what did not
   * change); DRBD peers are included where the stack has DRBD, as each resource names its peers.
   */
  private affected(group: readonly Committed[]): {
    pairs: Map<string, { nodeKey: string; rscKey: string; revision: number }>
    pools: Map<string, { nodeKey: string; poolKey: string; old?: StorPool }>
    goneNodes: Set<string>
  } {
    const m = this.core.model
    const pairs = new Map<string, { nodeKey: string; rscKey: string; revision: number }>()
    const pools = new Map<string, { nodeKey: string; poolKey: string; old?: StorPool }>()
    const goneNodes = new Set<string>()
    for (const c of group) {
      const rev = c.revision
      const add = (nk: string, rk: string): void => void pairs.set(pairKey(nk, rk), { nodeKey: nk, rscKey: rk, revision: rev })
      const addOf = (r: Resource): void => add(nameKey(r.nodeName), nameKey(r.rscName))
      const addDefinition = (rk: string): void => {
        for (const r of m.resourcesOf(rk)) addOf(r)
      }
      const addPoolUsers = (nk: string, pk: string): void => {
        for (const r of m.resourcesOnNode(nk)) if (r.volumes.some((v) => nameKey(v.storPoolName) === pk)) addOf(r)
      }
      for (const op of c.tx.changes()) {
        switch (op.kind) {
          case 'resource': {
            const [rk, nk] = op.key as [string, string]
            add(nk, rk)
            const r = (op.value ?? op.old) as Resource
            if (r.layerStack.includes('DRBD')) addDefinition(rk)
            break
          }
          case 'rscDfn':
            addDefinition(op.key[0]!)
            break
          case 'node': {
            const nk = op.key[0]!
            if (op.value === null) {
              goneNodes.add(nk)
              break
            }
            // Peers name this node's address.
            for (const r of m.resourcesOnNode(nk)) if (r.layerStack.includes('DRBD')) addDefinition(nameKey(r.rscName))
            break
          }
          case 'storPool': {
            const [nk, pk] = op.key as [string, string]
            pools.set(nk + '\0' + pk, op.value === null ? { nodeKey: nk, poolKey: pk, old: op.old as StorPool } : { nodeKey: nk, poolKey: pk })
            addPoolUsers(nk, pk)
            break
          }
          case 'storPoolDfn': {
            const pk = op.key[0]!
            for (const sp of m.allStorPools()) {
              if (nameKey(sp.name) !== pk) continue
              const nk = nameKey(sp.nodeName)
              pools.set(nk + '\0' + pk, { nodeKey: nk, poolKey: pk })
              addPoolUsers(nk, pk)
            }
            break
          }
          case 'rscGrp': {
            const gk = op.key[0]!
            for (const rd of m.rscDfns.values()) if (nameKey(rd.rscGrpName) === gk) addDefinition(nameKey(rd.name))
            break
          }
          case 'ctrlProps':
            for (const r of m.allResources()) addOf(r)
            break
          default:
            break
        }
      }
    }
    // Nothing more to tell a node that is gone.
    for (const [k, p] of pairs) if (!m.nodes.has(p.nodeKey)) pairs.delete(k)
    for (const [k, p] of pools) if (!m.nodes.has(p.nodeKey)) pools.delete(k)
    return { pairs, pools, goneNodes }
  }
}
