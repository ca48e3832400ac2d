/** The server's HTTP API, as the browser uses it. Errors carry the server's message. */
import type { KeyUsage, MediaEdit, MediaManifest, OwnedListItem, RecordListItem, SharedListItem, ShareView, UploadResult } from '../../shared/media.ts'
import type { ArweaveItem } from './recordVerdict.ts'
import type { GunRecordNode } from '../../shared/gunRecord.ts'
import type { NetworkInfo, Publication, PublicationNetwork } from '../../shared/publication.ts'
import type { OipMediaRecord, StoredOipRecord } from '../../shared/record.ts'
import { signSignIn } from '../../shared/signing.ts'
import type { Identity } from '../../shared/wallet.ts'
import * as tus from 'tus-js-client'

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

/** A GET of the API, signed in when `token` is given: its JSON, or the server's error. */
export async function getJson<T> (path: string, token?: string): Promise<T> {
  return await json<T>(await fetch(path, token === undefined ? {} : { headers: auth(token) }))
}

/** An answer with no body (204). */
async function done (res: Response): Promise<void> {
  if (!res.ok) throw await failure(res)
}

/**
 * Sign the server's challenge with the identity key; the session token. The wallet signs only
 * a sign-in for this page's origin: anything else throws RefusedSignIn and nothing is posted.
 */
export async function signIn (identity: Identity): Promise<string> {
  const challenge = await json<{ message?: unknown }>(await fetch('/api/auth/challenge', { method: 'POST' }))
  const { nonce, signature } = signSignIn(challenge.message, location.origin, identity.privateKey)
  const { token } = await json<{ token: string }>(await fetch('/api/auth/verify', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ publicKey: identity.publicKey, nonce, signature })
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

/** A small file in one request (POST /api/media/upload): a thumbnail, where a resumable upload's three would cost more. */
export async function upload (file: File, fields: RecordFields, token: string): Promise<UploadResult> {
  const form = new FormData()
  form.set('access_level', fields.accessLevel)
  form.set('name', fields.name)
  form.set('description', fields.description)
  form.set('size', String(file.size))
  form.set('file', file)
  return await json<UploadResult>(await fetch('/api/media/upload', { method: 'POST', headers: auth(token), body: form }))
}

export interface ResumableUpload {
  file: Blob & { name: string, type: string }
  fields: RecordFields
  /** The SHA-256 this browser computed: the server publishes only bytes that match it. */
  sha256: string
  /** Where an earlier attempt left off (kept in IndexedDB beside the file). */
  uploadUrl?: string
  /** Called once the server has made the upload, before any byte is sent. */
  onUrl: (url: string) => Promise<void>
  onProgress: (sent: number, total: number) => void
  signal: AbortSignal
}

/**
 * Upload through the server's tus endpoint (tus-js-client): 16 MiB requests, retried on
 * network errors, and continued from the server's offset by the next attempt (pause and
 * resume, a reload, a lost connection). An upload the server forgot (expired) starts over.
 */
export function resumableUpload (opts: ResumableUpload, token: string): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const { file, fields } = opts
    const upload = new tus.Upload(file, {
      endpoint: `${location.origin}/api/uploads`,
      uploadUrl: opts.uploadUrl ?? null,
      chunkSize: 16 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000],
      // This app keeps the upload URL itself, in IndexedDB with the file.
      storeFingerprintForResuming: false,
      headers: auth(token),
      metadata: {
        filename: file.name,
        filetype: file.type || 'application/octet-stream',
        access_level: fields.accessLevel,
        name: fields.name,
        description: fields.description,
        sha256: opts.sha256,
        ...(fields.torrentSalt ? { torrent_salt: fields.torrentSalt } : {})
      },
      onUploadUrlAvailable: async () => { await opts.onUrl(upload.url!) },
      onProgress: opts.onProgress,
      // Every PATCH answers 204 (tus 1.0), the last one too, and an upload found complete (its
      // answer was lost) ends with a HEAD: either way the published file is in the upload's status.
      onSuccess: () => { uploadResult(upload.url!, token).then(resolve, reject) },
      onError: err => {
        const res = (err as tus.DetailedError).originalResponse
        if (!res) return reject(new ApiError(0, 'network', 'The connection to the server was lost. The upload continues from where it stopped when the network is back.'))
        let body: { error?: { code: string, message: string } } | undefined
        try { body = JSON.parse(res.getBody()) } catch {}
        reject(new ApiError(res.getStatus(), body?.error?.code ?? 'http_error', body?.error?.message ?? `The server answered ${res.getStatus()}.`))
      }
    })
    opts.signal.addEventListener('abort', () => {
      // Stop sending; the server keeps what it has for the next attempt.
      void upload.abort(false)
      reject(new DOMException('Upload paused', 'AbortError'))
    }, { once: true })
    upload.start()
  })
}

/** GET /api/uploads/:id: the offset, and the published file once the upload is complete. */
interface UploadStatus { offset: number, length: number, result?: UploadResult }

const uploadStatus = async (url: string, token: string): Promise<UploadStatus> =>
  await json<UploadStatus>(await fetch(url, { headers: auth(token) }))

/** The file a finished upload published; when publishing failed last time, asks the server to publish again. */
export async function uploadResult (url: string, token: string): Promise<UploadResult> {
  const status = await uploadStatus(url, token)
  if (status.result) return status.result
  if (status.offset !== status.length) throw new ApiError(409, 'incomplete', 'The server does not have the whole file yet. Retry to continue the upload.')
  // Every byte is there but publishing failed last time (tus-js-client sends nothing more when
  // the offset is at the end): an empty PATCH at the end asks the server to publish again.
  const published = await fetch(url, {
    method: 'PATCH',
    headers: { ...auth(token), 'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(status.offset) }
  })
  if (!published.ok) throw await failure(published)
  const done = await uploadStatus(url, token)
  if (!done.result) throw new ApiError(409, 'incomplete', 'The server has every byte but did not publish the file. Retry the upload.')
  return done.result
}

/** GET /api/media/:id/info: the manifest as the caller sees it, plus live seeding status. */
export type MediaInfo = MediaManifest & { seeding: { seeding: boolean, peers: number, peerId: string | null }, thumbnail: string | null }

/** With a token, the caller's own view: their private file, or one shared with them. */
export async function mediaInfo (mediaId: string, token?: string): Promise<MediaInfo> {
  return await json<MediaInfo>(await fetch(`/api/media/${mediaId}/info`, { headers: token ? auth(token) : {} }))
}

/** A public file's .torrent, for anyone (no session). */
export async function publicTorrent (mediaId: string): Promise<Uint8Array> {
  const res = await fetch(`/api/media/${mediaId}/torrent`)
  if (!res.ok) throw await failure(res)
  return new Uint8Array(await res.arrayBuffer())
}

/**
 * The .torrent as the server hands it to this caller (private ones carry their capabilities).
 * Never from the browser's cache: a public one may be kept a day, and an access change gives
 * the owner another torrent.
 */
export async function torrentFor (mediaId: string, token: string): Promise<Uint8Array> {
  const res = await fetch(`/api/media/${mediaId}/torrent`, { headers: auth(token), cache: 'no-store' })
  if (!res.ok) throw await failure(res)
  return new Uint8Array(await res.arrayBuffer())
}

/** Keep (or stop keeping) the server's torrent of one of your files always active. */
export async function setPinned (mediaId: string, pinned: boolean, token: string): Promise<void> {
  await json(await fetch(`/api/media/${mediaId}/pin`, { method: pinned ? 'PUT' : 'DELETE', headers: auth(token) }))
}

export async function postRecord (record: OipMediaRecord, signature: string, token: string): Promise<StoredOipRecord> {
  return await json<StoredOipRecord>(await fetch('/api/records', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...auth(token) },
    body: JSON.stringify({ record, signature })
  }))
}

/** Which networks this server publishes records to. */
export const network = async (): Promise<NetworkInfo> => await getJson<NetworkInfo>('/api/network')

/** A public record's Arweave data item, signed here (shared/oipDataItem.ts): queued for the server's next bundle. */
export async function postArweaveItem (recordId: string, item: Uint8Array, token: string): Promise<Publication> {
  return (await json<{ publication: Publication }>(await fetch(`/api/records/${recordId}/arweave`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', ...auth(token) },
    body: item as Uint8Array<ArrayBuffer>
  }))).publication
}

/** A private record's node, sealed here (shared/gunRecord.ts): queued for the server to put on its GUN relays. */
export async function postGunNode (recordId: string, sealed: { soul: string, node: GunRecordNode }, token: string): Promise<Publication> {
  return (await json<{ publication: Publication }>(await fetch(`/api/records/${recordId}/gun`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...auth(token) },
    body: JSON.stringify(sealed)
  }))).publication
}

/** Retry: the server's copy of a record's failed Arweave item or GUN node is sent again. */
export async function retryPublication (network: PublicationNetwork, recordId: string, token: string): Promise<Publication> {
  return (await json<{ publication: Publication }>(await fetch(`/api/records/${recordId}/${network}/retry`, { method: 'POST', headers: auth(token) }))).publication
}

/** The node the server's GUN relays hold at a soul, as they hold it (null: none); opened and checked here, never trusted. */
export async function gunNode (soul: string, token: string): Promise<unknown> {
  return (await getJson<{ node: unknown }>(`/api/gun?soul=${encodeURIComponent(soul)}`, token)).node
}

/** My published record as the server read it back from the Arweave gateway; checked here (recordVerdict.ts), never trusted. */
export async function arweaveItem (recordId: string, token: string): Promise<ArweaveItem> {
  return await getJson<ArweaveItem>(`/api/records/${recordId}/arweave`, token)
}

/** How far a record got on the OIP network (anyone may ask of a public one; a private one needs its owner's token); undefined when it was not sent. */
export async function recordPublication (recordId: string, token?: string): Promise<Publication | undefined> {
  return (await getJson<StoredOipRecord>(`/api/records/${recordId}`, token)).publication
}

/**
 * A file the server holds, as `GET /api/media?owner=me` lists it (with `pinned` and `sharedWith`)
 * or `?shared=me` does (with `sharedBy` and `expiresAt`).
 */
export type ServerFile = Omit<RecordListItem, 'pinned'> & Partial<Pick<OwnedListItem, 'pinned' | 'sharedWith' | 'publication'> & Pick<SharedListItem, 'sharedBy' | 'expiresAt'>>

export interface ServerPage { items: ServerFile[], nextCursor: string | null }

/** Files per page of a server list: the rest come with "Load more". */
export const PAGE_SIZE = 25

/** One page of my files (`owner: 'me'`, searchable with `q`) or of files shared with me (`shared: 'me'`). */
export async function listMedia (query: { owner: 'me', q?: string } | { shared: 'me' }, cursor: string | null, token: string): Promise<ServerPage> {
  const params = new URLSearchParams({ ...query, limit: String(PAGE_SIZE) })
  if (cursor) params.set('cursor', cursor)
  return await json<ServerPage>(await fetch(`/api/media?${params}`, { headers: auth(token) }))
}

/** Delete my record of a file on the server; the bytes go when nobody else holds them. */
export async function deleteMedia (mediaId: string, token: string): Promise<void> {
  await done(await fetch(`/api/media/${mediaId}`, { method: 'DELETE', headers: auth(token) }))
}

/** Change my file on the server; the answer is the file as My files lists it. It drops my signed record, to be signed again. */
export async function editMedia (mediaId: string, changes: MediaEdit, token: string): Promise<ServerFile> {
  return await json<ServerFile>(await fetch(`/api/media/${mediaId}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json', ...auth(token) },
    body: JSON.stringify(changes)
  }))
}

export async function listShares (mediaId: string, token: string): Promise<ShareView[]> {
  return (await json<{ shares: ShareView[] }>(await fetch(`/api/media/${mediaId}/shares`, { headers: auth(token) }))).shares
}

/** Share a private file of mine with a key, until `expiresAt` (ISO) or until revoked (null). */
export async function putShare (mediaId: string, publicKey: string, expiresAt: string | null, token: string): Promise<ShareView> {
  return await json<ShareView>(await fetch(`/api/media/${mediaId}/shares/${publicKey}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', ...auth(token) },
    body: JSON.stringify({ expiresAt })
  }))
}

/** Revoke a share: every door refuses that key at once. */
export async function deleteShare (mediaId: string, publicKey: string, token: string): Promise<void> {
  await done(await fetch(`/api/media/${mediaId}/shares/${publicKey}`, { method: 'DELETE', headers: auth(token) }))
}

export async function usage (token: string): Promise<KeyUsage> {
  return await json<KeyUsage>(await fetch('/api/me/usage', { headers: auth(token) }))
}
