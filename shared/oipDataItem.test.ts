import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createData, DataItem, EthereumSigner } from '@dha-team/arbundles'
import { bytesToHex } from '@noble/hashes/utils.js'
import { ETHEREUM_SIGNATURE_TYPE, ITEM_LAYOUT, itemOwnerOf, signOipDataItem, unsignedOipDataItem } from './oipDataItem.ts'
import { fromOipNetwork, oipNetworkText, oipTags } from './oipNetworkRecord.ts'
import type { OipMediaRecord } from './record.ts'
import { signRecord, verifyRecord } from './signing.ts'
import { identityFromMnemonic } from './wallet.ts'

const owner = await identityFromMnemonic('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about')
const other = await identityFromMnemonic('legal winner thank year wave sausage worth useful legal winner thank yellow')
const MEDIA_ID = 'a'.repeat(64)

function sample (access: 'public' | 'private' = 'public'): OipMediaRecord {
  return {
    type: 'media',
    basic: { name: 'Sunset.mp4', description: 'Waves at dusk', date: 1764072000, language: 'en', tagItems: ['sea'] },
    media: { mediaId: MEDIA_ID, bittorrentAddress: `magnet:?xt=urn:btih:${'b'.repeat(40)}`, httpUrl: `https://media.example.org/api/media/${MEDIA_ID}`, contentType: 'video/mp4', size: 1048576 },
    accessControl: { access_level: access, owner_public_key: owner.publicKey }
  }
}

test("a public record's item: its OIP text and tags, owned by the uncompressed identity key, and arbundles verifies it", async () => {
  const record = sample()
  const signature = signRecord(record, owner.privateKey)
  const raw = await signOipDataItem(createData, record, signature, owner.privateKey)
  const item = new DataItem(Buffer.from(raw))
  assert.equal(await DataItem.verify(Buffer.from(raw)), true)
  assert.equal(item.signatureType, ETHEREUM_SIGNATURE_TYPE)
  assert.equal(bytesToHex(item.rawOwner), bytesToHex(itemOwnerOf(owner.publicKey)))
  assert.equal(item.rawOwner.length, 65)
  assert.equal(Buffer.from(item.rawData).toString(), oipNetworkText(record))
  assert.deepEqual(item.tags, oipTags(record, signature))
  assert.equal(item.target, '')
  assert.equal(item.anchor, '')
  // What any reader checks: the record in the data, signed by its owner (the Owner-Signature tag).
  const tag = (name: string): string => item.tags.find(t => t.name === name)!.value
  assert.equal(verifyRecord(fromOipNetwork(JSON.parse(Buffer.from(item.rawData).toString())), tag('Owner-Signature')), true)
})

test('the signature is the one arbundles\' own EthereumSigner makes (EIP-191 over the deep hash), and the same every time', async () => {
  const record = sample()
  const signature = signRecord(record, owner.privateKey)
  const ours = await signOipDataItem(createData, record, signature, owner.privateKey)
  assert.deepEqual(await signOipDataItem(createData, record, signature, owner.privateKey), ours, 'deterministic: a retry sends the same item')
  const signer = new EthereumSigner(bytesToHex(owner.privateKey))
  const theirs = createData(oipNetworkText(record), signer, { tags: oipTags(record, signature) })
  await theirs.sign(signer)
  assert.equal(bytesToHex(theirs.getRaw()), bytesToHex(ours))
})

test('the unsigned item the server builds is the signed one but for the signature bytes', async () => {
  const record = sample()
  const signature = signRecord(record, owner.privateKey)
  const signed = await signOipDataItem(createData, record, signature, owner.privateKey)
  const unsigned = unsignedOipDataItem(createData, record, signature)
  assert.equal(unsigned.length, signed.length)
  assert.deepEqual(unsigned.subarray(0, ITEM_LAYOUT.signature), signed.subarray(0, ITEM_LAYOUT.signature))
  assert.deepEqual(unsigned.subarray(ITEM_LAYOUT.owner), signed.subarray(ITEM_LAYOUT.owner))
  assert.notDeepEqual(unsigned.subarray(ITEM_LAYOUT.signature, ITEM_LAYOUT.owner), signed.subarray(ITEM_LAYOUT.signature, ITEM_LAYOUT.owner))
})

test('nothing is signed for a private record, another key\'s record, or a record its signature does not match', async () => {
  const refused = async (record: OipMediaRecord, signature: string, key: Uint8Array, words: RegExp): Promise<void> => {
    await assert.rejects(signOipDataItem(createData, record, signature, key), words)
  }
  const priv = sample('private')
  await refused(priv, signRecord(priv, owner.privateKey), owner.privateKey, /Only public records/)
  const record = sample()
  await refused(record, signRecord(record, owner.privateKey), other.privateKey, /another key/)
  const changed = { ...record, basic: { ...record.basic, description: 'Something else' } }
  await refused(changed, signRecord(record, owner.privateKey), owner.privateKey, /does not verify/)
})
