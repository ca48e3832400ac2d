/** A new key's file on a test server with its signed OIP record stored: what publishing tests start from. */
import assert from 'node:assert/strict'
import type { OipMediaRecord } from '../../shared/record.ts'
import { signRecord } from '../../shared/signing.ts'
import type { Identity } from '../../shared/wallet.ts'
import { bearer, newIdentity, signIn } from './auth.ts'
import { randomBytesSeeded, upload } from './server.ts'

export interface Owned { me: Identity, token: string, record: OipMediaRecord, signature: string, recordId: string }

let seed = 500

/** A file of a new key's (different bytes each time), uploaded with `access`, and its signed record stored. */
export async function ownRecord (on: { url: string }, access: 'public' | 'private' = 'public'): Promise<Owned> {
  const me = await newIdentity()
  const token = await signIn(on.url, me)
  const up = (await upload(on.url, randomBytesSeeded(5000, seed++), { access_level: access }, 'clip.mp4', 'video/mp4', token)).body
  const record: OipMediaRecord = {
    type: 'media',
    basic: { name: 'Clip', description: 'At the harbour', date: 1795000000, language: 'en', tagItems: ['harbour'] },
    media: { mediaId: up.mediaId, bittorrentAddress: up.magnetURI, httpUrl: up.httpUrl, contentType: up.mimeType, size: up.fileSize },
    accessControl: { access_level: access, owner_public_key: me.publicKey }
  }
  const signature = signRecord(record, me.privateKey)
  const res = await fetch(`${on.url}/api/records`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(token) }, body: JSON.stringify({ record, signature }) })
  assert.equal(res.status, 201)
  return { me, token, record, signature, recordId: (await res.json()).recordId }
}
