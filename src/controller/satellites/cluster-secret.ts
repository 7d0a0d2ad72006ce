/**
 * The cluster secret (DESIGN.md §2.3): the key both ends of every satellite link prove they know. The
 * controller creates it on its first start as `<stateDir>/cluster-secret` (32 random bytes as hex,
 * mode 0600); satellites are given the same file (or its content). It is never sent and never logged.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { logger } from '../../common/log.js'

const log = logger('satellites')

/** Random bytes in a new secret. */
const SECRET_BYTES = 32

/**
 * The cluster secret as the links use it: the file's content without surrounding whitespace (the hex
 * text itself, not the bytes it encodes; both sides agree on this, see the link proof). Creates the
 * file, mode 0600, when it does not exist.
 *
 * @throws Error when the file exists but is empty, or cannot be read or created
 */
export function loadClusterSecret(path: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the cluster secret ${path}: ${(e as Error).message}`)
    text = create(path)
  }
  const secret = text.trim()
  if (secret === '') throw new Error(`the cluster secret ${path} is empty; delete it to have a new one generated`)
  if ((statSync(path).mode & 0o077) !== 0) log.warn('the cluster secret is readable by other users; it should have mode 0600', { path })
  return secret
}

function create(path: string): string {
  mkdirSync(dirname(path), { recursive: true })
  const text = randomBytes(SECRET_BYTES).toString('hex') + '\n'
  try {
    // 'wx': never overwrite a secret another process created meanwhile.
    writeFileSync(path, text, { mode: 0o600, flag: 'wx' })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8')
    throw new Error(`cannot create the cluster secret ${path}: ${(e as Error).message}`)
  }
  log.info('created the cluster secret; give it to every satellite (--cluster-secret-file)', { path })
  return text
}
