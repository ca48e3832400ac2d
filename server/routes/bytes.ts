/**
 * Byte responses for stored media: single Range (incl. suffix and open end), 416 when it cannot
 * be satisfied, ETag = mediaId, and headers that stop a browser from running uploaded content
 * on this origin (nosniff, a sandboxing CSP, attachment for anything that is not plain media).
 */
import { Readable, Transform } from 'node:stream'
import { create as contentDisposition } from 'content-disposition'
import rangeParser from 'range-parser'
import type { MediaManifest } from '../../shared/media.ts'
import type { BlobStore } from '../storage/blobStore.ts'

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
    // Content-addressed: the bytes behind an id never change. Private bytes stay out of shared caches.
    'Cache-Control': isPrivate ? 'private, no-store' : 'public, max-age=31536000, immutable',
    // Web seeds and players on other origins fetch ranges too.
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': 'Content-Range, Content-Length, ETag, Accept-Ranges'
  }
}

export function bytesResponse (store: BlobStore, manifest: MediaManifest, method: string, headers: Headers, opts: { private: boolean, onSent?: (bytes: number) => void }): Response {
  const base = mediaHeaders(manifest, opts.private)
  const size = manifest.fileSize
  if (headers.get('if-none-match')?.includes(manifest.mediaId)) return new Response(null, { status: 304, headers: base })

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
  if (method === 'HEAD') return new Response(null, { status, headers: responseHeaders })
  const source = store.createReadStream(manifest.mediaId, range ?? { start: 0, end: size - 1 })
  // Count what actually leaves (a client that stops early is not counted for the rest).
  const counted = opts.onSent ? source.pipe(new Transform({ transform (chunk: Buffer, _e, cb) { opts.onSent!(chunk.length); cb(null, chunk) } })) : source
  source.once('error', err => counted.destroy(err))
  return new Response(Readable.toWeb(counted) as ReadableStream, { status, headers: responseHeaders })
}
