/**
 * Byte responses for stored media: single Range (incl. suffix and open end), 416 when it cannot
 * be satisfied, ETag = mediaId, and headers that stop a browser from running uploaded content
 * on this origin (nosniff, a sandboxing CSP, attachment for anything that is not plain media).
 * Each takes one of a bounded number of slots while it sends (ResponseSlots), and a client that
 * takes nothing for the send timeout is cut, so slow readers cannot hold memory for ever.
 *
 * The bytes go from the store's reader straight to Node's response through two reused buffers, not
 * through a web ReadableStream: per 500 MB sent that path took ~1–2 s of the main thread, much
 * of it garbage collection of a fresh 64 KiB Buffer per chunk, and it slowed every other request
 * (bench/README.md, bench:download).
 */
import type { ServerResponse } from 'node:http'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { create as contentDisposition } from 'content-disposition'
import type { Context } from 'hono'
import rangeParser from 'range-parser'
import { AppError, notFound } from '../../shared/errors.ts'
import type { MediaManifest } from '../../shared/media.ts'
import type { AppEnv } from '../app.ts'
import type { BlobReader, BlobStore } from '../storage/blobStore.ts'
import type { ResponseSlots } from './responseSlots.ts'

/** How long a browser, proxy or mirror may keep a public file's bytes or .torrent without asking again. */
export const PUBLIC_CACHE = 'public, max-age=3600'

/** Types a browser may show inline; everything else downloads as an attachment. */
const INLINE = /^(image\/(png|jpeg|gif|webp|avif|bmp)|video\/[a-z0-9.+-]+|audio\/[a-z0-9.+-]+|text\/plain)$/

export function mediaHeaders (manifest: MediaManifest, isPrivate: boolean): Record<string, string> {
  const inline = INLINE.test(manifest.mimeType)
  return {
    'Content-Type': inline ? manifest.mimeType : 'application/octet-stream',
    'Content-Disposition': contentDisposition(manifest.originalName, { type: inline ? 'inline' : 'attachment' }),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Accept-Ranges': 'bytes',
    ETag: `"${manifest.mediaId}"`,
    // The bytes behind an id never change, but a public file can be made private or deleted:
    // caches ask again after PUBLIC_CACHE (a 304 while it is still public). Private bytes stay out of shared caches.
    'Cache-Control': isPrivate ? 'private, no-store' : PUBLIC_CACHE,
    // Web seeds and players on other origins fetch ranges too.
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': 'Content-Range, Content-Length, ETag, Accept-Ranges'
  }
}

/** Bytes read and written at a time; two buffers, one filled while the other is sent. */
const CHUNK_BYTES = 256 * 1024

/** What bounds the byte responses: slots to send in, and how long a client may take nothing. */
export interface SendLimits {
  slots: ResponseSlots
  timeoutMs: number
}

export interface BytesOptions {
  private: boolean
  onSent?: (bytes: number) => void
  /** The row promised bytes the store does not have (catalog/reconcile.ts marks it missing). */
  onMissing?: () => void
}

export async function bytesResponse (c: Context<AppEnv>, store: BlobStore, manifest: MediaManifest, limits: SendLimits, opts: BytesOptions): Promise<Response> {
  const base = mediaHeaders(manifest, opts.private)
  const size = manifest.fileSize
  const headers = c.req.raw.headers
  // Answers that send no byte ask the store whether the bytes are there (a read finds out by itself).
  const present = async (): Promise<void> => {
    if (await store.has(manifest.mediaId)) return
    opts.onMissing?.()
    throw notFound()
  }
  if (headers.get('if-none-match')?.includes(manifest.mediaId)) {
    await present()
    return new Response(null, { status: 304, headers: base })
  }

  const rangeHeader = headers.get('range')
  let range: { start: number, end: number } | undefined
  if (rangeHeader) {
    const parsed = rangeParser(size, rangeHeader, { combine: true })
    if (parsed === -1) {
      return new Response(JSON.stringify({ error: { code: 'range_not_satisfiable', message: `The range is outside the file (${size} bytes).` } }), {
        status: 416,
        headers: { ...base, 'Content-Type': 'application/json', 'Content-Range': `bytes */${size}` }
      })
    }
    // Malformed or several ranges: answer the whole file (RFC 9110 allows ignoring Range).
    if (parsed !== -2 && parsed.type === 'bytes' && parsed.length === 1) range = parsed[0]
  }

  const length = range ? range.end - range.start + 1 : size
  const responseHeaders: Record<string, string> = { ...base, 'Content-Length': String(length) }
  if (range) responseHeaders['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`
  const status = range ? 206 : 200
  if (c.req.method === 'HEAD' || length === 0) {
    await present()
    return new Response(null, { status, headers: responseHeaders })
  }
  const { outgoing } = c.env
  if (!outgoing) throw new AppError(501, 'not_supported', 'Media bytes are sent by the Node HTTP server only.')
  const release = limits.slots.take(c.get('clientAddress'))
  const blob = store.reader(manifest.mediaId)
  const buffers = [Buffer.allocUnsafeSlow(CHUNK_BYTES), Buffer.allocUnsafeSlow(CHUNK_BYTES)] as const
  const at = range ?? { start: 0, end: size - 1 }
  let firstRead: number
  try {
    // The head waits for the first read: bytes gone from the store get the 404 every door
    // gives a missing file (and the row is marked missing), not a 200 cut short.
    firstRead = await blob.readInto(buffers[0].subarray(0, Math.min(CHUNK_BYTES, length)), at.start)
  } catch (err) {
    release()
    await blob.close()
    if (err instanceof AppError && err.status === 404) opts.onMissing?.()
    throw err
  }
  // Hono adds its headers (X-Request-Id) only to the responses it writes itself.
  outgoing.writeHead(status, { ...responseHeaders, 'X-Request-Id': c.get('requestId') })
  void send(blob, buffers, firstRead, at, outgoing, limits.timeoutMs, opts.onSent).finally(release)
  return RESPONSE_ALREADY_SENT
}

/**
 * Bytes start..end of a blob on a response whose head is written; the first `firstRead` of them
 * are in buffers[0] already. A buffer is read into again only once its last write is done (Node
 * keeps a reference to a buffer until the socket has taken it). A client that goes away stops it;
 * a read that fails cuts the response (its length is promised); a client that takes no write for
 * `timeoutMs` is cut too, which lets go of the buffers.
 */
async function send (blob: BlobReader, buffers: readonly [Buffer, Buffer], firstRead: number, range: { start: number, end: number }, res: ServerResponse, timeoutMs: number, onSent?: (bytes: number) => void): Promise<void> {
  const gone = new Promise<undefined>(resolve => res.once('close', () => resolve(undefined)))
  // Pushed back by every write the client takes.
  const stalled = setTimeout(() => res.destroy(), timeoutMs)
  try {
    // The last write: settles with its error (never rejects, so nothing waits unhandled meanwhile).
    let written: Promise<Error | null | undefined> = Promise.resolve(undefined)
    const done = async (): Promise<void> => {
      const err = await written
      if (err) throw err
    }
    for (let at = range.start, turn = 0; at <= range.end; turn ^= 1) {
      const buffer = buffers[turn]!
      const bytesRead = at === range.start ? firstRead : await blob.readInto(buffer.subarray(0, Math.min(CHUNK_BYTES, range.end - at + 1)), at)
      if (bytesRead === 0) throw new Error(`the blob ends at byte ${at}, before the ${range.end + 1} its manifest promises`)
      at += bytesRead
      await done()
      if (res.destroyed) return
      written = Promise.race([gone, new Promise<Error | null | undefined>(resolve => {
        res.write(buffer.subarray(0, bytesRead), err => {
          if (!err) {
            stalled.refresh()
            onSent?.(bytesRead)
          }
          resolve(err)
        })
      })])
    }
    await done()
    res.end()
  } catch (err) {
    res.destroy(err as Error)
  } finally {
    clearTimeout(stalled)
    await blob.close()
  }
}
