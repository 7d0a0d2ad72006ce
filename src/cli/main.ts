/**
 * `blockyard <command>`: daemons (controller; satellite and combined come with the satellite) and, later,
 * LINSTOR's client command tree.
 */
import { parseArgs } from 'node:util'
import { ConfigError, describeOptions, resolveConfig } from '../common/config.js'
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
  controller (c) <version|list-properties|set-property|which>  completion <bash|zsh>  interactive

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

async function runController(args: string[]): Promise<void> {
  let flags: Record<string, string | undefined> | null
  let cfg
  try {
    flags = daemonFlags(args, CONTROLLER_OPTIONS)
    if (flags === null) {
      console.log(`usage: blockyard controller [options]\n\n${describeOptions(CONTROLLER_OPTIONS)}`)
      return
    }
    cfg = resolveConfig(CONTROLLER_OPTIONS, flags, process.env, 'controller')
  } catch (e) {
    if (e instanceof ConfigError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`blockyard controller: ${(e as Error).message}`)
      process.exitCode = 2
      return
    }
    throw e
  }
  setLogLevel(cfg.logLevel)
  let ctrl
  try {
    ctrl = await startController(cfg)
  } catch (e) {
    console.error(`blockyard controller: ${(e as Error).message}`)
    process.exitCode = 1
    return
  }
  const stop = (): void => {
    void ctrl.stop().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

async function runSatellite(args: string[]): Promise<void> {
  let cfg
  let secret: string
  try {
    const flags = daemonFlags(args, SATELLITE_OPTIONS)
    if (flags === null) {
      console.log(`usage: blockyard satellite [options]\n\n${describeOptions(SATELLITE_OPTIONS)}`)
      return
    }
    cfg = resolveConfig(SATELLITE_OPTIONS, flags, process.env, 'satellite')
    secret = resolveClusterSecret(cfg.clusterSecretFile, process.env, cfg)
  } catch (e) {
    if (e instanceof ConfigError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`blockyard satellite: ${(e as Error).message}`)
      process.exitCode = 2
      return
    }
    throw e
  }
  setLogLevel(cfg.logLevel)
  // Loaded here, not at the top: the satellite pulls in the native addon, which the controller and
  // the client commands never need.
  const { startSatellite } = await import('../satellite/satellite.js')
  const sat = await startSatellite({ nodeName: cfg.nodeName, listen: cfg.listen, stateDir: cfg.stateDir, secret })
  const stop = (): void => {
    void sat.stop().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

async function runCombined(args: string[]): Promise<void> {
  // The options live with the composition, which loads the native addon: only this command needs it.
  const { COMBINED_OPTIONS, combinedUnavailable, startCombined } = await import('../combined/combined.js')
  let cfg
  try {
    const flags = daemonFlags(args, COMBINED_OPTIONS)
    if (flags === null) {
      console.log(`usage: blockyard combined [options]\n\n${describeOptions(COMBINED_OPTIONS)}`)
      return
    }
    cfg = resolveConfig(COMBINED_OPTIONS, flags, process.env, 'combined')
  } catch (e) {
    if (e instanceof ConfigError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`blockyard combined: ${(e as Error).message}`)
      process.exitCode = 2
      return
    }
    throw e
  }
  const why = combinedUnavailable()
  if (why !== null) {
    console.error(`blockyard combined: ${why}`)
    process.exitCode = 1
    return
  }
  setLogLevel(cfg.logLevel)
  let node
  try {
    node = await startCombined(cfg)
  } catch (e) {
    console.error(`blockyard combined: ${(e as Error).message}`)
    process.exitCode = 1
    return
  }
  const stop = (): void => {
    void node.stop().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
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
