import t from 'tap'
import { createHmac } from 'node:crypto'
import { linkProof, newChallenge, verifyLinkProof, type LinkProofInput } from '../../../src/proto/link-proof.js'

const input: LinkProofInput = {
  secret: 'cluster-secret',
  satelliteChallenge: new Uint8Array(32).fill(1),
  controllerChallenge: new Uint8Array(32).fill(2),
  nodeName: 'node-a',
}

t.test('the proof is HMAC-SHA256 over role, both challenges and node name', async (t) => {
  const want = createHmac('sha256', 'cluster-secret')
    .update(Buffer.concat([Buffer.from('blockyard link v1 controller\0'), Buffer.alloc(32, 1), Buffer.alloc(32, 2), Buffer.from('node-a')]))
    .digest()
  t.strictSame(Buffer.from(linkProof('controller', input)), want, 'exact bytes, so other implementations can interoperate')
  t.equal(linkProof('satellite', input).length, 32)
  t.strictSame(linkProof('controller', { ...input, secret: Buffer.from('cluster-secret') }), linkProof('controller', input), 'text and bytes secrets agree')
})

t.test('each input changes the proof; roles cannot be swapped', async (t) => {
  const base = Buffer.from(linkProof('controller', input)).toString('hex')
  const variants: Array<[string, Uint8Array]> = [
    ['other role', linkProof('satellite', input)],
    ['other secret', linkProof('controller', { ...input, secret: 'cluster-secreT' })],
    ['other satellite challenge', linkProof('controller', { ...input, satelliteChallenge: new Uint8Array(32).fill(3) })],
    ['challenges swapped', linkProof('controller', { ...input, satelliteChallenge: input.controllerChallenge, controllerChallenge: input.satelliteChallenge })],
    ['other node', linkProof('controller', { ...input, nodeName: 'node-b' })],
  ]
  for (const [label, p] of variants) t.not(Buffer.from(p).toString('hex'), base, label)
})

t.test('verification', async (t) => {
  const p = linkProof('satellite', input)
  t.ok(verifyLinkProof('satellite', input, p))
  t.notOk(verifyLinkProof('controller', input, p), 'a satellite proof is no controller proof')
  const bad = p.slice()
  bad[31]! ^= 1
  t.notOk(verifyLinkProof('satellite', input, bad))
  t.notOk(verifyLinkProof('satellite', input, p.subarray(0, 31)), 'wrong length is false, not an exception')
  t.notOk(verifyLinkProof('satellite', input, 'x' as unknown as Uint8Array))
})

t.test('misuse', async (t) => {
  t.throws(() => linkProof('controller', { ...input, secret: '' }), RangeError)
  t.throws(() => linkProof('controller', { ...input, controllerChallenge: new Uint8Array(16) }), { name: 'RangeError', message: /controllerChallenge must be 32 bytes/ })
  t.throws(() => linkProof('ctrl' as 'controller', input), RangeError)
  t.throws(() => linkProof('controller', { ...input, nodeName: 1 as unknown as string }), TypeError)
})

t.test('challenges are fresh', async (t) => {
  const a = newChallenge()
  const b = newChallenge()
  t.equal(a.length, 32)
  t.not(Buffer.from(a).toString('hex'), Buffer.from(b).toString('hex'))
})
