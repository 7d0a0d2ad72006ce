/**
 * The harness's private network: a network namespace with a bridge (the host side's address on it) and
 * one tap per VM. Nothing is routed out of it; qemu runs inside it, so its taps exist nowhere else.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

export const BRIDGE = 'br0'

async function ip(args: readonly string[]): Promise<void> {
  try {
    await execFileP('ip', args, { timeout: 30_000 })
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`)
  }
}

export class NetNamespace {
  private readonly taps = new Set<string>()
  private destroyed = false

  private constructor(
    readonly name: string,
    /** The bridge's address with prefix length, e.g. 10.99.0.1/24. */
    readonly hostCidr: string,
  ) {}

  /** Creates the namespace, brings up its loopback and the bridge with `hostCidr`. */
  static async create(name: string, hostCidr: string): Promise<NetNamespace> {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new TypeError(`namespace name ${JSON.stringify(name)} is not a plain name`)
    await ip(['netns', 'add', name])
    const ns = new NetNamespace(name, hostCidr)
    try {
      await ip(['-n', name, 'link', 'set', 'lo', 'up'])
      await ip(['-n', name, 'link', 'add', BRIDGE, 'type', 'bridge'])
      await ip(['-n', name, 'address', 'add', hostCidr, 'dev', BRIDGE])
      await ip(['-n', name, 'link', 'set', BRIDGE, 'up'])
    } catch (err) {
      await ns.destroy().catch(() => {})
      throw err
    }
    return ns
  }

  /** A tap on the bridge, up, for one VM's NIC. */
  async addTap(tap: string): Promise<void> {
    await ip(['-n', this.name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap'])
    this.taps.add(tap)
    await ip(['-n', this.name, 'link', 'set', tap, 'master', BRIDGE, 'up'])
  }

  /** Takes a tap down or up: a network partition of its VM, and its end. */
  async setTapUp(tap: string, up: boolean): Promise<void> {
    await ip(['-n', this.name, 'link', 'set', tap, up ? 'up' : 'down'])
  }

  /** `argv` as run inside the namespace. */
  execArgv(argv: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', this.name, ...argv]
  }

  /**
   * Removes the taps, the bridge and the namespace. Run it after the VMs are stopped. Every step is
   * tried even when one fails; the first failure is thrown at the end.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    const errors: unknown[] = []
    for (const tap of this.taps) await ip(['-n', this.name, 'link', 'del', tap]).catch((e: unknown) => errors.push(e))
    this.taps.clear()
    await ip(['-n', this.name, 'link', 'del', BRIDGE]).catch(() => {}) // gone with the namespace anyway
    await ip(['netns', 'del', this.name]).catch((e: unknown) => errors.push(e))
    if (errors.length > 0) throw errors[0]
  }

  /** destroy() for a process that is exiting and can no longer wait for promises. */
  destroySync(): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const tap of this.taps) spawnSync('ip', ['-n', this.name, 'link', 'del', tap], { stdio: 'ignore' })
    spawnSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' })
  }
}
