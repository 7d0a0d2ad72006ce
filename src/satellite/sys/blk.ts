/** Block device facts that do not depend on the driver. */
import { closeSync, constants as fsc, openSync } from 'node:fs'
import { native } from './native.js'

/**
 * The size in bytes of the block device `device` (ioctl BLKGETSIZE64; 0 for an unbound loop device).
 * Rejects with SysError (`open` ENOENT when there is no such node, `ioctl(BLKGETSIZE64)` ENOTTY when
 * it is no block device).
 */
export async function blockSize(device: string): Promise<number> {
  if (typeof device !== 'string' || device === '') throw new TypeError('blockSize: device must be a non-empty string')
  return native().blkGetSize64(device)
}

/**
 * Whether block device `device` is claimed exclusively: mounted, or held by device-mapper, DRBD or
 * another exclusive opener. An O_EXCL open of a block device fails with EBUSY then; a plain open by a
 * reader does not count. A device that is not there (ENOENT, ENXIO) is not claimed.
 */
export function claimedExclusively(device: string): boolean {
  try {
    closeSync(openSync(device, fsc.O_RDONLY | fsc.O_EXCL | fsc.O_NONBLOCK))
    return false
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'EBUSY') return true
    if (code === 'ENOENT' || code === 'ENXIO') return false
    throw e
  }
}
