/**
 * The one error registry (STYLE.md §3). Each code maps to an HTTP status, a LINSTOR return code
 * (severity | code; the operation and object bits come from the API call that raised it) and message
 * and correction templates with `{name}` placeholders. Codes are never renamed: clients match on them.
 */
import { MASK, retCode, type Obj, type Op } from './api-codes.js'

interface ErrorDef {
  /** HTTP status of a reply whose first error is this one. */
  status: number
  /** LINSTOR severity | code (bits 62–63 and 0–14), or one of LINSTOR's whole-value constants. */
  rc: bigint
  message: string
  correction?: string
}

const E = MASK.ERROR
/** LINSTOR's special values outside the usual layout (ApiConsts API_CALL_PARSE_ERROR, UNKNOWN_API_CALL). */
export const API_CALL_PARSE_ERROR = BigInt.asIntN(64, 0x0ffffffffffffffdn | E)
export const UNKNOWN_API_CALL = BigInt.asIntN(64, 0x0fffffffffffffffn | E)

function notFound(code: bigint, what: string, key: string, listCmd: string): ErrorDef {
  return {
    status: 404,
    rc: E | code,
    message: `${what} '{${key}}' not found.`,
    correction: `Check the name; '${listCmd}' lists the existing ones.`,
  }
}
function exists(code: bigint, what: string, key: string): ErrorDef {
  return { status: 409, rc: E | code, message: `${what} '{${key}}' already exists.`, correction: 'Choose another name, or delete the existing one first.' }
}

export const ERRORS = {
  // Requests
  ERR_REQ_JSON: { status: 400, rc: API_CALL_PARSE_ERROR, message: 'Unable to parse input json.', correction: 'Send a JSON document as the request body.' },
  ERR_REQ_FIELD: { status: 400, rc: E | 234n, message: "Invalid field '{field}': {problem}.", correction: 'Correct the request body; see the LINSTOR REST API (v1) for the expected shape.' },
  ERR_REQ_QUERY: { status: 400, rc: E | 234n, message: "Invalid query parameter '{param}': {problem}." },
  ERR_REQ_TOO_LARGE: { status: 413, rc: E | 234n, message: 'Request body larger than {limit} bytes.', correction: 'Split the request.' },
  ERR_REQ_ROUTE: { status: 404, rc: UNKNOWN_API_CALL, message: "No API call '{method} {path}'.", correction: 'See the LINSTOR REST API (v1) for the available routes.' },
  ERR_REQ_METHOD: { status: 405, rc: UNKNOWN_API_CALL, message: "Method {method} is not allowed on '{path}'.", correction: 'Allowed: {allowed}.' },
  ERR_REQ_UNSUPPORTED: { status: 501, rc: E | 234n, message: '{what} is not supported by Blockyard.', correction: '{correction}' },
  ERR_EVENTS_QUERY: { status: 400, rc: E | 234n, message: "Invalid events query parameter '{param}': {problem}.", correction: 'Use kinds, names and nodes (comma-separated), since=REVISION and current=1 (docs/events.md).' },
  ERR_EVENTS_UPGRADE: { status: 426, rc: E | 234n, message: "'{path}' is a WebSocket endpoint: the request did not ask for an upgrade.", correction: "Connect with a WebSocket client, e.g. 'blockyard events'." },
  ERR_SERVER_INTERNAL: { status: 500, rc: E | 999n, message: 'Internal error, report {reportId}.', correction: 'The controller log has the details under this report id.' },

  // Names and values
  ERR_NAME_NODE: { status: 400, rc: E | 200n, message: "Invalid node name '{name}': {problem}.", correction: 'A node name is a hostname: 2–255 characters, labels of letters, digits and dashes separated by dots.' },
  ERR_NAME_RSC: { status: 400, rc: E | 202n, message: "Invalid resource name '{name}': {problem}.", correction: 'Use 2–48 characters: a letter or underscore first, then letters, digits, underscores or dashes.' },
  ERR_NAME_STOR_POOL: { status: 400, rc: E | 208n, message: "Invalid storage pool name '{name}': {problem}.", correction: 'Use 2–48 characters: a letter or underscore first, then letters, digits, underscores or dashes.' },
  ERR_NAME_NET_IF: { status: 400, rc: E | 209n, message: "Invalid net interface name '{name}': {problem}.", correction: 'Use 2–32 characters: a letter or underscore first, then letters, digits, underscores or dashes.' },
  ERR_NAME_SNAPSHOT: { status: 400, rc: E | 218n, message: "Invalid snapshot name '{name}': {problem}.", correction: 'Use 2–48 characters: a letter or underscore first, then letters, digits, underscores or dashes.' },
  ERR_NAME_KVS: { status: 400, rc: E | 223n, message: "Invalid key-value store name '{name}': {problem}.", correction: 'Use 2–48 characters: a letter or underscore first, then letters, digits, underscores or dashes.' },
  ERR_NAME_RSC_GRP: { status: 400, rc: E | 237n, message: "Invalid resource group name '{name}': {problem}.", correction: 'Use 2–48 characters: a letter or underscore first, then letters, digits, underscores or dashes.' },
  ERR_NODE_TYPE: { status: 400, rc: E | 201n, message: "Invalid node type '{type}'.", correction: 'Use one of: Controller, Satellite, Combined, Auxiliary.' },
  ERR_NET_ADDR: { status: 400, rc: E | 210n, message: "Invalid network address '{address}'.", correction: 'Give an IPv4 or IPv6 address.' },
  ERR_NET_PORT: { status: 400, rc: E | 211n, message: "Invalid satellite port '{port}'.", correction: 'Use a TCP port from 1 to 65535.' },
  ERR_NET_ENCRYPTION: { status: 400, rc: E | 212n, message: "Invalid satellite encryption type '{type}'.", correction: 'Use PLAIN or SSL.' },
  ERR_PROP_INVALID: { status: 400, rc: E | 213n, message: "Invalid property '{key}': {problem}.", correction: '{correction}' },
  ERR_VLM_NR: { status: 400, rc: E | 205n, message: "Invalid volume number '{vlmNr}'.", correction: 'Use a volume number from 0 to 65534.' },
  ERR_VLM_SIZE: { status: 400, rc: E | 206n, message: "Invalid volume size '{size}': {problem}.", correction: 'Give size_kib as a whole number of KiB from {min} to {max}.' },
  ERR_VLM_SIZE_COUNT: { status: 400, rc: E | 228n, message: "Invalid count of volume sizes to spawn resource group '{rscGrp}'.", correction: "Either give one size per volume group, or use the 'partial' option." },
  ERR_PLACE_COUNT: { status: 400, rc: E | 219n, message: "Invalid place count '{count}'.", correction: 'Use a place count from 1 to {max}.' },
  ERR_LAYER_STACK: { status: 400, rc: E | 225n, message: 'Invalid layer stack {stack}: {problem}.', correction: '{correction}' },
  ERR_PROVIDER_INVALID: { status: 400, rc: E | 221n, message: "Invalid storage provider '{provider}'.", correction: 'Use one of: {allowed}.' },
  ERR_PROVIDER_NOT_SHARED: { status: 400, rc: E | 221n, message: "Storage provider {provider} cannot back the shared space '{space}'.", correction: 'Use one of {allowed} for a shared space, or set external_locking.' },
  ERR_TCP_PORT: { status: 400, rc: E | 215n, message: "Invalid TCP port '{port}': {problem}.", correction: 'Use a port inside TcpPortAutoRange ({range}).' },
  ERR_PEER_SLOTS: { status: 400, rc: E | 204n, message: "Invalid peer slot count '{count}'.", correction: 'Use 1 to 31 peer slots.' },
  ERR_REGEX_INVALID: { status: 400, rc: E | 234n, message: "Invalid regular expression '{regex}': {problem}." },

  // Resource and volume definitions
  ERR_EXT_NAME: { status: 400, rc: E | 226n, message: 'Invalid external name: {problem}.', correction: 'Give at most 256 bytes (UTF-8) without control characters.' },
  ERR_EXT_NAME_MISSING: { status: 400, rc: E | 606n, message: 'The resource name generation for the creation of a new resource definition failed: neither a name nor an external name was given.', correction: 'Give resource_definition.name, or an external_name to generate the name from.' },
  ERR_EXISTS_EXT_NAME: { status: 409, rc: E | 517n, message: "The external name '{extName}' is already registered.", correction: 'Choose another external name.' },
  ERR_TRANSPORT_TYPE: { status: 400, rc: E | 214n, message: "The given transport type '{type}' is invalid.", correction: 'Use IP, RDMA or RoCE.' },
  ERR_MINOR_NR: { status: 400, rc: E | 207n, message: "The specified minor number '{minor}' is invalid.", correction: 'Use a minor number from {min} to {max}, or omit it to have one allocated.' },
  ERR_MINOR_NR_IN_USE: { status: 409, rc: E | 207n, message: "The specified minor number '{minor}' is already used by volume definition {vlmNr} of resource definition '{rsc}'.", correction: 'Choose another minor number, or omit it to have one allocated.' },
  ERR_PEER_SLOTS_INSUFFICIENT: { status: 409, rc: E | 993n, message: "Insufficient peer slots: {count} peer slot(s) are too few for the {diskful} diskful resources of '{rsc}'.", correction: 'Configure a higher peer slot count on the resource definition.' },
  ERR_LAYER_STACK_IN_USE: { status: 409, rc: E | 502n, message: "Changing the layer stack of resource definition '{rsc}' with already deployed resources is not supported.", correction: 'Delete its {count} resource(s) first, or create a new resource definition with the wanted layer stack.' },
  ERR_RSC_DFN_HAS_SNAPSHOTS: { status: 409, rc: E | 514n, message: "Cannot delete resource definition '{rsc}' because it has snapshots.", correction: "Delete its snapshots first ('snapshot list -r {rsc}' lists them)." },
  ERR_NOT_FOUND_CRYPT_KEY: { status: 404, rc: E | 312n, message: 'Unable to create an encrypted volume definition without having a master key.', correction: 'Create or enter the master passphrase first.' },
  ERR_NOT_FOUND_VLM_STOR_POOL: { status: 404, rc: E | 311n, message: "The storage pool '{pool}' for resource '{rsc}' for volume number '{vlmNr}' is not deployed on node '{node}'.", correction: "Create the storage pool on that node, or set the property 'StorPoolName' to a pool that exists there." },

  // Missing objects
  ERR_NOT_FOUND_NODE: notFound(300n, 'Node', 'node', 'node list'),
  ERR_NOT_FOUND_RSC_DFN: notFound(301n, 'Resource definition', 'rsc', 'resource-definition list'),
  ERR_NOT_FOUND_RSC: { status: 404, rc: E | 302n, message: "Resource '{rsc}' not found on node '{node}'.", correction: "'resource list' lists the existing ones." },
  ERR_NOT_FOUND_VLM_DFN: { status: 404, rc: E | 303n, message: "Volume definition {vlmNr} of resource definition '{rsc}' not found.", correction: "'volume-definition list' lists the existing ones." },
  ERR_NOT_FOUND_VLM: { status: 404, rc: E | 304n, message: "Volume {vlmNr} of resource '{rsc}' on node '{node}' not found." },
  ERR_NOT_FOUND_NET_IF: { status: 404, rc: E | 305n, message: "Net interface '{netIf}' of node '{node}' not found.", correction: "'node interface list {node}' lists the existing ones." },
  ERR_NOT_FOUND_STOR_POOL_DFN: notFound(309n, 'Storage pool definition', 'pool', 'storage-pool-definition list'),
  ERR_NOT_FOUND_STOR_POOL: { status: 404, rc: E | 310n, message: "Storage pool '{pool}' not found on node '{node}'.", correction: "'storage-pool list' lists the existing ones." },
  ERR_NOT_FOUND_SNAPSHOT_DFN: { status: 404, rc: E | 313n, message: "Snapshot '{snap}' of resource '{rsc}' not found.", correction: "'snapshot list' lists the existing ones." },
  ERR_NOT_FOUND_SNAPSHOT: { status: 404, rc: E | 315n, message: "Snapshot '{snap}' of resource '{rsc}' not found on node '{node}'." },
  ERR_NOT_FOUND_KVS: notFound(316n, 'Key-value store', 'name', 'key-value-store list'),
  ERR_NOT_FOUND_RSC_GRP: notFound(317n, 'Resource group', 'rscGrp', 'resource-group list'),
  ERR_NOT_FOUND_VLM_GRP: { status: 404, rc: E | 318n, message: "Volume group {vlmNr} of resource group '{rscGrp}' not found.", correction: "'volume-group list {rscGrp}' lists the existing ones." },
  ERR_NOT_FOUND_PROP: { status: 404, rc: E | 213n, message: "Property '{key}' is not set." },

  // Duplicates
  ERR_EXISTS_NODE: exists(500n, 'Node', 'node'),
  ERR_EXISTS_RSC_DFN: exists(501n, 'Resource definition', 'rsc'),
  ERR_EXISTS_RSC: { status: 409, rc: E | 502n, message: "Resource '{rsc}' already exists on node '{node}'." },
  ERR_EXISTS_VLM_DFN: { status: 409, rc: E | 503n, message: "Volume definition {vlmNr} of resource definition '{rsc}' already exists." },
  ERR_EXISTS_NET_IF: { status: 409, rc: E | 505n, message: "Net interface '{netIf}' already exists on node '{node}'." },
  ERR_EXISTS_STOR_POOL_DFN: exists(509n, 'Storage pool definition', 'pool'),
  ERR_EXISTS_STOR_POOL: { status: 409, rc: E | 510n, message: "Storage pool '{pool}' already exists on node '{node}'." },
  ERR_EXISTS_SNAPSHOT_DFN: { status: 409, rc: E | 514n, message: "Snapshot '{snap}' of resource '{rsc}' already exists." },
  ERR_EXISTS_RSC_GRP: exists(522n, 'Resource group', 'rscGrp'),
  ERR_EXISTS_VLM_GRP: { status: 409, rc: E | 523n, message: "Volume group {vlmNr} of resource group '{rscGrp}' already exists." },

  // Deletion rules and state conflicts
  ERR_IN_USE: { status: 409, rc: E | 997n, message: '{what} is still in use: {by}.', correction: '{correction}' },
  ERR_RSC_STATE: { status: 409, rc: E | 243n, message: '{problem}.', correction: '{correction}' },
  ERR_DEFAULT_OBJECT: { status: 409, rc: E | 997n, message: "'{name}' is a default object and cannot be deleted." },

  // Allocation and placement
  ERR_POOL_EXHAUSTED_MINOR: { status: 409, rc: E | 801n, message: 'No free DRBD minor number in {range}.', correction: "Delete unused volumes or widen the controller property 'MinorNrAutoRange'." },
  ERR_POOL_EXHAUSTED_TCP_PORT: { status: 409, rc: E | 802n, message: "No free DRBD TCP port on node '{node}' in {range}.", correction: "Delete unused resources or widen the property 'TcpPortAutoRange'." },
  ERR_POOL_EXHAUSTED_NODE_ID: { status: 409, rc: E | 803n, message: "No free DRBD node id for resource '{rsc}' ({max} replicas at most).", correction: 'Delete a replica first.' },
  ERR_POOL_EXHAUSTED_VLM_NR: { status: 409, rc: E | 800n, message: "No free volume number in resource definition '{rsc}'." },
  ERR_POOL_EXHAUSTED_VLM_NR_GRP: { status: 409, rc: E | 800n, message: "No free volume number in resource group '{rscGrp}'.", correction: 'Delete unused volume groups first.' },
  ERR_PLACEMENT_FAILED: { status: 409, rc: E | 996n, message: '{reason}.', correction: 'Add nodes or storage pools, free capacity, or relax the placement constraints ({constraint}).' },
  ERR_NOT_ENOUGH_SPACE: { status: 409, rc: E | 980n, message: "Not enough free space in storage pool '{pool}' on node '{node}': {need} KiB needed, {free} KiB free." },
  ERR_STLT_LAYER: { status: 409, rc: E | 988n, message: "Node '{node}' does not support layer {layer}.", correction: 'Choose a layer stack the node supports: {supported}.' },
  ERR_STLT_PROVIDER: { status: 409, rc: E | 989n, message: "Node '{node}' does not support storage provider {provider}.", correction: 'Choose a provider the node supports: {supported}.' },

  // Snapshots
  ERR_SNAPSHOT_NOT_SUPPORTED: { status: 409, rc: E | 994n, message: "Storage pool '{pool}' on node '{node}' is {provider}, which does not support snapshots.", correction: 'Snapshots need every volume in a storage pool of kind {supported}.' },
  ERR_SNAPSHOT_DISKLESS: { status: 409, rc: E | 994n, message: "Cannot create a snapshot of the diskless resource '{rsc}' on node '{node}'.", correction: 'Name only nodes with a diskful resource, or no nodes to snapshot every diskful one.' },
  ERR_SNAPSHOT_NO_RSC: { status: 404, rc: E | 302n, message: "Resource definition '{rsc}' has no diskful resource to snapshot.", correction: 'Snapshots are taken of diskful resources; create one first.' },
  ERR_SNAPSHOT_UNUSABLE: { status: 409, rc: E | 998n, message: "Snapshot '{snap}' of resource '{rsc}' cannot be used: {problem}.", correction: '{correction}' },
  ERR_SNAPSHOT_ROLLBACK_IN_PROGRESS: { status: 409, rc: E | 971n, message: "Resource '{rsc}' is being rolled back to snapshot '{snap}'.", correction: 'Wait until its satellites have finished the rollback.' },
  ERR_SNAPSHOT_NOT_NEWEST: { status: 409, rc: E | 514n, message: "Snapshot '{snap}' is not the most recent snapshot of resource '{rsc}' (newer: {newer}).", correction: "A rollback goes to the most recent snapshot only: delete the newer ones first, or restore '{snap}' into another resource definition." },
  ERR_SNAPSHOT_VLM_SIZE: { status: 409, rc: E | 206n, message: "Volume {vlmNr} of snapshot '{snap}' has {snapKib} KiB, volume definition {vlmNr} of '{rsc}' has {kib} KiB.", correction: 'Restore into a resource definition whose volume definitions have the sizes of the snapshot, or into one without volume definitions.' },
  ERR_NOT_FOUND_SNAPSHOT_VLM_DFN: { status: 404, rc: E | 314n, message: "Snapshot '{snap}' of resource '{rsc}' has no volume {vlmNr}.", correction: "The target's volume definitions must be the snapshot's ('snapshot list' shows them)." },
  ERR_RESTORE_TARGET_HAS_RSC: { status: 409, rc: E | 502n, message: "Cannot restore into resource definition '{rsc}': it already has resources.", correction: 'Restore into a resource definition without resources.' },
  ERR_NOT_CONNECTED: { status: 409, rc: E | 995n, message: "No active connection to satellite '{node}'.", correction: '{correction}' },

  // Satellites (a reply entry after a committed change: LINSTOR answers such replies with 500)
  ERR_STLT_RSC_FAILED: { status: 500, rc: E | 998n, message: "(Node: '{node}') {what} resource '{rsc}' failed: {problem}", correction: "The satellite stopped trying: remove the cause on node '{node}', then change the resource (or delete it and create it again) to have it retried." },
} as const satisfies Record<string, ErrorDef>

export type ErrorCode = keyof typeof ERRORS
export type Params = Record<string, string | number | bigint | undefined>

/** Fill `{name}` placeholders; an unknown placeholder is kept visible rather than silently dropped. */
export function formatTemplate(template: string, params: Params): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => {
    const v = params[k]
    return v === undefined ? m : String(v)
  })
}

/** One entry of LINSTOR's reply list: what every REST reply that reports an outcome is made of. */
export interface ApiCallRc {
  ret_code: bigint
  message: string
  cause?: string
  correction?: string
  details?: string
  obj_refs?: Record<string, string>
  error_report_ids?: string[]
  created_at?: string
}

export interface ApiErrorOptions {
  cause?: string
  details?: string
  /** Overrides the registry's correction template. */
  correction?: string
  objRefs?: Record<string, string>
}

/** A domain error with a registry code; the API layer turns it into an ApiCallRc with its status. */
export class ApiError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly params: Params
  readonly options: ApiErrorOptions

  constructor(code: ErrorCode, params: Params = {}, options: ApiErrorOptions = {}) {
    const def: ErrorDef = ERRORS[code]
    super(formatTemplate(def.message, params))
    this.name = 'ApiError'
    this.code = code
    this.status = def.status
    this.params = params
    this.options = options
  }

  /** The ApiCallRc for this error inside an API call of operation `op` on object kind `obj`. */
  toRc(op?: Op, obj?: Obj): ApiCallRc {
    const def: ErrorDef = ERRORS[this.code]
    // LINSTOR's special whole-value codes already carry every bit they should.
    const special = def.rc === API_CALL_PARSE_ERROR || def.rc === UNKNOWN_API_CALL
    const rc: ApiCallRc = {
      ret_code: special ? def.rc : retCode(def.rc, op, obj),
      message: this.message,
      created_at: new Date().toISOString(),
    }
    if (this.options.cause !== undefined) rc.cause = this.options.cause
    const correction = this.options.correction ?? (def.correction !== undefined ? formatTemplate(def.correction, this.params) : undefined)
    if (correction !== undefined && correction !== '') rc.correction = correction
    if (this.options.details !== undefined) rc.details = this.options.details
    if (this.options.objRefs !== undefined) rc.obj_refs = this.options.objRefs
    return rc
  }
}

/** LINSTOR's success codes (MASK_SUCCESS | code). */
export const SUCCESS = { CREATED: 1n, DELETED: 2n, MODIFIED: 3n } as const
/** LINSTOR's warning and info codes used in replies. */
export const WARN = { NOT_CONNECTED: MASK.WARN | 1002n, STLT_NOT_UPDATED: MASK.WARN | 1003n, DEL_UNSET_PROP: MASK.WARN | 1005n, STORAGE_KIND_ADDED: MASK.WARN | 1012n, NOT_ENOUGH_NODES_FOR_TIE_BREAKER: MASK.WARN | 1013n, VLMDFN_RESIZE_SAME_SIZE: MASK.WARN | 1023n, NOT_FOUND: MASK.WARN | 3000n, NO_EFFECT: MASK.WARN | 3001n } as const
export const INFO = {
  NO_RSC_SPAWNED: MASK.INFO | 10000n, PROP_SET: MASK.INFO | 10002n, TIE_BREAKER_CREATED: MASK.INFO | 10003n, TIE_BREAKER_DELETING: MASK.INFO | 10004n,
  PROP_REMOVED: MASK.INFO | 10005n, TIE_BREAKER_TAKEOVER: MASK.INFO | 10006n, NOOP: MASK.INFO | 10007n,
} as const

/** A non-error reply entry. */
export function rcEntry(code: bigint, message: string, op?: Op, obj?: Obj, extra: Omit<ApiCallRc, 'ret_code' | 'message'> = {}): ApiCallRc {
  return { ret_code: retCode(code, op, obj), message, ...extra, created_at: new Date().toISOString() }
}
