// The image recipe's hash and its ZFS option: each setting names its own cached image, and the
// option's value is checked before anything is built.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { recipeHash, zfsEnabled } from '../../../integration/harness/image.js'

t.test('BLOCKYARD_VM_ZFS: on unless 0, anything else refused', async (t) => {
  t.equal(zfsEnabled({}), true, 'unset: on, so that npm test drives ZFS')
  t.equal(zfsEnabled({ BLOCKYARD_VM_ZFS: '' }), true)
  t.equal(zfsEnabled({ BLOCKYARD_VM_ZFS: '1' }), true)
  t.equal(zfsEnabled({ BLOCKYARD_VM_ZFS: '0' }), false)
  t.throws(() => zfsEnabled({ BLOCKYARD_VM_ZFS: 'no' }), RangeError)
})

t.test('the hash covers the recipe files and the ZFS option', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'blockyard-recipe-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'build.sh'), 'echo one\n')
  const with_ = recipeHash(dir, true)
  const without = recipeHash(dir, false)
  t.match(with_, /^[0-9a-f]{16}$/)
  t.not(with_, without, 'with and without ZFS are two images side by side')
  t.equal(recipeHash(dir, true), with_, 'stable')
  writeFileSync(join(dir, 'packages-zfs.txt'), 'zfs-dkms\n')
  t.not(recipeHash(dir, true), with_, 'a recipe file changed: another image')
})
