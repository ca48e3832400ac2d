/** GET /api/network: which networks this server publishes records to (shared/publication.ts NetworkInfo). */
import { Hono } from 'hono'
import type { NetworkInfo } from '../../shared/publication.ts'
import type { AppEnv } from '../app.ts'

export function networkRoutes (info: NetworkInfo): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.get('/', c => c.json(info))
  return app
}
