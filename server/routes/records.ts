/** /api/records: thin HTTP mapping onto OipRecordService. */
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from '../app.ts'
import type { OipRecordService } from '../records/oipRecordService.ts'
import { readJson } from './json.ts'
import { pageLimit } from './paging.ts'

// The largest valid record, every character JSON-escaped, stays below this (~100 KiB).
const MAX_BODY = 128 * 1024

export function recordRoutes (records: OipRecordService): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  // A record is small: refuse a large body before it is read into memory.
  app.post('/', bodyLimit({
    maxSize: MAX_BODY,
    onError: () => { throw new AppError(413, 'too_large', `A record must be at most ${MAX_BODY / 1024} KiB of JSON.`) }
  }), async c => {
    const { status, record } = await records.create(c.get('caller'), await readJson(c))
    return c.json(record, status)
  })

  // The search's parameters are recordSearch.ts's to check; others are ignored, as the origin does.
  app.get('/', async c => {
    const query = c.req.query()
    return c.json(await records.list(c.get('caller'), { ...query, limit: pageLimit(query.limit) }))
  })

  app.get('/:id', async c => c.json(await records.get(c.req.param('id'), c.get('caller'))))

  return app
}
