/**
 * The sign-in message, after Sign-In with Ethereum (EIP-4361): the server builds it, the wallet
 * parses it back and signs only a fresh sign-in for the page's own origin. A server (or a script
 * on the page) that sends anything else gets no signature, so it cannot make the key sign a
 * record or any other text in the user's name.
 */

/** The first line of every sign-in message; a new layout gets a new version. */
export const SIGN_IN_KIND = 'OIP sign-in v1'
/** The wallet signs nothing that stays valid longer than this from now. */
export const MAX_SIGN_IN_LIFETIME_MS = 10 * 60_000
/** How far ahead of this device's clock the server's may be. */
export const CLOCK_SKEW_MS = 2 * 60_000

export interface SignIn {
  origin: string
  nonce: string
  issuedAt: Date
  expiresAt: Date
}

const NONCE = /^[A-Za-z0-9]{16,128}$/

export function signInMessage ({ origin, nonce, issuedAt, expiresAt }: SignIn): string {
  return [
    SIGN_IN_KIND,
    `${origin} asks you to sign in to OIP Media Seeder with your key.`,
    `Origin: ${origin}`,
    `Nonce: ${nonce}`,
    `Issued At: ${issuedAt.toISOString()}`,
    `Expiration Time: ${expiresAt.toISOString()}`
  ].join('\n')
}

/** What the wallet says when it refuses: the UI shows the message as it is. */
export class RefusedSignIn extends Error {
  constructor (origin: string, reason: string) {
    super(`This server asked for a signature that is not a sign-in for ${origin}; nothing was signed. ${reason}`)
    this.name = 'RefusedSignIn'
  }
}

/** A hostile message may be long: quote only its start. */
const quote = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s)

/** Only the exact form toISOString writes, so the message rebuilds byte for byte. */
function time (value: string | undefined): Date | undefined {
  if (value === undefined || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(value)) return undefined
  const date = new Date(value)
  return Number.isNaN(date.getTime()) || date.toISOString() !== value ? undefined : date
}

/**
 * The sign-in in `message` if it is one for `origin` (the page's location.origin), with a nonce,
 * issued by now (give or take the clock skew) and expiring within the next 10 minutes.
 * Anything else throws RefusedSignIn saying why.
 */
export function checkSignIn (message: unknown, origin: string, now: number): SignIn {
  const refuse = (reason: string): never => { throw new RefusedSignIn(origin, reason) }
  if (typeof message !== 'string') return refuse('It sent no message text.')
  const [kind, , ...lines] = message.split('\n')
  if (kind !== SIGN_IN_KIND) refuse(`It does not start with "${SIGN_IN_KIND}" but with ${quote(kind ?? '')}.`)
  const fields = new Map<string, string>()
  for (const line of lines) {
    const m = /^([A-Za-z ]+): (.*)$/.exec(line)
    if (m && !fields.has(m[1]!)) fields.set(m[1]!, m[2]!)
  }
  const named = fields.get('Origin')
  if (named !== origin) refuse(named === undefined ? 'It names no origin.' : `It is for ${quote(named)}.`)
  const nonce = fields.get('Nonce')
  if (!nonce) refuse('It has no nonce.')
  if (!NONCE.test(nonce!)) refuse('Its nonce is not 16 to 128 letters and digits.')
  const issuedAt = time(fields.get('Issued At')) ?? refuse('It has no valid issue time (Issued At).')
  const expiresAt = time(fields.get('Expiration Time')) ?? refuse('It has no valid expiry (Expiration Time).')
  if (issuedAt.getTime() > now + CLOCK_SKEW_MS) refuse(`It claims to be issued in the future (${issuedAt.toISOString()}). Check this device's clock.`)
  if (expiresAt.getTime() <= now) refuse(`It expired at ${expiresAt.toISOString()}. Check this device's clock.`)
  if (expiresAt.getTime() <= issuedAt.getTime()) refuse('It expires before it was issued.')
  if (expiresAt.getTime() > now + MAX_SIGN_IN_LIFETIME_MS) refuse(`It stays valid until ${expiresAt.toISOString()}, more than ${MAX_SIGN_IN_LIFETIME_MS / 60_000} minutes from now.`)
  const signIn = { origin, nonce: nonce!, issuedAt, expiresAt }
  // Anything besides these fields (extra lines, another wording) could mean something else to someone.
  if (signInMessage(signIn) !== message) refuse('It is not in the exact sign-in layout (it has other or extra lines).')
  return signIn
}
