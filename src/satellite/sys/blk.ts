/** Block device facts that do not depend on the driver. */
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
