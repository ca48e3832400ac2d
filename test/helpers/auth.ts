/** Sign in to a test server the way the browser does: the wallet checks the challenge and signs it. */
import { signSignIn } from '../../shared/signing.ts'
import { createMnemonic, identityFromMnemonic, type Identity } from '../../shared/wallet.ts'

export async function newIdentity (): Promise<Identity> {
  return await identityFromMnemonic(createMnemonic())
}

/** What signIn calls: fetch, or a stand-in that reaches the server another way (over TLS to a test certificate). */
export type Fetch = (url: string, init: { method: string, headers?: Record<string, string>, body?: string }) => Promise<Response>

export async function signIn (baseUrl: string, identity: Identity, fetch: Fetch = globalThis.fetch): Promise<string> {
  const challenge = await (await fetch(`${baseUrl}/api/auth/challenge`, { method: 'POST' })).json()
  const { nonce, signature } = signSignIn(challenge.message, new URL(baseUrl).origin, identity.privateKey)
  const res = await fetch(`${baseUrl}/api/auth/verify`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ publicKey: identity.publicKey, nonce, signature })
  })
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`)
  return (await res.json()).token
}

export const bearer = (token: string | undefined): Record<string, string> => token ? { Authorization: `Bearer ${token}` } : {}
