/** `blockyard controller` (`c`): linstor's controller commands (version, properties, which). */
import type { Command } from 'commander'
import type { CliContext } from '../context.js'
import { action, command, group, printProps, propertyArgs, propertyModify } from './_common.js'

export function registerController(program: Command, ctx: CliContext): void {
  const c = group(program, 'controller', 'c', 'Controller subcommands (without a sub-command: run the controller daemon)', ['controller version', 'c lp'])

  action(command(c, 'version', 'v', 'Prints the controller version.', ['controller version']), ctx, async (r) => {
    const v = await r.client.controllerVersion()
    if (r.g.machineReadable) r.ctx.io.out(JSON.stringify(v) + '\n')
    else r.ctx.io.out(`blockyard controller ${v.version}; GIT-hash: ${v.git_hash}; REST API ${v.rest_api_version}\n`)
  })

  action(command(c, 'list-properties', 'lp', 'Prints the controller properties.', ['controller list-properties'])
    .option('-p, --pastable', 'generate pastable output'), ctx, async (r) => {
    printProps(r, await r.client.controllerProperties())
  })

  action(propertyArgs(command(c, 'set-property', 'sp', 'Sets a controller property; an empty value deletes it.', ['controller set-property TcpPortAutoRange 7000-7999', 'c sp --aux site berlin'])), ctx, async (r) => {
    const mod = propertyModify(r, 0)
    const rcs = mod.override_props !== undefined
      ? await r.client.controllerModifyProperties(mod)
      : await r.client.controllerDeleteProperty(mod.delete_props![0]!)
    r.ctx.replies(r.g, rcs)
  })

  action(command(c, 'which', null, 'Shows the controller in use.', ['controller which']), ctx, async (r) => {
    await r.client.controllerVersion()
    if (r.g.machineReadable) r.ctx.io.out(JSON.stringify({ controller_uri: r.client.url }) + '\n')
    else r.ctx.io.out(`${r.client.url}\n`)
  })
}
