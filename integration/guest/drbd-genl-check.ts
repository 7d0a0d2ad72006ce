/**
 * Runs IN a guest with the drbd module loaded: captures what the `drbd` generic netlink family says,
 * as the raw datagrams the binding receives, next to what drbdsetup prints at the same moment — the
 * source of test/fixtures/genl/. Prints one JSON line.
 *
 * `node drbd-genl-check.mjs snapshot`: the family as the controller describes it, then the dumps
 * DRBD_ADM_GET_RESOURCES, _DEVICES, _CONNECTIONS, _PEER_DEVICES, _GET_INITIAL_STATE and (8.4's)
 * _GET_STATUS, each a list of base64 datagrams, with `drbdsetup status --verbose --statistics`,
 * `drbdsetup events2 --now --statistics` and /proc/drbd taken right after, and the status decoded
 * by layers/drbd/drbd-genl.ts. `--timing N` adds the median time of N status reads both ways (the
 * four dumps through the binding, and a `drbdsetup status` process).
 *
 * `node drbd-genl-check.mjs events --stop-file F`: joins the `events` group and records every
 * datagram, alongside a `drbdsetup events2 --statistics` child, until F appears (F.ready says it listens).
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, watch, writeFileSync } from 'node:fs'
import { dirname, basename } from 'node:path'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import { DRBD_CMD, DRBD_EVENTS_GROUP, DRBD_FAMILY, DrbdGenl, encodeDrbdDump } from '../../src/satellite/layers/drbd/drbd-genl.js'
import { decodeNetlinkMessages, encodeGetFamily, GenlConnection, settleReply, type GenlFamily, type NetlinkMessage } from '../../src/satellite/sys/genl.js'
import { native } from '../../src/satellite/sys/native.js'

const DUMPS: Record<string, number> = {
  resources: DRBD_CMD.GET_RESOURCES,
  devices: DRBD_CMD.GET_DEVICES,
  connections: DRBD_CMD.GET_CONNECTIONS,
  peerDevices: DRBD_CMD.GET_PEER_DEVICES,
  initialState: DRBD_CMD.GET_INITIAL_STATE,
  status: DRBD_CMD.GET_STATUS,
}

/** The datagrams answering one request, raw, read straight off the binding's socket. */
function capture(build: (seq: number) => Buffer, dump: boolean, seq: number): Promise<{ datagrams: Buffer[]; error: string | null }> {
  return new Promise((resolve, reject) => {
    const datagrams: Buffer[] = []
    const p = { target: 'capture', dump, replies: [] as NetlinkMessage[] }
    const socket = native().genlOpen(0, (err, datagram) => {
      if (err !== null || datagram === null) {
        socket.close()
        reject(err ?? new Error('no datagram'))
        return
      }
      datagrams.push(datagram)
      for (const m of decodeNetlinkMessages(datagram)) {
        if (m.seq !== seq) continue
        const r = settleReply(p, m)
        if (r === undefined) continue
        socket.close()
        resolve({ datagrams, error: r instanceof Error ? r.message : null })
        return
      }
    })
    socket.send(build(seq))
  })
}

async function sh(argv: string[]): Promise<string> {
  const r = await execa(argv[0]!, argv.slice(1), { reject: false, all: true })
  return r.all ?? ''
}

async function median(n: number, f: () => Promise<unknown>): Promise<number> {
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await f()
    ms.push(performance.now() - t0)
  }
  return ms.sort((a, b) => a - b)[Math.floor(n / 2)]!
}

async function snapshot(timing: number): Promise<unknown> {
  const familyReply = await capture((seq) => encodeGetFamily(DRBD_FAMILY, seq), false, 1)
  const conn = new GenlConnection()
  try {
    const drbd = await DrbdGenl.open(conn)
    const family: GenlFamily = drbd.family
    const dumps: Record<string, { datagrams: string[]; error: string | null }> = {}
    let seq = 100
    for (const [name, cmd] of Object.entries(DUMPS)) {
      if (!family.ops.includes(cmd)) continue
      const r = await capture((s) => encodeDrbdDump(family, cmd, s), true, seq++)
      dumps[name] = { datagrams: r.datagrams.map((d) => d.toString('base64')), error: r.error }
    }
    const drbdsetup = {
      status: await sh(['drbdsetup', 'status', '--verbose', '--statistics']),
      events2: await sh(['drbdsetup', 'events2', '--now', '--statistics']),
      procDrbd: existsSync('/proc/drbd') ? readFileSync('/proc/drbd', 'utf8') : '',
    }
    const decoded = Object.fromEntries((await drbd.status()).resources())
    const timings =
      timing > 0 ? { statusGenlMs: await median(timing, () => drbd.status()), drbdsetupStatusMs: await median(timing, () => sh(['drbdsetup', 'status'])) } : undefined
    return {
      timings,
      family: { ...family, groups: Object.fromEntries(family.groups) },
      flavor: drbd.flavor,
      familyReply: familyReply.datagrams.map((d) => d.toString('base64')),
      dumps,
      drbdsetup,
      decoded,
    }
  } finally {
    conn.close()
  }
}

async function events(stopFile: string): Promise<unknown> {
  const conn = new GenlConnection()
  const drbd = await DrbdGenl.open(conn)
  const datagrams: string[] = []
  const socket = native().genlOpen(0, (err, datagram) => {
    if (err === null && datagram !== null) datagrams.push(datagram.toString('base64'))
  })
  const group = drbd.family.groups.get(DRBD_EVENTS_GROUP)
  if (group === undefined) throw new Error('no events group')
  socket.addMembership(group)
  const child = spawn('drbdsetup', ['events2', '--statistics'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let text = ''
  child.stdout.on('data', (b: Buffer) => (text += b.toString()))
  // The caller starts changing DRBD's state once this exists: every change is then recorded.
  writeFileSync(`${stopFile}.ready`, '')
  await new Promise<void>((resolve) => {
    if (existsSync(stopFile)) return resolve()
    const w = watch(dirname(stopFile), (_ev, name) => {
      if (name === basename(stopFile) && existsSync(stopFile)) {
        w.close()
        resolve()
      }
    })
  })
  child.kill()
  socket.close()
  conn.close()
  return { flavor: drbd.flavor, familyId: drbd.family.id, datagrams, events2: text }
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { 'stop-file': { type: 'string', default: '/tmp/genl-stop' }, timing: { type: 'string', default: '0' } },
})
const result = positionals[0] === 'events' ? await events(values['stop-file']) : await snapshot(Number(values.timing))
process.stdout.write(JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n')
