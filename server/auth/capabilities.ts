/**
 * Short-lived capabilities for doors that cannot send headers: a private file's web seed URL
 * (WebTorrent web seeds send no Authorization) and its tracker URL. Each token is a JWT bound
 * to one purpose (its audience), one key (sub) and, for web seeds, one media id.
 */
import { jwtVerify, SignJWT } from 'jose'

export type Capability = 'webseed' | 'tracker'

/** The subject the server's own seeder announces private torrents with. */
export const SEEDER_SUBJECT = 'seeder'

export interface CapabilityClaims {
  sub: string
  mediaId?: string
}

export class Capabilities {
  constructor (
    private readonly origin: string,
    private readonly secret: Uint8Array,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now
  ) {}

  /** `ttlSeconds` null: no expiry (the server's own seeder token lives as long as the secret). */
  async issue (purpose: Capability, claims: CapabilityClaims, ttlSeconds: number | null = this.ttlSeconds): Promise<string> {
    const iat = Math.floor(this.now() / 1000)
    const jwt = new SignJWT(claims.mediaId ? { mediaId: claims.mediaId } : {})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(this.origin)
      .setAudience(`${this.origin}#${purpose}`)
      .setSubject(claims.sub)
      .setIssuedAt(iat)
    if (ttlSeconds !== null) jwt.setExpirationTime(iat + ttlSeconds)
    return await jwt.sign(this.secret)
  }

  /** The claims of a valid token for this purpose, or undefined. */
  async check (purpose: Capability, token: string): Promise<CapabilityClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        algorithms: ['HS256'],
        issuer: this.origin,
        audience: `${this.origin}#${purpose}`,
        currentDate: new Date(this.now()),
        requiredClaims: ['sub']
      })
      return { sub: payload.sub!, ...(typeof payload.mediaId === 'string' ? { mediaId: payload.mediaId } : {}) }
    } catch {
      return undefined
    }
  }
}
