/**
 * A typed client for the controller's REST API (LINSTOR v1), on Node's fetch. One method per route; each
 * returns the reply's JSON typed as LINSTOR's shapes, or throws one of the errors of `errors.ts`.
 *
 * ret_codes stay exact: replies are parsed from their text with every `ret_code` read as a bigint (a
 * JSON.parse number would lose the low bits of LINSTOR's 64-bit masks, and with them the error codes).
 */
import { VERSION } from '../common/version.js'
import { ApiCallError, ConnectionError, isErrorRc, UnexpectedReplyError } from './errors.js'
import type {
  ApiCallRc, AutoPlaceRequest, ControllerVersion, KeyValueStore, NetInterface, Node, NodeCreate, NodeModify,
  Props, PropsModify, Resource, ResourceCreate, ResourceDefinition, ResourceDefinitionCreate, ResourceDefinitionModify,
  ResourceGroup, ResourceGroupCreate, ResourceGroupModify, ResourceGroupSpawn, ResourceModify, Snapshot,
  SnapshotCreate, SnapshotRestore, StoragePool, StoragePoolCreate, StoragePoolDefinition, Volume, VolumeDefinition,
  VolumeDefinitionCreate, VolumeDefinitionModify, VolumeGroup, VolumeGroupCreate, VolumeGroupModify,
} from './types.js'

/** LINSTOR's REST ports: HTTP and HTTPS. */
export const DEFAULT_PORT = 3370
export const DEFAULT_TLS_PORT = 3371
/** Where the client looks when given no controller (LINSTOR's clients use localhost:3370). */
export const DEFAULT_CONTROLLER = '127.0.0.1:3370'

export interface ClientOptions {
  /**
   * Controllers to try, in order, as LINSTOR's `--controllers` takes them: `host`, `host:port`,
   * `[v6addr]:port`, or a URL with scheme `http`, `https`, `linstor` (HTTP) or `linstor+ssl` (HTTPS).
   * A string may hold several, comma-separated. The first that answers is used for every later call.
   */
  controllers?: string | readonly string[]
  /** Per-call timeout; LINSTOR's client waits 300 s (calls that create resources wait for satellites). */
  timeoutMs?: number
}

/** Filters of list calls; each becomes a repeated query parameter. */
export interface ListFilter {
  nodes?: readonly string[]
  /** `KEY=VALUE` or `KEY` (has the property). */
  props?: readonly string[]
}

/**
 * Turns one controller address into the base URL of its REST API.
 * @throws RangeError when the address is empty or not a host, host:port or URL
 */
export function controllerUrl(address: string): string {
  const a = address.trim()
  if (a === '') throw new RangeError('a controller address is empty')
  let scheme = 'http'
  let rest = a
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(a)
  if (m !== null) {
    const given = m[1]!.toLowerCase()
    if (given === 'https' || given === 'linstor+ssl') scheme = 'https'
    else if (given !== 'http' && given !== 'linstor') throw new RangeError(`controller address '${address}': unknown scheme '${m[1]}' (use http, https, linstor or linstor+ssl)`)
    rest = m[2]!.replace(/\/+$/, '')
  }
  const defaultPort = scheme === 'https' ? DEFAULT_TLS_PORT : DEFAULT_PORT
  let host: string
  let port: string
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest)
  if (v6 !== null) {
    host = `[${v6[1]}]`
    port = v6[2] ?? String(defaultPort)
  } else if ((rest.match(/:/g) ?? []).length > 1) {
    // A bare IPv6 address: it cannot carry a port without brackets.
    host = `[${rest}]`
    port = String(defaultPort)
  } else {
    const hp = /^([^:/?#@\s]+)(?::(\d+))?$/.exec(rest)
    if (hp === null) throw new RangeError(`controller address '${address}' is not HOST, HOST:PORT or a URL`)
    host = hp[1]!
    port = hp[2] ?? String(defaultPort)
  }
  const n = Number(port)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RangeError(`controller address '${address}': port ${port} is not 1–65535`)
  return `${scheme}://${host}:${n}`
}

/** Splits `--controllers` values (comma-separated, possibly several) into base URLs. */
export function controllerUrls(controllers: string | readonly string[] | undefined): string[] {
  const list = controllers === undefined ? [DEFAULT_CONTROLLER] : typeof controllers === 'string' ? [controllers] : [...controllers]
  const urls = list.flatMap((c) => c.split(',')).map((c) => c.trim()).filter((c) => c !== '').map(controllerUrl)
  if (urls.length === 0) throw new RangeError('no controller address given')
  return urls
}

/**
 * Parses a reply body, reading every `ret_code` as an exact bigint. The pattern only matches a key
 * (inside a JSON string the quotes would be escaped), and only numeric values.
 * @throws SyntaxError when the text is not JSON
 */
export function parseReplyJson(text: string): unknown {
  const marked = text.replace(/("ret_code"\s*:\s*)(-?\d+)/g, '$1"\\u0000$2"')
  return JSON.parse(marked, (key, v: unknown) =>
    key === 'ret_code' && typeof v === 'string' && v.startsWith('\u0000') ? BigInt(v.slice(1)) : v)
}

/** A list of LINSTOR ApiCallRc entries, ret_codes exact. */
export function isRcList(v: unknown): v is ApiCallRc[] {
  return Array.isArray(v) && v.every((e) => typeof e === 'object' && e !== null && typeof (e as ApiCallRc).ret_code === 'bigint')
}

const enc = encodeURIComponent

function query(params: Record<string, readonly string[] | string | boolean | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue
    if (typeof v === 'boolean' || typeof v === 'string') q.append(k, String(v))
    else for (const x of v) q.append(k, x)
  }
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}

function reasonOf(e: unknown): string {
  const cause = (e as { cause?: unknown }).cause
  if (cause instanceof Error) {
    // undici nests the system error; AggregateError (IPv4 and IPv6 both refused) carries several.
    const inner = cause instanceof AggregateError && cause.errors.length > 0 ? cause.errors[0] : cause
    return inner instanceof Error ? inner.message : String(inner)
  }
  return e instanceof Error ? e.message : String(e)
}

/**
 * The client. Create one per controller (cluster); it is cheap and keeps no state but the controller that
 * answered first.
 *
 * @example
 * const c = new BlockyardClient({ controllers: '127.0.0.1:3370' })
 * await c.nodeCreate({ name: 'alpha', type: 'Satellite', net_interfaces: [{ name: 'default', address: '10.0.0.1' }] })
 * const nodes = await c.nodeList()
 */
export class BlockyardClient {
  /** Base URLs of the controllers, in the order they are tried. */
  readonly urls: readonly string[]
  private readonly timeoutMs: number
  private active: string | null = null

  /** @throws RangeError when a controller address is malformed */
  constructor(opts: ClientOptions = {}) {
    this.urls = controllerUrls(opts.controllers)
    this.timeoutMs = opts.timeoutMs ?? 300_000
  }

  /** The controller in use: the one that answered, or the first to try. */
  get url(): string {
    return this.active ?? this.urls[0]!
  }

  // ---------------------------------------------------------------- transport

  private async send(method: string, path: string, body: unknown): Promise<{ status: number; text: string }> {
    const init: RequestInit = { method, headers: { 'User-Agent': `Blockyard-Client/${VERSION}`, Accept: 'application/json' } }
    if (body !== undefined) {
      init.body = JSON.stringify(body)
      ;(init.headers as Record<string, string>)['Content-Type'] = 'application/json'
    }
    const candidates = this.active !== null ? [this.active] : this.urls
    let last: ConnectionError | null = null
    for (const base of candidates) {
      let res: Response
      try {
        res = await fetch(base + path, { ...init, signal: AbortSignal.timeout(this.timeoutMs) })
      } catch (e) {
        const timedOut = (e as Error).name === 'TimeoutError'
        last = new ConnectionError(base, timedOut ? `no reply within ${this.timeoutMs / 1000} s` : reasonOf(e), timedOut, candidates)
        // A timed-out call may have been carried out: never repeat it on another controller.
        if (timedOut) throw last
        continue
      }
      this.active = base
      return { status: res.status, text: await res.text() }
    }
    throw last!
  }

  private async json(method: string, path: string, body?: unknown): Promise<{ status: number; value: unknown; call: string }> {
    const call = `${method} ${path}`
    const { status, text } = await this.send(method, path, body)
    let value: unknown
    try {
      value = parseReplyJson(text)
    } catch {
      throw new UnexpectedReplyError(status, call, text.slice(0, 500), text === '' ? 'empty reply' : 'the reply is not JSON')
    }
    if (status >= 400) {
      if (isRcList(value) && value.length > 0) throw new ApiCallError(value, status, call)
      throw new UnexpectedReplyError(status, call, text.slice(0, 500), 'the reply is not a list of ApiCallRc')
    }
    return { status, value, call }
  }

  /** A call whose reply is an ApiCallRc list; throws ApiCallError when an entry is an error. */
  private async rcs(method: string, path: string, body?: unknown): Promise<ApiCallRc[]> {
    const { status, value, call } = await this.json(method, path, body)
    if (!isRcList(value)) throw new UnexpectedReplyError(status, call, JSON.stringify(value).slice(0, 500), 'the reply is not a list of ApiCallRc')
    if (value.some(isErrorRc)) throw new ApiCallError(value, status, call)
    return value
  }

  /** A call whose reply is data (a list or an object). */
  private async data<T>(path: string): Promise<T> {
    return (await this.json('GET', path)).value as T
  }

  // ---------------------------------------------------------------- controller

  controllerVersion(): Promise<ControllerVersion> {
    return this.data('/v1/controller/version')
  }

  controllerProperties(): Promise<Props> {
    return this.data('/v1/controller/properties')
  }

  controllerModifyProperties(mod: PropsModify): Promise<ApiCallRc[]> {
    return this.rcs('POST', '/v1/controller/properties', mod)
  }

  controllerDeleteProperty(key: string): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/controller/properties/${enc(key)}`)
  }

  // ---------------------------------------------------------------- nodes

  nodeList(filter: ListFilter = {}): Promise<Node[]> {
    return this.data(`/v1/nodes${query({ nodes: filter.nodes, props: filter.props })}`)
  }

  nodeGet(name: string): Promise<Node> {
    return this.data(`/v1/nodes/${enc(name)}`)
  }

  nodeCreate(node: NodeCreate): Promise<ApiCallRc[]> {
    return this.rcs('POST', '/v1/nodes', node)
  }

  nodeModify(name: string, mod: NodeModify): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/nodes/${enc(name)}`, mod)
  }

  nodeDelete(name: string): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/nodes/${enc(name)}`)
  }

  /** Removes a node that will not come back, with everything on it, without waiting for its satellite. */
  nodeLost(name: string): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/nodes/${enc(name)}/lost`)
  }

  netInterfaceList(node: string): Promise<NetInterface[]> {
    return this.data(`/v1/nodes/${enc(node)}/net-interfaces`)
  }

  netInterfaceCreate(node: string, netIf: NetInterface): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/nodes/${enc(node)}/net-interfaces`, netIf)
  }

  netInterfaceModify(node: string, name: string, netIf: Partial<NetInterface>): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/nodes/${enc(node)}/net-interfaces/${enc(name)}`, netIf)
  }

  netInterfaceDelete(node: string, name: string): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/nodes/${enc(node)}/net-interfaces/${enc(name)}`)
  }

  // ---------------------------------------------------------------- storage pool definitions

  storagePoolDefinitionList(filter: { storagePools?: readonly string[]; props?: readonly string[] } = {}): Promise<StoragePoolDefinition[]> {
    return this.data(`/v1/storage-pool-definitions${query({ storage_pools: filter.storagePools, props: filter.props })}`)
  }

  storagePoolDefinitionCreate(dfn: StoragePoolDefinition): Promise<ApiCallRc[]> {
    return this.rcs('POST', '/v1/storage-pool-definitions', dfn)
  }

  storagePoolDefinitionModify(name: string, mod: PropsModify): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/storage-pool-definitions/${enc(name)}`, mod)
  }

  storagePoolDefinitionDelete(name: string): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/storage-pool-definitions/${enc(name)}`)
  }

  // ---------------------------------------------------------------- storage pools

  /** Every storage pool of the cluster (`/v1/view/storage-pools`), filtered. */
  storagePoolView(filter: ListFilter & { storagePools?: readonly string[] } = {}): Promise<StoragePool[]> {
    return this.data(`/v1/view/storage-pools${query({ nodes: filter.nodes, storage_pools: filter.storagePools, props: filter.props })}`)
  }

  storagePoolList(node: string): Promise<StoragePool[]> {
    return this.data(`/v1/nodes/${enc(node)}/storage-pools`)
  }

  storagePoolCreate(node: string, pool: StoragePoolCreate): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/nodes/${enc(node)}/storage-pools`, pool)
  }

  storagePoolModify(node: string, name: string, mod: PropsModify): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/nodes/${enc(node)}/storage-pools/${enc(name)}`, mod)
  }

  storagePoolDelete(node: string, name: string): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/nodes/${enc(node)}/storage-pools/${enc(name)}`)
  }

  // ---------------------------------------------------------------- resource groups

  resourceGroupList(filter: { resourceGroups?: readonly string[]; props?: readonly string[] } = {}): Promise<ResourceGroup[]> {
    return this.data(`/v1/resource-groups${query({ resource_groups: filter.resourceGroups, props: filter.props })}`)
  }

  resourceGroupGet(name: string): Promise<ResourceGroup> {
    return this.data(`/v1/resource-groups/${enc(name)}`)
  }

  resourceGroupCreate(rg: ResourceGroupCreate): Promise<ApiCallRc[]> {
    return this.rcs('POST', '/v1/resource-groups', rg)
  }

  resourceGroupModify(name: string, mod: ResourceGroupModify): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/resource-groups/${enc(name)}`, mod)
  }

  resourceGroupDelete(name: string): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/resource-groups/${enc(name)}`)
  }

  /** Creates a resource definition with its volume definitions from a group, and places it (one call). */
  resourceGroupSpawn(name: string, spawn: ResourceGroupSpawn): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/resource-groups/${enc(name)}/spawn`, spawn)
  }

  // ---------------------------------------------------------------- volume groups

  volumeGroupList(rscGrp: string): Promise<VolumeGroup[]> {
    return this.data(`/v1/resource-groups/${enc(rscGrp)}/volume-groups`)
  }

  volumeGroupCreate(rscGrp: string, vg: VolumeGroupCreate): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/resource-groups/${enc(rscGrp)}/volume-groups`, vg)
  }

  volumeGroupModify(rscGrp: string, vlmNr: number, mod: VolumeGroupModify): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/resource-groups/${enc(rscGrp)}/volume-groups/${vlmNr}`, mod)
  }

  volumeGroupDelete(rscGrp: string, vlmNr: number): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/resource-groups/${enc(rscGrp)}/volume-groups/${vlmNr}`)
  }

  // ---------------------------------------------------------------- resource definitions

  resourceDefinitionList(filter: { resourceDefinitions?: readonly string[]; props?: readonly string[]; withVolumeDefinitions?: boolean } = {}): Promise<ResourceDefinition[]> {
    return this.data(`/v1/resource-definitions${query({
      resource_definitions: filter.resourceDefinitions,
      props: filter.props,
      with_volume_definitions: filter.withVolumeDefinitions === true ? true : undefined,
    })}`)
  }

  resourceDefinitionGet(name: string): Promise<ResourceDefinition> {
    return this.data(`/v1/resource-definitions/${enc(name)}`)
  }

  resourceDefinitionCreate(rd: ResourceDefinitionCreate): Promise<ApiCallRc[]> {
    return this.rcs('POST', '/v1/resource-definitions', rd)
  }

  resourceDefinitionModify(name: string, mod: ResourceDefinitionModify): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/resource-definitions/${enc(name)}`, mod)
  }

  resourceDefinitionDelete(name: string): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/resource-definitions/${enc(name)}`)
  }

  // ---------------------------------------------------------------- volume definitions

  volumeDefinitionList(rsc: string): Promise<VolumeDefinition[]> {
    return this.data(`/v1/resource-definitions/${enc(rsc)}/volume-definitions`)
  }

  volumeDefinitionCreate(rsc: string, vd: VolumeDefinitionCreate): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/resource-definitions/${enc(rsc)}/volume-definitions`, vd)
  }

  /** Changes properties, flags or the size (`size_kib`: a resize) of a volume definition. */
  volumeDefinitionModify(rsc: string, vlmNr: number, mod: VolumeDefinitionModify): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/resource-definitions/${enc(rsc)}/volume-definitions/${vlmNr}`, mod)
  }

  volumeDefinitionDelete(rsc: string, vlmNr: number): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/resource-definitions/${enc(rsc)}/volume-definitions/${vlmNr}`)
  }

  // ---------------------------------------------------------------- resources

  /** Resources of one definition. */
  resourceList(rsc: string): Promise<Resource[]> {
    return this.data(`/v1/resource-definitions/${enc(rsc)}/resources`)
  }

  /** Every resource of the cluster with its volumes (`/v1/view/resources`), filtered. */
  resourceView(filter: ListFilter & { resources?: readonly string[] } = {}): Promise<Resource[]> {
    return this.data(`/v1/view/resources${query({ nodes: filter.nodes, resources: filter.resources, props: filter.props })}`)
  }

  /** Creates resources of a definition on the named nodes; the reply comes once their satellites are done. */
  resourceCreate(rsc: string, resources: readonly ResourceCreate[]): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/resource-definitions/${enc(rsc)}/resources`, resources)
  }

  /** Places a definition's resources on nodes the controller chooses by the filter. */
  resourceAutoPlace(rsc: string, req: AutoPlaceRequest): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/resource-definitions/${enc(rsc)}/autoplace`, req)
  }

  resourceModify(rsc: string, node: string, mod: ResourceModify): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/resource-definitions/${enc(rsc)}/resources/${enc(node)}`, mod)
  }

  resourceDelete(rsc: string, node: string, opts: { keepTiebreaker?: boolean } = {}): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/resource-definitions/${enc(rsc)}/resources/${enc(node)}${query({ keep_tiebreaker: opts.keepTiebreaker === true ? true : undefined })}`)
  }

  volumeList(rsc: string, node: string): Promise<Volume[]> {
    return this.data(`/v1/resource-definitions/${enc(rsc)}/resources/${enc(node)}/volumes`)
  }

  // ---------------------------------------------------------------- snapshots

  snapshotList(rsc: string): Promise<Snapshot[]> {
    return this.data(`/v1/resource-definitions/${enc(rsc)}/snapshots`)
  }

  /** Every snapshot of the cluster (`/v1/view/snapshots`), filtered. */
  snapshotView(filter: ListFilter & { resources?: readonly string[]; snapshots?: readonly string[] } = {}): Promise<Snapshot[]> {
    return this.data(`/v1/view/snapshots${query({ nodes: filter.nodes, resources: filter.resources, snapshots: filter.snapshots, props: filter.props })}`)
  }

  snapshotCreate(rsc: string, snap: SnapshotCreate): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/resource-definitions/${enc(rsc)}/snapshots`, snap)
  }

  snapshotModify(rsc: string, snap: string, mod: PropsModify): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/resource-definitions/${enc(rsc)}/snapshots/${enc(snap)}`, mod)
  }

  /** Deletes a snapshot, or only its copies on `nodes`. */
  snapshotDelete(rsc: string, snap: string, opts: { nodes?: readonly string[] } = {}): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/resource-definitions/${enc(rsc)}/snapshots/${enc(snap)}${query({ nodes: opts.nodes })}`)
  }

  /** Creates resources of `restore.to_resource` from a snapshot of `rsc`. */
  snapshotRestore(rsc: string, snap: string, restore: SnapshotRestore): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/resource-definitions/${enc(rsc)}/snapshot-restore-resource/${enc(snap)}`, restore)
  }

  /** Creates the volume definitions of `toResource` from those of a snapshot of `rsc`. */
  snapshotRestoreVolumeDefinitions(rsc: string, snap: string, toResource: string): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/resource-definitions/${enc(rsc)}/snapshot-restore-volume-definition/${enc(snap)}`, { to_resource: toResource })
  }

  /** Rolls a resource back to its most recent snapshot. */
  snapshotRollback(rsc: string, snap: string): Promise<ApiCallRc[]> {
    return this.rcs('POST', `/v1/resource-definitions/${enc(rsc)}/snapshot-rollback/${enc(snap)}`, {})
  }

  // ---------------------------------------------------------------- key-value store

  keyValueStoreList(): Promise<KeyValueStore[]> {
    return this.data('/v1/key-value-store')
  }

  /** One store (LINSTOR answers with a list holding it); ApiCallError (not found) when it does not exist. */
  async keyValueStoreGet(name: string): Promise<KeyValueStore> {
    const list = await this.data<KeyValueStore[]>(`/v1/key-value-store/${enc(name)}`)
    return list[0] ?? { name, props: {} }
  }

  keyValueStoreModify(name: string, mod: PropsModify): Promise<ApiCallRc[]> {
    return this.rcs('PUT', `/v1/key-value-store/${enc(name)}`, mod)
  }

  keyValueStoreDelete(name: string): Promise<ApiCallRc[]> {
    return this.rcs('DELETE', `/v1/key-value-store/${enc(name)}`)
  }
}
