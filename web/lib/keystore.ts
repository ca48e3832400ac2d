/**
 * The identity key at rest: the recovery phrase encrypted with a passphrase (PBKDF2-SHA-256 →
 * AES-GCM, WebCrypto). Only the public key is stored in the clear, to show whose wallet it is.
 */
export interface SealedWallet {
  publicKey: string
  salt: Uint8Array
  iv: Uint8Array
  ciphertext: Uint8Array
  iterations: number
}

const ITERATIONS = 600_000
const encoder = new TextEncoder()

async function keyFrom (passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', encoder.encode(passphrase), 'PBKDF2', false, ['deriveKey'])
  return await crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, iterations },
    base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
}

export async function seal (mnemonic: string, publicKey: string, passphrase: string): Promise<SealedWallet> {
  const salt = crypto.getRandomValues(new Uint8Array(16))
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const key = await keyFrom(passphrase, salt, ITERATIONS)
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, encoder.encode(mnemonic)))
  return { publicKey, salt, iv, ciphertext, iterations: ITERATIONS }
}

/** The recovery phrase, or an Error saying the passphrase is wrong. */
export async function unseal (sealed: SealedWallet, passphrase: string): Promise<string> {
  const key = await keyFrom(passphrase, sealed.salt, sealed.iterations)
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv as Uint8Array<ArrayBuffer> }, key, sealed.ciphertext as Uint8Array<ArrayBuffer>)
    return new TextDecoder().decode(plain)
  } catch {
    throw new Error('Wrong passphrase. Try again, or sign out and import your recovery phrase.')
  }
}
