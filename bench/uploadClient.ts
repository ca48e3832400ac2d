/** What the upload benches send: large test files, and one streamed multipart upload of a file from disk. */
import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import type net from 'node:net'
import { MiB, now } from './serverProcess.ts'

const BLOCK = 16 * MiB

/** Pseudo-random bytes, fast: one random 16 MiB block, each copy stamped with its index. */
export async function writeTestFile (file: string, size: number): Promise<void> {
  const block = randomBytes(BLOCK)
  const handle = await fs.open(file, 'w')
  try {
    for (let offset = 0, i = 0; offset < size; offset += BLOCK, i++) {
      // Change the first bytes of every block (and a few further in) so no two blocks are equal.
      for (let k = 0; k < BLOCK; k += MiB) block.writeUInt32BE(i, k)
      const n = Math.min(BLOCK, size - offset)
      await handle.write(block, 0, n, offset)
    }
    // On disk before anything is measured: write-back of this file must not compete with the uploads.
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export interface UploadResult {
  status: number
  body: string
  /** From the first byte written to the full response. */
  ms: number
  /** From the first byte written until the last body byte was handed to the kernel. */
  sendMs: number
}

/**
 * One streamed multipart upload: field first, then the file piped from disk, exact Content-Length.
 * An https `base` is called trusting `ca` (a proxy's test certificate).
 */
export function upload (base: string, file: string, size: number, ca?: Buffer): Promise<UploadResult> {
  const boundary = `----oip-bench-${randomBytes(12).toString('hex')}`
  const preamble = Buffer.from(
    `--${boundary}\r\n` +
    'Content-Disposition: form-data; name="access_level"\r\n\r\n' +
    'public\r\n' +
    `--${boundary}\r\n` +
    'Content-Disposition: form-data; name="file"; filename="bench.bin"\r\n' +
    'Content-Type: application/octet-stream\r\n\r\n'
  )
  const epilogue = Buffer.from(`\r\n--${boundary}--\r\n`)
  const contentLength = preamble.length + size + epilogue.length
  const url = `${base}/api/media/upload`
  const options = {
    method: 'POST',
    headers: {
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
      'Content-Length': String(contentLength)
    }
  }

  return new Promise((resolve, reject) => {
    let start = 0
    let sentAt = 0
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        body: Buffer.concat(chunks).toString('utf8'),
        ms: now() - start,
        sendMs: (sentAt || now()) - start
      }))
      res.on('error', reject)
    }
    const req = url.startsWith('https:') ? https.request(url, { ...options, ca }, onResponse) : http.request(url, options, onResponse)
    req.on('error', reject)
    req.on('finish', () => { sentAt = now() })
    req.on('socket', socket => {
      const go = (): void => {
        start = now()
        req.write(preamble)
        const src = createReadStream(file, { highWaterMark: MiB })
        src.on('error', err => req.destroy(err))
        src.on('end', () => req.end(epilogue))
        src.pipe(req, { end: false })
      }
      if ((socket as net.Socket).connecting) socket.once('connect', go)
      else go()
    })
  })
}
