/**
 * The VM suite: Blockyard on real Debian kernels (device-mapper, LVM) in three qemu VMs, with the
 * controller on the host inside their network namespace. Part of `npm test` where the machine can run
 * VMs (root, /dev/net/tun, qemu; see integration/README.md); skipped with the reason elsewhere.
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
  // Booting, image build on a cold cache (~70 s) and every scenario's LVM calls at ~1.5 s each.
  t.setTimeout(45 * 60_000)
  const log = (line: string): void => void t.comment(line)
  const cluster: VmCluster = await startCluster({ vms: 3, memMiB: 1024, dataDisksMiB: [4096, 1024, 1024], log })
  t.teardown(() => cluster.teardown())
  t.comment(`booted: ${cluster.vms.map((v) => `${v.name} ${(v.bootMs / 1000).toFixed(1)} s`).join(', ')}`)
  await storageSuite(t, cluster)
}
