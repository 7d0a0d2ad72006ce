// The VM harness's qemu command line (integration/harness/qemu-argv.ts): -nodefaults always, the only
// NIC a tap, software emulation, disks and the read-only share as described; bad descriptions refused.
import t from 'tap'
import { kernelCmdline, qemuArgv, type QemuVmSpec } from '../../../integration/harness/qemu-argv.js'

const spec = (over: Partial<QemuVmSpec> = {}): QemuVmSpec => ({
  name: 'vm1',
  memMiB: 1024,
  kernel: '/cache/abc/vmlinux',
  initrd: '/cache/abc/initramfs.cpio',
  rootOverlay: '/run/x/vm1-root.qcow2',
  dataDisks: ['/run/x/vm1-data0.img', '/run/x/vm1-data1.img'],
  tap: 'tap0',
  mac: '52:54:00:99:00:0b',
  ip: '10.99.0.11/24',
  share: { hostDir: '/work/main', tag: 'project', guestDir: '/project' },
  agentSocket: '/run/x/vm1-agent.sock',
  consoleLog: '/run/x/vm1-console.log',
  ...over,
})

/** Values of every occurrence of `opt`. */
const values = (argv: string[], opt: string): string[] => argv.flatMap((a, i) => (a === opt ? [argv[i + 1]!] : []))

t.test('-nodefaults is always there, and no user-mode network', async (t) => {
  const variants = [spec(), spec({ dataDisks: [] }), spec({ name: 'node-3', memMiB: 768, tap: 'tap2' })]
  for (const argv of variants.map(qemuArgv)) {
    t.ok(argv.includes('-nodefaults'), '-nodefaults present')
    t.same(values(argv, '-netdev').length, 1, 'exactly one netdev')
    t.match(values(argv, '-netdev')[0], /^tap,/, 'the netdev is a tap')
    t.notOk(argv.some((a) => /(^|[,=])user([,=]|$)|hostfwd|slirp/.test(a)), 'nothing user-mode')
    t.notOk(argv.includes('-net') || argv.includes('-nic'), 'no legacy NIC options')
    t.match(values(argv, '-netdev')[0], /script=no,downscript=no/, 'qemu runs no network scripts')
  }
})

t.test('software emulation, one vCPU, no display, no reboot', async (t) => {
  const argv = qemuArgv(spec())
  t.same(values(argv, '-accel'), ['tcg'])
  t.same(values(argv, '-cpu'), ['max'])
  t.same(values(argv, '-smp'), ['1'])
  t.same(values(argv, '-m'), ['1024'])
  t.same(values(argv, '-display'), ['none'])
  t.ok(argv.includes('-no-reboot'), 'a guest panic ends qemu')
  t.notOk(argv.includes('-enable-kvm'))
})

t.test('disks: the overlay first with serial root, then data disks; the root honours flushes, data disks do not', async (t) => {
  const argv = qemuArgv(spec())
  t.same(values(argv, '-drive'), [
    'file=/run/x/vm1-root.qcow2,format=qcow2,if=none,id=root,cache=writeback,discard=unmap',
    'file=/run/x/vm1-data0.img,format=raw,if=none,id=data0,cache=unsafe,discard=unmap',
    'file=/run/x/vm1-data1.img,format=raw,if=none,id=data1,cache=unsafe,discard=unmap',
  ])
  t.same(values(argv, '-device').filter((d) => d.startsWith('virtio-blk')), [
    'virtio-blk-pci,drive=root,serial=root',
    'virtio-blk-pci,drive=data0,serial=data0',
    'virtio-blk-pci,drive=data1,serial=data1',
  ])
  t.match(qemuArgv(spec({ rootOverlay: '/a,b/root.qcow2' })).join(' '), 'file=/a,,b/root.qcow2', 'commas in paths are doubled')
})

t.test('serial ports, NIC, read-only 9p share, kernel', async (t) => {
  const argv = qemuArgv(spec())
  t.same(values(argv, '-serial'), ['chardev:console', 'chardev:agent'], 'ttyS0 console, ttyS1 agent')
  t.same(values(argv, '-chardev'), ['file,id=console,path=/run/x/vm1-console.log', 'socket,id=agent,path=/run/x/vm1-agent.sock'])
  t.same(values(argv, '-device').filter((d) => d.startsWith('virtio-net')), ['virtio-net-pci,netdev=net0,mac=52:54:00:99:00:0b'])
  t.same(values(argv, '-virtfs'), ['local,path=/work/main,mount_tag=project,security_model=none,readonly=on'])
  t.same(values(argv, '-kernel'), ['/cache/abc/vmlinux'])
  t.same(values(argv, '-initrd'), ['/cache/abc/initramfs.cpio'])
  t.same(values(argv, '-append'), [kernelCmdline(spec())])
})

t.test('kernel command line', async (t) => {
  const line = kernelCmdline(spec()).split(' ')
  for (const want of ['console=ttyS0', 'panic=-1', 'cryptomgr.notests=1', 'no_timer_check', 'net.ifnames=0', 'blockyard.hostname=vm1', 'blockyard.ip=10.99.0.11/24', 'blockyard.share=project:/project']) {
    t.ok(line.includes(want), want)
  }
})

t.test('bad descriptions are refused before anything runs', async (t) => {
  const bad: Array<[Partial<QemuVmSpec>, typeof TypeError | typeof RangeError]> = [
    [{ name: 'VM 1' }, TypeError],
    [{ name: '' }, TypeError],
    [{ memMiB: 128 }, RangeError],
    [{ memMiB: 1024.5 }, RangeError],
    [{ mac: '52:54:00:99:00' }, TypeError],
    [{ ip: '10.99.0.11' }, TypeError],
    [{ tap: 'tap0,script=/bin/evil' }, TypeError],
    [{ kernel: 'vmlinux' }, TypeError],
    [{ dataDisks: ['data.img'] }, TypeError],
    [{ share: { hostDir: 'rel', tag: 'project', guestDir: '/project' } }, TypeError],
    [{ share: { hostDir: '/w', tag: 'a,b', guestDir: '/project' } }, TypeError],
    [{ share: { hostDir: '/w', tag: 'project', guestDir: '/a b' } }, TypeError],
  ]
  for (const [over, type] of bad) t.throws(() => qemuArgv(spec(over)), type, JSON.stringify(over))
})
