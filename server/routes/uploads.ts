/**
 * /api/uploads: the tus 1.0.0 resumable upload protocol (core, creation, termination,
 * expiration) mapped onto ResumableUploads. Every successful PATCH answers 204, the one that
 * completes the file too: its mediaId is in a header, and GET on the upload answers its JSON
 * status, with the published file's fields once it is complete.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { AppError, badRequest } from '../../shared/errors.ts'
import type { AppEnv } from '../app.ts'
import type { ResumableUploads, UploadStatus } from '../upload/resumable.ts'
import { closeIfBodyRefused, requestBody } from './body.ts'

const TUS_VERSION = '1.0.0'
/** On the PATCH that published the file (and any later one): the file's id, for /api/media/:id. */
const MEDIA_ID_HEADER = 'OIP-Media-Id'

function statusHeaders (c: Context<AppEnv>, st: UploadStatus): void {
  c.header('Upload-Offset', String(st.offset))
  c.header('Upload-Length', String(st.length))
  c.header('Upload-Expires', new Date(st.expiresAt).toUTCString())
}

/** `startLimit`: how often one address may start an upload (creations; the PATCHes are not counted). */
export function uploadRoutes (uploads: ResumableUploads, maxUploadBytes: number, startLimit: MiddlewareHandler<AppEnv>): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  app.use('*', async (c, next) => {
    c.header('Tus-Resumable', TUS_VERSION)
    // An upload's state changes with every request: no answer may be cached, errors included.
    c.header('Cache-Control', 'no-store')
    // Requests that change an upload must name the version; HEAD and GET only look.
    if (['POST', 'PATCH', 'DELETE'].includes(c.req.method) && c.req.header('tus-resumable') !== TUS_VERSION) {
      c.header('Tus-Version', TUS_VERSION)
      throw new AppError(412, 'tus_version', `This server speaks tus ${TUS_VERSION}: send "Tus-Resumable: ${TUS_VERSION}".`)
    }
    await next()
  })

  app.options('/', c => {
    c.header('Tus-Version', TUS_VERSION)
    c.header('Tus-Extension', 'creation,termination,expiration')
    c.header('Tus-Max-Size', String(maxUploadBytes))
    return c.body(null, 204)
  })

  app.post('/', startLimit, async c => {
    if (c.req.header('upload-defer-length') !== undefined) {
      throw badRequest('defer_length_unsupported', 'Uploads of unknown length are not supported: send the file size in Upload-Length.')
    }
    if (Number(c.req.header('content-length') ?? 0) > 0) {
      throw badRequest('body_on_create', 'Create the upload with an empty body, then send the bytes with PATCH.')
    }
    const { id, ...st } = await uploads.create(c.get('caller'), c.req.header('upload-length'), c.req.header('upload-metadata'))
    statusHeaders(c, st)
    c.header('Location', `/api/uploads/${id}`)
    return c.body(null, 201)
  })

  // GET also answers HEAD (Hono routes HEAD to GET handlers and drops the body).
  app.get('/:id', async c => {
    const st = await uploads.status(c.req.param('id'), c.get('caller'))
    statusHeaders(c, st)
    return c.json(st)
  })

  const patch = async (c: Context<AppEnv>): Promise<Response> => {
    try {
      if (!/^application\/offset\+octet-stream\b/i.test(c.req.header('content-type') ?? '')) {
        throw new AppError(415, 'unsupported_media_type', 'Send the bytes with "Content-Type: application/offset+octet-stream".')
      }
      const offset = c.req.header('upload-offset')
      if (offset === undefined || !/^\d+$/.test(offset)) throw badRequest('bad_upload_offset', 'Send the byte offset the body starts at in Upload-Offset (ask with HEAD).')
      const length = c.req.header('content-length')
      const st = await uploads.append(c.req.param('id')!, c.get('caller'), Number(offset), requestBody(c), length === undefined ? undefined : Number(length))
      statusHeaders(c, st)
      // tus 1.0 allows only 204 here, so the published file is named by a header and GET gives all of it.
      if (st.result) c.header(MEDIA_ID_HEADER, st.result.mediaId)
      return c.body(null, 204)
    } catch (err) {
      const at = (err as { offset?: number }).offset
      if (at !== undefined) c.header('Upload-Offset', String(at))
      closeIfBodyRefused(c, err)
      throw err
    }
  }

  const terminate = async (c: Context<AppEnv>): Promise<Response> => {
    await uploads.terminate(c.req.param('id')!, c.get('caller'))
    return c.body(null, 204)
  }

  app.patch('/:id', patch)
  app.delete('/:id', terminate)
  // tus: a client that cannot send PATCH or DELETE POSTs with X-HTTP-Method-Override.
  app.post('/:id', async c => {
    const method = c.req.header('x-http-method-override')?.toUpperCase()
    if (method === 'PATCH') return await patch(c)
    if (method === 'DELETE') return await terminate(c)
    throw new AppError(405, 'method_not_allowed', 'Send the bytes with PATCH (or POST with "X-HTTP-Method-Override: PATCH"), end the upload with DELETE.')
  })

  return app
}
