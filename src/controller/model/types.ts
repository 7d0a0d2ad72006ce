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

/**
 * A volume definition as it was when its snapshot was requested (LINSTOR SnapshotVolumeDefinition): a
 * restore gives the target these sizes and properties back.
 */
export interface SnapshotVlmDfn {
  vlmNr: number
  sizeKib: number
  /** The snapshot volume definition's own properties (LINSTOR `snapshot_volume_definition_props`). */
  props: Props
  /** Copy of the volume definition's properties (LINSTOR `volume_definition_props`). */
  vlmDfnProps: Props
  /** The volume definition's GROSS_SIZE flag, so that a restored definition describes the same device. */
  flags: string[]
  uuid: string
}

/** One volume of a snapshot on a node (LINSTOR SnapshotVolume). */
export interface SnapshotVolume {
  vlmNr: number
  /** Pool holding the snapshot: the pool of the volume it is taken of (a clone can only come from there). */
  storPoolName: string
  /** The snapshot volume's own properties (LINSTOR `snapshot_volume_props`). */
  props: Props
  /** Copy of the volume's properties (LINSTOR `volume_props`), given to volumes restored from it. */
  vlmProps: Props
  uuid: string
}

/**
 * A snapshot on one node (LINSTOR Snapshot): what the satellite of that node is to take, of the
 * resource as it was when the snapshot was requested.
 */
export interface Snapshot {
  nodeName: string
  /** The snapshot's own properties (LINSTOR `snapshot_props`). */
  props: Props
  /** Copy of the resource's properties (LINSTOR `resource_props`), given to resources restored from it. */
  rscProps: Props
  /** DELETE while its satellite removes it (two-phase, as resources). */
  flags: string[]
  /** The resource's layer stack: a resource restored from the snapshot gets the same one. */
  layerStack: LayerKind[]
  /** The resource's DRBD node id: the DRBD metadata inside the snapshot belongs to it. */
  drbdNodeId: number | null
  volumes: SnapshotVolume[]
  /**
   * When the satellite took the snapshot (ms since the epoch); null until it has confirmed. Persisted,
   * so that the controller knows after a restart which nodes already hold their copy.
   */
  createTimestamp: number | null
  uuid: string
}

/**
 * A snapshot of a resource definition (LINSTOR SnapshotDefinition) with its snapshots per node. The
 * controller stores the request; satellites take the snapshots and confirm (a later stage):
 * - all snapshots of one definition are taken in one round with I/O suspended on every resource of the
 *   definition, so that the copies on all nodes hold the same data; a round starts only when the
 *   satellites of all nodes of the snapshot are connected;
 * - each satellite's confirmation sets its Snapshot's `createTimestamp`; when every snapshot is taken
 *   the controller sets SUCCESSFUL, when a round fails (or a node drops out of it) FAILED_DEPLOYMENT.
 * Until then the definition has neither flag ("Incomplete" for LINSTOR's client), and it cannot be
 * restored or rolled back to.
 */
export interface SnapshotDfn {
  rscName: string
  name: string
  /** The snapshot definition's own properties (LINSTOR `snapshot_definition_props`). */
  props: Props
  /** Copy of the resource definition's properties (LINSTOR `resource_definition_props`). */
  rscDfnProps: Props
  /**
   * LINSTOR's SnapshotDefinition flags. Blockyard sets SUCCESSFUL, FAILED_DEPLOYMENT and DELETE;
   * SHIPPING and the other backup-shipping flags belong to shipping, which Blockyard does not do.
   */
  flags: string[]
  /** Creation order within the resource definition (LINSTOR's SequenceNumber): "the most recent". */
  sequenceNumber: number
  vlmDfns: SnapshotVlmDfn[]
  snapshots: Snapshot[]
  uuid: string
}

export interface KeyValueStore {
  name: string
  props: Props
}

/** What a satellite reports about its node, and the state of its link; absent until the controller has tried to connect. */
export interface RuntimeNode {
  /** LINSTOR's connection statuses that its clients know (they fail on others). */
  connectionStatus: 'OFFLINE' | 'CONNECTED' | 'ONLINE' | 'VERSION_MISMATCH' | 'FULL_SYNC_FAILED' | 'AUTHENTICATION_ERROR' | 'UNKNOWN' | 'HOSTNAME_MISMATCH' | 'OTHER_CONTROLLER' | 'NO_STLT_CONN'
  /** Why the node is not ONLINE, for humans. */
  reason?: string
  /** When the status last changed (ms since the epoch). */
  since?: number
  /** The satellite's Blockyard version, from its last handshake. */
  satelliteVersion?: string
  supportedLayers: LayerKind[] | null
  supportedProviders: ProviderKind[] | null
  /** The DRBD kernel module's version its satellite reported ("8.4.11", "9.2.8"); null when unknown or no DRBD. */
  drbdVersion?: string | null
  unsupportedLayers?: Record<string, string[]>
  unsupportedProviders?: Record<string, string[]>
}

export interface RuntimeStorPool {
  freeCapacityKib: number | null
  totalCapacityKib: number | null
  reports: { message: string; cause?: string }[]
}

/** What DRBD on a resource's node says of one peer of one volume. */
export interface RuntimePeerVolume {
  peerNodeName: string
  /** DRBD 9's replication state names (the 8.4 satellite maps to them): Established, SyncTarget, … */
  replicationState: string
  peerDiskState: string
  /** Resync or verify progress in percent, while one runs; null otherwise. */
  syncPercent: number | null
}

export interface RuntimeVolume {
  devicePath: string | null
  allocatedSizeKib: number | null
  usableSizeKib: number | null
  diskState: string | null
  /** DRBD: the volume as seen towards each peer; empty without DRBD. */
  peers: RuntimePeerVolume[]
  reports: { message: string; cause?: string; details?: string }[]
}

/**
 * What the satellite of a node reported of a resource's DRBD state there; absent for resources without
 * DRBD and until a first report.
 */
export interface RuntimeResource {
  /** DRBD Primary on this node (LINSTOR's in_use). */
  inUse: boolean
  /** DRBD's connection state towards each peer (Connected, Connecting, StandAlone …). */
  connections: { peerNodeName: string; state: string }[]
  /** Whether this node could become Primary now; null when unknown (DRBD 8.4 tells nothing). */
  mayPromote: boolean | null
  /** DRBD 9's promotion score; null where DRBD gives none. */
  promotionScore: number | null
}
