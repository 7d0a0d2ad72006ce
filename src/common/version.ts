import { createRequire } from 'node:module'

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string }
/** Blockyard's own version (package.json). */
export const VERSION: string = pkg.version
/** The LINSTOR REST API version this controller implements (reference/linstor-rest-v1-openapi.yaml). */
export const REST_API_VERSION = '1.28.0'
