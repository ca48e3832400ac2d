/** /api/auth: sign in by signing a challenge with your key. */
import { Hono, type MiddlewareHandler } from 'hono'
import type { AppEnv } from '../app.ts'
import type { AuthService } from '../auth/authService.ts'
import { readJson } from './json.ts'

/** `challengeLimit`: how often one address may ask for a challenge (each is kept until it expires). */
export function authRoutes (auth: AuthService, challengeLimit: MiddlewareHandler<AppEnv>): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.post('/challenge', challengeLimit, async c => c.json(await auth.challenge()))
  app.post('/verify', async c => c.json(await auth.verify(await readJson(c))))
  return app
}
