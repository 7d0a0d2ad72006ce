/**
 * Which loop device backs which file, without reading all of sysfs on every pass. The kernel is the
 * truth: every answer is confirmed by LOOP_GET_STATUS64 against the file's device and inode, so a
 * remembered binding that someone else undid or reused is noticed at once. What is remembered only
 * saves the search: the first lookup in a process scans sysfs once (adoption after a restart: loop
 * devices an earlier run bound are found by their backing file), and later bindings are this
 * process's own, recorded as they are made.
 */
import { listLoops, loopStatus } from '../sys/loop.js'

const DELETED_SUFFIX = ' (deleted)'

export class LoopIndex {
  readonly #byPath = new Map<string, string>()
  #scan: Promise<void> | null = null

  /**
   * The loop device bound to the file at `path` whose st_dev/st_ino are `dev`/`ino`, or null. `path`
   * must be the real path (the kernel reports backing files resolved).
   */
  async find(path: string, dev: bigint, ino: bigint): Promise<string | null> {
    await (this.#scan ??= this.#scanSysfs())
    const device = this.#byPath.get(path)
    if (device === undefined) return null
    const s = await loopStatus(device)
    if (s !== null && s.backingDevice === dev && s.backingInode === ino) return device
    if (this.#byPath.get(path) === device) this.#byPath.delete(path)
    return null
  }

  /** Records a binding this process made. */
  set(path: string, device: string): void {
    this.#byPath.set(path, device)
  }

  /** Forgets the binding of `path` (after detaching it). */
  delete(path: string): void {
    this.#byPath.delete(path)
  }

  async #scanSysfs(): Promise<void> {
    // listLoops sorts by number: the lowest-numbered device of a file doubly bound wins, as
    // findLoopByBackingFile decides. Bindings recorded meanwhile by set() are newer: they stay.
    for (const loop of await listLoops()) {
      if (loop.backingFile.endsWith(DELETED_SUFFIX)) continue
      if (!this.#byPath.has(loop.backingFile)) this.#byPath.set(loop.backingFile, loop.device)
    }
  }
}
