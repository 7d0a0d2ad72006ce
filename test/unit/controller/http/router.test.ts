import t from 'tap'
import { Router } from '../../../../src/controller/http/router.js'

const h = (tag: string) => () => ({ status: 200, body: tag })

t.test('literal segments beat parameters, params are decoded', async (t) => {
  const r = new Router()
  r.get('/v1/nodes/{node}', h('one'))
  r.get('/v1/nodes/properties/info', h('info'))
  r.get('/v1/nodes', h('list'))
  r.delete('/v1/nodes/{node}', h('del'))
  const m = r.match('GET', '/v1/nodes/properties/info')
  t.ok(m && 'found' in m && (m.found.handler({} as never) as { body: string }).body === 'info')
  const p = r.match('GET', '/v1/nodes/a%20b')
  t.ok(p && 'found' in p)
  if (p && 'found' in p) t.same(p.found.params, { node: 'a b' })
  t.same(r.match('PUT', '/v1/nodes/x'), { methodNotAllowed: ['GET', 'DELETE'] })
  t.equal(r.match('GET', '/v1/nope'), null)
  t.equal(r.match('GET', '/v1/nodes/%E0%A4%A'), null, 'malformed escapes do not match')
  const trailing = r.match('GET', '/v1/nodes/')
  t.ok(trailing && 'found' in trailing, 'trailing slash tolerated')
})
