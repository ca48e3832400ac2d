/** /api/records/:id/gun (the owner's sealed node of a private record, and Retry) and GET /api/gun (a soul's node on the relays). */
import { Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { AppError } from '../../shared/errors.ts'
import { MAX_GUN_CIPHERTEXT } from '../../shared/gunRecord.ts'
import type { AppEnv } from '../app.ts'
import type { GunPublishing } from '../publishing/gunPublishing.ts'
import { readJson } from './json.ts'

// The soul, the nonce and the largest ciphertext, in JSON.
const MAX_BODY = MAX_GUN_CIPHERTEXT + 1024

export function gunRecordRoutes (publishing: GunPublishing): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  app.post('/:id/gun', bodyLimit({
    maxSize: MAX_BODY,
    onError: () => { throw new AppError(413, 'too_large', `A record's sealed node is at most ${Math.floor(MAX_BODY / 1024)} KiB of JSON.`) }
  }), async c => {
    const { status, publication } = await publishing.submit(c.get('caller'), c.req.param('id'), await readJson(c))
    return c.json({ publication }, status)
  })

  app.post('/:id/gun/retry', async c => c.json({ publication: await publishing.retry(c.get('caller'), c.req.param('id')) }, 202))

  return app
}

/** `perAddress`: each read waits on the relays (up to their timeout), so reads are limited per client address. */
export function gunNodeRoutes (publishing: GunPublishing, perAddress: MiddlewareHandler<AppEnv>): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.get('/', perAddress, async c => c.json(await publishing.read(c.get('caller'), c.req.query('soul') ?? '')))
  return app
}
