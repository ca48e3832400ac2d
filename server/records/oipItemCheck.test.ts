import assert from 'node:assert/strict'
import { test } from 'node:test'
import { oipNetworkText, oipTags } from '../../shared/oipNetworkRecord.ts'
import { recordMessage, signRecord } from '../../shared/signing.ts'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { anyItem, listed, oipRecordOf, ownerItem } from '../../test/helpers/oipItems.ts'
import { checkOipItem, INDEXED_ITEM_MAX_BYTES, type ItemVerdict } from './oipItemCheck.ts'

const owner = await identityFromMnemonic('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about')
const other = await identityFromMnemonic('legal winner thank year wave sausage worth useful legal winner thank yellow')

const reasonOf = (verdict: ItemVerdict): string => verdict.accepted ? 'accepted' : verdict.reason

test('the owner\'s item is accepted: the record read back is the one signed, with its owner signature', async () => {
  const record = oipRecordOf(owner, 'harbour')
  const { signature, item } = await ownerItem(record, owner)
  const verdict = await checkOipItem(listed(item))
  assert.ok(verdict.accepted)
  assert.deepEqual(verdict.record, record)
  assert.equal(verdict.ownerSignature, signature)
})

test('a record altered after signing is refused: its owner signature does not verify', async () => {
  const record = oipRecordOf(owner, 'harbour')
  const signature = signRecord(record, owner.privateKey)
  const altered = { ...record, basic: { ...record.basic, name: 'Something else.mp4' } }
  // Item signed properly by the owner's key: only the record's own signature gives it away.
  const item = await anyItem(oipNetworkText(altered), oipTags(altered, signature), owner)
  const verdict = await checkOipItem(listed(item))
  assert.equal(reasonOf(verdict), 'bad_owner_signature')
})

test('a record that names one owner and is signed by another key is refused', async () => {
  const record = oipRecordOf(owner, 'harbour')
  const signature = signRecord(record, other.privateKey)
  const verdict = await checkOipItem(listed(await anyItem(oipNetworkText(record), oipTags(record, signature), owner)))
  assert.equal(reasonOf(verdict), 'bad_owner_signature')
})

test('the owner\'s signed record in an item owned by another key is refused: owner mismatch', async () => {
  const record = oipRecordOf(owner, 'harbour')
  const signature = signRecord(record, owner.privateKey)
  // Anyone can copy a signed record into an item of their own.
  const verdict = await checkOipItem(listed(await anyItem(oipNetworkText(record), oipTags(record, signature), other)))
  assert.equal(reasonOf(verdict), 'owner_mismatch')
})

test('an item naming the owner but signed by another key is refused: its item signature does not verify', async () => {
  const record = oipRecordOf(owner, 'harbour')
  const { item } = await ownerItem(record, owner)
  const forged = listed(await anyItem(oipNetworkText(record), oipTags(record, signRecord(record, owner.privateKey)), other))
  const verdict = await checkOipItem({ ...listed(item), signature: forged.signature, id: forged.id })
  assert.equal(reasonOf(verdict), 'bad_item_signature')
})

test('a gateway that names the item by another id, or serves other text than the canonical one, is refused', async () => {
  const record = oipRecordOf(owner, 'harbour')
  const { item } = await ownerItem(record, owner)
  const other = listed((await ownerItem(oipRecordOf(owner, 'quay'), owner)).item)
  assert.equal(reasonOf(await checkOipItem({ ...listed(item), id: other.id })), 'item_mismatch')
  const spaced = new TextEncoder().encode(JSON.stringify(JSON.parse(oipNetworkText(record)), null, 2))
  assert.equal(reasonOf(await checkOipItem({ ...listed(item), data: spaced })), 'item_mismatch')
})

test('items without the OIP tags or the owner signature, or whose data is no record, are refused', async () => {
  const record = oipRecordOf(owner, 'harbour')
  const signature = signRecord(record, owner.privateKey)
  const tags = oipTags(record, signature)
  for (const missing of ['Owner-Signature', 'Index-Method', 'Type']) {
    const item = await anyItem(oipNetworkText(record), tags.filter(t => t.name !== missing), owner)
    assert.equal(reasonOf(await checkOipItem(listed(item))), 'missing_tags', missing)
  }
  assert.equal(reasonOf(await checkOipItem(listed(await anyItem('not json', tags, owner)))), 'not_a_record')
  assert.equal(reasonOf(await checkOipItem(listed(await anyItem(recordMessage(record), tags, owner)))), 'not_a_record')
})

test('a private record, a legacy signature and oversized data are refused', async () => {
  const hidden = oipRecordOf(owner, 'harbour')
  hidden.accessControl.access_level = 'private'
  assert.equal(reasonOf(await checkOipItem(listed(await anyItem(oipNetworkText(hidden), oipTags(hidden, signRecord(hidden, owner.privateKey)), owner)))), 'private_record')
  const record = oipRecordOf(owner, 'harbour')
  assert.equal(reasonOf(await checkOipItem(listed(await anyItem(oipNetworkText(record), oipTags(record, 'ab'.repeat(64)), owner)))), 'legacy_signature')
  const { item } = await ownerItem(record, owner)
  const verdict = await checkOipItem({ ...listed(item), data: new Uint8Array(INDEXED_ITEM_MAX_BYTES + 1) })
  assert.equal(reasonOf(verdict), 'too_large')
})
