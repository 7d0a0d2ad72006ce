/**
 * Kernel uevents: which datagrams to trust, their parsing, and waiting for a device node without
 * sleeping (DESIGN.md §2.7). The addon only reads the socket (native.ts `ueventOpen`).
 */
import { EventEmitter } from 'node:events'
import { logger } from '../../common/log.js'
import { blockSize } from './blk.js'
import { native, SysError, type UeventSocket } from './native.js'

const log = logger('sys.uevent')

/** The kernel's own multicast group on NETLINK_KOBJECT_UEVENT (udev re-broadcasts on 2). */
export const UEVENT_GROUP_KERNEL = 1
/**
 * Receive buffer asked for with SO_RCVBUFFORCE (root only): a burst of uevents (thousands of loop
 * devices attached at once) must not overflow the socket. systemd's device monitor asks 128 MiB; the
 * kernel only charges what is queued.
 */
const RCVBUF_BYTES = 16 * 1024 * 1024

/** One kernel uevent. */
export interface Uevent {
  /** `add`, `remove`, `change`, `move`, `online`, `offline`, `bind`, `unbind`. */
  action: string
  /** Path under /sys, e.g. `/devices/virtual/block/loop3`. */
  devpath: string
  subsystem: string
  seqnum: bigint
  /** Node name under /dev (`loop3`), for devices that have one. */
  devname: string | undefined
  /** `disk`, `partition`… */
  devtype: string | undefined
  /** Every KEY=value of the message, ACTION, DEVPATH, SUBSYSTEM and SEQNUM included. */
  env: ReadonlyMap<string, string>
}

/** What the kernel said about a datagram's sender, and whether it fitted the read buffer. */
export interface UeventSender {
  /** Netlink port id: 0 is the kernel. */
  port: number
  /** SCM_CREDENTIALS uid; -1 when the datagram carried none. */
  uid: number
  truncated: boolean
}

/**
 * Whether a datagram is the kernel's own: from port 0 with uid 0, and whole. Any local process may
 * send to a uevent group it can bind; only the kernel sends from port 0, and only root can claim
 * uid 0 in credentials (systemd's sd-device/device-monitor.c checks the same, and drops truncated
 * messages rather than parse half of one).
 */
export function isTrustedUevent(sender: UeventSender): boolean {
  return !sender.truncated && sender.port === 0 && sender.uid === 0
}

/**
 * Parses a kernel uevent datagram: `action@devpath\0KEY=value\0…`. Returns null for anything else —
 * udev's own `libudev\0` format, a header that is not `action@/…`, a message without ACTION, DEVPATH,
 * SUBSYSTEM or SEQNUM, or one whose header disagrees with its ACTION/DEVPATH.
 */
export function parseUevent(message: Buffer): Uevent | null {
  const fields = message.toString('utf8').split('\0')
  const header = fields[0] ?? ''
  const at = header.indexOf('@/')
  if (at <= 0) return null
  const env = new Map<string, string>()
  for (let i = 1; i < fields.length; i++) {
    const f = fields[i]!
    if (f === '') continue // the trailing NUL, or padding
    const eq = f.indexOf('=')
    if (eq <= 0) return null
    env.set(f.slice(0, eq), f.slice(eq + 1))
  }
  const action = env.get('ACTION')
  const devpath = env.get('DEVPATH')
  const subsystem = env.get('SUBSYSTEM')
  const seqnum = env.get('SEQNUM')
  if (action === undefined || devpath === undefined || subsystem === undefined || seqnum === undefined) return null
  if (header.slice(0, at) !== action || header.slice(at + 1) !== devpath || !/^\d+$/.test(seqnum)) return null
  return { action, devpath, subsystem, seqnum: BigInt(seqnum), devname: env.get('DEVNAME'), devtype: env.get('DEVTYPE'), env }
}

export interface UeventMonitorOptions {
  /** Keep the process alive while open (default true). */
  ref?: boolean
}

/**
 * Kernel uevents as events: `'uevent'` (Uevent) for each trusted, well-formed message; `'overflow'`
 * (SysError ENOBUFS) when the socket's buffer overflowed and events were lost — listeners must
 * observe the kernel afresh; `'error'` (SysError) when reading failed otherwise. Untrusted or
 * malformed messages are dropped: counted in `dropped` and announced as `'drop'` (UeventSender).
 */
export class UeventMonitor extends EventEmitter {
  #socket: UeventSocket | null
  /** Messages dropped: untrusted sender, truncated, or not a kernel uevent. */
  dropped = 0

  constructor(options: UeventMonitorOptions = {}) {
    super()
    const rcvbuf = process.getuid?.() === 0 ? RCVBUF_BYTES : 0
    this.#socket = native().ueventOpen(UEVENT_GROUP_KERNEL, rcvbuf, (err, message, port, uid, truncated) => this.#receive(err, message, { port, uid, truncated }))
    if (options.ref === false) this.#socket.unref()
  }

  #receive(err: SysError | null, message: Buffer | null, sender: UeventSender): void {
    if (err !== null) {
      if (err.code === 'ENOBUFS') {
        log.warn('uevent socket overflowed: events were lost', { error: err.message })
        this.emit('overflow', err)
      } else {
        this.emit('error', err)
      }
      return
    }
    if (message === null) return
    if (!isTrustedUevent(sender)) {
      this.dropped++
      log.debug('dropped uevent from an untrusted or truncated datagram', sender)
      this.emit('drop', sender)
      return
    }
    const ev = parseUevent(message)
    if (ev === null) {
      this.dropped++
      log.debug('dropped a datagram that is no kernel uevent', { bytes: message.length })
      this.emit('drop', sender)
      return
    }
    this.emit('uevent', ev)
  }

  get closed(): boolean {
    return this.#socket === null
  }

  /** Stops listening; idempotent. */
  close(): void {
    this.#socket?.close()
    this.#socket = null
  }

  ref(): void {
    this.#socket?.ref()
  }

  unref(): void {
    this.#socket?.unref()
  }
}

/** waitForDevice's timeout. */
export class DeviceWaitTimeoutError extends Error {
  readonly code = 'ETIMEDOUT'
  constructor(
    readonly device: string,
    readonly timeoutMs: number,
  ) {
    super(`${device} did not appear within ${timeoutMs} ms (no kernel add/change uevent, and the node does not answer BLKGETSIZE64)`)
  }
}
Object.defineProperty(DeviceWaitTimeoutError.prototype, 'name', { value: 'DeviceWaitTimeoutError', writable: true, enumerable: false, configurable: true })

interface Waiter {
  settle(err?: Error): void
  probe(): void
}

// One socket shared by every waitForDevice in the process, open while anyone waits. Unref'd: the
// waiters' timers keep the process alive, a bare socket must not.
const waiters = new Map<string, Set<Waiter>>()
let shared: UeventMonitor | null = null

function subscribe(name: string, w: Waiter): void {
  if (shared === null) {
    const monitor = new UeventMonitor({ ref: false })
    monitor.on('uevent', (ev: Uevent) => {
      if (ev.subsystem !== 'block' || ev.devname === undefined || (ev.action !== 'add' && ev.action !== 'change')) return
      for (const waiter of waiters.get(ev.devname) ?? []) waiter.settle()
    })
    // Events were lost: whatever was waited for may have appeared unseen. Look again.
    monitor.on('overflow', () => {
      for (const set of waiters.values()) for (const waiter of set) waiter.probe()
    })
    monitor.on('error', (err: Error) => {
      for (const set of [...waiters.values()]) for (const waiter of [...set]) waiter.settle(err)
    })
    shared = monitor
  }
  let set = waiters.get(name)
  if (set === undefined) waiters.set(name, (set = new Set()))
  set.add(w)
}

function unsubscribe(name: string, w: Waiter): void {
  const set = waiters.get(name)
  set?.delete(w)
  if (set?.size === 0) waiters.delete(name)
  if (waiters.size === 0 && shared !== null) {
    shared.close()
    shared = null
  }
}

/**
 * Resolves once the block device `devname` (`loop3` or `/dev/loop3`) is usable: on the kernel's
 * `add` or `change` uevent for it, or at once when its node exists and answers BLKGETSIZE64 (there
 * is no udev here to announce it otherwise). Rejects with {@link DeviceWaitTimeoutError} after
 * `timeoutMs`, or with a SysError when the uevent socket cannot be opened or read. Never polls: it
 * listens before it looks, so an event between the look and the listen is not lost.
 */
export function waitForDevice(devname: string, timeoutMs: number): Promise<void> {
  if (typeof devname !== 'string') throw new TypeError('waitForDevice: devname must be a string')
  const name = devname.startsWith('/dev/') ? devname.slice('/dev/'.length) : devname
  if (name === '' || name.split('/').some((p) => p === '' || p === '.' || p === '..')) throw new RangeError(`waitForDevice: bad device name ${devname}`)
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new RangeError(`waitForDevice: timeoutMs must be a non-negative number, got ${timeoutMs}`)
  return new Promise<void>((resolve, reject) => {
    let done = false
    let timer: NodeJS.Timeout | undefined
    const waiter: Waiter = {
      settle(err?: Error) {
        if (done) return
        done = true
        clearTimeout(timer)
        unsubscribe(name, waiter)
        if (err === undefined) resolve()
        else reject(err)
      },
      probe() {
        blockSize(`/dev/${name}`).then(
          () => waiter.settle(),
          () => {}, // not there yet (ENOENT, ENXIO…): the uevent will say when
        )
      },
    }
    try {
      subscribe(name, waiter)
    } catch (e) {
      reject(e)
      return
    }
    timer = setTimeout(() => waiter.settle(new DeviceWaitTimeoutError(`/dev/${name}`, timeoutMs)), timeoutMs)
    waiter.probe()
  })
}
