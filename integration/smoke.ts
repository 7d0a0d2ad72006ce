/**
 * `npm run vm:smoke`: builds or reuses the guest image, boots one VM, checks that its kernel has
 * device-mapper and DRBD, that the project share, the data disk and the network are there, prints the
 * timings, tears down. Exit 0 when every check passed.
 */
import { spawn } from 'node:child_process'
import { GUEST_PROJECT_DIR, startCluster, vmUnsupportedReason, type VmCluster } from './harness/cluster.js'
import { ensureImage } from './harness/image.js'
import type { RunResult } from './harness/vm.js'

const reason = vmUnsupportedReason()
if (reason) {
  console.error(`vm:smoke: ${reason}`)
  process.exit(1)
}

/**
 * The guest reaches the host side of the bridge: a listener started on the host inside the VMs'
 * namespace (as the controller will be) receives a line the guest sends with bash's /dev/tcp (the image
 * has no ping or netcat).
 */
async function checkNetwork(cluster: VmCluster): Promise<void> {
  const vm = cluster.vms[0]!
  const port = 7999
  const script = `require('net').createServer((c) => c.on('data', (d) => { process.stdout.write(d); process.exit(0) }))` +
    `.listen(${port}, ${JSON.stringify(cluster.hostAddress)}, () => console.log('listening'))`
  const [cmd, ...args] = cluster.hostExecArgv([process.execPath, '-e', script])
  const listener = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  try {
    await new Promise<void>((res, rej) => {
      listener.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('listening')) res()
      })
      listener.once('exit', (code) => rej(new Error(`host listener exited (${code}) before listening`)))
    })
    const exited = new Promise<void>((res) => listener.once('exit', () => res()))
    const line = `hello from ${vm.name}`
    const started = performance.now()
    const r = await vm.run(['bash', '-c', `echo "${line}" >/dev/tcp/${cluster.hostAddress}/${port}`], { timeoutMs: 30_000 })
    let timer: NodeJS.Timeout | undefined
    await Promise.race([exited, new Promise((res) => (timer = setTimeout(res, 10_000)))])
    clearTimeout(timer)
    const ok = r.exitCode === 0 && out.includes(line)
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${vm.name} → ${cluster.hostAddress}:${port} over the bridge: ${ok ? `received in ${(performance.now() - started).toFixed(0)} ms` : `exit ${r.exitCode} ${r.stderr.trim()}`}`)
    if (!ok) failures.push('network: guest to host')
  } finally {
    if (listener.exitCode === null && listener.signalCode === null) listener.kill('SIGKILL')
  }
}

const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const failures: string[] = []

const image = await ensureImage()
console.log(`image ${image.hash}: ${image.built ? 'built' : 'cache hit'} in ${sec(image.ms)} (${image.dir})`)

const bootStarted = performance.now()
let cluster: VmCluster | undefined
try {
  cluster = await startCluster({ vms: 1, image })
  const vm = cluster.vms[0]!
  console.log(`${vm.name} (${vm.address}, qemu pid ${vm.pid}): boot to ready ${sec(vm.bootMs)} (cluster start ${sec(performance.now() - bootStarted)})`)

  const check = async (argv: string[], expect: (r: RunResult) => boolean = (r) => r.exitCode === 0): Promise<RunResult> => {
    const r = await vm.run(argv, { timeoutMs: 60_000 })
    const ok = expect(r)
    const out = (r.stdout + r.stderr).trim().replace(/\n/g, '\n    ')
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${argv.join(' ')} → exit ${r.exitCode}${r.timedOut ? ' (timed out)' : ''} in ${r.ms.toFixed(0)} ms${out ? `\n    ${out}` : ''}`)
    if (!ok) failures.push(argv.join(' '))
    return r
  }

  await check(['uname', '-r'])
  const rt = await check(['true'])
  console.log(`command round trip (true): ${rt.ms.toFixed(0)} ms`)
  await check(['modprobe', 'dm_mod'])
  await check(['ls', '-l', '/dev/mapper/control'])
  await check(['dmsetup', 'version']) // lvm2 depends on dmsetup: it is always in the image
  await check(['modprobe', 'drbd'])
  await check(['cat', '/proc/drbd'], (r) => r.exitCode === 0 && /version: 8\.4\./.test(r.stdout))
  await check(['mountpoint', GUEST_PROJECT_DIR])
  await check(['ls', '/dev/disk/by-id/virtio-data0'])
  await checkNetwork(cluster)
} catch (err) {
  failures.push((err as Error).message)
  console.error(err)
} finally {
  const t = performance.now()
  if (cluster) {
    await cluster.teardown().then(
      () => console.log(`teardown ${sec(performance.now() - t)}`),
      (err: Error) => failures.push(`teardown: ${err.message}`),
    )
  }
}

if (failures.length > 0) {
  console.log(`vm:smoke FAILED: ${failures.length} check(s): ${failures.join('; ')}`)
  process.exit(1)
}
console.log('vm:smoke passed')
