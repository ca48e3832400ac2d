import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import bencode from 'bencode'
import { fillCatalog } from '../../bench/fillCatalog.ts'
import { SeedRepository } from '../../server/catalog/seedRepository.ts'
import { openDatabase, type Database } from '../../server/db/database.ts'
import type { Schema } from '../../server/db/schema.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload } from '../helpers/server.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const openIn = async (dir: string): Promise<Database> => await openDatabase({ sqliteFile: path.join(dir, 'data', 'db.sqlite') })

/** Columns that hold when or in which order a row was written, not what it says. */
const WHEN: Partial<Record<keyof Schema, string[]>> = {
  blobs: ['listed_at', 'published_at', 'created_at'],
  media_records: ['id', 'created_at'],
  seeds: ['ranked_at']
}
const TABLES: Array<keyof Schema> = ['blobs', 'media_records', 'seeds', 'oip_records', 'auth_challenges', 'catalog_meta']

/** Every row of every catalogue table, without the time columns. */
async function contents (database: Database): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {}
  for (const table of TABLES) {
    const rows = await database.db.selectFrom(table).selectAll().execute() as Array<Record<string, unknown>>
    out[table] = rows.map(r => Object.fromEntries(Object.entries(r).filter(([k]) => !WHEN[table]?.includes(k)).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v])))
  }
  // Counts are spread over shards at random: their sums.
  for (const kind of ['public', 'private'] as const) out[`${kind} seeds`] = [await new SeedRepository(database.db, database.dialect).count(kind)]
  return out
}

/** A stored folder: its file names, bytes, manifest without its times and trackers, and the torrent's info dict. */
async function folder (mediaDir: string, mediaId: string): Promise<unknown> {
  const dir = path.join(mediaDir, mediaId)
  const { createdAt, magnetURI, ...manifest } = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>
  const torrent = bencode.decode(await fs.readFile(path.join(dir, 'torrent'))) as { info: unknown }
  return {
    files: (await fs.readdir(dir)).sort(),
    original: sha256(await fs.readFile(path.join(dir, 'original'))),
    manifest,
    createdAt: typeof createdAt,
    magnet: String(magnetURI).startsWith(`magnet:?xt=urn:btih:${String(manifest.infoHash)}`),
    info: Buffer.from(bencode.encode(torrent.info)).toString('hex')
  }
}

describe('the benchmarks\' fast fill', () => {
  const dirs: string[] = []
  after(async () => { for (const d of dirs) await fs.rm(d, { recursive: true, force: true }) })
  const dir = async (): Promise<string> => { const d = await tempDir(); dirs.push(d); return d }

  test('writes the folder and the rows a public upload of the same bytes leaves', async () => {
    const bytes = randomBytesSeeded(40_000, 19)
    const uploaded = await dir()
    const server = await startTestServer({}, { dir: uploaded })
    const answer = await upload(server.url, bytes, { access_level: 'public' }, 'file-0.bin')
    assert.equal(answer.status, 201)
    await server.close()

    const filled = await dir()
    const fillDb = await openIn(filled)
    const [sampled] = await fillCatalog({ database: fillDb, mediaDir: path.join(filled, 'media'), files: 1, bytesOf: () => bytes, sample: 1 })
    assert.ok(sampled)
    assert.equal(sampled.mediaId, answer.body.mediaId)

    const uploadDb = await openIn(uploaded)
    const expected = await contents(uploadDb)
    assert.equal(expected.blobs!.length, 1)
    assert.deepEqual(await contents(fillDb), expected)
    // The time columns are set as an upload's: the file listed when published, wanted since.
    const times = async (database: Database): Promise<unknown> => {
      const b = await database.db.selectFrom('blobs').select(['listed_at', 'published_at']).executeTakeFirstOrThrow()
      const s = await database.db.selectFrom('seeds').select('ranked_at').executeTakeFirstOrThrow()
      return { listedWhenPublished: Math.abs(Number(b.listed_at) - Number(b.published_at)) < 1000, wantedWhenListed: Math.abs(Number(s.ranked_at) - Number(b.listed_at)) < 1000 }
    }
    assert.deepEqual(await times(fillDb), await times(uploadDb))
    await uploadDb.close()
    await fillDb.close()
    assert.deepEqual(await folder(path.join(filled, 'media'), sampled.mediaId), await folder(path.join(uploaded, 'media'), sampled.mediaId))
  })

  test('a server over a fill of several transactions serves and lists every file', async () => {
    const files = 1100
    const filled = await dir()
    const database = await openIn(filled)
    const sample = await fillCatalog({ database, mediaDir: path.join(filled, 'media'), files, bytesOf: i => randomBytesSeeded(300, i + 1), sample: 5 })
    await database.close()
    assert.equal(new Set(sample.map(f => f.mediaId)).size, 5)

    const server = await startTestServer({ SEED_MAX_ACTIVE: '10' }, { dir: filled })
    try {
      assert.equal((await server.seeder.getStats()).seedingCount, files)
      for (const file of sample) {
        const res = await fetch(`${server.url}/api/media/${file.mediaId}`)
        assert.equal(sha256(new Uint8Array(await res.arrayBuffer())), file.mediaId)
        const info = await (await fetch(`${server.url}/api/media/${file.mediaId}/info`)).json() as { originalName: string, fileSize: number }
        assert.deepEqual({ name: info.originalName, size: info.fileSize }, { name: file.name, size: file.fileSize })
      }
      // The newest file (the last filled) heads the public listing.
      const page = await (await fetch(`${server.url}/api/media?limit=1`)).json() as { items: Array<{ originalName: string }> }
      assert.equal(page.items[0]?.originalName, `file-${files - 1}.bin`)
    } finally {
      await server.close()
    }
  })
})
