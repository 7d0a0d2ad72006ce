import t from 'tap'
import { ApiError, type ErrorCode } from '../../../../src/common/errors.js'
import { MAX_PLACE_COUNT, MAX_REGEX_LENGTH, selectFilterFrom } from '../../../../src/controller/api/_select-filter.js'
import type { AutoSelectFilter } from '../../../../src/controller/model/types.js'

const valid: [string, unknown, AutoSelectFilter][] = [
  ['undefined is an empty filter', undefined, {}],
  ['null is an empty filter', null, {}],
  ['empty object', {}, {}],
  ['place count', { place_count: 3 }, { place_count: 3 }],
  ['place count as string (LINSTOR clients)', { place_count: '2' }, { place_count: 2 }],
  ['max place count', { place_count: MAX_PLACE_COUNT }, { place_count: MAX_PLACE_COUNT }],
  ['null fields are absent', { place_count: null, storage_pool_list: null, diskless_on_remaining: null }, {}],
  ['additional place count 0', { additional_place_count: 0 }, { additional_place_count: 0 }],
  ['node names deduplicated case-insensitively', { node_name_list: ['alpha', 'node-2.example.com', 'ALPHA'] }, { node_name_list: ['alpha', 'node-2.example.com'] }],
  ['storage_pool folds into an absent list', { storage_pool: 'pool1' }, { storage_pool_list: ['pool1'] }],
  ['storage_pool folds into an empty list', { storage_pool: 'pool1', storage_pool_list: [] }, { storage_pool_list: ['pool1'] }],
  ['storage_pool_list wins over storage_pool', { storage_pool: 'pool1', storage_pool_list: ['pool2', 'pool3'] }, { storage_pool_list: ['pool2', 'pool3'] }],
  ['empty pool list is kept (clears on modify)', { storage_pool_list: [] }, { storage_pool_list: [] }],
  ['diskless pools', { storage_pool_diskless_list: ['DfltDisklessStorPool'] }, { storage_pool_diskless_list: ['DfltDisklessStorPool'] }],
  ['not place with', { not_place_with_rsc: ['rsc1', 'rsc_2'] }, { not_place_with_rsc: ['rsc1', 'rsc_2'] }],
  ['regex', { not_place_with_rsc_regex: '^db-.*$' }, { not_place_with_rsc_regex: '^db-.*$' }],
  ['empty regex is kept (clears on modify)', { not_place_with_rsc_regex: '' }, { not_place_with_rsc_regex: '' }],
  ['regex at the length limit', { not_place_with_rsc_regex: 'a'.repeat(MAX_REGEX_LENGTH) }, { not_place_with_rsc_regex: 'a'.repeat(MAX_REGEX_LENGTH) }],
  ['replicas on same, keys kept as given (no Aux/ added)', { replicas_on_same: ['Aux/rack', 'zone', 'Aux/site=a'] }, { replicas_on_same: ['Aux/rack', 'zone', 'Aux/site=a'] }],
  ['replicas on different with a value to avoid', { replicas_on_different: ['Aux/dc', 'Aux/room=r1', 'Aux/x='] }, { replicas_on_different: ['Aux/dc', 'Aux/room=r1', 'Aux/x='] }],
  ['x replicas map', { x_replicas_on_different_map: { 'Aux/rack': 2, 'Aux/dc': '1' } }, { x_replicas_on_different_map: { 'Aux/rack': 2, 'Aux/dc': 1 } }],
  ['layer stack normalised', { layer_stack: ['drbd', 'Storage'] }, { layer_stack: ['DRBD', 'STORAGE'] }],
  ['layer stack aliases', { layer_stack: ['crypt', 'lvm'] }, { layer_stack: ['LUKS', 'STORAGE'] }],
  ['empty layer stack is kept (clears on modify)', { layer_stack: [] }, { layer_stack: [] }],
  ['providers case-insensitive, deduplicated', { provider_list: ['lvm_thin', 'ZFS', 'Lvm_Thin'] }, { provider_list: ['LVM_THIN', 'ZFS'] }],
  ['diskless on remaining', { diskless_on_remaining: true }, { diskless_on_remaining: true }],
  ['diskless on remaining as string', { diskless_on_remaining: 'false' }, { diskless_on_remaining: false }],
  ['diskless type', { diskless_type: 'drbd_diskless' }, { diskless_type: 'DRBD_DISKLESS' }],
  ['overprovision', { overprovision: 1.5 }, { overprovision: 1.5 }],
  ['unknown fields are ignored', { port_count: 2, something: 'x' }, {}],
]

for (const [name, input, want] of valid) {
  t.test(`valid: ${name}`, async (t) => {
    t.same(selectFilterFrom(input, 'select_filter'), want)
  })
}

t.test('a __proto__ key in the x-replicas map is refused, not taken as the prototype', async (t) => {
  t.throws(() => selectFilterFrom(JSON.parse('{"x_replicas_on_different_map":{"__proto__":2}}'), 'select_filter'), { status: 400, message: /__proto__/ })
})

const invalid: [string, unknown, ErrorCode, number, RegExp][] = [
  ['not an object', 'x', 'ERR_REQ_FIELD', 400, /select_filter/],
  ['an array', [], 'ERR_REQ_FIELD', 400, /select_filter/],
  ['place count 0', { place_count: 0 }, 'ERR_PLACE_COUNT', 400, /'0'/],
  ['place count negative', { place_count: -1 }, 'ERR_PLACE_COUNT', 400, /'-1'/],
  ['place count too large', { place_count: MAX_PLACE_COUNT + 1 }, 'ERR_PLACE_COUNT', 400, /33/],
  ['place count fractional', { place_count: 1.5 }, 'ERR_REQ_FIELD', 400, /place_count/],
  ['place count text', { place_count: 'two' }, 'ERR_REQ_FIELD', 400, /place_count/],
  ['additional place count negative', { additional_place_count: -1 }, 'ERR_REQ_FIELD', 400, /additional_place_count/],
  ['node list not an array', { node_name_list: 'alpha' }, 'ERR_REQ_FIELD', 400, /node_name_list/],
  ['node list with a number', { node_name_list: [1] }, 'ERR_REQ_FIELD', 400, /node_name_list/],
  ['bad node name', { node_name_list: ['ok', 'bad name'] }, 'ERR_NAME_NODE', 400, /bad name/],
  ['bad storage_pool', { storage_pool: '../x' }, 'ERR_NAME_STOR_POOL', 400, /\.\.\/x/],
  ['bad pool in list', { storage_pool_list: ['pool;rm'] }, 'ERR_NAME_STOR_POOL', 400, /pool;rm/],
  ['bad diskless pool', { storage_pool_diskless_list: ['x'] }, 'ERR_NAME_STOR_POOL', 400, /shorter/],
  ['bad rsc name', { not_place_with_rsc: ['1234'] }, 'ERR_NAME_RSC', 400, /1234/],
  ['regex does not compile', { not_place_with_rsc_regex: '(unclosed' }, 'ERR_REGEX_INVALID', 400, /unclosed/],
  ['regex too long', { not_place_with_rsc_regex: '(a+)+'.repeat(201) }, 'ERR_REGEX_INVALID', 400, /longer than 1000/],
  ['regex not a string', { not_place_with_rsc_regex: 5 }, 'ERR_REQ_FIELD', 400, /not_place_with_rsc_regex/],
  ['replicas on same: bad key', { replicas_on_same: ['Aux//x'] }, 'ERR_REQ_FIELD', 400, /replicas_on_same\[0\]/],
  ['replicas on same: empty key', { replicas_on_same: ['=x'] }, 'ERR_REQ_FIELD', 400, /replicas_on_same\[0\]/],
  ['replicas on different: bad key', { replicas_on_different: ['ok', 'a b'] }, 'ERR_REQ_FIELD', 400, /replicas_on_different\[1\]/],
  ['replicas on different: control character in value', { replicas_on_different: ['Aux/x=a\u0001'] }, 'ERR_PROP_INVALID', 400, /control/],
  ['x replicas: not a map', { x_replicas_on_different_map: ['Aux/x'] }, 'ERR_REQ_FIELD', 400, /x_replicas_on_different_map/],
  ['x replicas: count 0', { x_replicas_on_different_map: { 'Aux/x': 0 } }, 'ERR_REQ_FIELD', 400, /Aux\/x/],
  ['x replicas: count null', { x_replicas_on_different_map: { 'Aux/x': null } }, 'ERR_REQ_FIELD', 400, /Aux\/x/],
  ['x replicas: bad key', { x_replicas_on_different_map: { 'a=b': 2 } }, 'ERR_REQ_FIELD', 400, /a=b/],
  ['layer stack: unknown layer', { layer_stack: ['DRBD', 'FOO', 'STORAGE'] }, 'ERR_LAYER_STACK', 400, /'FOO' at position 2 is not a layer kind/],
  ['layer stack: no STORAGE', { layer_stack: ['DRBD'] }, 'ERR_LAYER_STACK', 400, /must end with STORAGE/],
  ['layer stack: DRBD below LUKS', { layer_stack: ['LUKS', 'DRBD', 'STORAGE'] }, 'ERR_LAYER_STACK', 400, /DRBD cannot be placed directly below LUKS/],
  ['layer stack: duplicate', { layer_stack: ['DRBD', 'STORAGE', 'STORAGE'] }, 'ERR_LAYER_STACK', 400, /Invalid layer stack/],
  ['layer stack: not strings', { layer_stack: [1] }, 'ERR_REQ_FIELD', 400, /layer_stack/],
  ['provider LINSTOR has but Blockyard does not', { provider_list: ['SPDK'] }, 'ERR_PROVIDER_INVALID', 400, /SPDK/],
  ['provider unknown', { provider_list: ['LVM', 'toaster'] }, 'ERR_PROVIDER_INVALID', 400, /toaster/],
  ['diskless on remaining not a bool', { diskless_on_remaining: 'yes' }, 'ERR_REQ_FIELD', 400, /diskless_on_remaining/],
  ['diskless type unknown', { diskless_type: 'TIE_BREAKER' }, 'ERR_REQ_FIELD', 400, /diskless_type/],
  ['diskless type NVMe (not implemented)', { diskless_type: 'NVME_INITIATOR' }, 'ERR_REQ_UNSUPPORTED', 501, /NVME_INITIATOR/],
  ['overprovision negative', { overprovision: -1 }, 'ERR_REQ_FIELD', 400, /overprovision/],
  ['overprovision not a number', { overprovision: 'lots' }, 'ERR_REQ_FIELD', 400, /overprovision/],
]

for (const [name, input, code, status, message] of invalid) {
  t.test(`invalid: ${name}`, async (t) => {
    const err = t.throws(() => selectFilterFrom(input, 'select_filter'), ApiError) as ApiError
    t.equal(err.code, code)
    t.equal(err.status, status)
    t.match(err.message, message)
  })
}

t.test('the path names the field in errors', async (t) => {
  const err = t.throws(() => selectFilterFrom({ place_count: 'x' }, 'spawn.select_filter')) as ApiError
  t.match(err.message, /spawn\.select_filter\.place_count/)
})

t.test('a layer stack error keeps the correction of the grammar check', async (t) => {
  const err = t.throws(() => selectFilterFrom({ layer_stack: ['DRBD'] }, 'select_filter')) as ApiError
  t.match(err.toRc().correction, /Append STORAGE/)
  t.match(err.message, /^Invalid layer stack \[DRBD\]: it must end with STORAGE/)
})
