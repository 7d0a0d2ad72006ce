/**
 * The JSON shapes of LINSTOR's REST API v1 as the client reads and writes them (field names exactly as
 * LINSTOR's Json.java / the OpenAPI contract). Replies carry more fields than typed here for some
 * objects (layer data); those are typed loosely, never dropped: the CLI's `-m` output prints replies as
 * the controller sent them.
 */
import type { ApiCallRc } from '../common/errors.js'
import type { AutoSelectFilter } from '../controller/model/types.js'

export type Props = Record<string, string>

/**
 * One entry of a LINSTOR reply, the controller's own type. `ret_code` is the exact signed 64-bit mask
 * (severity | operation | object | code): a JS number cannot hold it, so it is a bigint.
 */
export type { ApiCallRc }

/** Modification of a property map, as every LINSTOR `…Modify` body carries it. */
export interface PropsModify {
  override_props?: Props
  delete_props?: string[]
  delete_namespaces?: string[]
}

export interface ControllerVersion {
  version: string
  git_hash: string
  build_time: string
  rest_api_version: string
}

export interface NetInterface {
  name: string
  address: string
  satellite_port?: number
  satellite_encryption_type?: string
  is_active?: boolean
  uuid?: string
}

export type ConnectionStatus =
  | 'OFFLINE' | 'CONNECTED' | 'ONLINE' | 'VERSION_MISMATCH' | 'FULL_SYNC_FAILED' | 'AUTHENTICATION_ERROR'
  | 'UNKNOWN' | 'HOSTNAME_MISMATCH' | 'OTHER_CONTROLLER' | 'NO_STLT_CONN' | 'MISSING_EXT_TOOLS'

export interface Node {
  name: string
  type: string
  flags?: string[]
  props?: Props
  net_interfaces?: NetInterface[]
  connection_status?: ConnectionStatus
  uuid?: string
  storage_providers?: string[]
  resource_layers?: string[]
  unsupported_providers?: Record<string, string[]>
  unsupported_layers?: Record<string, string[]>
  eviction_timestamp?: number
}

export interface NodeCreate {
  name: string
  /** Controller, Satellite, Combined or Auxiliary (any case). */
  type: string
  net_interfaces: NetInterface[]
  props?: Props
}

export interface NodeModify extends PropsModify {
  node_type?: string
}

export interface StoragePoolDefinition {
  storage_pool_name: string
  props?: Props
  uuid?: string
}

export type ProviderKind = 'DISKLESS' | 'LVM' | 'LVM_THIN' | 'ZFS' | 'ZFS_THIN' | 'FILE' | 'FILE_THIN'

export interface StoragePool {
  storage_pool_name: string
  node_name: string
  provider_kind: ProviderKind | string
  props?: Props
  static_traits?: Props
  free_capacity?: number
  total_capacity?: number
  free_space_mgr_name?: string
  uuid?: string
  reports?: ApiCallRc[]
  supports_snapshots?: boolean
  external_locking?: boolean
}

export interface StoragePoolCreate {
  storage_pool_name: string
  provider_kind: ProviderKind
  props?: Props
  free_space_mgr_name?: string
  external_locking?: boolean
}

/** LINSTOR's AutoSelectFilter, in its REST shape (the controller stores it as it is). */
export type { AutoSelectFilter }

export interface ResourceGroup {
  name: string
  description?: string
  props?: Props
  select_filter?: AutoSelectFilter
  peer_slots?: number
  uuid?: string
}

export interface ResourceGroupCreate {
  name: string
  description?: string
  props?: Props
  select_filter?: AutoSelectFilter
  peer_slots?: number
}

export interface ResourceGroupModify extends PropsModify {
  description?: string
  select_filter?: AutoSelectFilter
  peer_slots?: number
}

export interface ResourceGroupSpawn {
  resource_definition_name: string
  resource_definition_external_name?: string
  /** Sizes in KiB, one per volume group. */
  volume_sizes?: number[]
  select_filter?: AutoSelectFilter
  partial?: boolean
  definitions_only?: boolean
  peer_slots?: number
}

export interface VolumeGroup {
  volume_number: number
  props?: Props
  flags?: string[]
  uuid?: string
}

export interface VolumeGroupCreate {
  volume_number?: number
  props?: Props
  flags?: string[]
}

export interface VolumeGroupModify extends PropsModify {
  flags?: string[]
}

/** One entry of a definition's or volume's `layer_data`: the layer kind and, for some kinds, its data. */
export interface LayerData {
  type: string
  data?: Record<string, unknown>
}

export interface VolumeDefinition {
  volume_number: number
  size_kib: number
  props?: Props
  flags?: string[]
  uuid?: string
  layer_data?: LayerData[]
}

export interface ResourceDefinition {
  name: string
  external_name?: string
  props?: Props
  flags?: string[]
  layer_data?: LayerData[]
  uuid?: string
  resource_group_name?: string
  volume_definitions?: VolumeDefinition[]
}

export interface ResourceDefinitionCreate {
  resource_definition: {
    name?: string
    external_name?: string
    props?: Props
    flags?: string[]
    layer_data?: { type: string }[]
    resource_group_name?: string
  }
  drbd_port?: number
  drbd_peer_slots?: number
  drbd_transport_type?: string
  drbd_secret?: string
}

export interface ResourceDefinitionModify extends PropsModify {
  drbd_port?: number
  drbd_peer_slots?: number
  layer_stack?: string[]
  resource_group?: string
}

export interface VolumeDefinitionCreate {
  volume_definition: {
    volume_number?: number
    size_kib: number
    props?: Props
    flags?: string[]
  }
  drbd_minor_number?: number
}

export interface VolumeDefinitionModify extends PropsModify {
  size_kib?: number
  flags?: string[]
}

/** LINSTOR's ReplicationState: DRBD's replication towards one peer, with the progress of a resync or verify while one runs. */
export interface ReplicationState {
  replication_state?: string
  done_percentage?: number
}

export interface VolumeState {
  disk_state?: string
  /** By peer node name. */
  replication_states?: Record<string, ReplicationState>
}

export interface Volume {
  volume_number: number
  storage_pool_name?: string
  provider_kind?: string
  device_path?: string
  allocated_size_kib?: number
  usable_size_kib?: number
  props?: Props
  flags?: string[]
  state?: VolumeState
  layer_data_list?: LayerData[]
  uuid?: string
  reports?: ApiCallRc[]
}

export interface ResourceLayer {
  type: string
  resource_name_suffix?: string
  children?: ResourceLayer[]
  drbd?: {
    node_id?: number
    tcp_ports?: number[]
    connections?: Record<string, { connected: boolean; message: string }>
    may_promote?: boolean
    promotion_score?: number
    [k: string]: unknown
  }
  [k: string]: unknown
}

export interface Resource {
  name: string
  node_name: string
  props?: Props
  flags?: string[]
  layer_object?: ResourceLayer
  state?: { in_use?: boolean }
  uuid?: string
  create_timestamp?: number
  volumes?: Volume[]
}

export interface ResourceCreate {
  resource: {
    node_name: string
    props?: Props
    flags?: string[]
  }
  layer_list?: string[]
  drbd_node_id?: number
  drbd_tcp_ports?: number[]
}

export interface AutoPlaceRequest {
  select_filter: AutoSelectFilter
  diskless_on_remaining?: boolean | null
  layer_list?: string[]
}

export interface ResourceModify extends PropsModify {}

export interface SnapshotVolumeDefinition {
  volume_number: number
  size_kib: number
  snapshot_volume_definition_props?: Props
  volume_definition_props?: Props
}

export interface SnapshotNode {
  snapshot_name: string
  node_name: string
  create_timestamp?: number
  flags?: string[]
  uuid?: string
}

export interface Snapshot {
  name: string
  resource_name: string
  nodes?: string[]
  props?: Props
  flags?: string[]
  volume_definitions?: SnapshotVolumeDefinition[]
  snapshots?: SnapshotNode[]
  uuid?: string
}

export interface SnapshotCreate {
  name: string
  /** Nodes to take it on; all nodes with a diskful resource when empty. */
  nodes?: string[]
}

export interface SnapshotRestore {
  to_resource: string
  /** Nodes to restore on; every node of the snapshot when empty. */
  nodes?: string[]
  /** Storage pool renames, old name → new name. */
  stor_pool_rename?: Record<string, string>
}

export interface KeyValueStore {
  name: string
  props: Props
}
