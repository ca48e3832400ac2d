import assert from 'node:assert/strict'
import { test } from 'node:test'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { ripemd160 } from '@noble/hashes/legacy.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { createBase58check } from '@scure/base'
import { HDKey } from '@scure/bip32'
import { entropyToMnemonic, mnemonicToSeed } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { addressOf, createMnemonic, identityFromMnemonic, isAddress, isValidMnemonic, isValidPublicKey, torrentSaltFor } from './wallet.ts'

const ABANDON = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'

test('BIP39 known answers: entropy → words → seed (TREZOR vectors)', async () => {
  assert.equal(entropyToMnemonic(new Uint8Array(16), wordlist), ABANDON)
  assert.equal(bytesToHex(await mnemonicToSeed(ABANDON, 'TREZOR')),
    'c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04')
  assert.equal(entropyToMnemonic(hexToBytes('7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f'), wordlist),
    'legal winner thank year wave sausage worth useful legal winner thank yellow')
})

test('BIP32 known answers: test vector 1', () => {
  const master = HDKey.fromMasterSeed(hexToBytes('000102030405060708090a0b0c0d0e0f'))
  assert.equal(master.publicExtendedKey, 'xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8')
  assert.equal(master.derive("m/0'").publicExtendedKey, 'xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw')
})

test("the identity key is the BIP44 key at m/44'/0'/0'/0/0 (its well-known address for the abandon…about phrase)", async () => {
  const { publicKey, privateKey } = await identityFromMnemonic(ABANDON)
  const address = createBase58check(sha256).encode(new Uint8Array([0, ...ripemd160(sha256(hexToBytes(publicKey)))]))
  assert.equal(address, '1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA')
  assert.equal(addressOf(publicKey), address)
  assert.equal(isAddress(address), true)
  assert.match(publicKey, /^0[23][0-9a-f]{64}$/)
  assert.equal(bytesToHex(secp256k1.getPublicKey(privateKey, true)), publicKey)
})

test('a new phrase has 12 valid words and gives a different key each time', async () => {
  const a = createMnemonic()
  const b = createMnemonic()
  assert.equal(a.split(' ').length, 12)
  assert.ok(isValidMnemonic(a))
  assert.notEqual((await identityFromMnemonic(a)).publicKey, (await identityFromMnemonic(b)).publicKey)
})

test('an imported phrase is forgiven spacing and case but not a wrong word', async () => {
  assert.equal((await identityFromMnemonic(`  ${ABANDON.toUpperCase().replace(/ /g, '   ')} `)).publicKey, (await identityFromMnemonic(ABANDON)).publicKey)
  assert.equal(isValidMnemonic(ABANDON.replace('about', 'abandon')), false)
  await assert.rejects(identityFromMnemonic(ABANDON.replace('about', 'zoo')), /not a valid recovery phrase/)
})

test("a private torrent's salt is derived from the key and the file: the same in every browser of the owner, different for anyone else", async () => {
  const me = await identityFromMnemonic(ABANDON)
  const other = await identityFromMnemonic(createMnemonic())
  const id = 'a'.repeat(64)
  assert.match(torrentSaltFor(me.privateKey, id), /^[0-9a-f]{64}$/)
  assert.equal(torrentSaltFor(me.privateKey, id), torrentSaltFor((await identityFromMnemonic(ABANDON)).privateKey, id))
  assert.notEqual(torrentSaltFor(me.privateKey, id), torrentSaltFor(other.privateKey, id))
  assert.notEqual(torrentSaltFor(me.privateKey, id), torrentSaltFor(me.privateKey, 'b'.repeat(64)))
})

test('a key to share with must be a compressed key on the curve', async () => {
  const { publicKey } = await identityFromMnemonic(ABANDON)
  assert.equal(isValidPublicKey(publicKey), true)
  const G = '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'
  assert.equal(isValidPublicKey(G), true)
  assert.equal(isValidPublicKey('03' + G.slice(2)), true, 'the other y')
  for (const bad of [
    '02' + '11'.repeat(32), // no point has this x
    '02' + 'ff'.repeat(32), // past the field
    '04' + G.slice(2), // not a compressed prefix
    G.toUpperCase(),
    G.slice(0, 64),
    bytesToHex(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), false)), // uncompressed
    42
  ]) assert.equal(isValidPublicKey(bad), false, String(bad))
})
