/** The server's HTTP API, as the browser uses it. Errors carry the server's message. */
import type { MediaManifest, UploadResult } from '../../shared/media.ts'
import type { OipMediaRecord } from '../../shared/record.ts'
import { signMessage, type Identity } from '../../shared/wallet.ts'

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) { super(message) }
}

async function failure (res: Response): Promise<ApiError> {
  const body = await res.json().catch(() => undefined) as { error?: { code: string, message: string } } | undefined
  return new ApiError(res.status, body?.error?.code ?? 'http_error', body?.error?.message ?? `The server answered ${res.status}.`)
}

const auth = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` })

async function json<T> (res: Response): Promise<T> {
  if (!res.ok) throw await failure(res)
  return await res.json() as T
}

/** Sign the server's challenge with the identity key; the session token. */
export async function signIn (identity: Identity): Promise<string> {
  const challenge = await json<{ nonce: string, message: string }>(await fetch('/api/auth/challenge', { method: 'POST' }))
  const signature = signMessage(challenge.message, identity.privateKey)
  const { token } = await json<{ token: string }>(await fetch('/api/auth/verify', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ publicKey: identity.publicKey, nonce: challenge.nonce, signature })
  }))
  return token
}

/** Does the server have these bytes for this caller (public, or already theirs)? */
export async function serverHas (mediaId: string, token: string): Promise<boolean> {
  const res = await fetch(`/api/media/${mediaId}`, { method: 'HEAD', headers: auth(token) })
  return res.ok
}

export interface RecordFields {
  accessLevel: 'public' | 'private'
  name: string
  description: string
  torrentSalt?: string
}

/** A record for bytes the server already has: nothing is uploaded. */
export async function claim (mediaId: string, token: string, file: { name: string, type: string }, fields: RecordFields): Promise<UploadResult> {
  return await json<UploadResult>(await fetch(`/api/media/${mediaId}/claim`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...auth(token) },
    body: JSON.stringify({
      access_level: fields.accessLevel,
      name: fields.name,
      description: fields.description,
      original_name: file.name,
      mime_type: file.type,
      ...(fields.torrentSalt ? { torrent_salt: fields.torrentSalt } : {})
    })
  }))
}

/**
 * Upload with progress (fetch cannot report upload progress, XMLHttpRequest can) and cancel
 * through the signal. The size goes first so the server hashes pieces in the same pass.
 */
export function upload (file: File | Blob & { name: string }, token: string, fields: RecordFields, onProgress: (sent: number, total: number) => void, signal: AbortSignal): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const form = new FormData()
    form.append('access_level', fields.accessLevel)
    form.append('size', String(file.size))
    if (fields.name) form.append('name', fields.name)
    if (fields.description) form.append('description', fields.description)
    if (fields.torrentSalt) form.append('torrent_salt', fields.torrentSalt)
    form.append('file', file, file.name)
    const xhr = new XMLHttpRequest()
    xhr.open('POST', '/api/media/upload')
    xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.upload.onprogress = e => onProgress(e.loaded, e.total)
    xhr.onload = () => {
      let body: any
      try { body = JSON.parse(xhr.responseText) } catch {}
      if (xhr.status === 200 || xhr.status === 201) resolve(body as UploadResult)
      else reject(new ApiError(xhr.status, body?.error?.code ?? 'http_error', body?.error?.message ?? `The server answered ${xhr.status}.`))
    }
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The connection to the server was lost. Check your network and retry.'))
    xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'))
    signal.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(form)
  })
}

/** GET /api/media/:id/info: the manifest as the caller sees it, plus live seeding status. */
export type MediaInfo = MediaManifest & { seeding: { seeding: boolean, peers: number, peerId: string | null } }

export async function mediaInfo (mediaId: string): Promise<MediaInfo> {
  return await json<MediaInfo>(await fetch(`/api/media/${mediaId}/info`))
}

/** A public file's .torrent, for anyone (no session). */
export async function publicTorrent (mediaId: string): Promise<Uint8Array> {
  const res = await fetch(`/api/media/${mediaId}/torrent`)
  if (!res.ok) throw await failure(res)
  return new Uint8Array(await res.arrayBuffer())
}

/** The .torrent as the server hands it to this caller (private ones carry their capabilities). */
export async function torrentFor (mediaId: string, token: string): Promise<Uint8Array> {
  const res = await fetch(`/api/media/${mediaId}/torrent`, { headers: auth(token) })
  if (!res.ok) throw await failure(res)
  return new Uint8Array(await res.arrayBuffer())
}

export async function postRecord (record: OipMediaRecord, signature: string, token: string): Promise<{ recordId: string }> {
  return await json<{ recordId: string }>(await fetch('/api/records', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...auth(token) },
    body: JSON.stringify({ record, signature })
  }))
}
