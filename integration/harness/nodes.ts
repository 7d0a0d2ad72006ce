/**
 * What an integration scenario needs from a test cluster, whichever harness made it: qemu VMs on this
 * machine (cluster.ts) or Vagrant machines on a KVM/VirtualBox host (vagrant.ts). Scenarios use only
 * this interface, so the same scenario runs against both.
 */
import type { RunOptions, RunResult } from './agent-client.js'

export type { RunOptions, RunResult }

export interface TestNode {
  /** Host name, also the name the node is registered under. */
  readonly name: string
  /** The address the controller dials and replication uses. */
  readonly address: string
  /** Empty block devices for storage, as paths inside the node (e.g. /dev/disk/by-id/virtio-data0). */
  readonly dataDisks: readonly string[]
  /**
   * Runs `argv` in the node as root, without a shell; resolves with its exit status and output whatever
   * the exit code, rejects when it could not be run at all. `timeoutMs: 0` means no timeout (a daemon).
   */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>
  /** Power-cycles the node (no clean shutdown) and resolves once it runs commands again. */
  restart(): Promise<void>
}

export interface TestCluster {
  readonly nodes: readonly TestNode[]
  /** Where the project tree (with build/ made on the host) is inside every node, read-only. */
  readonly projectDir: string
  /** The host's address as the nodes reach it (where a controller on the host listens). */
  readonly hostAddress: string
  /** `argv` as run on the host so that it reaches the nodes (e.g. inside the network namespace). */
  hostExecArgv(argv: readonly string[]): string[]
  /**
   * Makes what the host changed in the project tree (bundles made after the nodes started) visible in
   * the nodes: nothing to do for a live share, a copy for Vagrant's rsync folders.
   */
  syncProject(): Promise<void>
  /** Cuts a node off the network (`up` false) or connects it again; its command channel stays. */
  setLinkUp(node: TestNode, up: boolean): Promise<void>
  /** Stops everything the harness started. Idempotent. */
  teardown(): Promise<void>
}
