/**
 * The state cells of `resource list` and `resource list-volumes` against what linstor's client computes
 * from the same JSON (rsc_cmds.py `show`, vlm_cmds.py `volume_state_cell`, `format_repl_states`).
 */
import t from 'tap'
import type { Resource, Volume } from '../../../../src/client/types.js'
import { replicationCell, resourceRow, volumeCells, volumeState } from '../../../../src/cli/commands/resource.js'

const drbdVolume = (state: Volume['state']): Volume => ({ volume_number: 0, layer_data_list: [{ type: 'DRBD' }, { type: 'STORAGE' }], ...(state !== undefined ? { state } : {}) })

t.test('volumeState: the disk state and its colour, as linstor shows them', async (t) => {
  const cases: [string, Volume, string[], [string, string | null]][] = [
    ['not DRBD', { volume_number: 0, layer_data_list: [{ type: 'STORAGE' }], state: { disk_state: 'Inconsistent' } }, [], ['Created', null]],
    ['unknown', drbdVolume(undefined), [], ['Unknown', 'YELLOW']],
    ['UpToDate', drbdVolume({ disk_state: 'UpToDate' }), [], ['UpToDate', null]],
    ['resyncing, as the controller words it', drbdVolume({ disk_state: 'SyncTarget(42.00%)' }), [], ['SyncTarget(42.00%)', 'YELLOW']],
    ['Outdated', drbdVolume({ disk_state: 'Outdated' }), [], ['Outdated', 'YELLOW']],
    ['Inconsistent', drbdVolume({ disk_state: 'Inconsistent' }), [], ['Inconsistent', 'RED']],
    ['diskless by intent', drbdVolume({ disk_state: 'Diskless' }), ['DRBD_DISKLESS', 'DISKLESS'], ['Diskless', null]],
    ['diskless by accident', drbdVolume({ disk_state: 'Diskless' }), [], ['Diskless', 'RED']],
    ['a tiebreaker', drbdVolume({ disk_state: 'Diskless' }), ['DISKLESS', 'TIE_BREAKER'], ['TieBreaker', null]],
    ['resizing', { ...drbdVolume({ disk_state: 'UpToDate' }), flags: ['RESIZE'] }, [], ['Resizing, UpToDate', null]],
  ]
  for (const [what, v, flags, want] of cases) t.same(volumeState(v, flags), want, what)
})

t.test('replicationCell: Established(N) when in sync, else a line per peer with the progress', async (t) => {
  t.equal(replicationCell(drbdVolume({ disk_state: 'UpToDate' })), '', 'no replication states: empty')
  t.same(replicationCell(drbdVolume({ replication_states: { b: { replication_state: 'Established' }, c: { replication_state: 'Established' } } })), { text: 'Established(2)', color: 'GREEN' })
  t.same(replicationCell(drbdVolume({
    replication_states: {
      b: { replication_state: 'SyncTarget', done_percentage: 42 },
      c: { replication_state: 'PausedSyncT' },
      d: { replication_state: 'Off' },
    },
  })), { text: 'b: SyncTarget(42.00%)\nc: PausedSyncT(?)\nd: Off', color: 'YELLOW' })
  t.same(replicationCell(drbdVolume({ replication_states: { b: { replication_state: 'VerifyT', done_percentage: 7.5 } } })), { text: 'b: VerifyT(7.50%)', color: 'GRAY' })
})

const resource = (over: Partial<Resource>): Resource => ({
  name: 'r1', node_name: 'alpha', flags: [],
  layer_object: { type: 'DRBD', children: [{ type: 'STORAGE' }], drbd: { connections: { beta: { connected: true, message: 'Connected' } } } },
  state: { in_use: false },
  volumes: [drbdVolume({ disk_state: 'UpToDate' })],
  ...over,
})

t.test('resourceRow: Usage, Conns and State from in_use, the connections and the volumes', async (t) => {
  const cells = (x: Resource, inUse = new Map<string, number>()): unknown[] => resourceRow(x, inUse).cells.slice(3, 6)
  t.same(cells(resource({})), ['Unused', 'Ok', { text: 'UpToDate', color: 'DARKGREEN' }])
  t.same(cells(resource({ state: { in_use: true } }), new Map([['r1', 1]])), [{ text: 'InUse', color: 'GREEN' }, 'Ok', { text: 'UpToDate', color: 'DARKGREEN' }])
  t.same(cells(resource({ state: { in_use: true } }), new Map([['r1', 2]]))[0], { text: 'InUse', color: 'YELLOW' }, 'two Primaries: yellow')
  t.same(cells(resource({ state: {} }))[0], '', 'in_use unknown: empty')
  const down = resource({
    layer_object: { type: 'DRBD', drbd: { connections: { beta: { connected: false, message: 'Connecting' }, gamma: { connected: false, message: 'Connecting' }, delta: { connected: true, message: 'Connected' } } } },
    volumes: [drbdVolume({ disk_state: 'SyncTarget(10.00%)' })],
  })
  const row = resourceRow(down, new Map())
  t.same(row.cells.slice(4, 6), [{ text: 'Connecting(beta,gamma)', color: 'RED' }, { text: 'SyncTarget(10.00%)', color: 'RED' }], 'connections down by state, and the state red')
  t.equal(row.faulty, true)
  t.equal(resourceRow(resource({}), new Map()).faulty, false)
})

t.test('volumeCells: a connection down makes the state red', async (t) => {
  const up = volumeCells(resource({}), drbdVolume({ disk_state: 'UpToDate' }), new Map())
  t.same(up.slice(7), ['Unused', { text: 'UpToDate', color: 'DARKGREEN' }])
  const x = resource({ layer_object: { type: 'DRBD', drbd: { connections: { beta: { connected: false, message: 'StandAlone' } } } } })
  t.same(volumeCells(x, drbdVolume({ disk_state: 'UpToDate' }), new Map()).slice(8), [{ text: 'UpToDate', color: 'RED' }])
})
