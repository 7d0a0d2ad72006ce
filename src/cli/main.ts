/**
 * `blockyard <command>`: daemons (controller; satellite and combined come with the satellite) and, later,
 * LINSTOR's client command tree.
 */
import { parseArgs } from 'node:util'
import { ConfigError, describeOptions, resolveConfig, type Resolved, type Spec } from '../common/config.js'
import { setLogLevel } from '../common/log.js'
import { VERSION } from '../common/version.js'
import { CONTROLLER_OPTIONS } from '../controller/config.js'
import { startController } from '../controller/controller.js'
import { resolveClusterSecret, SATELLITE_OPTIONS } from '../satellite/config.js'

const USAGE = `blockyard ${VERSION}: block-storage cluster manager (LINSTOR-compatible REST API)

usage: blockyard <command> [options]

commands:
  controller     run the controller (REST API on 127.0.0.1:3370 by default)
  satellite      run a satellite (the controller dials it on 0.0.0.0:3366 by default; needs root)
  combined       run a controller and a local satellite as one node with a FILE_THIN pool (needs root)
  version        print the version

client commands (LINSTOR's command tree and short forms, e.g. 'blockyard r l', 'blockyard rd c site1'):
  node (n)  storage-pool (sp)  storage-pool-definition (spd)  resource-group (rg)  volume-group (vg)
  resource-definition (rd)  volume-definition (vd)  resource (r)  snapshot (s)  key-value-store (kv)
  controller (c) <version|list-properties|set-property|which>  events  completion <bash|zsh>  interactive

Run 'blockyard <command> --help' for a command's options.`

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv
  // Alone on a terminal: LINSTOR's interactive mode.
  if (cmd === undefined && process.stdin.isTTY === true && process.stdout.isTTY === true) return runClientCommand(['interactive'])
  switch (cmd) {
    case 'controller':
      // `controller version`, `controller list-properties`…: LINSTOR's client command, not the daemon.
      if (rest[0] !== undefined && !rest[0].startsWith('-')) return runClientCommand(argv)
      return runController(rest)
    case 'satellite':
      return runSatellite(rest)
    case 'combined':
      return runCombined(rest)
    case 'version':
    case '--version':
      console.log(VERSION)
      return
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE)
      return
    default:
      return runClientCommand(argv)
  }
}

/** LINSTOR's client command tree; loaded only when used, the daemons never need it. */
async function runClientCommand(argv: string[]): Promise<void> {
  endQuietlyOnClosedPipe(process.stdout)
  const { runClient } = await import('./program.js')
  process.exitCode = await runClient(argv)
}

/** Parse `--flag value` options of a daemon against its spec (plus the common ones). */
function daemonFlags(args: string[], spec: Record<string, { flag: string }>): Record<string, string | undefined> | null {
  const options: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' }, 'state-dir': { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean' } }
  for (const o of Object.values(spec)) options[o.flag] = { type: 'string' }
  const { values } = parseArgs({ args, options, allowPositionals: false, strict: true })
  if (values['help'] === true) return null
  return values as Record<string, string | undefined>
}

/** A daemon command: its options, what it needs besides them, and how it starts. */
interface DaemonCommand<S extends Spec, P> {
  name: 'controller' | 'satellite' | 'combined'
  options: S
  /** What the daemon needs from its environment beyond its options (a ConfigError is a usage error). */
  prepare?: (cfg: Resolved<S>) => P
  /** Why it cannot run on this machine, or null. */
  unavailable?: () => string | null
  start: (cfg: Resolved<S>, prepared: P) => Promise<{ stop(): Promise<void> }>
}

/**
 * The life of a daemon command: flags and configuration (usage errors exit 2), the check that it can
 * run here and its start (a failure exits 1 with the message, never a stack trace), and a clean stop
 * on SIGINT or SIGTERM.
 */
async function runDaemon<S extends Spec, P>(args: string[], d: DaemonCommand<S, P>): Promise<void> {
  let cfg: Resolved<S>
  let prepared: P
  try {
    const flags = daemonFlags(args, d.options)
    if (flags === null) {
      console.log(`usage: blockyard ${d.name} [options]\n\n${describeOptions(d.options)}`)
      return
    }
    cfg = resolveConfig(d.options, flags, process.env, d.name)
    prepared = d.prepare?.(cfg) as P
  } catch (e) {
    if (e instanceof ConfigError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`blockyard ${d.name}: ${(e as Error).message}`)
      process.exitCode = 2
      return
    }
    throw e
  }
  const why = d.unavailable?.() ?? null
  if (why !== null) {
    console.error(`blockyard ${d.name}: ${why}`)
    process.exitCode = 1
    return
  }
  setLogLevel(cfg.logLevel)
  let daemon: { stop(): Promise<void> }
  try {
    daemon = await d.start(cfg, prepared)
  } catch (e) {
    console.error(`blockyard ${d.name}: ${(e as Error).message}`)
    process.exitCode = 1
    return
  }
  const stop = (): void => {
    void daemon.stop().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

function runController(args: string[]): Promise<void> {
  return runDaemon(args, { name: 'controller', options: CONTROLLER_OPTIONS, start: (cfg) => startController(cfg) })
}

function runSatellite(args: string[]): Promise<void> {
  return runDaemon(args, {
    name: 'satellite',
    options: SATELLITE_OPTIONS,
    prepare: (cfg) => resolveClusterSecret(cfg.clusterSecretFile, process.env, cfg),
    start: async (cfg, secret) => {
      // Loaded here, not at the top: the satellite pulls in the native addon, which the controller and
      // the client commands never need.
      const { startSatellite } = await import('../satellite/satellite.js')
      return startSatellite({ nodeName: cfg.nodeName, listen: cfg.listen, stateDir: cfg.stateDir, secret })
    },
  })
}

async function runCombined(args: string[]): Promise<void> {
  // The options live with the composition, which loads the native addon: only this command needs it.
  const { COMBINED_OPTIONS, combinedUnavailable, startCombined } = await import('../combined/combined.js')
  return runDaemon(args, { name: 'combined', options: COMBINED_OPTIONS, unavailable: combinedUnavailable, start: (cfg) => startCombined(cfg) })
}

/**
 * A reader that went away (`blockyard r l | head -3`) ends the command quietly, as shell tools do:
 * without a listener Node reports the write's EPIPE as an unhandled error with a stack trace. Other write
 * errors stay fatal.
 */
function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e
    process.exit()
  })
}
