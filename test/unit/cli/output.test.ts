import t from 'tap'
import { localTime, machineJson, paint, pyDict, pyList, renderReply, renderTable, replyExitCode } from '../../../src/cli/output.js'

const plain = { color: false, utf8: false }
const utf8 = { color: false, utf8: true }

t.test('tables framed as linstor frames them', async (t) => {
  const cols = [{ name: 'Node' }, { name: 'Size', right: true }]
  t.equal(renderTable(cols, [['alpha', '64 MiB'], ['b', '1 GiB']], utf8), [
    '╭────────────────╮',
    '┊ Node  ┊   Size ┊',
    '╞════════════════╡',
    '┊ alpha ┊ 64 MiB ┊',
    '┊ b     ┊  1 GiB ┊',
    '╰────────────────╯',
    '',
  ].join('\n'))
  t.equal(renderTable(cols, [], plain), '+-------------+\n| Node | Size |\n|=============|\n+-------------+\n', 'an empty table keeps its header line')
  t.equal(renderTable([{ name: 'A' }, { name: 'B' }], [['x\ny', '1'], ['z', '2']], plain), [
    '+-------+',
    '| A | B |',
    '|=======|',
    '| x | 1 |',
    '| y |   |',
    '|-------|',
    '| z | 2 |',
    '+-------+',
    '',
  ].join('\n'), 'dotted lines between rows when a cell spans lines')
  const coloured = renderTable([{ name: 'State', color: 'DARKGREEN' }], [['ok'], [{ text: 'OFFLINE', color: 'RED' }]], { color: true, utf8: false })
  t.match(coloured, '| \x1b[0;32mok\x1b[0m      |')
  t.match(coloured, '| \x1b[1;31mOFFLINE\x1b[0m |')
  t.equal(paint('x', 'GREEN', plain), 'x')
})

t.test('reply blocks as linstor prints them', async (t) => {
  t.equal(renderReply({ ret_code: 20709377n, message: "New node 'a' registered." }, plain), "SUCCESS:\n    New node 'a' registered.\n")
  t.equal(renderReply({ ret_code: -4611686018427387604n, message: 'm', cause: 'c\nc2', correction: 'fix', details: 'd', error_report_ids: ['R1'] }, plain),
    'ERROR:\nDescription:\n    m\nCause:\n    c\n    c2\nCorrection:\n    fix\nDetails:\n    d\nShow reports:\n    blockyard error-reports show R1\n')
  t.equal(renderReply({ ret_code: -9223372036854772808n, message: 'w' }, { color: true, utf8: true }), '\x1b[1;33mWARNING:\x1b[0m\n    w\n')
  t.equal(renderReply({ ret_code: 0x4000000000000000n, message: 'i' }, plain), 'INFO:\n    i\n')
  t.equal(replyExitCode([{ ret_code: -9223372036854772808n, message: 'w' }], false), 0)
  t.equal(replyExitCode([{ ret_code: -9223372036854772808n, message: 'w' }], true), 10)
  t.equal(replyExitCode([{ ret_code: -4611686018427387604n, message: 'e' }], false), 10)
})

t.test('-m JSON as Python json.dumps(indent=2) with exact ret_codes', async (t) => {
  t.equal(machineJson([{ ret_code: -4611686018427387604n, message: 'café ☃\u007f', list: [], map: {} }]),
    '[\n  {\n    "ret_code": -4611686018427387604,\n    "message": "caf\\u00e9 \\u2603\\u007f",\n    "list": [],\n    "map": {}\n  }\n]')
  t.equal(pyList(['Aux/a', 'b']), "['Aux/a', 'b']")
  t.equal(pyDict({ 'Aux/dc': 2 }), "{'Aux/dc': 2}")
  t.match(localTime(Date.UTC(2024, 0, 2, 3, 4, 5)), /^2024-01-0[12] \d\d:04:05$/)
})
