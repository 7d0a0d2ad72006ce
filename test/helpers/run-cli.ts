// Entry for tests that run `blockyard` as a child process from the TypeScript sources (same loader as tap).
import { main } from '../../src/cli/main.js'

await main(process.argv.slice(2))
