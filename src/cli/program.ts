/**
 * The client command tree (`blockyard <group> <verb>`, LINSTOR's names and short forms) on commander,
 * and running one command line through it to an exit code.
 */
import { Command, CommanderError } from 'commander'
import type { BlockyardClient } from '../client/blockyard-client.js'
import { VERSION } from '../common/version.js'
import { registerController } from './commands/controller.js'
import { registerEvents } from './commands/events.js'
import { registerKeyValueStore, registerSnapshot, expandRestoreFlags } from './commands/snapshot.js'
import { registerNode } from './commands/node.js'
import { registerResource, registerVolume } from './commands/resource.js'
import { registerResourceDefinition, registerVolumeDefinition } from './commands/resource-definition.js'
import { registerResourceGroup, registerVolumeGroup } from './commands/resource-group.js'
import { registerStoragePool, registerStoragePoolDefinition } from './commands/storage-pool.js'
import { completionScript } from './completion.js'
import { addGlobalOptions, CliContext, type Io } from './context.js'
import { EXIT } from './output.js'

/** The terminal and environment of this process. */
export function processIo(): Io {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    stdoutTTY: process.stdout.isTTY === true,
    stderrTTY: process.stderr.isTTY === true,
    env: process.env,
  }
}

/** Builds the whole tree for one command line (commander keeps parsed values: a tree is not reused). */
export function buildProgram(ctx: CliContext, opts: { interactive?: boolean } = {}): Command {
  const program = new Command('blockyard')
  program
    .description('Blockyard: block-storage cluster manager with LINSTOR\'s command line.\nDaemons: blockyard controller | satellite | combined (run \'blockyard controller --help\').')
    .version(VERSION, '-v, --version', 'print the version')
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) })
    .addHelpText('after', '\nExamples:\n  $ blockyard node create alpha 192.168.10.11\n  $ blockyard r l\n  $ blockyard -m resource-definition list\n  $ blockyard completion bash > /etc/bash_completion.d/blockyard')
  addGlobalOptions(program)

  registerController(program, ctx)
  registerNode(program, ctx)
  registerStoragePoolDefinition(program, ctx)
  registerStoragePool(program, ctx)
  registerResourceGroup(program, ctx)
  registerVolumeGroup(program, ctx)
  registerResourceDefinition(program, ctx)
  registerVolumeDefinition(program, ctx)
  registerResource(program, ctx)
  registerVolume(program, ctx)
  registerSnapshot(program, ctx)
  registerKeyValueStore(program, ctx)
  registerEvents(program, ctx)

  program.command('completion')
    .description('Prints a shell completion script for bash or zsh.')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', '\nExamples:\n  $ source <(blockyard completion bash)\n  $ blockyard completion zsh > "${fpath[1]}/_blockyard"')
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') {
        ctx.io.err(`Error: no completion for '${shell}': use bash or zsh\n`)
        ctx.fail(EXIT.USAGE)
        return
      }
      ctx.io.out(completionScript(shell, buildProgram(new CliContext(ctx.io))))
    })

  if (!opts.interactive) {
    program.command('interactive')
      .description('Starts the interactive mode (also what \'blockyard\' alone does on a terminal).')
      .addHelpText('after', '\nExample:\n  $ blockyard interactive\n  blockyard ==> n l')
      .action(async () => {
        const { runInteractive } = await import('./interactive.js')
        ctx.fail(await runInteractive(ctx.io))
      })
  }
  return program
}

/**
 * Runs one client command line; resolves with linstor's exit code (0 ok, 2 usage, 10 API error,
 * 20 connection failure, 21 timeout). `clients` lets the interactive mode keep its connection.
 */
export async function runClient(argv: readonly string[], io: Io = processIo(), opts: { interactive?: boolean; clients?: Map<string, BlockyardClient> } = {}): Promise<number> {
  const ctx = new CliContext(io, opts.clients)
  const program = buildProgram(ctx, opts)
  try {
    await program.parseAsync(expandRestoreFlags(argv), { from: 'user' })
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE
    throw e
  }
  return ctx.exitCode
}
