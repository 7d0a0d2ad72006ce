/** The `blockyard` command as the guests run it (bundled by harness/bundle.ts): the satellite and the CLI. */
import { main } from '../../src/cli/main.js'

await main(process.argv.slice(2))
