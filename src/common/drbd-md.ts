/**
 * DRBD 9 internal metadata sizes, computed as LINSTOR computes them (`com.linbit.drbd.md.MetaData`), so a
 * volume of a given size gets the same backing-device size under Blockyard as under LINSTOR and a
 * device moved between the two fits.
 *
 * Internal metadata sits at the end of the backing device: a bitmap (one bit per 4 KiB of the *gross*
 * size, per peer slot), the activity log (stripes × stripe size, 32 KiB by default) and a 4 KiB
 * superblock, aligned to 4 KiB. All sizes are KiB.
 */

/** Alignment of the data area. */
export const DRBD_DATA_ALIGN_KIB = 4
/** Alignment of the metadata area. */
export const DRBD_MD_ALIGN_KIB = 4
/** Granularity of the bitmap area. */
export const DRBD_BM_ALIGN_KIB = 4
/** The per-peer bitmap grows in steps of this many bytes. */
export const DRBD_BM_PEER_ALIGN_BYTES = 8
/** Smallest and largest data size one bitmap bit may cover. */
export const DRBD_MIN_BM_BIT_COVER_KIB = 4
export const DRBD_MAX_BM_BIT_COVER_KIB = 1024
/** Default data size one bitmap bit covers. */
export const DRBD_DEFAULT_BM_BLOCK_KIB = 4
/** Default activity log: one stripe of 32 KiB. */
export const DRBD_DEFAULT_AL_STRIPES = 1
export const DRBD_DEFAULT_AL_STRIPE_SIZE_KIB = 32
/** Activity log size limits and alignment. */
export const DRBD_MIN_AL_KIB = 4
export const DRBD_MAX_AL_KIB = 1048576
export const DRBD_AL_ALIGN_KIB = 4
/** Size of the metadata superblock. */
export const DRBD_MD_SUPERBLOCK_KIB = 4
/** Largest DRBD device: 1 PiB (2^40 KiB). */
export const DRBD_MAX_KIB = 2 ** 40
/** Smallest gross (backing) size; {@link grossSizeKib} never answers less. */
export const DRBD_MIN_GROSS_KIB = 68
/** Smallest net (usable) size. */
export const DRBD_MIN_NET_KIB = 4
/** Peer slots: 1–31 (DRBD 9 node ids are 0–31, one is the node itself). */
export const DRBD_MIN_PEERS = 1
export const DRBD_MAX_PEERS = 31
/** LINSTOR's default peer slots (`DrbdOptions/PeerSlots` unset). */
export const DRBD_DEFAULT_PEERS = 7
/** Smallest external metadata device LINSTOR creates. */
export const DRBD_MIN_EXT_MD_KIB = 1024

// Sanity bounds on arguments, as LINSTOR's MdCommon: values past these are malformed, not merely too big.
const ARG_MAX_PEERS = 0xff
const ARG_MAX_AL_STRIPES = 0xffff
const ARG_MAX_AL_STRIPE_SIZE = 0xffffffff

/**
 * Why a metadata computation refused its arguments; one value per exception of LINSTOR's
 * `com.linbit.drbd.md` package, so callers can tell a volume that is too small from a bad option.
 */
export type DrbdMdErrorReason =
  | 'ARGUMENT' // negative or absurd (IllegalArgumentException)
  | 'MIN_SIZE'
  | 'MAX_SIZE'
  | 'MIN_AL_SIZE'
  | 'MAX_AL_SIZE'
  | 'AL_STRIPES'
  | 'PEER_COUNT'
  | 'BITMAP_BLOCK_SIZE'

/** A size, peer count or activity-log setting outside what DRBD (and LINSTOR) accept. */
export class DrbdMdRangeError extends RangeError {
  override readonly name = 'DrbdMdRangeError'
  constructor(
    readonly reason: DrbdMdErrorReason,
    message: string,
  ) {
    super(message)
  }
}

function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b)
}

function ceilAlign(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment
}

function floorAlign(value: number, alignment: number): number {
  return Math.floor(value / alignment) * alignment
}

function checkArgs(size: number, peers: number, alStripes: number, alStripeSizeKib: number, bmBlockKib: number) {
  const args: [string, number][] = [
    ['size', size],
    ['peers', peers],
    ['alStripes', alStripes],
    ['alStripeSizeKib', alStripeSizeKib],
    ['bitmapBlockSizeKib', bmBlockKib],
  ]
  for (const [what, v] of args) {
    if (typeof v !== 'number') throw new TypeError(`${what} must be a number, got ${typeof v}`)
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new DrbdMdRangeError('ARGUMENT', `${what} must be a non-negative integer, got ${v}`)
    }
  }
  if (peers > ARG_MAX_PEERS || alStripes > ARG_MAX_AL_STRIPES || alStripeSizeKib > ARG_MAX_AL_STRIPE_SIZE) {
    throw new DrbdMdRangeError(
      'ARGUMENT',
      `peers (${peers}), alStripes (${alStripes}) or alStripeSizeKib (${alStripeSizeKib}) is out of bounds`,
    )
  }
}

function checkPeers(peers: number): void {
  if (peers < DRBD_MIN_PEERS || peers > DRBD_MAX_PEERS) {
    throw new DrbdMdRangeError(
      'PEER_COUNT',
      `peer slots must be ${DRBD_MIN_PEERS}–${DRBD_MAX_PEERS}, got ${peers}`,
    )
  }
}

function checkBitmapBlockSize(bmBlockKib: number): void {
  const powerOfTwo = (bmBlockKib & (bmBlockKib - 1)) === 0
  if (bmBlockKib < DRBD_MIN_BM_BIT_COVER_KIB || bmBlockKib > DRBD_MAX_BM_BIT_COVER_KIB || !powerOfTwo) {
    const range = `${DRBD_MIN_BM_BIT_COVER_KIB}–${DRBD_MAX_BM_BIT_COVER_KIB} KiB`
    throw new DrbdMdRangeError(
      'BITMAP_BLOCK_SIZE',
      `bitmap block size must be a power of two in ${range}, got ${bmBlockKib}`,
    )
  }
}

function checkMax(size: number, what: string): void {
  if (size > DRBD_MAX_KIB) {
    throw new DrbdMdRangeError('MAX_SIZE', `${what} ${size} KiB exceeds DRBD's maximum of ${DRBD_MAX_KIB} KiB`)
  }
}

function checkMinNet(net: number): void {
  if (net < DRBD_MIN_NET_KIB) {
    throw new DrbdMdRangeError(
      'MIN_SIZE',
      `net size ${net} KiB is below DRBD's minimum of ${DRBD_MIN_NET_KIB} KiB`,
    )
  }
}

function checkMinGross(gross: number): void {
  if (gross < DRBD_MIN_GROSS_KIB) {
    throw new DrbdMdRangeError(
      'MIN_SIZE',
      `gross size ${gross} KiB is below DRBD's minimum of ${DRBD_MIN_GROSS_KIB} KiB`,
    )
  }
}

function alSizeKib(alStripes: number, alStripeSizeKib: number): number {
  if (alStripes < 1) {
    throw new DrbdMdRangeError('AL_STRIPES', `activity log stripes must be ≥ 1, got ${alStripes}`)
  }
  if (alStripeSizeKib > DRBD_MAX_AL_KIB) {
    throw new DrbdMdRangeError(
      'MAX_AL_SIZE',
      `activity log stripe size ${alStripeSizeKib} KiB exceeds ${DRBD_MAX_AL_KIB} KiB`,
    )
  }
  const al = ceilAlign(alStripeSizeKib * alStripes, DRBD_AL_ALIGN_KIB)
  if (al < DRBD_MIN_AL_KIB) {
    throw new DrbdMdRangeError('MIN_AL_SIZE', `activity log size ${al} KiB is below ${DRBD_MIN_AL_KIB} KiB`)
  }
  if (al > DRBD_MAX_AL_KIB) {
    throw new DrbdMdRangeError('MAX_AL_SIZE', `activity log size ${al} KiB exceeds ${DRBD_MAX_AL_KIB} KiB`)
  }
  return al
}

/** KiB of bitmap for `coveredKib` of data on `peers` peers: bits → bytes per peer (8-byte steps) → 4 KiB. */
function bitmapKib(coveredKib: number, peers: number, bmBlockKib: number): number {
  const peerBytes = ceilAlign(ceilDiv(coveredKib, bmBlockKib * 8), DRBD_BM_PEER_ALIGN_BYTES)
  return ceilAlign(ceilDiv(peerBytes * peers, 1024), DRBD_BM_ALIGN_KIB)
}

/** Bitmap of internal metadata when the gross size is known: it covers the whole backing device. */
function bitmapForGross(gross: number, peers: number, bmBlockKib: number): number {
  checkMinGross(gross)
  checkMax(gross, 'gross size')
  checkPeers(peers)
  checkBitmapBlockSize(bmBlockKib)
  return bitmapKib(ceilAlign(gross, DRBD_DATA_ALIGN_KIB), peers, bmBlockKib)
}

/**
 * Bitmap of internal metadata when the net size is known. The bitmap must cover the gross size, which
 * includes the bitmap itself; iterate until the bitmap covers what it produces (converges in a few
 * steps: each KiB of bitmap covers 32 MiB per peer).
 */
function bitmapForNet(net: number, peers: number, alStripes: number, alStripeSizeKib: number, bmBlockKib: number) {
  checkMinNet(net)
  checkMax(net, 'net size')
  checkPeers(peers)
  checkBitmapBlockSize(bmBlockKib)
  const alignedNet = ceilAlign(net, DRBD_DATA_ALIGN_KIB)
  const al = alSizeKib(alStripes, alStripeSizeKib)
  const byteCover = bmBlockKib * 8
  let gross = alignedNet + al + DRBD_MD_SUPERBLOCK_KIB
  let bitmap = 0
  let covered = 0
  while (covered < gross) {
    const peerBytes = ceilAlign(ceilDiv(gross, byteCover), DRBD_BM_PEER_ALIGN_BYTES)
    covered = peerBytes * byteCover
    bitmap = ceilAlign(ceilDiv(peerBytes * peers, 1024), DRBD_BM_ALIGN_KIB)
    gross = alignedNet + ceilAlign(al + DRBD_MD_SUPERBLOCK_KIB + bitmap, DRBD_DATA_ALIGN_KIB)
  }
  checkMax(gross, 'gross size')
  return bitmap
}

function mdKib(bitmap: number, al: number): number {
  return ceilAlign(bitmap + al + DRBD_MD_SUPERBLOCK_KIB, DRBD_MD_ALIGN_KIB)
}

/**
 * Size of internal metadata for a device that must show `netKib` (LINSTOR's `getInternalMdSize` with
 * `NET_SIZE`). 1 GiB with 7 peers → 264 KiB.
 *
 * @throws DrbdMdRangeError (a RangeError) when a size, the peer count or the activity log is out of
 *   range (`reason` tells which); TypeError when an argument is not a number
 */
export function internalMdSizeKib(
  netKib: number,
  peers: number = DRBD_DEFAULT_PEERS,
  alStripes: number = DRBD_DEFAULT_AL_STRIPES,
  alStripeSizeKib: number = DRBD_DEFAULT_AL_STRIPE_SIZE_KIB,
  bitmapBlockSizeKib: number = DRBD_DEFAULT_BM_BLOCK_KIB,
): number {
  checkArgs(netKib, peers, alStripes, alStripeSizeKib, bitmapBlockSizeKib)
  checkBitmapBlockSize(bitmapBlockSizeKib)
  const aligned = ceilAlign(netKib, bitmapBlockSizeKib)
  const al = alSizeKib(alStripes, alStripeSizeKib)
  return mdKib(bitmapForNet(aligned, peers, alStripes, alStripeSizeKib, bitmapBlockSizeKib), al)
}

/**
 * Backing-device size to allocate so the DRBD device shows `netKib` (rounded up to the bitmap block,
 * 4 KiB by default) with internal metadata; never less than {@link DRBD_MIN_GROSS_KIB}. LINSTOR's
 * `getGrossSize`.
 *
 * @throws DrbdMdRangeError (a RangeError) as {@link internalMdSizeKib}, and `MAX_SIZE` when the gross
 *   size would exceed {@link DRBD_MAX_KIB}
 */
export function grossSizeKib(
  netKib: number,
  peers: number = DRBD_DEFAULT_PEERS,
  alStripes: number = DRBD_DEFAULT_AL_STRIPES,
  alStripeSizeKib: number = DRBD_DEFAULT_AL_STRIPE_SIZE_KIB,
  bitmapBlockSizeKib: number = DRBD_DEFAULT_BM_BLOCK_KIB,
): number {
  checkArgs(netKib, peers, alStripes, alStripeSizeKib, bitmapBlockSizeKib)
  const bitmap = bitmapForNet(netKib, peers, alStripes, alStripeSizeKib, bitmapBlockSizeKib)
  const gross = ceilAlign(netKib, bitmapBlockSizeKib) + mdKib(bitmap, alSizeKib(alStripes, alStripeSizeKib))
  checkMax(gross, 'gross size')
  return Math.max(gross, DRBD_MIN_GROSS_KIB)
}

/**
 * Usable size of a DRBD device with internal metadata on a backing device of `grossKib` (rounded down
 * to 4 KiB). LINSTOR's `getNetSize`.
 *
 * @throws DrbdMdRangeError (a RangeError): `MIN_SIZE` when the metadata does not leave room for data
 *   or `grossKib` < {@link DRBD_MIN_GROSS_KIB}; otherwise as {@link internalMdSizeKib}
 */
export function netSizeKib(
  grossKib: number,
  peers: number = DRBD_DEFAULT_PEERS,
  alStripes: number = DRBD_DEFAULT_AL_STRIPES,
  alStripeSizeKib: number = DRBD_DEFAULT_AL_STRIPE_SIZE_KIB,
  bitmapBlockSizeKib: number = DRBD_DEFAULT_BM_BLOCK_KIB,
): number {
  checkArgs(grossKib, peers, alStripes, alStripeSizeKib, bitmapBlockSizeKib)
  checkMax(grossKib, 'gross size')
  const bitmap = bitmapForGross(grossKib, peers, bitmapBlockSizeKib)
  const md = mdKib(bitmap, alSizeKib(alStripes, alStripeSizeKib))
  const alignedGross = floorAlign(grossKib, DRBD_DATA_ALIGN_KIB)
  if (md >= alignedGross) {
    throw new DrbdMdRangeError(
      'MIN_SIZE',
      `gross size ${grossKib} KiB leaves no room for data after ${md} KiB of metadata`,
    )
  }
  return alignedGross - md
}

/**
 * Size of an external metadata device for a data device of `sizeKib` (at least
 * {@link DRBD_MIN_EXT_MD_KIB}). LINSTOR's `getExternalMdSize`.
 *
 * @throws DrbdMdRangeError (a RangeError) as {@link internalMdSizeKib}
 */
export function externalMdSizeKib(
  sizeKib: number,
  peers: number = DRBD_DEFAULT_PEERS,
  alStripes: number = DRBD_DEFAULT_AL_STRIPES,
  alStripeSizeKib: number = DRBD_DEFAULT_AL_STRIPE_SIZE_KIB,
  bitmapBlockSizeKib: number = DRBD_DEFAULT_BM_BLOCK_KIB,
): number {
  checkArgs(sizeKib, peers, alStripes, alStripeSizeKib, bitmapBlockSizeKib)
  checkBitmapBlockSize(bitmapBlockSizeKib)
  checkMax(sizeKib, 'size')
  checkPeers(peers)
  const al = alSizeKib(alStripes, alStripeSizeKib)
  checkMinNet(sizeKib)
  // External metadata covers only the data device: no fixed point to find.
  const bitmap = bitmapKib(ceilAlign(sizeKib, DRBD_DATA_ALIGN_KIB), peers, bitmapBlockSizeKib)
  return Math.max(mdKib(bitmap, al), DRBD_MIN_EXT_MD_KIB)
}
