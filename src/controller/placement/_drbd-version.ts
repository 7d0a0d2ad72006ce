/**
 * What a node's DRBD kernel module can do, from the version its satellite reported ("8.4.11",
 * "9.2.8"; null when unknown or absent). LINSTOR decides the same features by version (ExtToolsInfo).
 */

/** The version's major.minor.patch, or null when there is none to read. */
function parts(version: string | null | undefined): [number, number, number] | null {
  const m = version == null ? null : /^(\d+)\.(\d+)\.(\d+)/.exec(version)
  return m === null ? null : [Number(m[1]), Number(m[2]), Number(m[3])]
}

/** Whether `version` is known and at least major.minor.patch. */
export function drbdAtLeast(version: string | null | undefined, major: number, minor: number, patch: number): boolean {
  const v = parts(version)
  if (v === null) return false
  return v[0] !== major ? v[0] > major : v[1] !== minor ? v[1] > minor : v[2] >= patch
}

/** DRBD 8.4: two diskful nodes, no diskless clients, no quorum (the satellite renders nothing else). */
export function isDrbd84(version: string | null | undefined): boolean {
  const v = parts(version)
  return v !== null && v[0] === 8
}

/** DRBD 9.1.18–9.1.x or ≥ 9.2.7 can mix storage pools of different kinds (LINSTOR's rule). */
export function drbdSupportsMixing(version: string | null | undefined): boolean {
  return (drbdAtLeast(version, 9, 1, 18) && !drbdAtLeast(version, 9, 2, 0)) || drbdAtLeast(version, 9, 2, 7)
}

/** DRBD's quorum: 9.0.18 and later (LINSTOR's CtrlRscAutoQuorumHelper.supportsQuorum). */
export function drbdSupportsQuorum(version: string | null | undefined): boolean {
  return drbdAtLeast(version, 9, 0, 18)
}

/** A diskless tiebreaker: 9.0.19 and later (LINSTOR's CtrlRscAutoTieBreakerHelper.supportsTieBreaker). */
export function drbdSupportsTieBreaker(version: string | null | undefined): boolean {
  return drbdAtLeast(version, 9, 0, 19)
}
