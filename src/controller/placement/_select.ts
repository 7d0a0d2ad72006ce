/**
 * The selection step of the auto-placer: an exact branch-and-bound search for the set of `count` candidate
 * nodes with the highest total score that satisfies replicas-on-same and (x-)replicas-on-different.
 *
 * LINSTOR's SelectionManager walks the score-sorted pools depth-first and stops at the first complete
 * selection from each start index, bounded by a sum-of-next-scores check; that is fast but can miss the
 * best combination once constraints bite. This search is exhaustive in effect (it returns the optimum) and
 * stays fast on 1,000-node clusters thanks to three prunings, each sound on its own:
 *
 * 1. **Score bound.** Candidates are visited in descending score order, so the best any completion can add
 *    is the sum of the next scores in the list. Once that cannot beat the best selection found, neither
 *    can any later candidate at that depth. The bound adds the same number of terms in the same order as
 *    the real total, and IEEE addition is monotonic, so the bound is never below a real total.
 * 2. **Interchangeable nodes.** Nodes with the same group and the same value for every diff key (a
 *    "class") are interchangeable for every constraint; only their scores differ. Once a node has been
 *    explored at some depth, any later sibling branch that takes another node of its class is dominated by
 *    the explored one (swap the two: same constraints, score no lower, found earlier), so the class is
 *    banned for the rest of that loop.
 * 3. **Feasibility.** Per diff key and group, counts of the values still available ahead of the cursor
 *    give an upper bound on how many more replicas can be placed, and a lower bound on how many are needed
 *    to fill partially used x-replicas groups. A branch that cannot complete stops at once, which is what
 *    keeps unsatisfiable requests (3 replicas, 2 zones) linear instead of cubic.
 *
 * Ties are broken towards the selection that comes first in score order (lexicographically smallest list
 * of candidate positions), which is also LINSTOR's preference: a later selection must score strictly more.
 */

/** One candidate node, with its best storage pool already chosen. Candidates come sorted best first. */
export interface SelectCandidate {
  /** The node's score (of its best pool). */
  readonly score: number
  /**
   * Replicas-on-same group: only candidates with equal `group` may be combined. Use one constant string
   * when there is no replicas-on-same constraint (or when its values are already fixed).
   */
  readonly group: string
  /**
   * Per diff key (same order as the `diffKeys` argument): the node's property value, or `undefined` when
   * the node lacks the property, which leaves it unconstrained by that key (as in LINSTOR).
   */
  readonly diffValues: readonly (string | undefined)[]
}

/** One replicas-on-different key. */
export interface SelectDiffKey {
  /** At most this many replicas (existing ones included) may share one value; 1 = all different. */
  readonly max: number
  /** Values no new replica may use (`key=value` in replicas-on-different). */
  readonly prohibited: ReadonlySet<string>
  /** How many existing replicas already use each value. */
  readonly used: ReadonlyMap<string, number>
}

/** The best selection: positions into the candidate array, ascending, and their total score. */
export interface SelectResult {
  readonly score: number
  readonly picks: number[]
}

/**
 * Returns the selection of exactly `count` candidates that maximises the summed score under the
 * constraints, or `null` when none exists or none scores strictly more than `beat`.
 *
 * With `firstOnly` it returns the first valid selection it meets instead: a feasibility test, for which
 * the candidates need not be sorted (the caller then ignores the score).
 *
 * Constraints: all picks share one `group`; per diff key, the picks plus the existing replicas use each
 * non-prohibited value at most `max` times; and, as LINSTOR requires, at most one value per key ends up
 * used by more than zero but fewer than `max` replicas (so `max` 2 with 3 replicas means 2+1, never 1+1+1).
 *
 * `beat` lets a caller run several searches (one per compatible provider-kind family) and keep the best.
 */
export function selectBest(
  cands: readonly SelectCandidate[],
  diffKeys: readonly SelectDiffKey[],
  count: number,
  beat = -Infinity,
  firstOnly = false,
): SelectResult | null {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`)
  const n = cands.length
  if (n < count) return null
  const K = diffKeys.length

  // Groups (replicas-on-same): each gets the list of its members in score order, so that once the first
  // pick fixes the group, deeper levels never even look at other groups' nodes.
  const group = new Int32Array(n)
  let G = 1
  const first = (cands[0] as SelectCandidate).group
  let oneGroup = true
  for (let i = 1; i < n && oneGroup; i++) oneGroup = (cands[i] as SelectCandidate).group === first
  if (!oneGroup) {
    const groupIds = new Map<string, number>()
    for (let i = 0; i < n; i++) {
      const g = (cands[i] as SelectCandidate).group
      let id = groupIds.get(g)
      if (id === undefined) groupIds.set(g, (id = groupIds.size))
      group[i] = id
    }
    G = groupIds.size
  }
  const groupSize = new Int32Array(G)
  for (let i = 0; i < n; i++) groupSize[group[i] as number]!++
  const groupList: Int32Array[] = []
  for (let g = 0; g < G; g++) groupList.push(new Int32Array(groupSize[g] as number))
  const posInGroup = new Int32Array(n)
  {
    const fill = new Int32Array(G)
    for (let i = 0; i < n; i++) {
      const g = group[i] as number
      const p = fill[g]!++
      ;(groupList[g] as Int32Array)[p] = i
      posInGroup[i] = p
    }
  }

  // Value ids ("vids"): one per (key, group, value), plus one per (key, group) for "property not set".
  // Existing replicas' values get a vid in every group even without candidates, because they can leave a
  // partially filled x-replicas group that the new replicas must respect.
  const vidKey: number[] = []
  const vidGroup: number[] = []
  const vidHasValue: number[] = []
  const vidProhibited: number[] = []
  const vidUsed: number[] = []
  const vidAvail: number[] = []
  const nodeVid = new Int32Array(n * K)
  for (let k = 0; k < K; k++) {
    const dk = diffKeys[k] as SelectDiffKey
    if (!Number.isInteger(dk.max) || dk.max < 1) throw new RangeError(`diff key max must be a positive integer, got ${dk.max}`)
    const ids: Map<string, number>[] = []
    const noneIds = new Int32Array(G).fill(-1)
    for (let g = 0; g < G; g++) ids.push(new Map())
    const create = (g: number, v: string | undefined): number => {
      const id = vidKey.length
      vidKey.push(k)
      vidGroup.push(g)
      vidHasValue.push(v === undefined ? 0 : 1)
      vidProhibited.push(v !== undefined && dk.prohibited.has(v) ? 1 : 0)
      // LINSTOR's remaining count never drops below zero for existing replicas: over-full stays full.
      vidUsed.push(v === undefined ? 0 : Math.min(dk.max, dk.used.get(v) ?? 0))
      vidAvail.push(0)
      return id
    }
    const vidFor = (g: number, v: string | undefined): number => {
      if (v === undefined) {
        const id = noneIds[g] as number
        return id !== -1 ? id : (noneIds[g] = create(g, v))
      }
      const m = ids[g] as Map<string, number>
      let id = m.get(v)
      if (id === undefined) m.set(v, (id = create(g, v)))
      return id
    }
    for (const [v, c] of dk.used) if (c > 0) for (let g = 0; g < G; g++) vidFor(g, v)
    for (let i = 0; i < n; i++) {
      const vid = vidFor(group[i] as number, (cands[i] as SelectCandidate).diffValues[k])
      nodeVid[i * K + k] = vid
      vidAvail[vid]!++
    }
  }

  // Classes: interchangeable nodes (same group, same vid for every key). With one key the vid is the
  // class already (a vid belongs to one group); with none, the group is.
  const cls = new Int32Array(n)
  let classCount: number
  if (K === 0) {
    cls.set(group)
    classCount = G
  } else if (K === 1) {
    cls.set(nodeVid)
    classCount = vidKey.length
  } else {
    const classIds = new Map<string, number>()
    for (let i = 0; i < n; i++) {
      let key = `${nodeVid[i * K]}`
      for (let k = 1; k < K; k++) key += `,${nodeVid[i * K + k]}`
      let id = classIds.get(key)
      if (id === undefined) classIds.set(key, (id = classIds.size))
      cls[i] = id
    }
    classCount = classIds.size
  }
  const classMembers: number[][] = []
  for (let c = 0; c < classCount; c++) classMembers.push([])
  const posInClass = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const members = classMembers[cls[i] as number] as number[]
    posInClass[i] = members.length
    members.push(i)
  }
  const banned = new Uint8Array(classCount)

  // Per (key, group) aggregates over the vids, kept up to date incrementally (see `apply`):
  //   sumNorm    Σ min(room, avail): how many more replicas the available nodes could take at most;
  //   sumStrict  Σ room where avail ≥ room: the same when every value used must be filled completely;
  //   partial    values used by more than 0 and fewer than max replicas;
  //   deficit    Σ (max − used) over partial values: replicas needed to fill them all;
  //   unfillable partial values with fewer available nodes than their deficit: they must stay partial;
  //   sumUnfill  Σ min(room, avail) over the unfillable ones.
  const S = K * G
  const sumNorm = new Int32Array(S)
  const sumStrict = new Int32Array(S)
  const partial = new Int32Array(S)
  const deficit = new Int32Array(S)
  const unfillable = new Int32Array(S)
  const sumUnfill = new Int32Array(S)
  const keyMax = new Int32Array(K)
  for (let k = 0; k < K; k++) keyMax[k] = (diffKeys[k] as SelectDiffKey).max

  const apply = (vid: number, sign: number): void => {
    const k = vidKey[vid] as number
    const s = k * G + (vidGroup[vid] as number)
    const a = vidAvail[vid] as number
    if (vidHasValue[vid] === 0) {
      // Nodes without the property are unconstrained by this key.
      sumNorm[s]! += sign * a
      sumStrict[s]! += sign * a
      return
    }
    const max = keyMax[k] as number
    const u = vidUsed[vid] as number
    const prohibited = vidProhibited[vid] === 1
    const room = prohibited ? 0 : Math.max(0, max - u)
    const norm = room < a ? room : a
    sumNorm[s]! += sign * norm
    if (room > 0 && a >= room) sumStrict[s]! += sign * room
    if (!prohibited && u > 0 && u < max) {
      partial[s]! += sign
      deficit[s]! += sign * (max - u)
      if (a < max - u) {
        unfillable[s]! += sign
        sumUnfill[s]! += sign * norm
      }
    }
  }
  for (let vid = 0; vid < vidKey.length; vid++) apply(vid, 1)

  const groupAvail = Int32Array.from(groupSize)
  const score = new Float64Array(n)
  for (let i = 0; i < n; i++) score[i] = (cands[i] as SelectCandidate).score

  const removeAvail = (i: number): void => {
    groupAvail[group[i] as number]!--
    for (let k = 0; k < K; k++) {
      const vid = nodeVid[i * K + k] as number
      apply(vid, -1)
      vidAvail[vid]!--
      apply(vid, 1)
    }
  }
  const restoreAvail = (i: number): void => {
    groupAvail[group[i] as number]!++
    for (let k = 0; k < K; k++) {
      const vid = nodeVid[i * K + k] as number
      apply(vid, -1)
      vidAvail[vid]!++
      apply(vid, 1)
    }
  }
  const allowed = (i: number): boolean => {
    for (let k = 0; k < K; k++) {
      const vid = nodeVid[i * K + k] as number
      if (vidHasValue[vid] === 1 && (vidProhibited[vid] === 1 || (vidUsed[vid] as number) >= (keyMax[k] as number))) {
        return false
      }
    }
    return true
  }
  const use = (i: number, delta: number): void => {
    for (let k = 0; k < K; k++) {
      const vid = nodeVid[i * K + k] as number
      if (vidHasValue[vid] === 0) continue
      apply(vid, -1)
      vidUsed[vid]! += delta
      apply(vid, 1)
    }
  }
  /** Whether `remaining` more picks from group g could still lead to a valid selection (necessary test). */
  const feasible = (g: number, remaining: number): boolean => {
    if ((groupAvail[g] as number) < remaining) return false
    for (let k = 0; k < K; k++) {
      const s = k * G + g
      const unfill = unfillable[s] as number
      if (unfill >= 2) return false
      // All partial groups but one must be filled; the one left over has a deficit of at most max − 1.
      if ((partial[s] as number) > 0 && (deficit[s] as number) - ((keyMax[k] as number) - 1) > remaining) return false
      // With an unfillable partial group, every other value used must be filled completely.
      const most = unfill === 1 ? (sumStrict[s] as number) + (sumUnfill[s] as number) : (sumNorm[s] as number)
      if (most < remaining) return false
    }
    return true
  }
  const complete = (g: number): boolean => {
    for (let k = 0; k < K; k++) if ((partial[k * G + g] as number) > 1) return false
    return true
  }

  let best = beat
  let bestPicks: number[] | null = null
  const picked = new Int32Array(count)
  // Undo logs shared by all depths; each depth restores down to the marks it took on entry.
  const availLog: number[] = []
  const banLog: number[] = []

  const search = (list: Int32Array, start: number, depth: number, cur: number): void => {
    const remaining = count - depth
    const availMark = availLog.length
    const banMark = banLog.length
    const len = list.length
    for (let p = start; p < len && !(firstOnly && bestPicks !== null); p++) {
      if (p + remaining > len) break
      let bound = cur
      for (let q = p; q < p + remaining; q++) bound += score[list[q] as number] as number
      if (!(bound > best)) break
      const i = list[p] as number
      const c = cls[i] as number
      if (banned[c] === 1) continue // already removed from the available counts when banned
      removeAvail(i)
      availLog.push(i)
      if (!allowed(i)) continue
      use(i, 1)
      picked[depth] = i
      const total = cur + (score[i] as number)
      const g = group[i] as number
      if (remaining === 1) {
        if (total > best && complete(g)) {
          best = total
          bestPicks = Array.from(picked)
        }
      } else if (feasible(g, remaining - 1)) {
        search(groupList[g] as Int32Array, (posInGroup[i] as number) + 1, depth + 1, total)
      }
      use(i, -1)
      // Dominance: later siblings need not take another node of this class (see file comment).
      banned[c] = 1
      banLog.push(c)
      const members = classMembers[c] as number[]
      for (let m = (posInClass[i] as number) + 1; m < members.length; m++) {
        const j = members[m] as number
        removeAvail(j)
        availLog.push(j)
      }
    }
    while (availLog.length > availMark) restoreAvail(availLog.pop() as number)
    while (banLog.length > banMark) banned[banLog.pop() as number] = 0
  }

  const all = new Int32Array(n)
  for (let i = 0; i < n; i++) all[i] = i
  search(all, 0, 0, 0)
  return bestPicks === null ? null : { score: best, picks: bestPicks }
}
