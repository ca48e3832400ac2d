/**
 * The identity: a BIP39 mnemonic → BIP32 key at m/44'/0'/0'/0/0 (the path the OIP system uses)
 * → secp256k1. The compressed public key (hex) is who you are. What the key signs, and how, is
 * signing.ts's (and oipDataItem.ts's, for Arweave items) alone. Pure: runs in the browser and Node.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { hmac } from '@noble/hashes/hmac.js'
import { ripemd160 } from '@noble/hashes/legacy.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { createBase58check } from '@scure/base'
import { HDKey } from '@scure/bip32'
import { generateMnemonic, mnemonicToSeed, validateMnemonic } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'

export const IDENTITY_PATH = "m/44'/0'/0'/0/0"

export interface Identity {
  /** Compressed secp256k1 public key, 66 hex chars: the identity everyone sees. */
  publicKey: string
  /** 32-byte secret. Never leaves the browser. */
  privateKey: Uint8Array
}

/** 12 words (128 bits of entropy) from the English BIP39 list. */
export const createMnemonic = (): string => generateMnemonic(wordlist, 128)

/** Spacing and case forgiven; the checksum is not. */
export const normalizeMnemonic = (words: string): string => words.trim().toLowerCase().split(/\s+/).join(' ')

export const isValidMnemonic = (words: string): boolean => validateMnemonic(normalizeMnemonic(words), wordlist)

export async function identityFromMnemonic (words: string, passphrase = ''): Promise<Identity> {
  const mnemonic = normalizeMnemonic(words)
  if (!validateMnemonic(mnemonic, wordlist)) {
    throw new Error('These words are not a valid recovery phrase: check each word and their order.')
  }
  const key = HDKey.fromMasterSeed(await mnemonicToSeed(mnemonic, passphrase)).derive(IDENTITY_PATH)
  return { publicKey: bytesToHex(key.publicKey!), privateKey: key.privateKey! }
}

const PUBLIC_KEY = /^(02|03)[0-9a-f]{64}$/
export const isPublicKey = (value: unknown): value is string => typeof value === 'string' && PUBLIC_KEY.test(value)

/** A public key that is also a point of the curve: one a wallet could have (a key to share with). */
export const isValidPublicKey = (value: unknown): value is string => {
  if (!isPublicKey(value)) return false
  try {
    secp256k1.Point.fromHex(value)
    return true
  } catch {
    return false
  }
}

const base58check = createBase58check(sha256)

/**
 * The key's Bitcoin P2PKH address (Base58Check of 0x00 + RIPEMD-160(SHA-256(key))): what a
 * wallet's "verify message" checks a signature against, and another name for the key.
 */
export const addressOf = (publicKey: string): string => base58check.encode(new Uint8Array([0, ...ripemd160(sha256(hexToBytes(publicKey)))]))

const ADDRESS = /^1[1-9A-HJ-NP-Za-km-z]{25,33}$/
/** Shaped like a P2PKH address (its checksum is not checked: a wrong one matches no key). */
export const isAddress = (value: unknown): value is string => typeof value === 'string' && ADDRESS.test(value)

const encoder = new TextEncoder()

/**
 * The salt of the owner's private torrent for a file: derived from the key, so any of the
 * owner's browsers rebuilds the same private torrent (and infoHash) without asking anyone.
 */
export const torrentSaltFor = (privateKey: Uint8Array, mediaId: string): string =>
  bytesToHex(hmac(sha256, privateKey, encoder.encode(`oip-private-torrent:${mediaId}`)))
