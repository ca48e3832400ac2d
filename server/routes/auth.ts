/** /api/auth: sign in by signing a challenge with your key. */
import { Hono } from 'hono'
import type { AppEnv } from '../app.ts'
import type { AuthService } from '../auth/authService.ts'
import { readJson } from './json.ts'

export function authRoutes (auth: AuthService): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.post('/challenge', c => c.json(auth.challenge()))
  app.post('/verify', async c => c.json(await auth.verify(await readJson(c))))
  return app
}
