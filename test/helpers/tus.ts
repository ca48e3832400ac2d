/** A small tus 1.0 client over fetch and node:http, for the resumable upload tests. */
import assert from 'node:assert/strict'
import http from 'node:http'
import { bearer } from './auth.ts'

const TUS = { 'Tus-Resumable': '1.0.0' }

export const metadata = (meta: Record<string, string>): string =>
  Object.entries(meta).map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`).join(',')

/** POST /api/uploads; returns the response and the upload's absolute URL. */
export async function createUpload (baseUrl: string, token: string | undefined, length: number, meta: Record<string, string> = { filename: 'file.bin', access_level: 'public' }): Promise<{ res: Response, url: string }> {
  const res = await fetch(`${baseUrl}/api/uploads`, {
    method: 'POST',
    headers: { ...TUS, ...bearer(token), 'Upload-Length': String(length), 'Upload-Metadata': metadata(meta) }
  })
  return { res, url: new URL(res.headers.get('location') ?? '/api/uploads/none', baseUrl).href }
}

export async function patch (url: string, token: string | undefined, offset: number, bytes: Uint8Array): Promise<Response> {
  return await fetch(url, {
    method: 'PATCH',
    headers: { ...TUS, ...bearer(token), 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset) },
    body: bytes as Uint8Array<ArrayBuffer>
  })
}

export async function head (url: string, token: string | undefined): Promise<Response> {
  return await fetch(url, { method: 'HEAD', headers: { ...TUS, ...bearer(token) } })
}

export async function remove (url: string, token: string | undefined): Promise<Response> {
  return await fetch(url, { method: 'DELETE', headers: { ...TUS, ...bearer(token) } })
}

/**
 * The file an upload published, given the answer to the PATCH that completed it: tus 1.0 has
 * that PATCH answer 204 with no body, naming the file in OIP-Media-Id; GET on the upload gives
 * all of its fields (the same as a plain upload's answer).
 */
export async function published (url: string, token: string | undefined, last: Response): Promise<any> {
  assert.equal(last.status, 204)
  assert.equal(await last.text(), '')
  const { result } = await (await fetch(url, { headers: bearer(token) })).json()
  assert.ok(result, 'GET on the upload gives the published file')
  assert.equal(last.headers.get('oip-media-id'), result.mediaId)
  return result
}

export const offsetOf = async (url: string, token: string | undefined): Promise<number> =>
  Number((await head(url, token)).headers.get('upload-offset'))

/** Send bytes from `offset` in one PATCH of `chunk`-sized pieces each, until done; returns the last response. */
export async function sendFrom (url: string, token: string | undefined, bytes: Uint8Array, offset: number, chunk = 1 << 20): Promise<Response> {
  let res: Response | undefined
  for (let at = offset; at < bytes.length; at += chunk) {
    res = await patch(url, token, at, bytes.subarray(at, Math.min(bytes.length, at + chunk)))
    if (!res.ok) return res
    if (at + chunk < bytes.length) await res.arrayBuffer()
  }
  return res!
}

/**
 * Start a PATCH of all of `bytes` but let only the first `sendBytes` go, then cut the
 * connection (a client that lost its network). Resolves once the socket is closed.
 */
export function cutPatch (url: string, token: string, offset: number, bytes: Uint8Array, sendBytes: number): Promise<void> {
  return new Promise(resolve => {
    const req = http.request(url, {
      method: 'PATCH',
      headers: { ...TUS, ...bearer(token), 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset), 'Content-Length': String(bytes.length) }
    })
    req.on('error', () => {})
    req.on('close', () => resolve())
    req.write(bytes.subarray(0, sendBytes), () => {
      // Give the server a moment to take the bytes in flight, then go away mid-body.
      setTimeout(() => req.destroy(), 200)
    })
  })
}
