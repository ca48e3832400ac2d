import assert from 'node:assert/strict'
import { test } from 'node:test'
import { itemOwnerOf } from '../../shared/oipDataItem.ts'
import { oipNetworkText, oipTags } from '../../shared/oipNetworkRecord.ts'
import { recordId, type OipMediaRecord } from '../../shared/record.ts'
import { signRecord } from '../../shared/signing.ts'
import { identityFromMnemonic, type Identity } from '../../shared/wallet.ts'
import { arweaveItemVerdict, recordVerdict, type ArweaveItem } from '../../web/lib/recordVerdict.ts'
import { oipRecordOf } from '../helpers/oipItems.ts'

const owner = await identityFromMnemonic('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about')
const other = await identityFromMnemonic('legal winner thank year wave sausage worth useful legal winner thank yellow')

test('Verify: a record signed by its owner says so, with the whole key', () => {
  const record = oipRecordOf(owner, 'harbour')
  assert.deepEqual(recordVerdict({ record, signature: signRecord(record, owner.privateKey), signatureFormat: 'bitcoin-message-v1' }), { ok: true, text: `Signed by ${owner.publicKey}` })
})

test('Verify: a record changed after signing, or signed by another key, fails and says not to trust it', () => {
  const record = oipRecordOf(owner, 'harbour')
  const changed = { ...record, basic: { ...record.basic, name: 'Other.mp4' } }
  for (const [r, signature] of [[changed, signRecord(record, owner.privateKey)], [record, signRecord(record, other.privateKey)], [record, 'not a signature']] as const) {
    const verdict = recordVerdict({ record: r, signature, signatureFormat: 'bitcoin-message-v1' })
    assert.equal(verdict.ok, false)
    assert.match(verdict.text, new RegExp(`not signed by ${owner.publicKey}.*Do not trust it`))
  }
})

test('Verify: a legacy signature is named as such, not passed', () => {
  const record = oipRecordOf(owner, 'harbour')
  assert.deepEqual(recordVerdict({ record, signature: 'ab'.repeat(64), signatureFormat: 'legacy-raw-sha256' }).ok, false)
})

/** My record's item as a gateway lists it: canonical text, OIP tags with my signature, my key as its owner. */
const listed = (record: OipMediaRecord, signer: Identity, itemOwner: Identity = signer): ArweaveItem => ({
  id: 'x'.repeat(43),
  owner: Buffer.from(itemOwnerOf(itemOwner.publicKey)).toString('base64url'),
  tags: oipTags(record, signRecord(record, signer.privateKey)),
  data: oipNetworkText(record)
})

test('Verify on Arweave: my record as I signed it, in an item under my key, passes', () => {
  const record = oipRecordOf(owner, 'harbour')
  const verdict = arweaveItemVerdict(listed(record, owner), owner.publicKey, recordId(record))
  assert.deepEqual(verdict, { ok: true, text: `Verified: item ${'x'.repeat(43)}, as this server read it from the gateway, is your record "harbour.mp4" with your signature.` })
})

test('Verify on Arweave: altered data, another signer, another owner, an item under another key, an older version or no record fail', () => {
  const record = oipRecordOf(owner, 'harbour')
  const good = listed(record, owner)
  const altered = { ...good, data: oipNetworkText({ ...record, basic: { ...record.basic, name: 'Other.mp4' } }) }
  const reformatted = { ...good, data: JSON.stringify(JSON.parse(good.data), null, 1) }
  const failures: Array<[ArweaveItem, RegExp]> = [
    [altered, /not your record as you signed it/],
    [reformatted, /not your record as you signed it/],
    [listed(record, other), /not your record as you signed it/],
    [listed(oipRecordOf(other, 'harbour'), other), /names another owner/],
    [listed(record, owner, other), /listed under another owner key/],
    [listed(oipRecordOf(owner, 'harbour', { name: 'Before the edit.mp4' }), owner), /another of your records of this file/],
    [{ ...good, data: 'not json' }, /not an OIP media record/]
  ]
  for (const [item, reason] of failures) {
    const verdict = arweaveItemVerdict(item, owner.publicKey, recordId(record))
    assert.equal(verdict.ok, false)
    assert.match(verdict.text, reason)
  }
})
