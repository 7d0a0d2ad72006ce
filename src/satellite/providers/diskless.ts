/**
 * DISKLESS (LINSTOR's DisklessProvider): a volume without local storage. In a DRBD stack it is a DRBD
 * client reading from its peers; the storage layer has nothing to create, observe or remove for it.
 */
import type { ProviderKind } from '../../proto/messages.js'
import type { PoolRef, Provider, VolumeFacts } from './provider.js'

function noStorage(what: string): never {
  // The diff never asks: a DISKLESS volume has no path, so it gets no steps.
  throw new TypeError(`DisklessProvider.${what}: a DISKLESS volume has no storage`)
}

export class DisklessProvider implements Provider {
  readonly kinds: readonly ProviderKind[] = ['DISKLESS']

  async checkPool(_pool: PoolRef): Promise<string> {
    return ''
  }

  volumePath(): undefined {
    return undefined
  }

  async observe(): Promise<VolumeFacts[]> {
    return []
  }

  create(): Promise<void> {
    noStorage('create')
  }

  grow(): Promise<void> {
    noStorage('grow')
  }

  attach(): Promise<string> {
    noStorage('attach')
  }

  resizeDevice(): Promise<void> {
    noStorage('resizeDevice')
  }

  detach(): Promise<void> {
    noStorage('detach')
  }

  remove(): Promise<void> {
    noStorage('remove')
  }

  async inUse(): Promise<boolean> {
    return false
  }

  async space(): Promise<undefined> {
    return undefined
  }
}
