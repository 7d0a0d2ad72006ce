import t from 'tap'
import {
  LAYER_KINDS,
  LAYERS_BELOW,
  type LayerKind,
  LayerStackError,
  type LayerStackErrorReason,
  isLayerStackValid,
  layerKindOf,
  layersAbove,
  parseLayerStack,
  validLayerStacks,
  validateLayerStack,
} from '../../../src/common/layer-stack.js'

const valid: [string | unknown[], LayerKind[]][] = [
  [['drbd', 'storage'], ['DRBD', 'STORAGE']],
  ['DRBD,STORAGE', ['DRBD', 'STORAGE']],
  ['drbd, storage', ['DRBD', 'STORAGE']],
  [['STORAGE'], ['STORAGE']],
  ['storage', ['STORAGE']],
  [['Drbd', 'Luks', 'Storage'], ['DRBD', 'LUKS', 'STORAGE']],
  [['luks', 'storage'], ['LUKS', 'STORAGE']],
  [['nvme', 'storage'], ['NVME', 'STORAGE']],
  [['drbd', 'nvme', 'luks', 'storage'], ['DRBD', 'NVME', 'LUKS', 'STORAGE']],
  [['drbd', 'writecache', 'storage'], ['DRBD', 'WRITECACHE', 'STORAGE']],
  [['drbd', 'cache', 'storage'], ['DRBD', 'CACHE', 'STORAGE']],
  [['drbd', 'bcache', 'storage'], ['DRBD', 'BCACHE', 'STORAGE']],
  [['writecache', 'cache', 'storage'], ['WRITECACHE', 'CACHE', 'STORAGE']],
  [['cache', 'writecache', 'storage'], ['CACHE', 'WRITECACHE', 'STORAGE']],
  [
    ['cache', 'bcache', 'writecache', 'luks', 'storage'],
    ['CACHE', 'BCACHE', 'WRITECACHE', 'LUKS', 'STORAGE'],
  ],
  [
    ['drbd', 'writecache', 'cache', 'bcache', 'nvme', 'luks', 'storage'],
    ['DRBD', 'WRITECACHE', 'CACHE', 'BCACHE', 'NVME', 'LUKS', 'STORAGE'],
  ],
  // LINSTOR's server-side aliases.
  [['drbd', 'crypt', 'lvm'], ['DRBD', 'LUKS', 'STORAGE']],
  ['DRBD,CRYPT_SETUP,ZFS', ['DRBD', 'LUKS', 'STORAGE']],
  [['spdk'], ['STORAGE']],
]

t.test('valid stacks', async (t) => {
  for (const [input, want] of valid) {
    t.same(validateLayerStack(input), want, JSON.stringify(input))
    t.ok(isLayerStackValid(input))
  }
})

interface Bad {
  input: string | unknown[]
  reason: LayerStackErrorReason
  message: RegExp
  correction: RegExp
  index?: number
}
const invalid: Bad[] = [
  { input: [], reason: 'EMPTY', message: /\[\] is invalid: it is empty/, correction: /at least STORAGE/ },
  { input: '', reason: 'EMPTY', message: /it is empty/, correction: /omit the layer list/ },
  { input: '  ', reason: 'EMPTY', message: /it is empty/, correction: /DRBD,STORAGE/ },
  {
    input: ['drbd', 'foo', 'storage'],
    reason: 'UNKNOWN_KIND',
    message: /'foo' at position 2 is not a layer kind/,
    correction: /DRBD, LUKS, NVME, WRITECACHE, CACHE, BCACHE, STORAGE/,
    index: 1,
  },
  {
    input: 'DRBD,,STORAGE',
    reason: 'UNKNOWN_KIND',
    message: /an empty name at position 2/,
    correction: /Use layer kinds from/,
    index: 1,
  },
  {
    input: 'DRBD,STORAGE,',
    reason: 'UNKNOWN_KIND',
    message: /an empty name at position 3/,
    correction: /Use layer kinds from/,
    index: 2,
  },
  {
    input: ['drbd', 7, 'storage'],
    reason: 'UNKNOWN_KIND',
    message: /\[DRBD, 7, STORAGE\] is invalid: 7 at position 2/,
    correction: /Use layer kinds/,
    index: 1,
  },
  { input: [null], reason: 'UNKNOWN_KIND', message: /null at position 1/, correction: /Use layer kinds/, index: 0 },
  {
    input: ['drbd'],
    reason: 'MUST_END_WITH_STORAGE',
    message: /must end with STORAGE, but ends with DRBD/,
    correction: /^Append STORAGE: DRBD,STORAGE$/,
    index: 0,
  },
  {
    input: 'drbd,luks',
    reason: 'MUST_END_WITH_STORAGE',
    message: /ends with LUKS/,
    correction: /DRBD,LUKS,STORAGE/,
    index: 1,
  },
  {
    input: ['drbd', 'drbd', 'storage'],
    reason: 'DUPLICATE',
    message: /DRBD appears twice \(positions 1 and 2\)/,
    correction: /remove the DRBD at position 2/,
    index: 1,
  },
  {
    input: ['drbd', 'storage', 'drbd'],
    reason: 'DUPLICATE',
    message: /DRBD appears twice \(positions 1 and 3\)/,
    correction: /only once/,
    index: 2,
  },
  {
    input: ['lvm', 'zfs'],
    reason: 'DUPLICATE',
    message: /STORAGE appears twice/,
    correction: /remove the STORAGE at position 2/,
    index: 1,
  },
  { input: ['luks', 'luks'], reason: 'DUPLICATE', message: /LUKS appears twice/, correction: /remove the LUKS/, index: 1 },
  {
    input: ['storage', 'drbd'],
    reason: 'NOT_ALLOWED_BELOW',
    message: /\[STORAGE, DRBD\] is invalid: DRBD cannot be placed below STORAGE, which must be the last layer/,
    correction: /^Directly below STORAGE use nothing; DRBD can only be the topmost layer$/,
    index: 1,
  },
  {
    input: ['luks', 'drbd', 'storage'],
    reason: 'NOT_ALLOWED_BELOW',
    message: /DRBD cannot be placed directly below LUKS/,
    correction: /^Directly below LUKS use STORAGE; DRBD can only be the topmost layer$/,
    index: 1,
  },
  {
    input: ['drbd', 'luks', 'nvme', 'storage'],
    reason: 'NOT_ALLOWED_BELOW',
    message: /NVME cannot be placed directly below LUKS/,
    correction: /NVME may sit directly below DRBD, WRITECACHE, CACHE, BCACHE$/,
    index: 2,
  },
  {
    input: ['bcache', 'cache', 'storage'],
    reason: 'NOT_ALLOWED_BELOW',
    message: /CACHE cannot be placed directly below BCACHE/,
    correction: /^Directly below BCACHE use NVME, LUKS, STORAGE, WRITECACHE; CACHE may sit directly below DRBD, NVME, WRITECACHE$/,
    index: 1,
  },
  {
    input: ['nvme', 'drbd', 'storage'],
    reason: 'NOT_ALLOWED_BELOW',
    message: /DRBD cannot be placed directly below NVME/,
    correction: /^Directly below NVME use LUKS, STORAGE, WRITECACHE, CACHE, BCACHE;/,
    index: 1,
  },
  {
    // Layers already used above are not offered again.
    input: ['writecache', 'nvme', 'drbd', 'storage'],
    reason: 'NOT_ALLOWED_BELOW',
    message: /DRBD cannot be placed directly below NVME/,
    correction: /^Directly below NVME use LUKS, STORAGE, CACHE, BCACHE;/,
    index: 2,
  },
]

t.test('invalid stacks: reason, message, correction, position', async (t) => {
  for (const { input, reason, message, correction, index } of invalid) {
    const name = JSON.stringify(input)
    const err = t.throws(() => validateLayerStack(input), LayerStackError, name) as LayerStackError
    t.ok(err instanceof LayerStackError, `${name}: typed error`)
    t.equal(err.reason, reason, `${name}: reason`)
    t.match(err.message, message, `${name}: message`)
    t.match(err.correction, correction, `${name}: correction`)
    t.equal(err.index, index, `${name}: index`)
    t.equal(err.code, reason === 'UNKNOWN_KIND' ? 'ERR_LAYER_KIND_INVALID' : 'ERR_LAYER_STACK_INVALID')
    t.notOk(isLayerStackValid(input), `${name}: not valid`)
  }
})

t.test('bad input types', async (t) => {
  t.throws(() => validateLayerStack(null as unknown as string), { name: 'TypeError', message: /got null/ })
  t.throws(() => parseLayerStack({} as unknown as string), { name: 'TypeError', message: /got object/ })
  t.notOk(isLayerStackValid(42 as unknown as string))
  const err = t.throws(() => validateLayerStack(['drbd', 'nope'])) as LayerStackError
  t.same(err.layerStack, ['drbd', 'nope'], 'the given stack is kept for details')
})

t.test('parseLayerStack maps without checking the grammar', async (t) => {
  t.same(parseLayerStack('storage,drbd'), ['STORAGE', 'DRBD'])
  t.same(parseLayerStack([]), [])
  t.same(parseLayerStack(' Luks '), ['LUKS'])
})

t.test('layerKindOf', async (t) => {
  t.equal(layerKindOf('drbd'), 'DRBD')
  t.equal(layerKindOf(' WriteCache '), 'WRITECACHE')
  t.equal(layerKindOf('crypt'), 'LUKS')
  t.equal(layerKindOf('drbd_proxy'), undefined)
  t.equal(layerKindOf('openflex'), undefined, 'removed in LINSTOR, not accepted')
})

t.test('the rules as LINSTOR states them', async (t) => {
  t.same(layersAbove('DRBD'), [], 'DRBD can only be on top')
  t.same(layersAbove('STORAGE'), ['DRBD', 'LUKS', 'NVME', 'WRITECACHE', 'CACHE', 'BCACHE'], 'anything may sit on STORAGE')
  t.same(layersAbove('LUKS'), ['DRBD', 'NVME', 'WRITECACHE', 'CACHE', 'BCACHE'])
  t.same(layersAbove('CACHE'), ['DRBD', 'NVME', 'WRITECACHE'], 'BCACHE may not sit on CACHE')
  for (const kind of LAYER_KINDS) {
    t.notOk(LAYERS_BELOW[kind].includes(kind), `${kind} is not below itself`)
    if (kind !== 'STORAGE') t.ok(LAYERS_BELOW[kind].includes('STORAGE'), `${kind} can end on STORAGE`)
  }
})

t.test('validLayerStacks enumerates exactly what validateLayerStack accepts', async (t) => {
  const all = validLayerStacks()
  t.same(all[0], ['STORAGE'])
  t.same(all[1], ['DRBD', 'STORAGE'])
  t.ok(all.some((s) => s.join() === 'DRBD,WRITECACHE,CACHE,BCACHE,NVME,LUKS,STORAGE'))
  const accepted = new Set(all.map((s) => s.join()))
  t.equal(accepted.size, all.length, 'no duplicates')
  // Brute force: every sequence of up to 5 kinds (with repeats) against the enumeration; longer valid
  // stacks are checked one by one below.
  let disagreements = 0
  let tried = 0
  const walk = (stack: LayerKind[]): void => {
    if (stack.length > 0) {
      tried++
      if (isLayerStackValid(stack) !== accepted.has(stack.join())) disagreements++
    }
    if (stack.length === 5) return
    for (const k of LAYER_KINDS) walk([...stack, k])
  }
  walk([])
  t.equal(disagreements, 0, `${tried} sequences agree`)
  for (const s of all) {
    if (!isLayerStackValid(s)) t.fail(s.join())
  }
})
