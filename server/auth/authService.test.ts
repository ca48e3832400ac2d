import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { SignJWT, UnsecuredJWT } from 'jose'
import { signInMessage } from '../../shared/signInMessage.ts'
import { signRecord, signSignIn } from '../../shared/signing.ts'
import { createMnemonic, identityFromMnemonic, type Identity } from '../../shared/wallet.ts'
import { AuthService, type Challenge } from './authService.ts'
import { DatabaseChallengeStore } from './challengeStore.ts'
import { loadTokenSecret } from './secret.ts'
import { describeEachDatabase, type DatabaseKind } from '../../test/helpers/postgres.ts'
import { openTestDatabase } from '../../test/helpers/testDatabase.ts'

const ORIGIN = 'https://media.example.org'
const secret = randomBytes(32)

async function service (kind: DatabaseKind, t: TestContext, now = { t: Date.parse('2026-11-25T12:00:00Z') }): Promise<{ auth: AuthService, clock: { t: number } }> {
  const { db } = await openTestDatabase(kind, t)
  const auth = new AuthService({ origin: ORIGIN, secret, challenges: new DatabaseChallengeStore(db), now: () => now.t })
  return { auth, clock: now }
}

const me = await identityFromMnemonic(createMnemonic())

/** What the wallet signs for this challenge, at the service's time. */
const walletSignature = (c: Challenge, clock: { t: number }, who: Identity = me): string => signSignIn(c.message, ORIGIN, who.privateKey, clock.t).signature

async function signedIn (auth: AuthService, clock: { t: number }): Promise<string> {
  const c = await auth.challenge()
  return (await auth.verify({ publicKey: me.publicKey, nonce: c.nonce, signature: walletSignature(c, clock) })).token
}

const rejects401 = async (p: Promise<unknown>, code: string): Promise<void> => {
  await assert.rejects(p, (err: any) => err.status === 401 && err.code === code && err.message.length > 20)
}

describeEachDatabase('sign-in', kind => {
  test('a challenge is a sign-in message naming the site, a fresh nonce and its times', async t => {
    const { auth } = await service(kind, t)
    const a = await auth.challenge()
    const b = await auth.challenge()
    assert.notEqual(a.nonce, b.nonce)
    assert.match(a.nonce, /^[0-9a-f]{32}$/)
    assert.equal(a.expiresAt, '2026-11-25T12:05:00.000Z')
    assert.equal(a.message, [
      'OIP sign-in v1',
      `${ORIGIN} asks you to sign in to OIP Media Seeder with your key.`,
      `Origin: ${ORIGIN}`,
      `Nonce: ${a.nonce}`,
      'Issued At: 2026-11-25T12:00:00.000Z',
      'Expiration Time: 2026-11-25T12:05:00.000Z'
    ].join('\n'))
  })

  test('a signed challenge gives a token for that key; the token names the key', async t => {
    const { auth, clock } = await service(kind, t)
    const token = await signedIn(auth, clock)
    assert.equal(await auth.authenticate(token), me.publicKey)
  })

  test('an unknown nonce is refused, one with a NUL character too (which PostgreSQL cannot even look up)', async t => {
    const { auth, clock } = await service(kind, t)
    const c = await auth.challenge()
    const signature = walletSignature(c, clock)
    await rejects401(auth.verify({ publicKey: me.publicKey, nonce: 'f'.repeat(32), signature }), 'bad_nonce')
    await rejects401(auth.verify({ publicKey: me.publicKey, nonce: `${c.nonce}\u0000`, signature }), 'bad_nonce')
  })

  test('a nonce works once', async t => {
    const { auth, clock } = await service(kind, t)
    const c = await auth.challenge()
    const signature = walletSignature(c, clock)
    await auth.verify({ publicKey: me.publicKey, nonce: c.nonce, signature })
    await rejects401(auth.verify({ publicKey: me.publicKey, nonce: c.nonce, signature }), 'bad_nonce')
  })

  test('a nonce sent five times at once signs in once', async t => {
    const { auth, clock } = await service(kind, t)
    const c = await auth.challenge()
    const signature = walletSignature(c, clock)
    const answers = await Promise.allSettled(Array.from({ length: 5 }, async () => await auth.verify({ publicKey: me.publicKey, nonce: c.nonce, signature })))
    assert.equal(answers.filter(a => a.status === 'fulfilled').length, 1)
    for (const a of answers) if (a.status === 'rejected') assert.equal(a.reason.code, 'bad_nonce')
  })

  test('an expired challenge is refused', async t => {
    const { auth, clock } = await service(kind, t)
    const c = await auth.challenge()
    const signature = walletSignature(c, clock)
    clock.t += 5 * 60_000 + 1
    await rejects401(auth.verify({ publicKey: me.publicKey, nonce: c.nonce, signature }), 'bad_nonce')
  })

  test('a sign-in signed for another site is refused', async t => {
    const { auth, clock } = await service(kind, t)
    const c = await auth.challenge()
    const elsewhere = signInMessage({ origin: 'https://evil.example', nonce: c.nonce, issuedAt: new Date(clock.t), expiresAt: new Date(Date.parse(c.expiresAt)) })
    const signature = signSignIn(elsewhere, 'https://evil.example', me.privateKey, clock.t).signature
    await rejects401(auth.verify({ publicKey: me.publicKey, nonce: c.nonce, signature }), 'bad_signature')
  })

  test('a signature by another key is refused', async t => {
    const { auth, clock } = await service(kind, t)
    const other = await identityFromMnemonic(createMnemonic())
    const c = await auth.challenge()
    await rejects401(auth.verify({ publicKey: me.publicKey, nonce: c.nonce, signature: walletSignature(c, clock, other) }), 'bad_signature')
  })

  test('a high-S twin, a record signature or an old-format (raw hex) signature of the challenge is refused', async t => {
    const { auth, clock } = await service(kind, t)
    const c1 = await auth.challenge()
    const bytes = Buffer.from(walletSignature(c1, clock), 'base64')
    const low = secp256k1.Signature.fromBytes(bytes.subarray(1), 'compact')
    const twin = Buffer.concat([Buffer.from([31 + ((bytes[0]! - 31) ^ 1)]), new secp256k1.Signature(low.r, secp256k1.Point.CURVE().n - low.s).toBytes('compact')])
    await rejects401(auth.verify({ publicKey: me.publicKey, nonce: c1.nonce, signature: twin.toString('base64') }), 'bad_signature')
    const c2 = await auth.challenge()
    const record = {
      type: 'media' as const,
      basic: { name: 'x', description: '', date: 0, language: 'en', tagItems: [] },
      media: { mediaId: 'a'.repeat(64), bittorrentAddress: 'magnet:?xt=urn:btih:' + 'b'.repeat(40), httpUrl: `${ORIGIN}/x`, contentType: 'video/mp4', size: 1 },
      accessControl: { access_level: 'public' as const, owner_public_key: me.publicKey }
    }
    await rejects401(auth.verify({ publicKey: me.publicKey, nonce: c2.nonce, signature: signRecord(record, me.privateKey) }), 'bad_signature')
    const c3 = await auth.challenge()
    const raw = bytesToHex(secp256k1.sign(utf8ToBytes(c3.message), me.privateKey, { lowS: true }))
    await rejects401(auth.verify({ publicKey: me.publicKey, nonce: c3.nonce, signature: raw }), 'bad_signature')
  })

  test('a malformed public key is a 400 that says what a key looks like', async t => {
    const { auth } = await service(kind, t)
    const c = await auth.challenge()
    await assert.rejects(auth.verify({ publicKey: 'abc', nonce: c.nonce, signature: '00' }), (err: any) => err.status === 400 && /66 lowercase hex/.test(err.message))
  })

  test('tokens with alg none, another algorithm, another audience, a tampered payload or past expiry are refused', async t => {
    const { auth, clock } = await service(kind, t)
    const now = Math.floor(clock.t / 1000)
    const claims = { iss: ORIGIN, aud: ORIGIN, sub: me.publicKey, iat: now, exp: now + 600 }
    const none = new UnsecuredJWT(claims).encode()
    await rejects401(auth.authenticate(none), 'bad_token')
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(secret)
    await rejects401(auth.authenticate(hs512), 'bad_token')
    const otherAud = await new SignJWT({ ...claims, aud: 'https://other.example' }).setProtectedHeader({ alg: 'HS256' }).sign(secret)
    await rejects401(auth.authenticate(otherAud), 'bad_token')
    const otherKey = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(randomBytes(32))
    await rejects401(auth.authenticate(otherKey), 'bad_token')

    const good = await signedIn(auth, clock)
    const [h, p, s] = good.split('.')
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString())
    payload.sub = '02' + '11'.repeat(32)
    await rejects401(auth.authenticate(`${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`), 'bad_token')
    await rejects401(auth.authenticate('not-a-token'), 'bad_token')

    clock.t += 3601 * 1000
    await rejects401(auth.authenticate(good), 'token_expired')
  })

  test('a token already accepted is still refused once it expires, and the cache never takes a forged one', async t => {
    const { auth, clock } = await service(kind, t)
    const good = await signedIn(auth, clock)
    assert.equal(await auth.authenticate(good), me.publicKey)
    assert.equal(await auth.authenticate(good), me.publicKey)
    const [h, p] = good.split('.')
    await rejects401(auth.authenticate(`${h}.${p}.${'A'.repeat(43)}`), 'bad_token')
    clock.t += 3599 * 1000
    assert.equal(await auth.authenticate(good), me.publicKey)
    clock.t += 1000
    await rejects401(auth.authenticate(good), 'token_expired')
    await rejects401(auth.authenticate(good), 'token_expired')
  })
})

test('without JWT_SECRET a secret is generated once, kept with mode 0600 and reused', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-secret-'))
  try {
    const a = await loadTokenSecret(dir, undefined)
    const b = await loadTokenSecret(dir, undefined)
    assert.deepEqual(a, b)
    assert.ok(a.length >= 64)
    assert.equal((await fs.stat(path.join(dir, 'jwt-secret'))).mode & 0o777, 0o600)
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-secret-'))
    assert.notDeepEqual(await loadTokenSecret(other, undefined), a, 'each install gets its own secret')
    await fs.rm(other, { recursive: true })
  } finally {
    await fs.rm(dir, { recursive: true })
  }
})

test('a JWT_SECRET shorter than 32 bytes is refused at start', async () => {
  await assert.rejects(loadTokenSecret(os.tmpdir(), 'short'), /at least 32 bytes/)
})
