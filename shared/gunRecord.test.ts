import assert from 'node:assert/strict'
import { test } from 'node:test'
import { base64urlnopad } from '@scure/base'
import { gunRecordKeys, gunRecordNode, gunSoul, GUN_SOUL, openGunRecord, sealGunRecord, type GunRecordNode } from './gunRecord.ts'
import type { OipMediaRecord } from './record.ts'
import { signRecord } from './signing.ts'
import { identityFromMnemonic } from './wallet.ts'

const PHRASE = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
const owner = await identityFromMnemonic(PHRASE)
const other = await identityFromMnemonic('legal winner thank year wave sausage worth useful legal winner thank yellow')
const MEDIA_ID = 'a'.repeat(64)

function sample (mediaId = MEDIA_ID, key = owner.publicKey): OipMediaRecord {
  return {
    type: 'media',
    basic: { name: 'Diary.pdf', description: 'Not for anyone', date: 1764072000, language: 'en', tagItems: ['secret'] },
    media: { mediaId, bittorrentAddress: `magnet:?xt=urn:btih:${'b'.repeat(40)}`, httpUrl: `https://media.example.org/api/media/${mediaId}`, contentType: 'application/pdf', size: 4096 },
    accessControl: { access_level: 'private', owner_public_key: key }
  }
}

const sealed = async (record = sample(), key = owner.privateKey): Promise<{ soul: string, node: GunRecordNode }> =>
  await sealGunRecord(record, signRecord(record, key), key)

test('the soul is the same for the same phrase (any browser), differs per file and per key, and reveals neither', async () => {
  const again = await identityFromMnemonic(`  ${PHRASE.toUpperCase()} `)
  const soul = gunSoul(gunRecordKeys(owner.privateKey), MEDIA_ID)
  // Pinned (computed apart with Node's hkdfSync and createHmac): a change of the derivation would lose every record already on the relays.
  assert.equal(soul, 'oip-media-seeder/zg9900JU9-KahxjNQFDruIya_WQy0hwtVk8A1dJgYJQ')
  assert.equal(gunSoul(gunRecordKeys(again.privateKey), MEDIA_ID), soul)
  assert.match(soul, GUN_SOUL)
  assert.notEqual(gunSoul(gunRecordKeys(owner.privateKey), 'c'.repeat(64)), soul)
  assert.notEqual(gunSoul(gunRecordKeys(other.privateKey), MEDIA_ID), soul)
  assert.ok(!soul.includes(MEDIA_ID) && !soul.includes(owner.publicKey))
  const { aes, hmac } = gunRecordKeys(owner.privateKey)
  assert.notDeepEqual(aes, hmac)
})

test('a sealed record holds no plaintext field and opens, in another browser of the phrase, as the signed record', async () => {
  const record = sample()
  const signature = signRecord(record, owner.privateKey)
  const { soul, node } = await sealGunRecord(record, signature, owner.privateKey)
  assert.equal(soul, gunSoul(gunRecordKeys(owner.privateKey), MEDIA_ID))
  assert.deepEqual(Object.keys(node).sort(), ['ct', 'iv', 'v'])
  const raw = JSON.stringify(node)
  for (const plain of ['Diary', 'Not for anyone', 'secret', MEDIA_ID, 'magnet', owner.publicKey, signature]) assert.ok(!raw.includes(plain), plain)
  const again = await identityFromMnemonic(PHRASE)
  assert.deepEqual(await openGunRecord(node, MEDIA_ID, again.privateKey), { record, signature })
  assert.deepEqual(gunRecordNode(JSON.parse(raw)), node)
  // A fresh nonce each time: the same record twice is two different ciphertexts.
  assert.notEqual((await sealed(record)).node.ct, node.ct)
})

test('a ciphertext moved under another soul, altered, or opened by another key is refused', async () => {
  const { node } = await sealed()
  const otherFile = await sealed(sample('c'.repeat(64)))
  // Another file's node put at this soul: the AAD binds it to its own soul and mediaId.
  await assert.rejects(openGunRecord(otherFile.node, MEDIA_ID, owner.privateKey), /does not decrypt/)
  const ct = base64urlnopad.decode(node.ct)
  ct[5]! ^= 1
  await assert.rejects(openGunRecord({ ...node, ct: base64urlnopad.encode(ct) }, MEDIA_ID, owner.privateKey), /does not decrypt/)
  await assert.rejects(openGunRecord(node, MEDIA_ID, other.privateKey), /does not decrypt/)
  await assert.rejects(openGunRecord({ v: 1, iv: null, ct: null }, MEDIA_ID, owner.privateKey), /deleted/)
  await assert.rejects(openGunRecord(undefined, MEDIA_ID, owner.privateKey), /no GUN node/)
  await assert.rejects(openGunRecord({ v: 2, iv: node.iv, ct: node.ct }, MEDIA_ID, owner.privateKey), /not a sealed record/)
})

test('only the owner seals a private record it signed', async () => {
  const record = sample()
  await assert.rejects(sealGunRecord(record, signRecord(record, owner.privateKey), other.privateKey), /another key/)
  await assert.rejects(sealGunRecord(record, signRecord(sample('c'.repeat(64)), owner.privateKey), owner.privateKey), /does not verify/)
  const open = { ...record, accessControl: { ...record.accessControl, access_level: 'public' as const } }
  await assert.rejects(sealGunRecord(open, signRecord(open, owner.privateKey), owner.privateKey), /Only private records/)
})
