/**
 * The code that signs with the identity key (with oipDataItem.ts, which signs a public record's
 * Arweave item it builds itself), and it signs only typed messages: a sign-in it has checked
 * itself, or an OIP record. Every signature is a Bitcoin signed message (BIP-137:
 * double SHA-256 of "\x18Bitcoin Signed Message:\n" + varint length + message; a 65-byte
 * recoverable signature whose header byte says "compressed P2PKH key", in base64), so any
 * Bitcoin wallet's "verify message" checks it against the owner's address. Each message starts
 * with its versioned kind line ("OIP sign-in v1", "OIP record v1"), so a sign-in, a record and a
 * Bitcoin transaction can never be the same signed bytes. Pure: runs in the browser and Node.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { canonicalRecord, validateRecord, type OipMediaRecord } from './record.ts'
import { checkSignIn, signInMessage } from './signInMessage.ts'
import { isPublicKey } from './wallet.ts'

/** The first line of a record's signed message; the canonical JSON follows on the next line. */
export const RECORD_KIND = 'OIP record v1'

/**
 * How a stored signature was made. `legacy-raw-sha256`: records signed before this format, as
 * compact hex ECDSA over SHA-256 of the bare canonical JSON; only answered, never accepted anew.
 */
export type SignatureFormat = 'bitcoin-message-v1' | 'legacy-raw-sha256'

const MAGIC = utf8ToBytes('\x18Bitcoin Signed Message:\n')
/** BIP-137 header byte: 27, +4 for a compressed key (P2PKH), + the recovery id 0–3. */
const COMPRESSED_P2PKH = 31

/** Bitcoin's CompactSize length prefix. */
function varint (n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n)
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8)
  return Uint8Array.of(0xfe, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24)
}

/** The 32 bytes a Bitcoin signed message signs. */
export function bitcoinMessageHash (message: string): Uint8Array {
  const bytes = utf8ToBytes(message)
  return sha256(sha256(concatBytes(MAGIC, varint(bytes.length), bytes)))
}

// btoa/atob: the same in browsers and Node, and a signature is only 65 bytes.
const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes))

function fromBase64 (text: string): Uint8Array | undefined {
  try {
    const bytes = Uint8Array.from(atob(text), c => c.charCodeAt(0))
    // Only the one canonical spelling: atob forgives missing padding and whitespace.
    return toBase64(bytes) === text ? bytes : undefined
  } catch {
    return undefined
  }
}

/** Never exported: callers reach it only through the typed signers below. */
function sign (message: string, privateKey: Uint8Array): string {
  const signature = secp256k1.sign(bitcoinMessageHash(message), privateKey, { prehash: false, lowS: true, format: 'recovered' })
  // noble puts the bare recovery id first; BIP-137 puts the header byte there.
  signature[0] = COMPRESSED_P2PKH + signature[0]!
  return toBase64(signature)
}

/**
 * The compressed public key (hex) that signed `message`, or undefined for anything that is not
 * a low-S BIP-137 signature by a compressed key. This is what a wallet's "verify message" does.
 */
export function recoverSigner (message: string, signature: unknown): string | undefined {
  const bytes = typeof signature === 'string' ? fromBase64(signature) : undefined
  if (bytes?.length !== 65) return undefined
  const recovery = bytes[0]! - COMPRESSED_P2PKH
  if (recovery < 0 || recovery > 3) return undefined
  try {
    const sig = secp256k1.Signature.fromBytes(bytes.subarray(1), 'compact').addRecoveryBit(recovery)
    // (r, n − s) with the other recovery id is the same signature again: one form only.
    if (sig.hasHighS()) return undefined
    return bytesToHex(sig.recoverPublicKey(bitcoinMessageHash(message)).toBytes(true))
  } catch {
    return undefined
  }
}

const signedBy = (message: string, signature: unknown, publicKey: string): boolean =>
  isPublicKey(publicKey) && recoverSigner(message, signature) === publicKey

/**
 * Sign the server's sign-in challenge, only if it is a fresh sign-in for `origin` (the page's
 * location.origin); otherwise RefusedSignIn says why and nothing is signed.
 */
export function signSignIn (message: unknown, origin: string, privateKey: Uint8Array, now = Date.now()): { nonce: string, signature: string } {
  const signIn = checkSignIn(message, origin, now)
  return { nonce: signIn.nonce, signature: sign(signInMessage(signIn), privateKey) }
}

export const verifySignIn = (message: string, signature: unknown, publicKey: string): boolean => signedBy(message, signature, publicKey)

/** The exact text a record's signature signs (paste it into a wallet's "verify message"). */
export const recordMessage = (record: OipMediaRecord): string => `${RECORD_KIND}\n${canonicalRecord(record)}`

/** A valid record only (validateRecord throws otherwise), signed as the record kind. */
export const signRecord = (record: OipMediaRecord, privateKey: Uint8Array): string => sign(recordMessage(validateRecord(record)), privateKey)

/** Checked against the key the record names as its owner, so anyone can check it without the server. */
export const verifyRecord = (record: OipMediaRecord, signature: unknown): boolean =>
  signedBy(recordMessage(record), signature, record.accessControl.owner_public_key)

export const signatureFormatOf = (signature: string): SignatureFormat =>
  /^[0-9a-f]{128}$/.test(signature) ? 'legacy-raw-sha256' : 'bitcoin-message-v1'
