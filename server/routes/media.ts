/** /api/media: thin HTTP mapping onto MediaService. */
import { create as contentDisposition } from 'content-disposition'
import { Hono, type MiddlewareHandler } from 'hono'
import type { AppEnv } from '../app.ts'
import type { MediaService } from '../media/mediaService.ts'
import type { Metrics } from '../ops/metrics.ts'
import type { BlobStore } from '../storage/blobStore.ts'
import { requestBody, closeIfBodyRefused } from './body.ts'
import { bytesResponse, PUBLIC_CACHE, type SendLimits } from './bytes.ts'
import { readJson, readOptionalJson } from './json.ts'
import { decodeCursor } from '../catalog/listingCursor.ts'
import { MAX_QUERY, queryText } from '../catalog/textQuery.ts'
import { pageLimit } from './paging.ts'
import { badRequest } from '../../shared/errors.ts'

/** `sending` bounds the byte responses; `uploadStartLimit` is how often one address may start an upload. */
export function mediaRoutes (media: MediaService, store: BlobStore, metrics: Metrics, sending: SendLimits, uploadStartLimit: MiddlewareHandler<AppEnv>): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  // WebTorrent's web seed names itself in its user agent (to /metrics; the file's own count is the view's).
  const counter = (userAgent: string | undefined, onSent: (bytes: number) => void) => (bytes: number): void => {
    metrics.bytesServed.inc({ transport: userAgent?.startsWith('WebTorrent/') ? 'webseed' : 'http' }, bytes)
    onSent(bytes)
  }

  const missing = (mediaId: string) => (): void => { media.bytesGone(mediaId) }

  app.post('/upload', uploadStartLimit, async c => {
    const caller = c.get('caller')
    try {
      // Refuse before reading a byte of the body when nobody could own the upload.
      media.checkUploader(caller)
      const length = c.req.header('content-length')
      const { status, result } = await media.upload({
        body: requestBody(c),
        contentType: c.req.header('content-type'),
        contentLength: length === undefined ? undefined : Number(length)
      }, caller)
      return c.json(result, status)
    } catch (err) {
      closeIfBodyRefused(c, err)
      throw err
    }
  })

  app.post('/:id/claim', async c => {
    const { status, result } = await media.claim(c.req.param('id'), c.get('caller'), await readJson(c))
    return c.json(result, status)
  })

  app.get('/', async c => {
    const limit = pageLimit(c.req.query('limit'))
    const cursor = c.req.query('cursor')
    const q = queryText(c.req.query('q'), 'q', MAX_QUERY)
    const page = { limit, ...(cursor !== undefined ? { cursor: decodeCursor(cursor) } : {}) }
    const shared = c.req.query('shared')
    if (shared !== undefined) {
      if (shared !== 'me') throw badRequest('bad_query', 'shared takes only "me": the files other keys share with you.')
      if (c.req.query('owner') !== undefined || q !== undefined) throw badRequest('bad_query', 'shared=me lists every file shared with you and takes only limit and cursor: leave out owner and q.')
      return c.json(await media.sharedWithMe(c.get('caller'), page))
    }
    return c.json(await media.list(c.get('caller'), { mine: c.req.query('owner') === 'me', ...page, ...(q !== undefined ? { q } : {}) }))
  })

  // The owner edits their record: name, description, tags, access level.
  app.patch('/:id', async c => c.json(await media.edit(c.req.param('id'), c.get('caller'), await readJson(c))))

  app.get('/:id/info', async c => c.json(await media.info(c.req.param('id'), c.get('caller'))))

  // Owners keep a file's torrent active in the seeder (pinned) or let it go idle when unwanted.
  app.put('/:id/pin', async c => c.json(await media.pin(c.req.param('id'), c.get('caller'), true)))
  app.delete('/:id/pin', async c => c.json(await media.pin(c.req.param('id'), c.get('caller'), false)))

  app.get('/:id/torrent', async c => {
    const id = c.req.param('id')
    const { manifest, torrentFile, private: isPrivate } = await media.torrent(id, c.get('caller'))
    // A public .torrent may be read from any page (a magnet's xs) and kept a day by a mirror;
    // a private one carries the owner's capabilities and is kept nowhere.
    const sharing: Record<string, string> = isPrivate
      ? { 'Cache-Control': 'private, no-store' }
      : { 'Cache-Control': PUBLIC_CACHE, 'Access-Control-Allow-Origin': '*' }
    return c.body(torrentFile as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': 'application/x-bittorrent',
      'Content-Disposition': contentDisposition(`${manifest.originalName}.torrent`),
      ...sharing
    })
  })

  // GET also answers HEAD (Hono routes HEAD to GET handlers). A HEAD sends no bytes, so it
  // wakes no idle torrent either.
  app.get('/:id', async c => {
    const { manifest, private: isPrivate, onSent } = await media.readable(c.req.param('id'), c.get('caller'), { wake: c.req.method !== 'HEAD' })
    return await bytesResponse(c, store, manifest, sending, { private: isPrivate, onSent: counter(c.req.header('user-agent'), onSent), onMissing: missing(manifest.mediaId) })
  })

  // A private torrent's web seed: WebTorrent sends no headers, so the capability is in the path.
  app.get('/:id/seed/:token', async c => {
    const { manifest, onSent } = await media.webseed(c.req.param('id'), c.req.param('token'), { wake: c.req.method !== 'HEAD' })
    return await bytesResponse(c, store, manifest, sending, { private: true, onSent: counter(c.req.header('user-agent'), onSent), onMissing: missing(manifest.mediaId) })
  })

  // An owner shares a private file with chosen keys, and revokes the shares.
  app.get('/:id/shares', async c => c.json(await media.listShares(c.req.param('id'), c.get('caller'))))
  app.put('/:id/shares/:publicKey', async c => c.json(await media.share(c.req.param('id'), c.get('caller'), c.req.param('publicKey'), await readOptionalJson(c))))
  app.delete('/:id/shares/:publicKey', async c => {
    await media.revokeShare(c.req.param('id'), c.get('caller'), c.req.param('publicKey'))
    return c.body(null, 204)
  })

  app.delete('/:id', async c => {
    await media.remove(c.req.param('id'), c.get('caller'))
    return c.body(null, 204)
  })

  return app
}
