/** /api/records/:id/arweave: the owner's signed data item of a public record (sent, read back for Verify), and Retry. */
import { Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { AppError, badRequest } from '../../shared/errors.ts'
import type { AppEnv } from '../app.ts'
import type { ArweavePublishing } from '../publishing/arweavePublishing.ts'

// A record's item: its OIP text (a record is at most ~100 KiB of JSON), the tags and the header.
const MAX_ITEM = 256 * 1024

/** `verifyReads`: reading an item back waits on the gateway, so it is limited per client address. */
export function arweaveRoutes (publishing: ArweavePublishing, verifyReads: MiddlewareHandler<AppEnv>): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  app.post('/:id/arweave', bodyLimit({
    maxSize: MAX_ITEM,
    onError: () => { throw new AppError(413, 'too_large', `A record's data item is at most ${MAX_ITEM / 1024} KiB.`) }
  }), async c => {
    if (c.req.header('content-type')?.split(';')[0]?.trim() !== 'application/octet-stream') {
      throw badRequest('bad_content_type', 'Send the signed data item\'s raw bytes with Content-Type: application/octet-stream.')
    }
    const item = new Uint8Array(await c.req.arrayBuffer())
    const { status, publication } = await publishing.submit(c.get('caller'), c.req.param('id'), item)
    return c.json({ publication }, status)
  })

  app.get('/:id/arweave', verifyReads, async c => c.json(await publishing.readBack(c.get('caller'), c.req.param('id'))))

  app.post('/:id/arweave/retry', async c => c.json({ publication: await publishing.retry(c.get('caller'), c.req.param('id')) }, 202))

  return app
}
