#!/usr/bin/env node
// The one entry point: runs the compiled CLI (npm ci builds dist/ through the prepare script).
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((e) => {
  console.error(e instanceof Error && e.code === 'ERR_MODULE_NOT_FOUND' ? 'blockyard is not built: run `npm ci` (or `npm run build`) first' : e)
  process.exit(1)
})
