// The Vagrant harness (integration/harness/vagrant.ts): quoting for the remote shell (checked by real
// shells), the remote command run locally with a stand-in sudo, the parsers of vagrant's and ip's
// output, and `vagrant validate` on vagrant/Vagrantfile when vagrant is installed.
import { execFile, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { TestNode } from '../../../integration/harness/nodes.js'
import {
  decodeRemoteResult,
  interfaceWithAddress,
  parseSnapshotList,
  parseSshConfig,
  remoteCommand,
  shellQuote,
  sshArgv,
  startVagrantCluster,
  VAGRANT_DIR,
  vagrantEnv,
  vagrantUnsupportedReason,
} from '../../../integration/harness/vagrant.js'

const execFileP = promisify(execFile)
const scratch = mkdtempSync(join(tmpdir(), 'vagrant-test-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
const pwned = join(scratch, 'pwned')

const HOSTILE = [
  '',
  ' ',
  'two words',
  "it's",
  "''",
  "'\\''",
  '"double"',
  '$HOME',
  '${HOME}',
  `$(touch ${pwned})`,
  `\`touch ${pwned}\``,
  `; touch ${pwned}`,
  `&& touch ${pwned} #`,
  `| touch ${pwned}`,
  `> ${pwned}`,
  '\\',
  'back\\slash\\n',
  'line\nbreak',
  '\ttab',
  '*',
  '~',
  '!',
  '-n',
  '--',
  '%s %d',
  'ünïcödé ✓',
  '\x01\x7f',
]

const shells = ['sh', 'dash', 'bash'].filter((s) => spawnSync('sh', ['-c', `command -v ${s}`]).status === 0)

t.test('shellQuote: every shell gets back exactly the argument, and runs nothing in it', async (t) => {
  t.ok(shells.length > 0, 'a POSIX shell to check against')
  for (const shell of shells) {
    const { stdout } = await execFileP(shell, ['-c', `printf '%s\\0' ${HOSTILE.map(shellQuote).join(' ')}`], { encoding: 'buffer' })
    const got = stdout.toString('utf8').split('\0').slice(0, -1)
    t.same(got, HOSTILE, `${shell} splits the quoted words back into the arguments`)
  }
  t.notOk(existsSync(pwned), 'no substitution, separator or redirection took effect')
  t.throws(() => shellQuote('a\0b'), TypeError, 'NUL refused: a C string would be cut')
})

// The remote end as sshd would run it, locally: `sudo -n --` is a stand-in that checks its options and
// execs the rest (no sudo here, and no root needed); `timeout`, printf and the shell are the real ones.
const bin = join(scratch, 'bin')
const fakeSudo = join(bin, 'sudo')
const localRun = async (argv: readonly string[], timeoutMs: number) => {
  const started = performance.now()
  const r = spawnSync('sh', ['-c', remoteCommand(argv, timeoutMs)], {
    env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}` },
    encoding: 'utf8',
  })
  return decodeRemoteResult('vm1', argv, r.status, r.stdout, r.stderr, performance.now() - started, timeoutMs)
}

t.test('remoteCommand: argv, status, stderr, timeouts and signals as the qemu agent reports them', async (t) => {
  spawnSync('mkdir', ['-p', bin])
  writeFileSync(fakeSudo, '#!/bin/sh\n[ "$1" = -n ] && [ "$2" = -- ] || { echo "sudo: bad options $*" >&2; exit 99; }\nshift 2\nexec "$@"\n')
  chmodSync(fakeSudo, 0o755)

  const echo = await localRun(['printf', '%s\\0', ...HOSTILE], 10_000)
  t.same(echo.stdout.split('\0').slice(0, -1), HOSTILE, 'the program gets every argument unchanged')
  t.same([echo.exitCode, echo.signal, echo.timedOut, echo.stderr], [0, 0, false, ''], 'exit 0, no stderr')
  t.notOk(existsSync(pwned), 'nothing in the arguments ran')

  const failing = await localRun(['sh', '-c', 'printf "no newline at the end" >&2; exit 3'], 10_000)
  t.same([failing.exitCode, failing.signal, failing.stderr], [3, 0, 'no newline at the end'], "the command's own status and stderr, marker removed")
  const lines = await localRun(['sh', '-c', 'echo one >&2; echo two >&2'], 10_000)
  t.equal(lines.stderr, 'one\ntwo\n', 'a trailing newline of its own is kept')

  const slow = await localRun(['sleep', '30'], 300)
  t.ok(slow.timedOut, 'the deadline is reported as a timeout')
  t.ok(slow.ms >= 300 && slow.ms < 10_000, `ended at the deadline (${slow.ms.toFixed(0)} ms), not after the sleep`)

  const killed = await localRun(['sh', '-c', 'kill -TERM $$'], 10_000)
  t.same([killed.exitCode, killed.signal, killed.timedOut], [-1, 15, false], 'death by a signal')

  const daemonLike = await localRun(['true'], 0)
  t.same([daemonLike.exitCode, daemonLike.timedOut], [0, false], 'timeoutMs 0: no deadline')

  await t.rejects(localRun(['/nonexistent/program'], 10_000), /vm1: timeout: failed to run command/, 'a program that cannot start rejects')
  t.throws(() => remoteCommand([], 1000), TypeError)
  t.throws(() => remoteCommand(['true'], -1), RangeError)
  t.throws(() => remoteCommand(['true'], 1.5), RangeError)
})

t.test('decodeRemoteResult: without the status marker, ssh itself failed', async (t) => {
  t.throws(
    () => decodeRemoteResult('vm2', ['true'], 255, '', 'ssh: connect to host 192.168.121.7 port 22: Connection refused\n', 5, 1000),
    /vm2: ssh did not run \["true"\] \(ssh exit 255\): ssh: connect to host .* Connection refused/,
  )
  t.throws(() => decodeRemoteResult('vm2', ['true'], 255, '', '', 5, 1000), /no message/)
  const r = decodeRemoteResult('vm2', ['x'], 0, 'out', 'err\nBLOCKYARD-SSH-STATUS 124\n', 50, 1000)
  t.same([r.exitCode, r.timedOut], [124, false], 'exit 124 before the deadline is the command\'s own')
})

// As Vagrant 2.3.4 prints it for three libvirt machines (templates/commands/ssh_config/config.erb: the
// blank lines come from its IdentityFile loop; a path with a space is quoted).
const SSH_CONFIG = `Host vm1
  HostName 192.168.121.45
  User vagrant
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no

  IdentityFile /home/ci/blockyard/vagrant/.vagrant/machines/vm1/libvirt/private_key

  IdentitiesOnly yes
  LogLevel FATAL
  PubkeyAcceptedKeyTypes +ssh-rsa
  HostKeyAlgorithms +ssh-rsa

Host vm2
  HostName 192.168.121.46
  User vagrant
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no

  IdentityFile "/home/ci/my projects/vagrant/.vagrant/machines/vm2/libvirt/private_key"

  IdentityFile /home/ci/.vagrant.d/insecure_private_key

  IdentitiesOnly yes
  LogLevel FATAL
  ProxyCommand ssh 'kvmhost' -l 'ci' -i '/home/ci/.ssh/id_ed25519' nc %h %p

Host vm3
  HostName 127.0.0.1
  User vagrant
  Port 2201
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile /home/ci/blockyard/vagrant/.vagrant/machines/vm3/virtualbox/private_key
  IdentitiesOnly yes
  LogLevel FATAL
`

t.test('parseSshConfig: hosts, options in order, repeated keys, quoted values', async (t) => {
  const hosts = parseSshConfig(SSH_CONFIG)
  t.same([...hosts.keys()], ['vm1', 'vm2', 'vm3'])
  const vm2 = hosts.get('vm2')!
  t.same(
    vm2.filter(([k]) => k === 'IdentityFile').map(([, v]) => v),
    ['/home/ci/my projects/vagrant/.vagrant/machines/vm2/libvirt/private_key', '/home/ci/.vagrant.d/insecure_private_key'],
    'both IdentityFiles, the quoted one unquoted',
  )
  t.same(vm2.find(([k]) => k === 'ProxyCommand'), ['ProxyCommand', "ssh 'kvmhost' -l 'ci' -i '/home/ci/.ssh/id_ed25519' nc %h %p"], 'the rest of the line')
  t.same(hosts.get('vm3')!.slice(0, 3), [['HostName', '127.0.0.1'], ['User', 'vagrant'], ['Port', '2201']])
  t.equal(hosts.get('vm1')!.length, 11)
  t.throws(() => parseSshConfig('Host vm1\n  Include /etc/x\n'), /Include .* not supported/)
  t.throws(() => parseSshConfig('  HostName 1.2.3.4\n'), /before any Host/)
  t.throws(() => parseSshConfig('Host vm1\n  Lonely\n'), /no value/)
})

t.test('sshArgv: no config file, no prompts, errors visible, options as given, remote command last', async (t) => {
  const options = parseSshConfig(SSH_CONFIG).get('vm2')!
  const argv = sshArgv('vm2', options, 'REMOTE')
  t.same(argv.slice(0, 8), ['ssh', '-F', 'none', '-n', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR'])
  t.ok(argv.indexOf('LogLevel=ERROR') < argv.indexOf('LogLevel=FATAL'), "ours first: ssh keeps an option's first value")
  t.ok(argv.includes('IdentityFile=/home/ci/my projects/vagrant/.vagrant/machines/vm2/libvirt/private_key'), 'a path with a space stays one argument')
  t.same(argv.slice(-3), ['--', 'vm2', 'REMOTE'])
  t.equal(argv.filter((a) => a === '-o').length, 2 + options.length)
})

t.test('interfaceWithAddress: the private network interface from `ip -o -4 addr show`', async (t) => {
  const out = [
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    '2: eth0    inet 192.168.121.45/24 metric 100 brd 192.168.121.255 scope global dynamic eth0\\       valid_lft 3527sec preferred_lft 3527sec',
    '3: eth1    inet 192.168.56.11/24 brd 192.168.56.255 scope global eth1\\       valid_lft forever preferred_lft forever',
    '4: veth0@if5    inet 192.168.56.111/24 scope global veth0\\       valid_lft forever preferred_lft forever',
  ].join('\n')
  t.equal(interfaceWithAddress(out, '192.168.56.11'), 'eth1', 'exact address, not a prefix of .111')
  t.equal(interfaceWithAddress(out, '192.168.56.111'), 'veth0', 'the @peer suffix is not part of the name')
  t.equal(interfaceWithAddress(out, '192.168.56.12'), undefined)
})

t.test('parseSnapshotList: names only, none when vagrant says there are none', async (t) => {
  t.same(parseSnapshotList('==> vm1: \nblockyard-clean\nbefore-upgrade\n'), ['blockyard-clean', 'before-upgrade'])
  t.same(
    parseSnapshotList("==> vm1: No snapshots have been taken yet!\n    vm1: Snapshot feature allows you to save the virtual machine's state\n"),
    [],
  )
  t.same(parseSnapshotList('==> vm2: VM not created. Moving on...\n'), [])
})

t.test('vagrantEnv: the Vagrantfile settings for the options', async (t) => {
  t.same(vagrantEnv({}, '/usr/local/bin/node'), {
    BLOCKYARD_VAGRANT_NODES: '3',
    BLOCKYARD_NODE: '/usr/local/bin/node',
    VAGRANT_CHECKPOINT_DISABLE: '1',
  })
  const env = vagrantEnv({ nodes: 2, provider: 'virtualbox', dataDisksGiB: [4, 8], memMiB: 3072, box: 'b/x', subnet: '10.1.2' }, '/n')
  t.same(
    [env.BLOCKYARD_VAGRANT_NODES, env.VAGRANT_DEFAULT_PROVIDER, env.BLOCKYARD_VAGRANT_DISKS, env.BLOCKYARD_VAGRANT_MEM_MIB, env.BLOCKYARD_VAGRANT_BOX, env.BLOCKYARD_VAGRANT_SUBNET],
    ['2', 'virtualbox', '4,8', '3072', 'b/x', '10.1.2'],
  )
  await t.rejects(startVagrantCluster({ nodes: 0 }), RangeError, 'node count checked before any vagrant command')
})

// startVagrantCluster against stand-ins for vagrant, ssh and ip (shell scripts in scratch, first in
// PATH): the order of vagrant commands on a first and a later start, ssh argv and remote commands run
// for real on this machine through the stand-in sudo, restart, link control and teardown.
t.test('startVagrantCluster drives vagrant, and its nodes run commands over ssh', async (t) => {
  const fake = join(scratch, 'fake')
  const state = join(fake, 'state')
  const log = join(fake, 'log')
  spawnSync('mkdir', ['-p', state])
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}`)
    chmodSync(join(bin, name), 0o755)
  }
  script(
    'vagrant',
    `[ "$1" = --no-color ] || { echo "vagrant: --no-color missing" >&2; exit 2; }
shift
printf 'vagrant %s\\n' "$*" >>"${log}"
printf '%s %s %s %s\\n' "$(pwd)" "$BLOCKYARD_VAGRANT_NODES" "$BLOCKYARD_VAGRANT_DISKS" "$BLOCKYARD_NODE" >"${fake}/env"
if [ "$1" = "\${FAKE_FAIL:-}" ]; then echo "progress line"; echo "$1 failed for a reason" >&2; exit 1; fi
case "$1 $2" in
  "snapshot list")
    if [ -e "${state}/$3" ]; then printf '==> %s: \\n%s\\n' "$3" blockyard-clean; else printf '==> %s: No snapshots have been taken yet!\\n' "$3"; fi ;;
  "snapshot save") touch "${state}/$3" ;;
  ssh-config*)
    shift
    for h in "$@"; do printf 'Host %s\\n  HostName 127.0.0.1\\n  User vagrant\\n  LogLevel FATAL\\n\\n' "$h"; done ;;
esac
`,
  )
  // Runs the remote command here, as sshd would hand it to the login shell.
  script(
    'ssh',
    `for a; do last=$a; done
case " $* " in *" -F none "*" -o HostName=127.0.0.1 "*" -- vm"[12]" "*) ;; *) echo "ssh: unexpected argv: $*" >&2; exit 255 ;; esac
exec sh -c "$last"
`,
  )
  script(
    'ip',
    `case "$*" in
  "-o -4 addr show") printf '1: lo    inet 127.0.0.1/8 scope host lo\\\\  valid_lft forever\\n3: eth1    inet 10.77.0.11/24 scope global eth1\\\\  valid_lft forever\\n4: eth2    inet 10.77.0.12/24 scope global eth2\\\\  valid_lft forever\\n' ;;
  *) printf 'ip %s\\n' "$*" >>"${log}" ;;
esac
`,
  )
  const savedPath = process.env.PATH
  process.env.PATH = `${bin}${delimiter}${savedPath}`
  t.teardown(() => {
    process.env.PATH = savedPath
  })
  const calls = () => {
    const lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []
    writeFileSync(log, '')
    return lines
  }
  const opts = { nodes: 2, dataDisksGiB: [4, 8], subnet: '10.77.0', log: () => {} }
  // Every start ends the same: boot (rsyncing the tree), the host's node, ssh options.
  const boot = ['vagrant up --no-provision vm1 vm2', 'vagrant provision --provision-with node,node-install vm1 vm2', 'vagrant ssh-config vm1 vm2']

  const first = await startVagrantCluster(opts)
  t.same(calls(), [
    'vagrant snapshot list vm1',
    'vagrant snapshot list vm2',
    'vagrant up vm1 vm2',
    'vagrant halt vm1 vm2',
    'vagrant snapshot save vm1 blockyard-clean',
    'vagrant snapshot save vm2 blockyard-clean',
    ...boot,
  ], 'first start: provision both at once, shut down, snapshot, boot')
  t.equal(readFileSync(join(fake, 'env'), 'utf8'), `${VAGRANT_DIR} 2 4,8 ${process.execPath}\n`, 'run in vagrant/ with the settings and this node')
  t.same(first.nodes.map((n) => [n.name, n.address, n.dataDisks, n.privateInterface]), [
    ['vm1', '10.77.0.11', ['/dev/blockyard/data0', '/dev/blockyard/data1'], 'eth1'],
    ['vm2', '10.77.0.12', ['/dev/blockyard/data0', '/dev/blockyard/data1'], 'eth2'],
  ])
  t.same([first.projectDir, first.hostAddress, first.hostExecArgv(['x', 'y'])], ['/project', '10.77.0.1', ['x', 'y']])

  const vm2 = first.nodes[1]!
  const r = await vm2.run(['printf', '%s|', 'a b', "c'd"])
  t.same([r.exitCode, r.stdout, r.stderr], [0, 'a b|c\'d|', ''], 'a command runs through ssh with its arguments intact')
  await first.setLinkUp(vm2, false)
  await first.setLinkUp(vm2, true)
  t.same(calls(), ['ip link set dev eth2 down', 'ip link set dev eth2 up'], 'the private interface, not the one ssh uses')
  const lookalike: TestNode = { name: vm2.name, address: vm2.address, dataDisks: vm2.dataDisks, run: (a, o) => vm2.run(a, o), restart: () => vm2.restart() }
  await t.rejects(first.setLinkUp(lookalike, false), TypeError, 'a node of another cluster is refused')
  await vm2.restart()
  t.same(calls(), ['vagrant halt --force vm2', 'vagrant up --no-provision vm2', 'vagrant ssh-config vm2'], 'power off, boot, new ssh options')
  await first.syncProject()
  t.same(calls(), ['vagrant rsync vm1 vm2'])
  await Promise.all([first.teardown(), first.teardown()])
  t.same(calls(), ['vagrant halt --force vm1 vm2'], 'teardown powers off once')

  const again = await startVagrantCluster(opts)
  t.same(calls(), [
    'vagrant snapshot list vm1',
    'vagrant halt --force vm1',
    'vagrant snapshot restore --no-start vm1 blockyard-clean',
    'vagrant snapshot list vm2',
    'vagrant halt --force vm2',
    'vagrant snapshot restore --no-start vm2 blockyard-clean',
    ...boot,
  ], 'a later start restores the clean snapshots')
  await again.teardown()
  calls()

  process.env.FAKE_FAIL = 'provision'
  t.teardown(() => {
    delete process.env.FAKE_FAIL
  })
  await t.rejects(startVagrantCluster(opts), /vagrant provision --provision-with node,node-install vm1 vm2 failed: .*\n(.|\n)*progress line\nprovision failed for a reason/, 'a failing vagrant command rejects with its output')
  t.same(calls().slice(-1), ['vagrant halt --force vm1 vm2'], 'and the nodes are powered off')
})

const noVagrant = vagrantUnsupportedReason()
t.test('vagrant validate accepts vagrant/Vagrantfile and refuses bad settings', { skip: noVagrant && `${noVagrant} (apt-get install vagrant vagrant-libvirt)` }, async (t) => {
  // The machines' state goes to scratch, so the tree stays clean; Vagrant's home stays the user's, where
  // a provider plugin installed with `vagrant plugin install` lives. vagrantEnv turns off Vagrant's
  // version check: nothing is fetched.
  const env = { ...process.env, ...vagrantEnv({}, process.execPath), VAGRANT_DOTFILE_PATH: join(scratch, 'dot') }
  const validate = (extra: Record<string, string>) =>
    execFileP('vagrant', ['--no-color', 'validate'], { cwd: VAGRANT_DIR, env: { ...env, ...extra }, timeout: 120_000 })
  const ok = await validate({})
  t.match(ok.stdout, /Vagrantfile validated successfully/)
  t.notOk(existsSync(join(VAGRANT_DIR, '.vagrant')), 'no .vagrant/ left in the tree')
  await t.rejects(validate({ BLOCKYARD_VAGRANT_NODES: '0' }), /BLOCKYARD_VAGRANT_NODES=0 is not in 1\.\.20/)
  await t.rejects(validate({ BLOCKYARD_VAGRANT_DISKS: '4,x' }), /invalid value for Integer/)
})
