/** Hand-built multipart requests over node:http, for the cases fetch cannot make (chunked, aborted, odd forms). */
import http from 'node:http'

export interface Part {
  name: string
  value?: string
  /** A file part: its bytes and file name. */
  file?: { bytes: Uint8Array, filename: string, type?: string }
}

export const BOUNDARY = '----oiptestboundary7MA4YWxkTrZu0gW'

export function partHead (part: Part): string {
  if (part.file) {
    return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.file.filename}"\r\n` +
      `Content-Type: ${part.file.type ?? 'application/octet-stream'}\r\n\r\n`
  }
  return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n`
}

export function multipartBody (parts: Part[]): Buffer {
  const chunks: Buffer[] = []
  for (const part of parts) {
    chunks.push(Buffer.from(partHead(part)))
    chunks.push(part.file ? Buffer.from(part.file.bytes) : Buffer.from(part.value ?? ''))
    chunks.push(Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`))
  return Buffer.concat(chunks)
}

export interface RawResponse { status: number, headers: http.IncomingHttpHeaders, body: any }

/**
 * POST a body to the upload route, as curl -F does. `chunked` sends it without Content-Length;
 * `chunkSize` writes it in pieces, waiting for the server to take each one; `headers` go with it
 * (a session's Authorization).
 */
export function postUpload (baseUrl: string, body: Buffer, opts: { chunked?: boolean, contentType?: string, chunkSize?: number, headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const url = new URL('/api/media/upload', baseUrl)
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { ...opts.headers, 'Content-Type': opts.contentType ?? `multipart/form-data; boundary=${BOUNDARY}` }
    if (!opts.chunked) headers['Content-Length'] = body.length
    const req = http.request(url, { method: 'POST', headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        let parsed: unknown = text
        try { parsed = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed })
      })
    })
    // The server may answer (413) and close before the whole body is sent; that is the point.
    req.on('error', reject)
    const size = opts.chunkSize ?? body.length
    let offset = 0
    const writeMore = (): void => {
      while (offset < body.length) {
        const slice = body.subarray(offset, offset + size)
        offset += slice.length
        if (!req.write(slice)) return void req.once('drain', writeMore)
      }
      req.end()
    }
    writeMore()
  })
}

/** Send the first `sendBytes` of a body that announces more, then cut the connection. */
export function abortedUpload (baseUrl: string, body: Buffer, sendBytes: number): Promise<void> {
  const url = new URL('/api/media/upload', baseUrl)
  return new Promise(resolve => {
    const req = http.request(url, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length }
    })
    req.on('error', () => resolve())
    req.write(body.subarray(0, sendBytes), () => {
      setTimeout(() => { req.destroy(); resolve() }, 100)
    })
  })
}
