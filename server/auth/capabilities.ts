/**
 * Short-lived capabilities for doors that cannot send headers: a private file's web seed URL
 * (WebTorrent web seeds send no Authorization) and its tracker URL. Each token is a JWT bound
 * to one purpose (its audience), one key (sub), one file (a web seed's media id, a tracker
 * capability's infoHash) and an expiry: none lives forever, none opens every file.
 */
import { jwtVerify, SignJWT } from 'jose'

export type Capability = 'webseed' | 'tracker'

/** The subject the server's own seeder announces private torrents with. */
export const SEEDER_SUBJECT = 'seeder'

export interface CapabilityClaims {
  sub: string
  mediaId?: string
  /** The one torrent a tracker capability may announce. */
  infoHash?: string
}

/** A valid token's claims, and when it expires (ms). */
export type CheckedCapability = CapabilityClaims & { expiresAt: number }

export class Capabilities {
  constructor (
    private readonly origin: string,
    private readonly secret: Uint8Array,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now
  ) {}

  async issue (purpose: Capability, claims: CapabilityClaims, ttlSeconds: number = this.ttlSeconds): Promise<string> {
    const iat = Math.floor(this.now() / 1000)
    const { sub, ...scope } = claims
    return await new SignJWT(scope)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(this.origin)
      .setAudience(`${this.origin}#${purpose}`)
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(this.secret)
  }

  /** The claims of a valid, unexpired token for this purpose, or undefined. */
  async check (purpose: Capability, token: string): Promise<CheckedCapability | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        algorithms: ['HS256'],
        issuer: this.origin,
        audience: `${this.origin}#${purpose}`,
        currentDate: new Date(this.now()),
        requiredClaims: ['sub', 'exp']
      })
      return {
        sub: payload.sub!,
        expiresAt: payload.exp! * 1000,
        ...(typeof payload.mediaId === 'string' ? { mediaId: payload.mediaId } : {}),
        ...(typeof payload.infoHash === 'string' ? { infoHash: payload.infoHash } : {})
      }
    } catch {
      return undefined
    }
  }
}
