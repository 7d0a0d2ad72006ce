/**
 * The pure heart of a reconcile pass (STYLE.md §4): desired volumes of one resource and the volumes
 * found on the node go in, the ordered steps that make the node match come out. No I/O, no clock:
 * table-tested in test/unit/satellite/reconcile/diff.test.ts.
 *
 * Volumes are matched by their backing path, so two pools sharing one directory cannot make a volume
 * look both wanted and unwanted. Anything found that is not desired is taken down: detached, then
 * removed (the caller only shows this function what belongs to the resource). Nothing is ever shrunk.
 */
import type { ProviderKind } from '../../proto/messages.js'

/** A volume the resource should have on this node. */
export interface DesiredVolume {
  number: number
  kind: ProviderKind
  /** Where its data lives (the provider's name for it); absent for DISKLESS, which has none. */
  path?: string
  /** Size the provider allocates (the gross size), KiB. */
  sizeKib: number
}

/** A volume found on the node. */
export interface ActualVolume {
  number: number
  kind: ProviderKind
  path: string
  /** Size of the backing storage, KiB. */
  sizeKib: number
  /** The block device exposing it, when there is one. */
  device?: string
  /** That device's size, KiB. */
  deviceSizeKib?: number
}

export interface DesiredResource {
  /** Tear everything down. */
  deleted: boolean
  volumes: DesiredVolume[]
}

interface VolumeRef {
  number: number
  kind: ProviderKind
  path: string
}

/** One idempotent change, applied in order by the layer and provider. */
export type Step =
  | (VolumeRef & { op: 'create'; sizeKib: number })
  | (VolumeRef & { op: 'grow'; fromKib: number; toKib: number })
  | (VolumeRef & { op: 'attach' })
  | (VolumeRef & { op: 'resizeDevice'; device: string })
  | (VolumeRef & { op: 'detach'; device: string })
  | (VolumeRef & { op: 'remove' })

/** A desired change this satellite will not make (terminal until the desired state changes). */
export interface Refusal {
  number: number
  message: string
}

export interface Diff {
  steps: Step[]
  refusals: Refusal[]
}

/**
 * The steps from `actual` to `desired`: first unwanted volumes come down (detach, then remove — so
 * space is freed before new volumes take it), then each desired volume in ascending number is created
 * or grown and exposed. Empty steps and refusals mean the node matches.
 */
export function diff(desired: DesiredResource, actual: readonly ActualVolume[]): Diff {
  const steps: Step[] = []
  const refusals: Refusal[] = []
  const wanted = new Map<string, DesiredVolume>()
  if (!desired.deleted) {
    for (const v of desired.volumes) if (v.path !== undefined) wanted.set(v.path, v)
  }
  const found = new Map<string, ActualVolume>()
  for (const a of actual) found.set(a.path, a)

  const unwanted = [...found.values()].filter((a) => !wanted.has(a.path)).sort(byNumberThenPath)
  for (const a of unwanted) if (a.device !== undefined) steps.push({ op: 'detach', ...ref(a), device: a.device })
  for (const a of unwanted) steps.push({ op: 'remove', ...ref(a) })

  const keep = [...wanted.values()].sort((x, y) => x.number - y.number)
  for (const d of keep) {
    const r: VolumeRef = { number: d.number, kind: d.kind, path: d.path! }
    const a = found.get(r.path)
    if (a === undefined) {
      steps.push({ op: 'create', ...r, sizeKib: d.sizeKib }, { op: 'attach', ...r })
      continue
    }
    if (a.sizeKib > d.sizeKib) {
      refusals.push({ number: d.number, message: `volume ${d.number} is ${a.sizeKib} KiB but ${d.sizeKib} KiB are desired: Blockyard never shrinks a volume` })
      continue
    }
    const grown = a.sizeKib < d.sizeKib
    if (grown) steps.push({ op: 'grow', ...r, fromKib: a.sizeKib, toKib: d.sizeKib })
    if (a.device === undefined) steps.push({ op: 'attach', ...r })
    else if (grown || a.deviceSizeKib !== a.sizeKib) steps.push({ op: 'resizeDevice', ...r, device: a.device })
  }
  return { steps, refusals }
}

function ref(a: ActualVolume): VolumeRef {
  return { number: a.number, kind: a.kind, path: a.path }
}

function byNumberThenPath(a: ActualVolume, b: ActualVolume): number {
  return a.number - b.number || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
}
