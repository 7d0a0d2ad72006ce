import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { completeWords, completionScript, completionTree } from '../../../src/cli/completion.js'
import { CliContext } from '../../../src/cli/context.js'
import { buildProgram } from '../../../src/cli/program.js'

const program = (): ReturnType<typeof buildProgram> => buildProgram(new CliContext({ out: () => {}, err: () => {}, stdoutTTY: false, stderrTTY: false, env: {} }))

t.test('completions from the command tree, by long and short names', async (t) => {
  const tree = completionTree(program())
  t.same(completeWords(tree, [], 'res'), ['resource', 'resource-definition', 'resource-group'])
  t.same(completeWords(tree, ['n', 'i'], ''), ['c', 'create', 'd', 'delete', 'l', 'list', 'm', 'modify'])
  t.same(completeWords(tree, ['sp', 'c'], 'f'), ['file', 'filethin'])
  t.ok(completeWords(tree, ['r', 'c'], '--auto').includes('--auto-place'))
  t.same(completeWords(tree, ['nothing', 'here'], 'zz'), [])
})

t.test('bash script completes as the tree does', async (t) => {
  const file = join(t.testdir(), 'blockyard.bash')
  writeFileSync(file, completionScript('bash', program()))
  const complete = (words: string[]): string => execFileSync('bash', ['-c', `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _blockyard; echo "\${COMPREPLY[*]}"`]).toString().trim()
  t.equal(complete(['blockyard', 'rd', '']), 'create c auto-place ap modify m list l delete d list-properties lp set-property sp')
  t.equal(complete(['blockyard', 'storage-pool', 'create', 'lvm']), 'lvm lvmthin')
  t.match(complete(['blockyard', 'r', 'l', '--f']), '--faulty')
  const registered = execFileSync('bash', ['-c', `source ${file}; complete -p blockyard blockyard.js`]).toString()
  t.equal(registered, 'complete -F _blockyard blockyard\ncomplete -F _blockyard blockyard.js\n', 'for the installed command and for ./bin/blockyard.js')
})

t.test('zsh script: the tree with descriptions, compdef and autoload guard', async (t) => {
  const z = completionScript('zsh', program())
  t.match(z, /^#compdef blockyard blockyard\.js\n/)
  t.match(z, "  '.|rg' 'resource-group'")
  t.match(z, /'node' 'create:Creates a node entry/)
  t.match(z, 'compdef _blockyard blockyard blockyard.js\n')
})
