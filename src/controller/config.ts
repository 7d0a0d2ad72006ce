/** The controller's options (see common/config.ts for how they are resolved). */
import { joinState, parseHostPort, parsePositiveInt, type HostPort, type OptionSpec } from '../common/config.js'

/** Default MiB of recent events kept for resuming event clients. */
export const DEFAULT_EVENT_HISTORY_MIB = 64
/** Default MiB an event subscriber may leave unread before it is closed as slow. */
export const DEFAULT_EVENT_MAX_BUFFER_MIB = 16

export const CONTROLLER_OPTIONS = {
  restListen: {
    flag: 'rest-listen',
    help: 'HOST:PORT for the REST API (default 127.0.0.1:3370)',
    parse: parseHostPort,
    default: (): HostPort => ({ host: '127.0.0.1', port: 3370 }),
  } satisfies OptionSpec<HostPort>,
  dbPath: {
    flag: 'db-path',
    help: 'SQLite database file (default STATE_DIR/controller.db)',
    parse: (t: string): string => t,
    default: (b: { stateDir: string }): string => joinState(b, 'controller.db'),
  } satisfies OptionSpec<string>,
  maxBodyBytes: {
    flag: 'max-body-bytes',
    help: 'largest REST request body in bytes (default 1048576)',
    parse: parsePositiveInt,
    default: (): number => 1024 * 1024,
  } satisfies OptionSpec<number>,
  clusterSecretFile: {
    flag: 'cluster-secret-file',
    help: 'secret every satellite must share (default STATE_DIR/cluster-secret, created if missing)',
    parse: (t: string): string => t,
    default: (b: { stateDir: string }): string => joinState(b, 'cluster-secret'),
  } satisfies OptionSpec<string>,
  eventHistoryMib: {
    flag: 'event-history-mib',
    help: 'MiB of recent events kept for event clients that resume after a reconnect (default 64)',
    parse: parsePositiveInt,
    default: (): number => DEFAULT_EVENT_HISTORY_MIB,
  } satisfies OptionSpec<number>,
  eventMaxBufferMib: {
    flag: 'event-max-buffer-mib',
    help: 'MiB an event subscriber may leave unread before it is closed as a slow consumer (default 16)',
    parse: parsePositiveInt,
    default: (): number => DEFAULT_EVENT_MAX_BUFFER_MIB,
  } satisfies OptionSpec<number>,
  satelliteTimeoutMs: {
    flag: 'satellite-timeout-ms',
    help: 'how long a REST call waits for each satellite to apply its change, ms (default 15000)',
    parse: parsePositiveInt,
    default: (): number => 15_000,
  } satisfies OptionSpec<number>,
}
