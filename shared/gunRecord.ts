/**
 * A private record as a GUN node: encrypted in the owner's browser with a key only the owner's
 * identity key derives, under a soul derived from that key and the mediaId. Pure (WebCrypto's
 * AES-GCM and @noble/hashes' HKDF and HMAC): the browser seals and opens, the server only checks
 * a node's shape and never has the key or the plaintext.
 *
 *   keys     = HKDF-SHA-256(identity private key, info "oip-media-seeder/gun-record-key/v1") → 64
 *              bytes: an AES-256-GCM key, then a separate HMAC-SHA-256 key
 *   soul     = "oip-media-seeder/" + base64url(HMAC(hmacKey, mediaId)): the same in every browser
 *              of the phrase, and it reveals neither the owner nor the file
 *   node     = { v: 1, iv: base64url(12 random bytes), ct: base64url(AES-GCM ciphertext ‖ tag) }
 *   AAD      = soul + "\n" + mediaId: a ciphertext copied under another soul does not open
 *   plaintext = canonical JSON { record: toOipNetwork(record), signature }: the owner-signed record,
 *              which the reader checks after decrypting
 * The node carries no owner key: souls are unlinkable on the relay, and the owner needs none to
 * read it (the key is in the signed record inside).
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { base64urlnopad } from '@scure/base'
import canonicalize from 'canonicalize'
import { fromOipNetwork, toOipNetwork } from './oipNetworkRecord.ts'
import { validateRecord, type OipMediaRecord } from './record.ts'
import { verifyRecord } from './signing.ts'

export const GUN_NODE_VERSION = 1
const KEY_INFO = 'oip-media-seeder/gun-record-key/v1'
const SOUL_PREFIX = 'oip-media-seeder/'
/** A soul this app makes: the prefix and a 32-byte HMAC in base64url. */
export const GUN_SOUL = /^oip-media-seeder\/[A-Za-z0-9_-]{43}$/
/** A record is at most ~100 KiB of JSON: its ciphertext in base64url, with room. */
export const MAX_GUN_CIPHERTEXT = 192 * 1024
const IV_BYTES = 12

export interface GunRecordNode {
  v: typeof GUN_NODE_VERSION
  /** base64url of the 12-byte AES-GCM nonce. */
  iv: string
  /** base64url of the AES-GCM ciphertext with its 16-byte tag. */
  ct: string
}

export interface GunRecordKeys {
  aes: Uint8Array
  hmac: Uint8Array
}

export function gunRecordKeys (privateKey: Uint8Array): GunRecordKeys {
  const okm = hkdf(sha256, privateKey, undefined, utf8ToBytes(KEY_INFO), 64)
  return { aes: okm.slice(0, 32), hmac: okm.slice(32) }
}

export const gunSoul = (keys: GunRecordKeys, mediaId: string): string =>
  SOUL_PREFIX + base64urlnopad.encode(hmac(sha256, keys.hmac, utf8ToBytes(mediaId)))

const aad = (soul: string, mediaId: string): Uint8Array<ArrayBuffer> => utf8ToBytes(`${soul}\n${mediaId}`) as Uint8Array<ArrayBuffer>
const aesKey = async (keys: GunRecordKeys, use: 'encrypt' | 'decrypt'): Promise<CryptoKey> =>
  await crypto.subtle.importKey('raw', keys.aes as Uint8Array<ArrayBuffer>, 'AES-GCM', false, [use])

/** A GUN node in this format, or undefined (a tombstone, another shape, a newer version). */
export function gunRecordNode (value: unknown): GunRecordNode | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const { v, iv, ct } = value as Record<string, unknown>
  const b64 = /^[A-Za-z0-9_-]+$/
  if (v !== GUN_NODE_VERSION || typeof iv !== 'string' || typeof ct !== 'string') return undefined
  if (iv.length !== 16 || !b64.test(iv) || !b64.test(ct) || ct.length < 22 || ct.length > MAX_GUN_CIPHERTEXT) return undefined
  return { v, iv, ct }
}

/** The private record's soul and sealed node; an Error saying why not, and nothing is sealed. */
export async function sealGunRecord (record: OipMediaRecord, signature: string, privateKey: Uint8Array): Promise<{ soul: string, node: GunRecordNode }> {
  const checked = validateRecord(record)
  if (checked.accessControl.access_level !== 'private') throw new Error('Only private records go to GUN: a public record goes to Arweave.')
  if (bytesToHex(secp256k1.getPublicKey(privateKey, true)) !== checked.accessControl.owner_public_key) throw new Error('This record names another key as its owner: only its owner seals it.')
  if (!verifyRecord(checked, signature)) throw new Error('The record\'s signature does not verify: sign the record first.')
  const keys = gunRecordKeys(privateKey)
  const soul = gunSoul(keys, checked.media.mediaId)
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))
  const plaintext = utf8ToBytes(canonicalize({ record: toOipNetwork(checked), signature })!) as Uint8Array<ArrayBuffer>
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad(soul, checked.media.mediaId) }, await aesKey(keys, 'encrypt'), plaintext))
  return { soul, node: { v: GUN_NODE_VERSION, iv: base64urlnopad.encode(iv), ct: base64urlnopad.encode(ct) } }
}

/**
 * The owner's record of `mediaId` from the node read at its soul, checked: it decrypts under this
 * key and soul, and is a record of this file signed by this key. Otherwise an Error saying what
 * is wrong (nothing there, deleted, altered, not this owner's).
 */
export async function openGunRecord (node: unknown, mediaId: string, privateKey: Uint8Array): Promise<{ record: OipMediaRecord, signature: string }> {
  if (node === undefined || node === null) throw new Error('There is no GUN node for this record (never posted, or not on the relays).')
  const sealed = gunRecordNode(node)
  if (!sealed) {
    const { ct } = node as Record<string, unknown>
    throw new Error(ct === null ? 'The GUN node is deleted (a tombstone).' : 'The GUN node is not a sealed record of this app (another shape or version): someone overwrote it.')
  }
  const keys = gunRecordKeys(privateKey)
  const soul = gunSoul(keys, mediaId)
  let plaintext: ArrayBuffer
  try {
    plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: base64urlnopad.decode(sealed.iv) as Uint8Array<ArrayBuffer>, additionalData: aad(soul, mediaId) },
      await aesKey(keys, 'decrypt'), base64urlnopad.decode(sealed.ct) as Uint8Array<ArrayBuffer>)
  } catch {
    throw new Error('The GUN node does not decrypt with your key: it was altered, moved from another soul, or is someone else\'s.')
  }
  let record: OipMediaRecord
  let signature: unknown
  try {
    const inner = JSON.parse(new TextDecoder().decode(plaintext)) as { record?: unknown, signature?: unknown }
    record = fromOipNetwork(inner.record)
    signature = inner.signature
  } catch (err) {
    throw new Error(`The GUN node decrypts but holds no valid record: ${(err as Error).message}`)
  }
  const me = bytesToHex(secp256k1.getPublicKey(privateKey, true))
  if (record.accessControl.owner_public_key !== me || record.media.mediaId !== mediaId) throw new Error('The GUN node holds a record of another owner or file.')
  if (typeof signature !== 'string' || !verifyRecord(record, signature)) throw new Error('The record in the GUN node is not signed by its owner: its signature does not verify.')
  return { record, signature }
}
