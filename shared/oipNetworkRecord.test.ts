import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AppError } from './errors.ts'
import { fromOipNetwork, oipNetworkText, oipSectionOf, oipTags, toOipNetwork } from './oipNetworkRecord.ts'
import type { OipMediaRecord } from './record.ts'
import { signRecord, verifyRecord } from './signing.ts'
import { addressOf, identityFromMnemonic } from './wallet.ts'

const owner = await identityFromMnemonic('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about')
const MEDIA_ID = 'a'.repeat(64)

function sample (contentType = 'video/mp4', thumbnails?: string[]): OipMediaRecord {
  return {
    type: 'media',
    basic: { name: 'Sunset.mp4', description: 'Waves at dusk', date: 1764072000, language: 'en', tagItems: ['sea'] },
    media: {
      mediaId: MEDIA_ID,
      bittorrentAddress: `magnet:?xt=urn:btih:${'b'.repeat(40)}`,
      httpUrl: `https://media.example.org/api/media/${MEDIA_ID}`,
      contentType,
      size: 1048576,
      ...(thumbnails ? { thumbnails } : {})
    },
    accessControl: { access_level: 'public', owner_public_key: owner.publicKey }
  }
}

const refused = (value: unknown, words: RegExp): void => {
  assert.throws(() => fromOipNetwork(value), (err: unknown) => err instanceof AppError && err.status === 400 && words.test(err.message))
}

test('the section follows the content type: image, video, audio, and text for anything else', () => {
  assert.deepEqual(['image/webp', 'video/mp4', 'audio/ogg', 'text/plain', 'application/zip'].map(oipSectionOf), ['image', 'video', 'audio', 'text', 'text'])
})

test('our record maps to the OIP form field by field and back to the very record its owner signed', () => {
  for (const record of [sample(), sample('image/png', ['c'.repeat(64)]), sample('application/pdf')]) {
    const oip = toOipNetwork(record)
    const section = oipSectionOf(record.media.contentType)
    assert.deepEqual(oip.basic, { ...record.basic, nsfw: false })
    assert.deepEqual(oip[section], {
      webUrl: record.media.httpUrl,
      arweaveAddress: '',
      ipfsAddress: '',
      bittorrentAddress: record.media.bittorrentAddress,
      filename: record.basic.name,
      size: record.media.size,
      contentType: record.media.contentType,
      mediaId: MEDIA_ID,
      ...(record.media.thumbnails ? { thumbnailMediaIds: record.media.thumbnails } : {})
    })
    const back = fromOipNetwork(JSON.parse(oipNetworkText(record)))
    assert.deepEqual(back, record)
    assert.ok(verifyRecord(back, signRecord(record, owner.privateKey)))
  }
})

test('the published text is canonical: the same record is always the same bytes', () => {
  const text = oipNetworkText(sample())
  assert.equal(text, oipNetworkText(structuredClone(sample())))
  assert.ok(text.startsWith('{"accessControl":{"access_level":"public"'))
})

test('an OIP text the mapping cannot have made is refused, naming what is wrong', () => {
  const oip = (): any => JSON.parse(oipNetworkText(sample()))
  refused('text', /JSON object/)
  refused({ ...oip(), audio: oip().video }, /exactly one media section/)
  refused({ ...oip(), extra: 1 }, /field "extra"/)
  refused({ ...oip(), video: { ...oip().video, filename: 'other.mp4' } }, /filename must be basic.name/)
  refused({ ...oip(), video: { ...oip().video, arweaveAddress: 'x' } }, /must be empty/)
  refused({ ...oip(), video: { ...oip().video, codec: 'h264' } }, /field "codec"/)
  refused({ ...oip(), basic: { ...oip().basic, nsfw: true } }, /nsfw/)
  const { video, ...rest } = oip()
  refused({ ...rest, image: { ...video } }, /puts a video\/mp4 file in "image"/)
  // The record's own rules still hold underneath.
  assert.throws(() => fromOipNetwork({ ...oip(), video: { ...oip().video, size: -1 } }), /record.media.size/)
})

test('the Arweave tags name the OIP record type, the creator by key and address, and carry the owner signature', () => {
  const signature = signRecord(sample(), owner.privateKey)
  const tags = Object.fromEntries(oipTags(sample('audio/mpeg'), signature).map(t => [t.name, t.value]))
  assert.deepEqual(tags, {
    'Content-Type': 'application/json',
    'Index-Method': 'OIP',
    Ver: '0.8.0',
    Type: 'Record',
    RecordType: 'audio',
    Creator: owner.publicKey,
    'Creator-Address': addressOf(owner.publicKey),
    'Media-Id': MEDIA_ID,
    'Owner-Signature': signature,
    'Signature-Format': 'bitcoin-message-v1'
  })
})
