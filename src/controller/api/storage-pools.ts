/**
 * Storage pools: /v1/nodes/{node}/storage-pools… and the view /v1/view/storage-pools (LINSTOR
 * StoragePools.java and View.java; semantics of CtrlStorPoolCrtApiCallHandler, CtrlStorPoolApiCallHandler).
 *
 * A pool names the backing storage of one provider on one node. That backing storage is the property
 * `StorDriver/StorPoolName` (what LINSTOR stores and its clients read); older clients send
 * `StorDriver/LvmVg` (+ `StorDriver/ThinPool`), `StorDriver/ZPool`, `StorDriver/ZPoolThin` or
 * `StorDriver/FileDir`, which are converted as LINSTOR's REST layer converts them. The value ends up in
 * device paths and on the satellite's command lines, so it is checked against what the provider's own
 * tools accept before it is stored, on create and on every modify.
 */
import { randomUUID } from 'node:crypto'
import { MASK, retCode } from '../../common/api-codes.js'
import { ApiError, rcEntry, WARN, type ApiCallRc } from '../../common/errors.js'
import { checkName, nameKey } from '../../common/names.js'
import type { Core } from '../core.js'
import type { Reply, Router } from '../http/router.js'
import { DFLT_DISKLESS_STOR_POOL, DFLT_STOR_POOL, type Model } from '../model/model.js'
import { hasAllProps, modifyProps } from '../model/props.js'
import { PROVIDER_KINDS, type Node, type Props, type ProviderKind, type StorPool } from '../model/types.js'
import { changed, oneOrList } from './_reply.js'
import { obj, optBool, optProps, optStr, page, propsModify, queryList, str, type Body } from './_input.js'
import { requireNode } from './nodes.js'

/** The property naming a pool's backing storage: VG, VG/thin LV, zpool[/dataset] or directory. */
export const STOR_POOL_NAME_KEY = 'StorDriver/StorPoolName'
/** Pre-1.2 client keys, each renamed to STOR_POOL_NAME_KEY (LINSTOR StoragePools.convertStorPoolProp). */
const LEGACY_POOL_KEYS = ['StorDriver/LvmVg', 'StorDriver/ZPool', 'StorDriver/ZPoolThin', 'StorDriver/FileDir'] as const
const LEGACY_THIN_POOL_KEY = 'StorDriver/ThinPool'
/** Properties naming a net interface of the pool's node, which must exist (LINSTOR checkPrefNic). */
const PREF_NIC_KEYS = ['PrefNic', 'NVMe/PrefNic'] as const

/** LINSTOR's spellings of the kinds Blockyard has (LinstorParsingUtils.asProviderKind). */
const KIND_ALIASES: Readonly<Record<string, ProviderKind>> = {
  DRBD_DISKLESS: 'DISKLESS', DRBDDISKLESS: 'DISKLESS', LVMTHIN: 'LVM_THIN', ZFSTHIN: 'ZFS_THIN',
}
/** LINSTOR providers Blockyard does not implement: named in the refusal so the user knows why. */
const LINSTOR_ONLY_KINDS = new Set(['SPDK', 'REMOTE_SPDK', 'EBS_INIT', 'EBS_TARGET', 'STORAGE_SPACES', 'STORAGE_SPACES_THIN', 'EXOS', 'OPENFLEX_TARGET'])

interface KindTraits {
  provisioning: 'Fat' | 'Thin' | null
  snapshots: boolean
  /** Whether the kind can back a shared space (LINSTOR DeviceProviderKind.isSharedVolumeSupported). */
  shared: boolean
  /** What STOR_POOL_NAME_KEY names, for messages; null for kinds without backing storage. */
  backing: string | null
}
/** LINSTOR's DeviceProviderKind / StorageDriverKind traits of the kinds Blockyard implements. */
const TRAITS: Readonly<Record<ProviderKind, KindTraits>> = {
  DISKLESS: { provisioning: null, snapshots: false, shared: true, backing: null },
  LVM: { provisioning: 'Fat', snapshots: false, shared: true, backing: 'an LVM volume group, e.g. vg0' },
  LVM_THIN: { provisioning: 'Thin', snapshots: true, shared: false, backing: "a thin pool as 'VG/LV', e.g. vg0/thin" },
  ZFS: { provisioning: 'Fat', snapshots: true, shared: false, backing: "a zpool or dataset, e.g. 'tank' or 'tank/linstor'" },
  ZFS_THIN: { provisioning: 'Thin', snapshots: true, shared: false, backing: "a zpool or dataset, e.g. 'tank' or 'tank/linstor'" },
  // LINSTOR snapshots FILE volumes (as copies of their files); Blockyard's satellites take no snapshots
  // of them yet, so these pools do not claim it: a snapshot is refused up front rather than registered
  // and never taken.
  FILE: { provisioning: 'Fat', snapshots: false, shared: false, backing: "an absolute directory, e.g. '/var/lib/blockyard/pool'" },
  FILE_THIN: { provisioning: 'Thin', snapshots: false, shared: false, backing: "an absolute directory, e.g. '/var/lib/blockyard/pool'" },
}

/** Whether pools of `kind` can hold snapshots (LINSTOR DeviceProviderKind.isSnapshotSupported). */
export function supportsSnapshots(kind: ProviderKind): boolean {
  return TRAITS[kind].snapshots
}

/** ret_code of a pool report from its satellite (LINSTOR FAIL_STOR_POOL_CONFIGURATION_ERROR). */
const REPORT_RC = retCode(MASK.ERROR | 990n, undefined, 'STOR_POOL')

export function registerStorPoolApi(r: Router, core: Core): void {
  const SP = { obj: 'STOR_POOL' } as const

  // The per-node list answers 404 for a missing node rather than an empty list (LINSTOR checks first).
  const nodeList = (nodeName: string, single: string | null, q: URLSearchParams): Reply => {
    const m = core.model
    const node = requireNode(m, nodeName)
    const names = single !== null ? [single] : queryList(q, 'storage_pools')
    const want = names.length > 0 ? new Set(names.map(nameKey)) : null
    const pools = [...m.storPoolsOfNode(node.name)]
      .filter((sp) => want === null || want.has(nameKey(sp.name)))
      .sort((a, b) => a.name.localeCompare(b.name))
    return oneOrList(page(pools, q).map((sp) => storPoolJson(m, sp)), single !== null, 'ERR_NOT_FOUND_STOR_POOL', { pool: single ?? '', node: node.name })
  }
  r.get('/v1/nodes/{node}/storage-pools', (req) => nodeList(req.params['node']!, null, req.query), SP)
  r.get('/v1/nodes/{node}/storage-pools/{storagepool}', (req) => nodeList(req.params['node']!, req.params['storagepool']!, req.query), SP)

  r.get('/v1/view/storage-pools', (req) => {
    const m = core.model
    const q = req.query
    const nodes = new Set(queryList(q, 'nodes').map(nameKey))
    const pools = new Set(queryList(q, 'storage_pools').map(nameKey))
    const props = queryList(q, 'props')
    const list = [...m.allStorPools()]
      .filter((sp) => (nodes.size === 0 || nodes.has(nameKey(sp.nodeName))) && (pools.size === 0 || pools.has(nameKey(sp.name))) && hasAllProps(sp.props, props))
      .sort((a, b) => a.name.localeCompare(b.name) || a.nodeName.localeCompare(b.nodeName))
    return { status: 200, body: page(list, q).map((sp) => storPoolJson(m, sp)) }
  }, SP)

  r.post('/v1/nodes/{node}/storage-pools', async (req) => {
    const b = obj(req.body)
    const nodeParam = req.params['node']!
    const poolName = checkName('storPool', str(b, 'storage_pool_name'))
    const kind = providerKind(str(b, 'provider_kind'))
    const externalLocking = optBool(b, 'external_locking') ?? false
    const sharedSpace = sharedSpaceFrom(b, nodeParam, poolName)
    if (sharedSpace !== null && !externalLocking && !TRAITS[kind].shared) {
      throw new ApiError('ERR_PROVIDER_NOT_SHARED', { provider: kind, space: sharedSpace, allowed: PROVIDER_KINDS.filter((k) => TRAITS[k].shared).join(', ') }, {
        cause: `Volumes of ${kind} pools cannot be shared between nodes.`,
      })
    }
    const given = optProps(b, 'props') ?? {}
    const { props } = modifyProps({}, { override: convertLegacyProps(given, {}) })
    checkDriverProps(kind, props)
    const done = await core.mutate((tx, m) => {
      const node = requireNode(m, nodeParam)
      checkPrefNics(node, props)
      const supported = m.runtime.nodes.get(nameKey(node.name))?.supportedProviders
      if (supported != null && !supported.includes(kind)) {
        throw new ApiError('ERR_STLT_PROVIDER', { node: node.name, provider: kind, supported: supported.join(', ') || 'none' })
      }
      const dfn = m.getStorPoolDfn(poolName)
      // A pool takes the display name of its definition; the definition is created with the first pool.
      const name = dfn?.name ?? poolName
      if (m.getStorPool(node.name, name)) throw new ApiError('ERR_EXISTS_STOR_POOL', { pool: name, node: node.name })
      if (dfn === undefined) m.putStorPoolDfn(tx, { name, props: {}, uuid: randomUUID() })
      m.putStorPool(tx, { nodeName: node.name, name, providerKind: kind, props, sharedSpace, externalLocking, uuid: randomUUID() })
      return { node: node.name, pool: name }
    })
    return changed('CRT', 'STOR_POOL', `New storage pool '${done.pool}' on node '${done.node}' registered.`, refs(done.node, done.pool), notConnected(core.model, done.node, 'CRT'))
  }, { op: 'CRT', ...SP })

  r.put('/v1/nodes/{node}/storage-pools/{storagepool}', async (req) => {
    const mod = propsModify(obj(req.body))
    const done = await core.mutate((tx, m) => {
      const sp = requireStorPool(m, req.params['node']!, req.params['storagepool']!)
      const override = convertLegacyProps(mod.override ?? {}, sp.props)
      const { props } = modifyProps(sp.props, { ...mod, override })
      checkDriverProps(sp.providerKind, props)
      checkPrefNics(requireNode(m, sp.nodeName), override)
      // Pointing a pool that holds volumes at other backing storage would orphan them.
      if (props[STOR_POOL_NAME_KEY] !== sp.props[STOR_POOL_NAME_KEY]) refuseIfInUse(m, sp, `its ${STOR_POOL_NAME_KEY} cannot change`)
      sp.props = props
      m.putStorPool(tx, sp)
      return { node: sp.nodeName, pool: sp.name }
    })
    return changed('MOD', 'STOR_POOL', `Storage pool '${done.pool}' on node '${done.node}' modified.`, refs(done.node, done.pool), notConnected(core.model, done.node, 'MOD'))
  }, { op: 'MOD', ...SP })

  r.delete('/v1/nodes/{node}/storage-pools/{storagepool}', async (req) => {
    const poolParam = req.params['storagepool']!
    const done = await core.mutate((tx, m) => {
      const node = requireNode(m, req.params['node']!)
      const sp = m.getStorPool(node.name, poolParam)
      if (sp === undefined) return { node: node.name, pool: poolParam, deleted: false }
      // Every satellite has it for its diskless replicas; LINSTOR refuses to delete it as well.
      if (nameKey(sp.name) === nameKey(DFLT_DISKLESS_STOR_POOL)) throw new ApiError('ERR_DEFAULT_OBJECT', { name: sp.name })
      refuseIfInUse(m, sp, 'it cannot be deleted')
      m.deleteStorPool(tx, sp)
      // LINSTOR (since 1.20.1) deletes a definition together with its last pool, except the default ones.
      const dfn = m.getStorPoolDfn(sp.name)
      const dfnKey = nameKey(sp.name)
      const isDefault = dfnKey === nameKey(DFLT_STOR_POOL) || dfnKey === nameKey(DFLT_DISKLESS_STOR_POOL)
      if (dfn !== undefined && !isDefault && ![...m.allStorPools()].some((x) => nameKey(x.name) === dfnKey)) m.deleteStorPoolDfn(tx, dfn)
      return { node: node.name, pool: sp.name, deleted: true }
    })
    if (!done.deleted) {
      // LINSTOR answers a delete of a missing pool with a warning, not an error.
      const what = `storage pool '${done.pool}' on node '${done.node}'`
      return { status: 200, body: [rcEntry(WARN.NOT_FOUND, `Deletion of ${what} had no effect.`, 'DEL', 'STOR_POOL', { cause: `The ${what} does not exist.`, obj_refs: refs(done.node, done.pool) })] }
    }
    return changed('DEL', 'STOR_POOL', `Storage pool '${done.pool}' on node '${done.node}' deleted.`, refs(done.node, done.pool), notConnected(core.model, done.node, 'DEL'))
  }, { op: 'DEL', ...SP })
}

/** The pool, or ERR_NOT_FOUND_NODE / ERR_NOT_FOUND_STOR_POOL (404). */
export function requireStorPool(m: Model, nodeName: string, poolName: string): StorPool {
  const node = requireNode(m, nodeName)
  const sp = m.getStorPool(node.name, poolName)
  if (sp === undefined) throw new ApiError('ERR_NOT_FOUND_STOR_POOL', { pool: poolName, node: node.name })
  return sp
}

/** LINSTOR's StoragePool JSON; capacities are absent until the satellite has reported them. */
export function storPoolJson(m: Model, sp: StorPool): Record<string, unknown> {
  const rt = m.runtime.storPools.get(nameKey(sp.nodeName) + '\0' + nameKey(sp.name))
  const t = TRAITS[sp.providerKind]
  const staticTraits: Props = {}
  if (t.provisioning !== null) staticTraits['Provisioning'] = t.provisioning
  staticTraits['SupportsSnapshots'] = String(t.snapshots)
  const out: Record<string, unknown> = {
    storage_pool_name: sp.name,
    node_name: sp.nodeName,
    provider_kind: sp.providerKind,
    props: sp.props,
    static_traits: staticTraits,
  }
  if (rt?.freeCapacityKib != null) out['free_capacity'] = rt.freeCapacityKib
  if (rt?.totalCapacityKib != null) out['total_capacity'] = rt.totalCapacityKib
  // LINSTOR's SharedStorPoolName: the shared space, or '<node>;<pool>' for a pool of its own.
  out['free_space_mgr_name'] = sp.sharedSpace ?? `${sp.nodeName};${sp.name}`
  out['uuid'] = sp.uuid
  out['reports'] = (rt?.reports ?? []).map((x) => ({ ret_code: REPORT_RC, message: x.message, ...(x.cause !== undefined ? { cause: x.cause } : {}) }))
  out['supports_snapshots'] = t.snapshots
  if (sp.sharedSpace !== null) out['shared_space'] = sp.sharedSpace
  out['external_locking'] = sp.externalLocking
  return out
}

function refs(node: string, pool: string): Record<string, string> {
  return { Node: node, StorPool: pool }
}

function notConnected(m: Model, nodeName: string, op: 'CRT' | 'MOD' | 'DEL'): ApiCallRc[] {
  const node = m.getNode(nodeName)
  if (node === undefined || node.type === 'Auxiliary' || m.runtime.nodes.get(nameKey(nodeName))?.connectionStatus === 'ONLINE') return []
  return [rcEntry(WARN.NOT_CONNECTED, `No active connection to satellite '${node.name}'; it applies the change when it connects.`, op, 'STOR_POOL', { obj_refs: { Node: node.name } })]
}

function providerKind(v: string): ProviderKind {
  const u = v.trim().toUpperCase()
  const kind = (PROVIDER_KINDS as readonly string[]).includes(u) ? (u as ProviderKind) : KIND_ALIASES[u]
  if (kind !== undefined) return kind
  const shown = v.length > 40 ? v.slice(0, 37) + '...' : v
  throw new ApiError('ERR_PROVIDER_INVALID', { provider: shown, allowed: PROVIDER_KINDS.join(', ') },
    LINSTOR_ONLY_KINDS.has(u) ? { cause: `LINSTOR's ${u} provider is not implemented by Blockyard.` } : {})
}

// LINSTOR SharedStorPoolName: 1–48 characters, a letter or digit or '_' first, then also '-' and '.', and
// at least one letter. '<node>;<pool>' is the name a pool of its own gets, which clients may echo back.
const SHARED_SPACE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,47}$/

function sharedSpaceFrom(b: Body, nodeName: string, poolName: string): string | null {
  // The OpenAPI contract calls it shared_space; LINSTOR's Python client sends free_space_mgr_name.
  const a = optStr(b, 'shared_space')
  const c = optStr(b, 'free_space_mgr_name')
  if (a !== undefined && c !== undefined && a !== c) {
    throw new ApiError('ERR_REQ_FIELD', { field: 'shared_space', problem: 'differs from free_space_mgr_name; give one of them' })
  }
  const v = a ?? c
  if (v === undefined || v === '') return null
  if (v.toUpperCase() === nameKey(`${nodeName};${poolName}`)) return null
  if (!SHARED_SPACE.test(v) || !/[A-Za-z]/.test(v)) {
    throw new ApiError('ERR_REQ_FIELD', {
      field: a !== undefined ? 'shared_space' : 'free_space_mgr_name',
      problem: `${JSON.stringify(v.slice(0, 60))} is not a shared space name (1–48 letters, digits, '_', '-', '.'; a letter somewhere; not starting with '-' or '.')`,
    })
  }
  return v
}

/**
 * Rename the legacy driver keys of `override` to STOR_POOL_NAME_KEY; `ThinPool` is appended to the volume
 * group given alongside it or, when modifying, to the one the pool already names.
 */
function convertLegacyProps(override: Props, current: Props): Props {
  const out: Props = { ...override }
  for (const k of LEGACY_POOL_KEYS) {
    if (k in out) {
      out[STOR_POOL_NAME_KEY] = out[k]!
      delete out[k]
    }
  }
  const thin = out[LEGACY_THIN_POOL_KEY]
  if (thin !== undefined) {
    delete out[LEGACY_THIN_POOL_KEY]
    const vg = out[STOR_POOL_NAME_KEY] ?? current[STOR_POOL_NAME_KEY]?.split('/')[0]
    if (vg === undefined) {
      throw new ApiError('ERR_PROP_INVALID', { key: LEGACY_THIN_POOL_KEY, problem: 'a thin pool needs its volume group' }, { correction: `Give StorDriver/LvmVg too, or ${STOR_POOL_NAME_KEY} as 'VG/LV'.` })
    }
    out[STOR_POOL_NAME_KEY] = `${vg}/${thin}`
  }
  return out
}

function checkPrefNics(node: Node, props: Props): void {
  for (const key of PREF_NIC_KEYS) {
    const nic = props[key]
    if (nic !== undefined && !node.netInterfaces.some((ni) => nameKey(ni.name) === nameKey(nic))) {
      throw new ApiError('ERR_PROP_INVALID', { key, problem: `node '${node.name}' has no net interface '${nic.slice(0, 40)}'` }, { correction: `Use one of: ${node.netInterfaces.map((ni) => ni.name).join(', ') || '(none)'}.` })
    }
  }
}

/** What is still stored in a pool: volumes of resources and, conservatively, snapshots. Throws ERR_IN_USE. */
function refuseIfInUse(m: Model, sp: StorPool, consequence: string): void {
  const key = nameKey(sp.name)
  const vlms: string[] = []
  const rscs = new Set<string>()
  for (const rsc of m.resourcesOnNode(sp.nodeName)) {
    for (const v of rsc.volumes) {
      if (nameKey(v.storPoolName) === key) {
        vlms.push(`resource '${rsc.rscName}' volume ${v.vlmNr}`)
        rscs.add(rsc.rscName)
      }
    }
  }
  // A snapshot lives in the pool of the volume it was taken of. Once that resource is gone the model no
  // longer says which pool that was, so such a snapshot counts against every pool with storage on the node.
  const snaps: string[] = []
  if (sp.providerKind !== 'DISKLESS') {
    for (const sd of m.allSnapshotDfns()) {
      for (const s of sd.snapshots) {
        if (nameKey(s.nodeName) !== nameKey(sp.nodeName)) continue
        const rsc = m.getResource(sd.rscName, s.nodeName)
        if (rsc === undefined || rsc.volumes.some((v) => nameKey(v.storPoolName) === key)) snaps.push(`'${sd.rscName}/${sd.name}'`)
      }
    }
  }
  if (rscs.size === 0 && snaps.length === 0) return
  const by = [
    ...(rscs.size > 0 ? [`volumes of resource(s) ${[...rscs].sort().map((x) => `'${x}'`).join(', ')}`] : []),
    ...(snaps.length > 0 ? [`snapshot(s) ${snaps.sort().join(', ')}`] : []),
  ].join(' and ')
  throw new ApiError('ERR_IN_USE', { what: `Storage pool '${sp.name}' on node '${sp.nodeName}'`, by: `${by}; ${consequence}` }, {
    correction: 'Delete these volumes and snapshots first.',
    ...(vlms.length > 0 ? { details: `Volumes using the pool: ${vlms.join(', ')}.` } : {}),
  })
}

function driverPropError(kind: ProviderKind, value: string | undefined, problem: string): ApiError {
  const shown = value === undefined ? '' : `${JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value)} `
  return new ApiError('ERR_PROP_INVALID', { key: STOR_POOL_NAME_KEY, problem: `${shown}${problem}` }, {
    correction: TRAITS[kind].backing !== null ? `Provider ${kind} needs ${STOR_POOL_NAME_KEY}: ${TRAITS[kind].backing}.` : `Provider ${kind} has no backing storage; remove ${STOR_POOL_NAME_KEY}.`,
  })
}

/** The backing storage property a pool of `kind` needs, checked as its tools would check it. */
function checkDriverProps(kind: ProviderKind, props: Props): void {
  const v = props[STOR_POOL_NAME_KEY]
  if (kind === 'DISKLESS') {
    if (v !== undefined) throw driverPropError(kind, v, 'is not allowed: a DISKLESS pool has no backing storage')
    return
  }
  if (v === undefined || v === '') throw driverPropError(kind, undefined, `is required for provider ${kind}`)
  let problem: string | null
  switch (kind) {
    case 'LVM':
      problem = lvmNameProblem(v, 'volume group')
      break
    case 'LVM_THIN': {
      const parts = v.split('/')
      problem = parts.length !== 2
        ? "is not 'VG/LV'"
        : lvmNameProblem(parts[0]!, 'volume group') ?? lvmNameProblem(parts[1]!, 'logical volume') ?? lvNameReserved(parts[1]!)
      break
    }
    case 'ZFS':
    case 'ZFS_THIN':
      problem = zfsNameProblem(v)
      break
    case 'FILE':
    case 'FILE_THIN':
      problem = fileDirProblem(v)
      break
  }
  if (problem !== null) throw driverPropError(kind, v, problem)
}

// lvm2 lib/misc/lvm-string.c _validate_name: [A-Za-z0-9+_.-], not starting with '-', not '.' or '..',
// at most 127 characters (NAME_LEN 128 with the terminator).
function lvmNameProblem(n: string, what: string): string | null {
  if (n === '') return `has an empty ${what} name`
  if (n.length > 127) return `has a ${what} name longer than 127 characters`
  if (!/^[A-Za-z0-9+_.-]+$/.test(n)) return `is not a valid LVM ${what} name (letters, digits, + _ . - only)`
  if (n.startsWith('-')) return `is not a valid LVM ${what} name (it must not start with '-')`
  if (n === '.' || n === '..') return `is not a valid LVM ${what} name`
  return null
}

// lvm2 apply_lvname_restrictions: prefixes and infixes LVM keeps for its own hidden volumes.
function lvNameReserved(lv: string): string | null {
  if (/^(snapshot|pvmove)/.test(lv)) return `uses a logical volume name LVM reserves ('${lv.startsWith('s') ? 'snapshot' : 'pvmove'}' prefix)`
  const infix = ['_cdata', '_cmeta', '_corig', '_cpool', '_cvol', '_wcorig', '_mimage', '_mlog', '_pmspare', '_rimage', '_rmeta', '_tdata', '_tmeta', '_vdata', '_vorigin'].find((s) => lv.includes(s))
  return infix !== undefined ? `uses a logical volume name LVM reserves ('${infix}')` : null
}

// OpenZFS module/zcommon/zfs_namecheck.c: components of [A-Za-z0-9_.:-] (ZFS also allows ' ', refused here
// so that no name needs quoting anywhere), no '.'/'..' components, under 256 characters; the pool name
// starts with a letter, is no vdev keyword and does not look like a disk ('c0…').
function zfsNameProblem(n: string): string | null {
  if (n.length >= 256) return 'is longer than 255 characters'
  const parts = n.split('/')
  if (parts.some((p) => p === '')) return 'has an empty component (leading, trailing or double /)'
  for (const p of parts) {
    if (!/^[A-Za-z0-9_.:-]+$/.test(p)) return 'is not a ZFS dataset name (letters, digits, _ . : - separated by /)'
    if (p === '.' || p === '..') return "has a '.' or '..' component"
  }
  const pool = parts[0]!
  if (!/^[A-Za-z]/.test(pool)) return 'is not a zpool name (it must start with a letter)'
  if (/^(mirror|raidz\d*|draid\d*|spare|log|cache|special|dedup)$/i.test(pool)) return 'is a name zpool reserves'
  if (/^c\d/.test(pool)) return "is not a zpool name (names like 'c0…' are reserved for disks)"
  return null
}

// A directory for the pool's files: absolute, no '..' (no escape from where the admin pointed), no
// control characters (NUL or newline would cut or split the path wherever it is written).
function fileDirProblem(d: string): string | null {
  if (!d.startsWith('/')) return 'is not an absolute path'
  if (d.length > 4095) return 'is longer than 4095 characters'
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(d)) return 'contains control characters'
  if (d.split('/').some((p) => p === '..')) return "contains a '..' component"
  if (d.split('/').some((p) => p.length > 255)) return 'has a component longer than 255 characters'
  return null
}
