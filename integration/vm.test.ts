/**
 * The VM suite: Blockyard on real Debian kernels (device-mapper, LVM, ZFS, DRBD 8.4) in three qemu
 * VMs, with the controller on the host inside their network namespace. Part of `npm test` where the
 * machine can run VMs (root, /dev/net/tun, qemu; see integration/README.md); skipped with the reason
 * elsewhere.
 *
 * One cluster serves every scenario: booting is the expensive part (tens of seconds under software
 * emulation), so the scenarios share it and use distinct resources.
 */
import t from 'tap'
import { startCluster, vmUnsupportedReason, type VmCluster } from './harness/cluster.js'
import { storageSuite } from './scenarios/suite.js'

const reason = vmUnsupportedReason()
if (reason !== undefined) {
  t.plan(0, `VM suite skipped: ${reason}`)
} else {
  // An image build on a cold cache (~14 min with ZFS's DKMS build, ~40 s without), booting, and every
  // scenario's LVM, ZFS and DRBD calls at 0.5–1.5 s each under software emulation.
  t.setTimeout(60 * 60_000)
  const log = (line: string): void => void t.comment(line)
  const cluster: VmCluster = await startCluster({ vms: 3, memMiB: 1024, dataDisksMiB: [4096, 1024, 1024], log })
  t.teardown(() => cluster.teardown())
  t.comment(`booted: ${cluster.vms.map((v) => `${v.name} ${(v.bootMs / 1000).toFixed(1)} s`).join(', ')}`)
  await storageSuite(t, cluster)
}
