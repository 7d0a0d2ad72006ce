// Kernel uevents on the real kernel: the socket sees a loop attach, waitForDevice resolves on an add
// event or at once for an existing node, times out otherwise, and datagrams not from the kernel are
// dropped.
import t from 'tap'
import { spawnSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, truncateSync, writeFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { addLoopDevice, attachLoop, detachLoop, removeLoopDevice } from '../../../../src/satellite/sys/loop.js'
import { DeviceWaitTimeoutError, UeventMonitor, waitForDevice, type Uevent, type UeventSender } from '../../../../src/satellite/sys/uevent.js'
import { ueventSkipReason } from '../../../helpers/loop-env.js'
import { holdLoopLock } from '../../../helpers/loop-lock.js'

const skip = ueventSkipReason()

function nextEvent(monitor: UeventMonitor, match: (ev: Uevent) => boolean, timeoutMs: number): Promise<Uevent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      monitor.off('uevent', on)
      reject(new Error(`no matching uevent within ${timeoutMs} ms`))
    }, timeoutMs)
    const on = (ev: Uevent): void => {
      if (!match(ev)) return
      clearTimeout(timer)
      monitor.off('uevent', on)
      resolve(ev)
    }
    monitor.on('uevent', on)
  })
}

/** A loop number that has no device node now (well above what exists). */
function unusedLoopNumber(): number {
  const used = readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n)).map((n) => Number(n.slice(4)))
  return Math.max(200, ...used) + 1 + Math.floor(Math.random() * 1000)
}

t.test('kernel uevents', { skip }, async (t) => {
  // Other tests' loop devices must not come and go under this one's checks (loop-lock.ts).
  await holdLoopLock(t)
  const dir = mkdtempSync(join(tmpdir(), 'blockyard-uevent-'))
  const attached = new Set<string>()
  t.teardown(async () => {
    for (const dev of attached) await detachLoop(dev).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  await t.test('attaching a loop device sends a change event for it', async (t) => {
    const monitor = new UeventMonitor()
    t.teardown(() => monitor.close())
    const file = join(dir, 'ev.img')
    writeFileSync(file, '')
    truncateSync(file, 8 << 20)
    // Listen before attaching; match on whichever device we get.
    const events: Uevent[] = []
    monitor.on('uevent', (ev: Uevent) => events.push(ev))
    const dev = await attachLoop(file)
    attached.add(dev)
    const name = dev.slice('/dev/'.length)
    const ev = events.find((e) => e.devname === name) ?? (await nextEvent(monitor, (e) => e.devname === name, 5000))
    t.equal(ev.action, 'change', `${ev.action}@${ev.devpath}`)
    t.equal(ev.subsystem, 'block')
    t.equal(ev.devtype, 'disk')
    t.equal(ev.devpath, `/devices/virtual/block/${name}`)
    t.ok(ev.seqnum > 0n, 'SEQNUM')
    await detachLoop(dev)
    attached.delete(dev)
    t.equal(monitor.dropped, 0, 'nothing from the kernel was dropped')
  })

  await t.test('waitForDevice resolves at once for a node that exists and answers', async (t) => {
    const file = join(dir, 'wait.img')
    writeFileSync(file, '')
    truncateSync(file, 4 << 20)
    const dev = await attachLoop(file)
    attached.add(dev)
    const started = Date.now()
    await waitForDevice(dev, 5000)
    t.ok(Date.now() - started < 1000, 'no waiting for a device that is there')
    await waitForDevice(dev.slice('/dev/'.length), 5000) // the bare name works too
    await detachLoop(dev)
    attached.delete(dev)
  })

  await t.test('waitForDevice resolves on the add event of a device created later', async (t) => {
    const nr = unusedLoopNumber()
    const waiting = waitForDevice(`loop${nr}`, 5000)
    let settled = false
    waiting.then(
      () => (settled = true),
      () => (settled = true),
    )
    await new Promise((r) => setImmediate(r))
    t.equal(settled, false, 'still waiting before the device exists')
    const dev = await addLoopDevice(nr)
    t.teardown(() => removeLoopDevice(dev).catch(() => {}))
    await waiting
    t.pass(`resolved once ${dev} was added`)
    await removeLoopDevice(dev)
  })

  await t.test('waitForDevice times out for a device that never comes', async (t) => {
    const started = Date.now()
    await t.rejects(waitForDevice(`loop${unusedLoopNumber()}`, 100), DeviceWaitTimeoutError)
    t.ok(Date.now() - started >= 95, 'after the timeout, not before')
  })

  await t.test('a datagram from a process is dropped, even from root', { skip: spawnSync('python3', ['-c', '1']).status === 0 ? false : 'no python3 to send a forged uevent' }, async (t) => {
    const monitor = new UeventMonitor()
    t.teardown(() => monitor.close())
    const seen: Uevent[] = []
    monitor.on('uevent', (ev: Uevent) => seen.push(ev))
    // A well-formed "add" for a device that does not exist, sent to the kernel's group by a process.
    const forged = 'add@/devices/virtual/block/loopforged\\0ACTION=add\\0DEVPATH=/devices/virtual/block/loopforged\\0SUBSYSTEM=block\\0DEVNAME=loopforged\\0SEQNUM=1\\0'
    const py = `import socket\ns=socket.socket(socket.AF_NETLINK,socket.SOCK_RAW,15)\ns.bind((0,0))\ns.sendto(b'${forged}',(0,1))\n`
    const dropped = once(monitor, 'drop', { signal: AbortSignal.timeout(5000) }) as Promise<[UeventSender]>
    const child = spawn('python3', ['-c', py], { stdio: 'inherit' })
    const [code] = (await once(child, 'exit')) as [number]
    t.equal(code, 0, 'forged datagram sent')
    const [sender] = await dropped
    t.not(sender.port, 0, `dropped: sender port ${sender.port}, uid ${sender.uid}`)
    t.equal(monitor.dropped, 1, 'counted')
    t.notOk(seen.some((e) => e.devname === 'loopforged'), 'never emitted')
  })
})
