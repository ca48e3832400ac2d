/**
 * Sign-in by key: the server hands out a sign-in message (signInMessage.ts) naming its origin
 * and a single-use nonce; the wallet checks it and signs it as a Bitcoin signed message; the
 * server checks the signature and answers a session token (JWT, HS256 only, with issuer,
 * audience, subject = public key, expiry).
 */
import { randomBytes } from 'node:crypto'
import { errors, jwtVerify, SignJWT } from 'jose'
import { AppError } from '../../shared/errors.ts'
import { signInMessage } from '../../shared/signInMessage.ts'
import { verifySignIn } from '../../shared/signing.ts'
import { isPublicKey } from '../../shared/wallet.ts'
import type { ChallengeStore } from './challengeStore.ts'

const ALGORITHM = 'HS256'
/** Tokens already verified, remembered until they expire (a tus upload sends one per request). */
const VERIFIED_CACHE = 1024

export interface Challenge {
  nonce: string
  message: string
  expiresAt: string
}

export interface AuthOptions {
  /** The site's origin, named in every challenge and used as token issuer and audience. */
  origin: string
  secret: Uint8Array
  challenges: ChallengeStore
  challengeTtlMs?: number
  tokenTtlSeconds?: number
  now?: () => number
}

const unauthorized = (code: string, message: string): AppError => new AppError(401, code, message)

export class AuthService {
  private readonly opts: Required<AuthOptions>
  /**
   * token → its key and expiry (ms). jose checks an HS256 signature with WebCrypto, whose work
   * waits in libuv's thread pool behind the upload's own disk writes: ~1 ms per request.
   */
  private readonly verified = new Map<string, { publicKey: string, expiresAt: number }>()

  constructor (opts: AuthOptions) {
    this.opts = { challengeTtlMs: 5 * 60_000, tokenTtlSeconds: 3600, now: Date.now, ...opts }
  }

  async challenge (): Promise<Challenge> {
    const { origin, challenges, challengeTtlMs, now } = this.opts
    const nonce = randomBytes(16).toString('hex')
    const issuedAt = new Date(now())
    const expiresAt = new Date(issuedAt.getTime() + challengeTtlMs)
    const message = signInMessage({ origin, nonce, issuedAt, expiresAt })
    await challenges.save(nonce, message, expiresAt.getTime(), issuedAt.getTime())
    return { nonce, message, expiresAt: expiresAt.toISOString() }
  }

  /** Check a signed challenge; answer a session token for that key. */
  async verify (input: { publicKey?: unknown, signature?: unknown, nonce?: unknown }): Promise<{ token: string, publicKey: string, expiresAt: string }> {
    const { publicKey, signature, nonce } = input
    if (!isPublicKey(publicKey)) throw new AppError(400, 'bad_public_key', 'publicKey must be a compressed secp256k1 public key: 66 lowercase hex characters starting with 02 or 03.')
    if (typeof signature !== 'string' || typeof nonce !== 'string') throw new AppError(400, 'bad_request', 'Send publicKey, signature (base64 Bitcoin signed message) and the nonce of the challenge you signed.')
    const message = await this.opts.challenges.take(nonce, this.opts.now())
    if (message === undefined) throw unauthorized('bad_nonce', 'This challenge is unknown, already used or expired. Ask for a new one (POST /api/auth/challenge) and sign it.')
    if (!verifySignIn(message, signature, publicKey)) {
      throw unauthorized('bad_signature', 'The signature does not match this key and this site\'s challenge. Sign the exact message you were given as a Bitcoin signed message (BIP-137, compressed key, low-S), base64.')
    }
    const { origin, secret, tokenTtlSeconds, now } = this.opts
    const iat = Math.floor(now() / 1000)
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setIssuer(origin)
      .setAudience(origin)
      .setSubject(publicKey)
      .setIssuedAt(iat)
      .setExpirationTime(iat + tokenTtlSeconds)
      .sign(secret)
    return { token, publicKey, expiresAt: new Date((iat + tokenTtlSeconds) * 1000).toISOString() }
  }

  /** The public key a session token was issued to; 401 for anything else. */
  async authenticate (token: string): Promise<string> {
    const { origin, secret, now } = this.opts
    const known = this.verified.get(token)
    if (known && known.expiresAt > now()) return known.publicKey
    this.verified.delete(token)
    try {
      const { payload } = await jwtVerify(token, secret, {
        algorithms: [ALGORITHM],
        issuer: origin,
        audience: origin,
        currentDate: new Date(now()),
        requiredClaims: ['sub', 'exp', 'iat']
      })
      if (!isPublicKey(payload.sub)) throw new Error('subject is not a public key')
      if (this.verified.size >= VERIFIED_CACHE) this.verified.delete(this.verified.keys().next().value!)
      this.verified.set(token, { publicKey: payload.sub, expiresAt: payload.exp! * 1000 })
      return payload.sub
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw unauthorized('token_expired', 'Your session has expired. Sign in again.')
      throw unauthorized('bad_token', 'This session token is not valid here. Sign in again.')
    }
  }
}
