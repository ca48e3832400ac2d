/** /api/seeder: the seed's getStats(), and the seeding limits (changed only by an admin key). */
import { Hono } from 'hono'
import { AppError, badRequest } from '../../shared/errors.ts'
import type { AppEnv } from '../app.ts'
import type { MediaSeeder, SeedLimits } from '../seeder/mediaSeeder.ts'
import { readJson } from './json.ts'

function limit (body: Record<string, unknown>, key: 'upload' | 'download'): number | undefined {
  const v = body[key]
  if (v === null || v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw badRequest('bad_limit', `"${key}" must be bytes per second (a whole number ≥ 1), or null for no limit.`)
  return v
}

export function seederRoutes (seeder: MediaSeeder, adminKeys: string[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  // Admins see every torrent counted; anyone else only public ones.
  app.get('/stats', async c => {
    const scope = adminKeys.includes(c.get('caller') ?? '') ? 'all' : 'public'
    return c.json({ ...await seeder.getStats(scope), limits: seeder.seedLimits, trackers: seeder.trackerStates(scope), topFiles: await seeder.topFiles(10) })
  })
  app.put('/limits', async c => {
    const caller = c.get('caller')
    if (caller === undefined) throw new AppError(401, 'login_required', 'Sign in with an admin key to change the limits.')
    if (!adminKeys.includes(caller)) throw new AppError(403, 'not_admin', 'Only the keys in ADMIN_PUBLIC_KEYS may change the seeding limits.')
    const body = await readJson(c)
    const limits: SeedLimits = {}
    const upload = limit(body, 'upload')
    const download = limit(body, 'download')
    if (upload !== undefined) limits.upload = upload
    if (download !== undefined) limits.download = download
    seeder.setLimits(limits)
    return c.json({ limits: seeder.seedLimits })
  })
  return app
}
