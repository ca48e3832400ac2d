/** /api/me: what the signed-in key has on this server. */
import { Hono } from 'hono'
import type { AppEnv } from '../app.ts'
import type { MediaService } from '../media/mediaService.ts'

export function meRoutes (media: MediaService): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.get('/usage', async c => c.json(await media.usage(c.get('caller'))))
  return app
}
