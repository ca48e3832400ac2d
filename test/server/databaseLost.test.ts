/**
 * PostgreSQL going away under a running server: it says so on /readyz, answers requests with an
 * error instead of hanging, and still stops (what it could not write at shutdown is logged).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { postgresUnavailable, startPostgres } from '../helpers/postgres.ts'
import { startTestServer, upload } from '../helpers/server.ts'

const unavailable = postgresUnavailable()

test('a server whose PostgreSQL went away reports it, refuses uploads, and still stops', { skip: unavailable && `PostgreSQL tests skipped: ${unavailable}`, timeout: 60_000 }, async () => {
  const pg = await startPostgres()
  assert.ok(pg)
  const server = await startTestServer({ DATABASE_URL: await pg.newDatabase() })
  try {
    assert.equal((await upload(server.url, new Uint8Array(1000).fill(7))).status, 201)
    await pg.stop({ fast: true })
    const ready = await fetch(`${server.url}/readyz`)
    assert.equal(ready.status, 503)
    assert.equal((await ready.json()).checks.database.ok, false)
    assert.ok((await upload(server.url, new Uint8Array(1000).fill(8))).status >= 500)
  } finally {
    await server.destroy()
  }
})
