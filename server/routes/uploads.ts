/**
 * /api/uploads: the tus 1.0.0 resumable upload protocol (core, creation, termination,
 * expiration) mapped onto ResumableUploads. GET on an upload also answers its JSON status,
 * with the published file's fields once it is complete.
 */
import { Hono, type Context } from 'hono'
import { AppError, badRequest } from '../../shared/errors.ts'
import type { AppEnv } from '../app.ts'
import type { ResumableUploads, UploadStatus } from '../upload/resumable.ts'
import { closeIfBodyRefused, requestBody } from './body.ts'

const TUS_VERSION = '1.0.0'

function statusHeaders (c: Context<AppEnv>, st: UploadStatus): void {
  c.header('Upload-Offset', String(st.offset))
  c.header('Upload-Length', String(st.length))
  c.header('Upload-Expires', new Date(st.expiresAt).toUTCString())
  c.header('Cache-Control', 'no-store')
}

export function uploadRoutes (uploads: ResumableUploads, maxUploadBytes: number): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  app.use('*', async (c, next) => {
    c.header('Tus-Resumable', TUS_VERSION)
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

  app.post('/', async c => {
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
  app.get('/:id', c => {
    const st = uploads.status(c.req.param('id'), c.get('caller'))
    statusHeaders(c, st)
    return c.json(st)
  })

  app.patch('/:id', async c => {
    try {
      if (!/^application\/offset\+octet-stream\b/i.test(c.req.header('content-type') ?? '')) {
        throw new AppError(415, 'unsupported_media_type', 'Send the bytes with "Content-Type: application/offset+octet-stream".')
      }
      const offset = c.req.header('upload-offset')
      if (offset === undefined || !/^\d+$/.test(offset)) throw badRequest('bad_upload_offset', 'Send the byte offset the body starts at in Upload-Offset (ask with HEAD).')
      const length = c.req.header('content-length')
      const st = await uploads.append(c.req.param('id'), c.get('caller'), Number(offset), requestBody(c), length === undefined ? undefined : Number(length))
      statusHeaders(c, st)
      // The byte that completed the file: answer with the published file, like POST /api/media/upload.
      return st.result ? c.json(st.result, 200) : c.body(null, 204)
    } catch (err) {
      closeIfBodyRefused(c, err)
      throw err
    }
  })

  app.delete('/:id', async c => {
    await uploads.terminate(c.req.param('id'), c.get('caller'))
    return c.body(null, 204)
  })

  return app
}
