/**
 * The controller's object model, LINSTOR's nouns (DESIGN.md §2). Objects are plain data that refer to
 * each other by name, so that each one serialises to one database row (db/schema) and the whole model
 * rebuilds from rows in O(objects). Names keep the case they were created with; maps key them by
 * `nameKey()` (upper case).
 *
 * What satellites report (connection state, capacities, device paths, disk states) is runtime state:
 * it lives in `Runtime*` types, never in the database.
 */
import type { LayerKind } from '../../common/layer-stack.js'

export type Props = Record<string, string>

export type NodeType = 'Controller' | 'Satellite' | 'Combined' | 'Auxiliary'
export const NODE_TYPES: readonly NodeType[] = ['Controller', 'Satellite', 'Combined', 'Auxiliary']

export type ProviderKind =
  | 'DISKLESS' | 'LVM' | 'LVM_THIN' | 'ZFS' | 'ZFS_THIN' | 'FILE' | 'FILE_THIN'
/** Storage providers Blockyard implements (LINSTOR has more: SPDK, EXOS, EBS, Storage Spaces …). */
export const PROVIDER_KINDS: readonly ProviderKind[] = ['DISKLESS', 'LVM', 'LVM_THIN', 'ZFS', 'ZFS_THIN', 'FILE', 'FILE_THIN']

export interface NetInterface {
  name: string
  address: string
  /** Satellite port on this interface; only the active one is dialled (DESIGN.md §2.3). */
  satellitePort: number | null
  satelliteEncryptionType: 'PLAIN' | 'SSL' | null
  isActive: boolean
  uuid: string
}

export interface Node {
  name: string
  type: NodeType
  /** LINSTOR flags, e.g. DELETE, EVICTED, EVACUATE, QIGNORE. */
  flags: string[]
  props: Props
  netInterfaces: NetInterface[]
  uuid: string
}

export interface StorPoolDfn {
  name: string
  props: Props
  uuid: string
}

export interface StorPool {
  nodeName: string
  name: string
  providerKind: ProviderKind
  props: Props
  /** Name of the shared space, for pools on shared storage (LINSTOR `shared_space`). */
  sharedSpace: string | null
  externalLocking: boolean
  uuid: string
}

/** LINSTOR's AutoSelectFilter, kept in its REST shape: it is stored and echoed, not interpreted, by groups. */
export interface AutoSelectFilter {
  place_count?: number
  additional_place_count?: number
  node_name_list?: string[]
  storage_pool?: string
  storage_pool_list?: string[]
  storage_pool_diskless_list?: string[]
  not_place_with_rsc?: string[]
  not_place_with_rsc_regex?: string
  replicas_on_same?: string[]
  replicas_on_different?: string[]
  x_replicas_on_different_map?: Record<string, number>
  layer_stack?: string[]
  provider_list?: string[]
  diskless_on_remaining?: boolean
  diskless_type?: string
  overprovision?: number
}

export interface VlmGrp {
  vlmNr: number
  props: Props
  flags: string[]
  uuid: string
}

export interface RscGrp {
  name: string
  description: string
  props: Props
  selectFilter: AutoSelectFilter
  peerSlots: number | null
  vlmGrps: VlmGrp[]
  uuid: string
}

export interface DrbdRscDfnData {
  peerSlots: number
  alStripes: number
  alStripeSizeKib: number
  transportType: string
  secret: string
  /** Preferred TCP port, if the user asked for one (LINSTOR `drbd_port`). */
  port: number | null
}

export interface VlmDfn {
  vlmNr: number
  sizeKib: number
  props: Props
  /** e.g. DELETE, ENCRYPTED, RESIZE, GROSS_SIZE */
  flags: string[]
  /** DRBD minor, cluster-wide unique; allocated when the definition is created (LINSTOR does the same). */
  minor: number | null
  uuid: string
}

export interface RscDfn {
  name: string
  externalName: string | null
  props: Props
  flags: string[]
  /** Layer stack as given, top first; empty means "decide at first placement" (layer-stack resolution). */
  layerStack: LayerKind[]
  rscGrpName: string
  drbd: DrbdRscDfnData | null
  vlmDfns: VlmDfn[]
  uuid: string
}

export interface Volume {
  vlmNr: number
  storPoolName: string
  props: Props
  flags: string[]
  uuid: string
}

export interface Resource {
  rscName: string
  nodeName: string
  props: Props
  /** e.g. DELETE (two-phase delete), DISKLESS, DRBD_DISKLESS, TIE_BREAKER, INACTIVE */
  flags: string[]
  /** Layer stack of this resource, top first (resolved from the definition at creation). */
  layerStack: LayerKind[]
  /** DRBD node id within the resource and TCP port on this node, when the stack has DRBD. */
  drbdNodeId: number | null
  drbdTcpPort: number | null
  volumes: Volume[]
  createTimestamp: number
  uuid: string
}

export interface SnapshotVlmDfn {
  vlmNr: number
  sizeKib: number
  props: Props
  flags: string[]
}

export interface Snapshot {
  nodeName: string
  props: Props
  flags: string[]
  createTimestamp: number
  uuid: string
}

export interface SnapshotDfn {
  rscName: string
  name: string
  props: Props
  /** e.g. SUCCESSFUL, FAILED_DEPLOYMENT, DELETE, SHIPPING */
  flags: string[]
  vlmDfns: SnapshotVlmDfn[]
  snapshots: Snapshot[]
  uuid: string
}

export interface KeyValueStore {
  name: string
  props: Props
}

/** What a satellite reports about its node; absent until the node has connected once. */
export interface RuntimeNode {
  connectionStatus: 'OFFLINE' | 'CONNECTED' | 'ONLINE' | 'VERSION_MISMATCH' | 'FULL_SYNC_FAILED' | 'AUTHENTICATION_ERROR' | 'UNKNOWN' | 'OTHER_CONTROLLER' | 'AUTHENTICATED' | 'NO_STLT_CONN'
  /** Why the node is not ONLINE, for humans. */
  reason?: string
  supportedLayers: LayerKind[] | null
  supportedProviders: ProviderKind[] | null
  unsupportedLayers?: Record<string, string[]>
  unsupportedProviders?: Record<string, string[]>
}

export interface RuntimeStorPool {
  freeCapacityKib: number | null
  totalCapacityKib: number | null
  reports: { message: string; cause?: string }[]
}

export interface RuntimeVolume {
  devicePath: string | null
  allocatedSizeKib: number | null
  usableSizeKib: number | null
  diskState: string | null
  reports: { message: string; cause?: string; details?: string }[]
}
