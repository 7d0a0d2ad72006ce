/**
 * Interactive mode (linstor's): a readline loop that runs each line through the same command tree, with
 * tab completion from it, history in ~/.config/blockyard/client.history, and one connection kept for the
 * session. `exit`, `quit` or Ctrl-D leave; a connection failure ends the session as linstor's does.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import type { BlockyardClient } from '../client/blockyard-client.js'
import { completeWords, completionTree } from './completion.js'
import { CliContext, type Io } from './context.js'
import { EXIT } from './output.js'
import { buildProgram, runClient } from './program.js'

/** Splits a line into words as a shell would for plain use: blanks separate, quotes group, `\` escapes. */
export function splitWords(line: string): string[] {
  const words: string[] = []
  let cur = ''
  let inWord = false
  let quote: '"' | "'" | null = null
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!
    if (quote !== null) {
      if (ch === quote) quote = null
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i]
      else cur += ch
    } else if (ch === '"' || ch === "'") {
      quote = ch
      inWord = true
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i]
      inWord = true
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += ch
      inWord = true
    }
  }
  if (quote !== null) throw new RangeError(`unclosed ${quote} quote`)
  if (inWord) words.push(cur)
  return words
}

/** Runs the loop on stdin/stdout until exit; resolves with the last command's exit code. */
export async function runInteractive(
  io: Io,
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stdout,
  historyFile = join(homedir(), '.config', 'blockyard', 'client.history'),
): Promise<number> {
  const tree = completionTree(buildProgram(new CliContext(io)))
  let history: string[] = []
  try {
    history = readFileSync(historyFile, 'utf8').split('\n').filter((l) => l !== '').reverse()
  } catch {
    // no history yet
  }
  const rl = createInterface({
    input,
    output,
    history: [...history],
    historySize: 1000,
    completer: (line: string): [string[], string] => {
      const words = splitWords(line.endsWith(' ') ? `${line}x` : line)
      const current = line.endsWith(' ') ? '' : words.pop() ?? ''
      if (line.endsWith(' ')) words.pop()
      return [completeWords(tree, words, current).map((c) => `${c} `), current]
    },
  })
  io.out("Blockyard interactive mode: LINSTOR's commands without 'blockyard' ('n l', 'r c --auto-place 2 site1'); 'help' lists them, 'exit' leaves.\n")
  const clients = new Map<string, BlockyardClient>()
  let last: number = EXIT.OK
  rl.setPrompt('blockyard ==> ')
  rl.prompt()
  const typed: string[] = []
  for await (const line of rl) {
    if (line.trim() !== '') typed.push(line)
    let words: string[]
    try {
      words = splitWords(line)
    } catch (e) {
      io.err(`Error: ${(e as Error).message}\n`)
      rl.prompt()
      continue
    }
    if (words[0] === 'blockyard') words.shift()
    if (words[0] === 'exit' || words[0] === 'quit') break
    if (words[0] === 'help' && words.length === 1) words[0] = '--help'
    if (words.length > 0) {
      last = await runClient(words, io, { interactive: true, clients })
      if (last === EXIT.CONNECTION_ERROR) break
    }
    rl.prompt()
  }
  rl.close()
  try {
    mkdirSync(dirname(historyFile), { recursive: true })
    // Oldest first in the file; readline keeps its own copy only on a terminal.
    writeFileSync(historyFile, [...history.reverse(), ...typed].slice(-1000).join('\n') + '\n')
  } catch {
    // history is a convenience: a read-only home does not end the session with an error
  }
  return last
}
