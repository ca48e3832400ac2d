/** /api/media: thin HTTP mapping onto MediaService. */
import { Readable } from 'node:stream'
import { create as contentDisposition } from 'content-disposition'
import { Hono } from 'hono'
import type { MediaService } from '../media/mediaService.ts'
import type { BlobStore } from '../storage/blobStore.ts'
import type { AppEnv } from '../app.ts'
import { bytesResponse } from './bytes.ts'

export function mediaRoutes (media: MediaService, store: BlobStore): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  app.post('/upload', async c => {
    // On Node read the socket directly; elsewhere (app.request in tests) the web stream.
    const incoming = c.env?.incoming
    const body = incoming ?? Readable.fromWeb((c.req.raw.body ?? new ReadableStream()) as never)
    const length = c.req.header('content-length')
    try {
      const { status, result } = await media.upload({
        body,
        contentType: c.req.header('content-type'),
        contentLength: length === undefined ? undefined : Number(length)
      })
      return c.json(result, status)
    } catch (err) {
      // The rest of a refused body is not worth reading: close the connection after the answer.
      c.header('Connection', 'close')
      throw err
    }
  })

  app.get('/:id/info', async c => c.json(await media.info(c.req.param('id'))))

  app.get('/:id/torrent', async c => {
    const { manifest, torrentFile } = await media.torrent(c.req.param('id'))
    return c.body(torrentFile as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': 'application/x-bittorrent',
      'Content-Disposition': contentDisposition(`${manifest.originalName}.torrent`),
      'Access-Control-Allow-Origin': '*'
    })
  })

  // GET also answers HEAD (Hono routes HEAD to GET handlers).
  app.get('/:id', async c => {
    const manifest = await media.readable(c.req.param('id'))
    return bytesResponse(store, manifest, c.req.method, c.req.raw.headers)
  })

  return app
}
