// Where the satellite's cluster secret comes from, and its options.
import t from 'tap'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, resolveConfig } from '../../../src/common/config.js'
import { setLogSink } from '../../../src/common/log.js'
import { resolveClusterSecret, SATELLITE_OPTIONS, SATELLITE_PORT } from '../../../src/satellite/config.js'

const logs: string[] = []
setLogSink((l) => logs.push(l))
const dir = mkdtempSync(join(tmpdir(), 'blockyard-satcfg-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('options: defaults, flags, environment', async (t) => {
  const d = resolveConfig(SATELLITE_OPTIONS, {}, {}, 'satellite')
  t.equal(d.nodeName, hostname())
  t.same(d.listen, { host: '0.0.0.0', port: SATELLITE_PORT })
  t.equal(d.clusterSecretFile, undefined)
  const f = resolveConfig(SATELLITE_OPTIONS, { 'node-name': 'n1', listen: '127.0.0.2:4000', 'cluster-secret-file': '/s' }, {}, 'satellite')
  t.match(f, { nodeName: 'n1', listen: { host: '127.0.0.2', port: 4000 }, clusterSecretFile: '/s' })
  const e = resolveConfig(SATELLITE_OPTIONS, {}, { BLOCKYARD_NODE_NAME: 'n2', BLOCKYARD_LISTEN: '[::1]:3366', BLOCKYARD_CLUSTER_SECRET_FILE: '/e' }, 'satellite')
  t.match(e, { nodeName: 'n2', listen: { host: '::1', port: 3366 }, clusterSecretFile: '/e' })
  t.throws(() => resolveConfig(SATELLITE_OPTIONS, { listen: 'nope' }, {}, 'satellite'), ConfigError)
})

t.test('the secret: file, then BLOCKYARD_CLUSTER_SECRET, then STATE_DIR/cluster-secret', async (t) => {
  const file = join(dir, 'secret')
  writeFileSync(file, '  abcdef0123\n', { mode: 0o600 })
  t.equal(resolveClusterSecret(file, { BLOCKYARD_CLUSTER_SECRET: 'fromenv' }, { stateDir: dir }), 'abcdef0123', 'the file wins; whitespace is not part of it')
  t.equal(resolveClusterSecret(undefined, { BLOCKYARD_CLUSTER_SECRET: ' fromenv ' }, { stateDir: dir }), 'fromenv')
  const state = mkdtempSync(join(dir, 'state-'))
  writeFileSync(join(state, 'cluster-secret'), 'instate', { mode: 0o600 })
  t.equal(resolveClusterSecret(undefined, {}, { stateDir: state }), 'instate', 'a combined node finds its controller’s secret')
  t.throws(() => resolveClusterSecret(undefined, {}, { stateDir: join(dir, 'empty') }), { name: 'ConfigError', message: /no cluster secret: give --cluster-secret-file/ })
  t.throws(() => resolveClusterSecret(join(dir, 'missing'), {}, { stateDir: dir }), { message: /cluster secret file .*missing: ENOENT/ })
  writeFileSync(join(dir, 'blank'), ' \n', { mode: 0o600 })
  t.throws(() => resolveClusterSecret(join(dir, 'blank'), {}, { stateDir: dir }), { message: /is empty/ })
  t.throws(() => resolveClusterSecret(undefined, { BLOCKYARD_CLUSTER_SECRET: '  ' }, { stateDir: dir }), { message: /blank/ })
})

t.test('a secret file others can read is warned about, and its content never logged', async (t) => {
  const file = join(dir, 'open-secret')
  writeFileSync(file, 'topsecretvalue')
  chmodSync(file, 0o644)
  logs.length = 0
  t.equal(resolveClusterSecret(file, {}, { stateDir: dir }), 'topsecretvalue')
  t.match(logs.join('\n'), /readable by group or others: chmod 600/)
  t.notMatch(logs.join('\n'), /topsecretvalue/)
})
