/**
 * /api/seeder: the seed's getStats(), its last hour (history), the bytes each file sent since
 * start (files), and the seeding limits (changed only by an admin key).
 */
import { Hono } from 'hono'
import { AppError, badRequest } from '../../shared/errors.ts'
import type { AccessPolicy } from '../access/accessPolicy.ts'
import type { AppEnv } from '../app.ts'
import type { MediaService } from '../media/mediaService.ts'
import type { StatsHistory } from '../ops/statsHistory.ts'
import type { MediaSeeder, SeedLimits } from '../seeder/mediaSeeder.ts'
import { readJson } from './json.ts'
import { pageLimit } from './paging.ts'

function limit (body: Record<string, unknown>, key: 'upload' | 'download'): number | undefined {
  const v = body[key]
  if (v === null || v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw badRequest('bad_limit', `"${key}" must be bytes per second (a whole number ≥ 1), or null for no limit.`)
  return v
}

export function seederRoutes (seeder: MediaSeeder, access: AccessPolicy, media: MediaService, history: StatsHistory): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  // Admins see every torrent counted; anyone else only public ones.
  app.get('/stats', async c => {
    const scope = access.statsScope(c.get('caller'))
    return c.json({ ...await seeder.getStats(scope), limits: seeder.seedLimits, trackers: seeder.trackerStates(scope), topFiles: await seeder.topFiles(10) })
  })
  // The same counts over time, in the same scope.
  app.get('/history', c => c.json(history.view(access.statsScope(c.get('caller')))))
  // Public files' counts for anyone, a private file's for its owner only.
  app.get('/files', async c => c.json({ since: seeder.served.since, files: await media.servedFiles(c.get('caller'), pageLimit(c.req.query('limit'))) }))
  app.put('/limits', async c => {
    const caller = c.get('caller')
    if (caller === undefined) throw new AppError(401, 'login_required', 'Sign in with an admin key to change the limits.')
    if (!access.isAdmin(caller)) throw new AppError(403, 'not_admin', 'Only the keys in ADMIN_PUBLIC_KEYS may change the seeding limits.')
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
