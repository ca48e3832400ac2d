import assert from 'node:assert/strict'
import { createPublicKey, ECDH, verify as opensslVerify } from 'node:crypto'
import { test } from 'node:test'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { ripemd160 } from '@noble/hashes/legacy.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { createBase58check } from '@scure/base'
import { canonicalRecord, type OipMediaRecord } from './record.ts'
import { signInMessage, type SignIn } from './signInMessage.ts'
import { bitcoinMessageHash, recordMessage, recoverSigner, signatureFormatOf, signRecord, signSignIn, verifyRecord, verifySignIn } from './signing.ts'
import { identityFromMnemonic } from './wallet.ts'

const ABANDON = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
const owner = await identityFromMnemonic(ABANDON)
const base58check = createBase58check(sha256)
/** The P2PKH address a Bitcoin wallet shows for a compressed public key (hex). */
const address = (publicKey: string): string => base58check.encode(new Uint8Array([0, ...ripemd160(sha256(hexToBytes(publicKey)))]))

const ORIGIN = 'https://media.example.org'
const NOW = Date.parse('2026-11-25T12:00:00Z')
const NONCE = '0f1e2d3c4b5a69788796a5b4c3d2e1f0'

const signIn = (over: Partial<SignIn> = {}): string =>
  signInMessage({ origin: ORIGIN, nonce: NONCE, issuedAt: new Date(NOW), expiresAt: new Date(NOW + 5 * 60_000), ...over })

const record = (): OipMediaRecord => ({
  type: 'media',
  basic: { name: 'Sunset', description: 'Waves at dusk — 4K', date: 1764072000, language: 'en', tagItems: ['sea'] },
  media: {
    mediaId: 'a'.repeat(64),
    bittorrentAddress: `magnet:?xt=urn:btih:${'b'.repeat(40)}`,
    httpUrl: `${ORIGIN}/api/media/${'a'.repeat(64)}`,
    contentType: 'video/mp4',
    size: 1048576
  },
  accessControl: { access_level: 'public', owner_public_key: owner.publicKey }
})

// Known answers from an independent implementation: bitcoinjs-message's test fixtures and README.
test('the Bitcoin message hash matches bitcoinjs-message (known answers)', () => {
  assert.equal(bytesToHex(bitcoinMessageHash('')), '80e795d4a4caadd7047af389d9f7f220562feb6196032e2131e10563352c4bcc')
  assert.equal(bytesToHex(bitcoinMessageHash('Vires is Numeris')), 'f8a5affbef4a3241b19067aa694562f64f513310817297089a8929a930f4f933')
})

test('signatures made by bitcoinjs-message recover their signer and address; other kinds of key are refused (known answers)', () => {
  // Private key 1: its public key is the generator point.
  const one = '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'
  assert.equal(recoverSigner('vires is numeris', 'IF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8='), one)
  assert.equal(address(recoverSigner('vires is numeris', 'H8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0=')!), '1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs')
  // bitcoinjs-message's README: a WIF key, its address, and the signature it gives.
  const wif = base58check.decode('L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1')
  const key = bytesToHex(secp256k1.getPublicKey(wif.subarray(1, 33), true))
  const signer = recoverSigner('This is an example of a signed message.', 'H9L5yLFjti0QTHhPyFrZCT1V/MMnBtXKmoiKDZ78NDBjERki6ZTQZdSMCtkgoNmp17By9ItJr8o7ChX0XxY91nk=')
  assert.equal(signer, key)
  assert.equal(address(key), '1F3sAm6ZtwLAUnj7d38pGFxtP3RVEvtsbV')
  assert.equal(verifySignIn('This is an example of a signed message!', 'H9L5yLFjti0QTHhPyFrZCT1V/MMnBtXKmoiKDZ78NDBjERki6ZTQZdSMCtkgoNmp17By9ItJr8o7ChX0XxY91nk=', key), false, 'another message')
  // The same signature with an uncompressed-key header (27–30) or a SegWit header (35–42): not our kind of key.
  assert.equal(recoverSigner('vires is numeris', 'G8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0='), undefined)
  assert.equal(recoverSigner('vires is numeris', 'JF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8='), undefined)
  assert.equal(recoverSigner('vires is numeris', 'KF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8='), undefined)
})

test('a record signature is a valid ECDSA signature for OpenSSL over the Bitcoin message hash, and its header byte names the key', () => {
  const r = record()
  const signature = signRecord(r, owner.privateKey)
  const bytes = Buffer.from(signature, 'base64')
  assert.equal(bytes.length, 65)
  assert.ok(bytes[0]! >= 31 && bytes[0]! <= 34, 'compressed P2PKH header')
  // Built here by hand, not by our code: "\x18Bitcoin Signed Message:\n", the length, the text.
  const text = Buffer.from(`OIP record v1\n${canonicalRecord(r)}`, 'utf8')
  assert.ok(text.length >= 0xfd && text.length <= 0xffff, 'this record takes the 3-byte length form')
  const length = Buffer.from([0xfd, text.length & 0xff, text.length >> 8])
  const once = sha256(Buffer.concat([Buffer.from('\x18Bitcoin Signed Message:\n'), length, text]))
  const [x, y] = [1, 33].map(at => Buffer.from(ECDH.convertKey(owner.publicKey, 'secp256k1', 'hex', 'hex', 'uncompressed') as string, 'hex').subarray(at, at + 32).toString('base64url'))
  const key = createPublicKey({ key: { kty: 'EC', crv: 'secp256k1', x, y }, format: 'jwk' })
  // OpenSSL hashes its input once more with SHA-256: together, the double SHA-256 of BIP-137.
  assert.equal(opensslVerify('sha256', once, { key, dsaEncoding: 'ieee-p1363' }, bytes.subarray(1)), true)
  assert.equal(opensslVerify('sha256', sha256(text), { key, dsaEncoding: 'ieee-p1363' }, bytes.subarray(1)), false, 'not a signature of the bare text')
  assert.equal(recoverSigner(recordMessage(r), signature), owner.publicKey)
})

const README_RECORD_SIGNATURE = 'IAURtwORgSwaIXU56f5WXjKUktCVlmOxO7Qy/VFwzKKbMuPMZlpdIpUHO3O+znE5RHYdMV0Xc2ihZKMXJVWaWDU='
const README_SIGN_IN_SIGNATURE = 'HxHMzG2vpGJET/ae20WodKZn1qBhdA/Lv+PHoq+UqFQ9e9GfRGwGDOEwhT70imWxqv9/KmjtC1qM1CpgPoQOQp4='

test('README vector: the record and sign-in signatures of the abandon…about key (regression, made by this code)', () => {
  assert.equal(address(owner.publicKey), '1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA')
  // RFC 6979 signatures are deterministic: any change to the message layout or encoding shows here.
  assert.equal(signRecord(record(), owner.privateKey), README_RECORD_SIGNATURE)
  assert.equal(signSignIn(signIn(), ORIGIN, owner.privateKey, NOW).signature, README_SIGN_IN_SIGNATURE)
})

test('every message starts with its kind line, so a sign-in signature is never a record signature and a record signature never signs in', () => {
  const r = record()
  assert.equal(signIn().split('\n')[0], 'OIP sign-in v1')
  assert.equal(recordMessage(r).split('\n')[0], 'OIP record v1')
  const { signature: signInSignature } = signSignIn(signIn(), ORIGIN, owner.privateKey, NOW)
  const recordSignature = signRecord(r, owner.privateKey)
  assert.equal(verifySignIn(signIn(), signInSignature, owner.publicKey), true)
  assert.equal(verifyRecord(r, recordSignature), true)
  assert.equal(verifyRecord(r, signInSignature), false)
  assert.equal(verifySignIn(signIn(), recordSignature, owner.publicKey), false)
  // Neither is an old-format signature (raw ECDSA over SHA-256 of the bare canonical JSON).
  for (const s of [signInSignature, recordSignature]) {
    const compact = Buffer.from(s, 'base64').subarray(1)
    assert.equal(secp256k1.verify(compact, utf8ToBytes(canonicalRecord(r)), hexToBytes(owner.publicKey)), false)
  }
})

test('malformed, high-S and non-canonical signatures are refused; only a valid record is signed', () => {
  const r = record()
  const signature = signRecord(r, owner.privateKey)
  assert.match(signature, /^[A-Za-z0-9+/]{86}[AEIMQUYcgkosw048]=$/)
  assert.equal(signatureFormatOf(signature), 'bitcoin-message-v1')
  for (const bad of ['', 'zz', signature.slice(0, -1), ` ${signature}`, signature.replace(/=$/, ''), 42, undefined]) {
    assert.equal(verifyRecord(r, bad), false, String(bad))
  }
  // (r, n − s) with the other recovery id recovers the same key: the malleable twin is refused.
  const bytes = Buffer.from(signature, 'base64')
  const sig = secp256k1.Signature.fromBytes(bytes.subarray(1), 'compact')
  const high = Buffer.concat([Buffer.from([31 + ((bytes[0]! - 31) ^ 1)]), Buffer.from(new secp256k1.Signature(sig.r, secp256k1.Point.CURVE().n - sig.s).toBytes('compact'))])
  assert.equal(bytesToHex(secp256k1.Signature.fromBytes(high.subarray(1), 'compact').addRecoveryBit(high[0]! - 31).recoverPublicKey(bitcoinMessageHash(recordMessage(r))).toBytes(true)), owner.publicKey, 'the twin is otherwise valid')
  assert.equal(verifyRecord(r, high.toString('base64')), false)
  assert.throws(() => signRecord({ ...r, type: 'image' } as unknown as OipMediaRecord, owner.privateKey), /record\.type must be "media"/, 'only a valid record is signed')
})

const refusal = (reason: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof Error)
  assert.equal(err.name, 'RefusedSignIn')
  assert.match(err.message, /^This server asked for a signature that is not a sign-in for https:\/\/media\.example\.org; nothing was signed\. /)
  assert.match(err.message, reason)
  return true
}

test('the wallet signs a fresh sign-in for its own origin, within the clock skew', () => {
  const { nonce, signature } = signSignIn(signIn(), ORIGIN, owner.privateKey, NOW)
  assert.equal(nonce, NONCE)
  assert.equal(verifySignIn(signIn(), signature, owner.publicKey), true)
  // The server's clock up to 2 minutes ahead of this device's.
  assert.doesNotThrow(() => signSignIn(signIn({ issuedAt: new Date(NOW + 2 * 60_000), expiresAt: new Date(NOW + 7 * 60_000) }), ORIGIN, owner.privateKey, NOW))
})

test('the wallet refuses a record, another origin, no nonce, an expired, far-future or future-issued message, and any other layout', () => {
  const sign = (message: unknown): unknown => signSignIn(message, ORIGIN, owner.privateKey, NOW)
  const r = record()
  assert.throws(() => sign(canonicalRecord(r)), refusal(/It does not start with "OIP sign-in v1" but with "\{\\"accessControl/))
  assert.throws(() => sign(recordMessage(r)), refusal(/but with "OIP record v1"/))
  assert.throws(() => sign(signIn({ origin: 'https://evil.example' })), refusal(/It is for "https:\/\/evil\.example"\.$/))
  assert.throws(() => sign(signIn({ origin: 'https://media.example.org.evil.example' })), refusal(/It is for/))
  assert.throws(() => sign(signIn().replace(`Nonce: ${NONCE}\n`, '')), refusal(/It has no nonce\.$/))
  assert.throws(() => sign(signIn({ nonce: '' })), refusal(/It has no nonce\.$/))
  assert.throws(() => sign(signIn({ nonce: 'short' })), refusal(/nonce is not 16 to 128 letters and digits/))
  assert.throws(() => sign(signIn({ issuedAt: new Date(NOW - 10 * 60_000), expiresAt: new Date(NOW - 1) })), refusal(/It expired at 2026-11-25T11:59:59\.999Z/))
  assert.throws(() => sign(signIn({ expiresAt: new Date(NOW + 10 * 60_000 + 1) })), refusal(/more than 10 minutes from now/))
  assert.throws(() => sign(signIn({ expiresAt: new Date(NOW + 365 * 86_400_000) })), refusal(/more than 10 minutes from now/))
  assert.throws(() => sign(signIn({ issuedAt: new Date(NOW + 2 * 60_000 + 1), expiresAt: new Date(NOW + 5 * 60_000) })), refusal(/issued in the future/))
  assert.throws(() => sign(signIn({ issuedAt: new Date(NOW + 60_000), expiresAt: new Date(NOW + 30_000) })), refusal(/expires before it was issued/))
  assert.throws(() => sign(signIn().replace(/Expiration Time: .*/, 'Expiration Time: tomorrow')), refusal(/no valid expiry/))
  assert.throws(() => sign(signIn().replace(/Issued At: .*/, '')), refusal(/no valid issue time/))
  assert.throws(() => sign(`${signIn()}\nResources: https://evil.example/transfer`), refusal(/not in the exact sign-in layout/))
  assert.throws(() => sign(signIn().replace('asks you to sign in', 'asks you to approve a payment')), refusal(/not in the exact sign-in layout/))
  assert.throws(() => sign(undefined), refusal(/It sent no message text/))
  assert.throws(() => sign({ message: signIn() }), refusal(/It sent no message text/))
})
