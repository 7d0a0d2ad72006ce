// Entry for tests that run the client commands as a child process without the daemons' modules (what
// `blockyard <client command>` runs once main.ts has routed it; main.ts's routing has its own tests).
import { runClient } from '../../src/cli/program.js'

process.exitCode = await runClient(process.argv.slice(2))
