/**
 * The storage suite on Vagrant machines (vagrant/: KVM or VirtualBox hosts) instead of qemu VMs: the
 * same scenarios through the same TestCluster interface. Opt-in with BLOCKYARD_VAGRANT=1 (booting and
 * provisioning three machines takes minutes to an hour): not part of `npm test`, which has no way to
 * know whether the machine has a hypervisor. Run it with `npm run test:vagrant` (vagrant/README.md).
 */
import t from 'tap'
import { startVagrantCluster, vagrantUnsupportedReason } from './harness/vagrant.js'
import { storageSuite } from './scenarios/suite.js'

const reason = process.env['BLOCKYARD_VAGRANT'] === '1' ? vagrantUnsupportedReason() : 'set BLOCKYARD_VAGRANT=1 to run it on a host with KVM or VirtualBox'
if (reason !== undefined) {
  t.plan(0, `Vagrant suite skipped: ${reason}`)
} else {
  t.setTimeout(120 * 60_000)
  const cluster = await startVagrantCluster({ dataDisksGiB: [4, 1], log: (line) => void t.comment(line) })
  t.teardown(() => cluster.teardown())
  await storageSuite(t, cluster)
}
