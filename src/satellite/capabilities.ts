/** What this satellite can do (NodeCapabilities): its layers and providers, supported or why not. */
import { accessSync, constants, readFileSync } from 'node:fs'
import { hostname, release, type } from 'node:os'
import { LAYER_KINDS } from '../common/layer-stack.js'
import { PROVIDER_KINDS, type LayerSupport, type NodeCapabilities, type ProviderSupport } from '../proto/messages.js'
import { native } from './sys/native.js'

const NOT_YET = 'not implemented by this Blockyard satellite yet'

/** Why loop devices cannot be used here, or null when they can. */
export function loopUnavailable(): string | null {
  try {
    native()
  } catch (e) {
    return (e as Error).message
  }
  try {
    accessSync('/dev/loop-control', constants.R_OK | constants.W_OK)
  } catch (e) {
    return `/dev/loop-control is not usable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): loop devices need root and the loop module`
  }
  return null
}

/** PRETTY_NAME of /etc/os-release, "" when unknown. */
function distribution(): string {
  try {
    const m = /^PRETTY_NAME=(?:"([^"]*)"|(.*))$/m.exec(readFileSync('/etc/os-release', 'utf8'))
    return m?.[1] ?? m?.[2] ?? ''
  } catch {
    return ''
  }
}

export function nodeCapabilities(): NodeCapabilities {
  const loop = loopUnavailable()
  const layers: LayerSupport[] = LAYER_KINDS.map((kind) => (kind === 'STORAGE' ? { kind, supported: true } : { kind, supported: false, reason: NOT_YET }))
  const providers: ProviderSupport[] = PROVIDER_KINDS.map((kind) => {
    if (kind === 'DISKLESS') return { kind, supported: true }
    if (kind === 'FILE' || kind === 'FILE_THIN') return loop === null ? { kind, supported: true } : { kind, supported: false, reason: loop }
    return { kind, supported: false, reason: NOT_YET }
  })
  return { type: 'NodeCapabilities', hostname: hostname(), osName: type(), osRelease: release(), osDistribution: distribution(), layers, providers }
}
