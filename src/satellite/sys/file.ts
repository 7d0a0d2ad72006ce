/** Regular-file calls node's fs lacks, for the FILE provider. */
import { isAbsolute } from 'node:path'
import { native } from './native.js'

/**
 * Allocates the first `length` bytes of the existing regular file at `path` (fallocate(2), mode 0):
 * blocks are reserved on disk and the file grows to `length` if it was shorter; a longer file keeps
 * its size. Rejects with SysError (`open` ENOENT when the file is missing, `fallocate` ENOSPC when the
 * filesystem is full, EOPNOTSUPP when it cannot allocate ahead).
 */
export async function allocateFile(path: string, length: number): Promise<void> {
  if (typeof path !== 'string' || !isAbsolute(path)) throw new TypeError(`allocateFile: path must be absolute, got ${String(path)}`)
  if (!Number.isSafeInteger(length) || length <= 0) throw new RangeError(`allocateFile: length must be a positive integer, got ${length}`)
  await native().fallocate(path, 0, length)
}
