/** The controller's options (see common/config.ts for how they are resolved). */
import { joinState, parseHostPort, parsePositiveInt, type HostPort, type OptionSpec } from '../common/config.js'

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
}
