import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ConfigError, describeOptions, parseHostPort, resolveConfig } from '../../../src/common/config.js'
import { CONTROLLER_OPTIONS } from '../../../src/controller/config.js'

const dir = mkdtempSync(join(tmpdir(), 'blockyard-config-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const toml = join(dir, 'blockyard.toml')
writeFileSync(toml, 'state_dir = "/srv/by"\nlog_level = "debug"\n[controller]\nrest_listen = "0.0.0.0:4000"\nmax_body_bytes = 2048\n')
const json = join(dir, 'blockyard.json')
writeFileSync(json, JSON.stringify({ controller: { rest_listen: '[::1]:4001' } }))

t.test('defaults', async (t) => {
  const c = resolveConfig(CONTROLLER_OPTIONS, { config: json }, {}, 'controller')
  t.same(c.restListen, { host: '::1', port: 4001 }, 'from the JSON file')
  const d = resolveConfig(CONTROLLER_OPTIONS, { config: json }, {}, 'controller')
  t.equal(d.dbPath, join(d.stateDir, 'controller.db'), 'database under the state directory')
  t.equal(d.maxBodyBytes, 1024 * 1024)
  t.equal(d.logLevel, 'info')
  t.equal(d.stateDir, process.getuid?.() === 0 ? '/var/lib/blockyard' : resolve('var'))
})

t.test('file < environment < flags', async (t) => {
  const file = resolveConfig(CONTROLLER_OPTIONS, { config: toml }, {}, 'controller')
  t.same(file.restListen, { host: '0.0.0.0', port: 4000 })
  t.equal(file.stateDir, '/srv/by')
  t.equal(file.logLevel, 'debug')
  t.equal(file.maxBodyBytes, 2048)
  t.equal(file.dbPath, '/srv/by/controller.db')
  const env = resolveConfig(CONTROLLER_OPTIONS, { config: toml }, { BLOCKYARD_REST_LISTEN: '127.0.0.2:5000', BLOCKYARD_STATE_DIR: '/tmp/x' }, 'controller')
  t.same(env.restListen, { host: '127.0.0.2', port: 5000 })
  t.equal(env.stateDir, '/tmp/x')
  const flags = resolveConfig(CONTROLLER_OPTIONS, { config: toml, 'rest-listen': '127.0.0.3:6000', 'state-dir': 'rel' }, { BLOCKYARD_REST_LISTEN: '127.0.0.2:5000' }, 'controller')
  t.same(flags.restListen, { host: '127.0.0.3', port: 6000 })
  t.equal(flags.stateDir, resolve('rel'), 'relative state dirs become absolute')
  const cfgEnv = resolveConfig(CONTROLLER_OPTIONS, {}, { BLOCKYARD_CONFIG: toml }, 'controller')
  t.equal(cfgEnv.stateDir, '/srv/by', 'BLOCKYARD_CONFIG names the file')
})

t.test('bad values are clear errors that name their source', async (t) => {
  t.throws(() => resolveConfig(CONTROLLER_OPTIONS, { 'rest-listen': 'nope' }, {}, 'controller'), { name: 'ConfigError', message: /--rest-listen: 'nope' is not HOST:PORT/ })
  t.throws(() => resolveConfig(CONTROLLER_OPTIONS, { config: json }, { BLOCKYARD_REST_LISTEN: '1.2.3.4:99999' }, 'controller'), { message: /BLOCKYARD_REST_LISTEN/ })
  t.throws(() => resolveConfig(CONTROLLER_OPTIONS, { 'log-level': 'loud', config: json }, {}, 'controller'), { message: /log level 'loud'/ })
  t.throws(() => resolveConfig(CONTROLLER_OPTIONS, { 'max-body-bytes': '-1', config: json }, {}, 'controller'), { message: /positive integer/ })
  t.throws(() => resolveConfig(CONTROLLER_OPTIONS, { config: join(dir, 'missing.toml') }, {}, 'controller'), ConfigError)
  const broken = join(dir, 'broken.toml')
  writeFileSync(broken, '[controller\nrest_listen = 1')
  t.throws(() => resolveConfig(CONTROLLER_OPTIONS, { config: broken }, {}, 'controller'), { message: /broken\.toml/ })
})

t.test('host:port parsing and help', async (t) => {
  t.same(parseHostPort('[::]:3370', 'x'), { host: '::', port: 3370 })
  t.same(parseHostPort('localhost:0', 'x'), { host: 'localhost', port: 0 })
  t.throws(() => parseHostPort('::1:3370', 'x'))
  t.match(describeOptions(CONTROLLER_OPTIONS), /--rest-listen/)
})
