/** The satellite's options (see common/config.ts for how they are resolved) and its cluster secret. */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { hostname } from 'node:os'
import { joinState, parseHostPort, type HostPort, type OptionSpec } from '../common/config.js'
import { ConfigError } from '../common/config.js'
import { logger } from '../common/log.js'

const log = logger('satellite')

/** LINSTOR's satellite port (plain; 3367 is its TLS port). */
export const SATELLITE_PORT = 3366

export const SATELLITE_OPTIONS = {
  nodeName: {
    flag: 'node-name',
    help: "this node's name, as `node create` gave it to the controller (default: the hostname)",
    parse: (t: string): string => t,
    default: (): string => hostname(),
  } satisfies OptionSpec<string>,
  listen: {
    flag: 'listen',
    help: `HOST:PORT the controller dials (default 0.0.0.0:${SATELLITE_PORT})`,
    parse: parseHostPort,
    default: (): HostPort => ({ host: '0.0.0.0', port: SATELLITE_PORT }),
  } satisfies OptionSpec<HostPort>,
  clusterSecretFile: {
    flag: 'cluster-secret-file',
    help: "file holding the cluster secret (the controller's STATE_DIR/cluster-secret; default STATE_DIR/cluster-secret, or BLOCKYARD_CLUSTER_SECRET)",
    parse: (t: string): string | undefined => t,
    default: (): string | undefined => undefined,
  } satisfies OptionSpec<string | undefined>,
}

/**
 * The cluster secret, from (first found) the secret file given, `BLOCKYARD_CLUSTER_SECRET` (the secret
 * itself), or `STATE_DIR/cluster-secret` (where a combined node's controller writes it). Leading and
 * trailing whitespace is not part of it. Never logged. Throws ConfigError when there is none.
 */
export function resolveClusterSecret(file: string | undefined, env: NodeJS.ProcessEnv, base: { stateDir: string }): string {
  if (file !== undefined) return readSecretFile(file)
  const fromEnv = env['BLOCKYARD_CLUSTER_SECRET']
  if (fromEnv !== undefined && fromEnv !== '') {
    const s = fromEnv.trim()
    if (s === '') throw new ConfigError('BLOCKYARD_CLUSTER_SECRET is blank')
    return s
  }
  const dflt = joinState(base, 'cluster-secret')
  if (existsSync(dflt)) return readSecretFile(dflt)
  throw new ConfigError(
    `no cluster secret: give --cluster-secret-file FILE (the controller writes its STATE_DIR/cluster-secret on first start), or BLOCKYARD_CLUSTER_SECRET, or put it in ${dflt}`,
  )
}

function readSecretFile(path: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(`cluster secret file ${path}: ${(e as Error).message}`)
  }
  const secret = text.trim()
  if (secret === '') throw new ConfigError(`cluster secret file ${path} is empty`)
  // Like ssh with private keys: say so, but still start.
  if ((statSync(path).mode & 0o077) !== 0) log.warn('the cluster secret file is readable by group or others: chmod 600 it', { file: path })
  return secret
}
