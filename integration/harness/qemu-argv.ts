/**
 * The qemu command line of one test VM, as a pure function of its description (DESIGN.md §4).
 *
 * `-nodefaults` is always there: without it qemu adds default devices, among them a user-mode NIC, a
 * path out of the sandbox. The only network device is a virtio NIC on a tap that the harness created
 * in its own network namespace.
 */
import { isAbsolute } from 'node:path'

export const QEMU_BINARY = 'qemu-system-x86_64'

export interface QemuVmSpec {
  /** Short name: the guest's hostname, and part of device ids. `[a-z0-9-]`. */
  name: string
  memMiB: number
  /** Uncompressed ELF kernel (booted through its PVH entry). */
  kernel: string
  initrd: string
  /** qcow2 overlay whose backing file is the cached raw root image. */
  rootOverlay: string
  /** Raw (sparse) data disks, seen in the guest as /dev/disk/by-id/virtio-data<N>. */
  dataDisks: readonly string[]
  /** Tap device in the namespace qemu runs in. */
  tap: string
  mac: string
  /** Guest address with prefix length, e.g. 10.99.0.11/24. */
  ip: string
  /** Host directory shared read-only over 9p, mounted at `guestDir` in the guest. */
  share: { hostDir: string; tag: string; guestDir: string }
  /** The agent's channel: a unix socket the harness listens on; qemu connects to it. */
  agentSocket: string
  /** The guest console (first serial port) is written here. */
  consoleLog: string
}

const NAME = /^[a-z0-9][a-z0-9-]{0,30}$/
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/
const TAG = /^[A-Za-z0-9_]{1,31}$/

/**
 * The kernel command line: serial console, no reboot on panic (qemu exits instead), the tuning measured
 * in DESIGN.md §4, and what the guest's init reads (address, hostname, share).
 */
export function kernelCmdline(spec: Pick<QemuVmSpec, 'name' | 'ip' | 'share'>): string {
  return [
    'console=ttyS0',
    'panic=-1',
    'loglevel=4',
    // Crypto self-tests and speculative-execution mitigations cost seconds under software emulation.
    'cryptomgr.notests=1',
    'mitigations=off',
    // The kernel checks that the emulated PIT timer ticks through the IO-APIC within a short time; on a
    // busy host a software-emulated CPU misses it and the boot panics ("IO-APIC + timer doesn't work").
    'no_timer_check',
    // eth0 whatever udev's naming policy would call it: the init configures eth0.
    'net.ifnames=0',
    `blockyard.hostname=${spec.name}`,
    `blockyard.ip=${spec.ip}`,
    `blockyard.share=${spec.share.tag}:${spec.share.guestDir}`,
  ].join(' ')
}

/** qemu's option values separate fields with commas; a literal comma is doubled. */
function optValue(v: string): string {
  return v.replaceAll(',', ',,')
}

/**
 * The argument vector (without the qemu binary itself). Validates the description first: a bad one is a
 * TypeError/RangeError, before anything runs.
 */
export function qemuArgv(spec: QemuVmSpec): string[] {
  if (!NAME.test(spec.name)) throw new TypeError(`VM name ${JSON.stringify(spec.name)} must match ${NAME}`)
  if (!Number.isInteger(spec.memMiB) || spec.memMiB < 256 || spec.memMiB > 16384) throw new RangeError(`memMiB ${spec.memMiB} is not 256..16384`)
  if (!MAC.test(spec.mac)) throw new TypeError(`MAC ${JSON.stringify(spec.mac)} is not lower-case xx:xx:xx:xx:xx:xx`)
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(spec.ip)) throw new TypeError(`guest address ${JSON.stringify(spec.ip)} is not ADDR/LEN`)
  if (!TAG.test(spec.share.tag)) throw new TypeError(`9p tag ${JSON.stringify(spec.share.tag)} must match ${TAG}`)
  if (!/^\/[^\s]*$/.test(spec.share.guestDir)) throw new TypeError(`guest directory ${JSON.stringify(spec.share.guestDir)} must be absolute, without spaces`)
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(spec.tap)) throw new TypeError(`tap name ${JSON.stringify(spec.tap)} is not an interface name`)
  const paths = { kernel: spec.kernel, initrd: spec.initrd, rootOverlay: spec.rootOverlay, agentSocket: spec.agentSocket, consoleLog: spec.consoleLog, shareHostDir: spec.share.hostDir }
  for (const [what, p] of [...Object.entries(paths), ...spec.dataDisks.map((d, i) => [`dataDisks[${i}]`, d] as const)]) {
    if (!isAbsolute(p)) throw new TypeError(`${what} must be an absolute path: ${JSON.stringify(p)}`)
  }

  const argv = [
    '-nodefaults',
    '-no-user-config',
    '-machine', 'pc',
    '-accel', 'tcg',
    '-cpu', 'max',
    '-smp', '1',
    '-m', String(spec.memMiB),
    '-display', 'none',
    '-no-reboot',
    '-name', spec.name,
    '-kernel', spec.kernel,
    '-initrd', spec.initrd,
    '-append', kernelCmdline(spec),
    // ttyS0: the console, to a file; ttyS1: the agent's channel.
    '-chardev', `file,id=console,path=${optValue(spec.consoleLog)}`,
    '-serial', 'chardev:console',
    '-chardev', `socket,id=agent,path=${optValue(spec.agentSocket)}`,
    '-serial', 'chardev:agent',
    // Disks are throw-away per run. The root overlay honours guest flushes (cache=writeback): qcow2
    // keeps its cluster mappings in qemu's memory until a flush, so a VM power-cut by SIGKILL (restart())
    // would otherwise lose root writes the guest had made durable. Raw data disks have no such metadata:
    // cache=unsafe ignores flushes, and what was written still reaches the host's page cache, surviving
    // the VM being killed (not the host crashing).
    '-drive', `file=${optValue(spec.rootOverlay)},format=qcow2,if=none,id=root,cache=writeback,discard=unmap`,
    '-device', 'virtio-blk-pci,drive=root,serial=root',
  ]
  spec.dataDisks.forEach((d, i) => {
    argv.push('-drive', `file=${optValue(d)},format=raw,if=none,id=data${i},cache=unsafe,discard=unmap`)
    argv.push('-device', `virtio-blk-pci,drive=data${i},serial=data${i}`)
  })
  argv.push(
    '-netdev', `tap,id=net0,ifname=${spec.tap},script=no,downscript=no`,
    '-device', `virtio-net-pci,netdev=net0,mac=${spec.mac}`,
    '-virtfs', `local,path=${optValue(spec.share.hostDir)},mount_tag=${spec.share.tag},security_model=none,readonly=on`,
  )
  return argv
}
