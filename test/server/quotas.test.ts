/**
 * Per-key quotas: bytes of the distinct files a key has records for (QUOTA_BYTES_PER_KEY), how
 * many (QUOTA_FILES_PER_KEY), and pins (PINS_PER_KEY). Refused uploads store nothing; admins
 * have no limits of their own.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { after, test } from 'node:test'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { describeEachDatabase } from '../helpers/postgres.ts'
import { BOUNDARY, multipartBody } from '../helpers/multipart.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'
import { createUpload, head, sendFrom } from '../helpers/tus.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const KIB = 1024

// On both databases: PostgreSQL runs transactions side by side, so its quota checks are where races show.
describeEachDatabase('storage quotas', ({ newDatabase }) => {
  const servers: TestServer[] = []
  after(async () => { for (const s of servers) await s.destroy() })
  const start = async (env: Record<string, string>): Promise<TestServer> => {
    const s = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false', ...(await newDatabase()).env, ...env })
    servers.push(s)
    return s
  }
  const stored = async (s: TestServer, bytes: Uint8Array): Promise<boolean> =>
    await fs.stat(path.join(s.config.mediaDir, sha256(bytes))).then(() => true, () => false)
  const claim = async (s: TestServer, id: string, token: string): Promise<Response> => await fetch(`${s.url}/api/media/${id}/claim`, {
    method: 'POST',
    headers: { ...bearer(token), 'Content-Type': 'application/json' },
    body: JSON.stringify({ access_level: 'public' })
  })

  test('over QUOTA_BYTES_PER_KEY an upload gets 413 quota_exceeded saying what is used and allowed, and nothing is stored', async () => {
    const s = await start({ QUOTA_BYTES_PER_KEY: String(100 * KIB) })
    const alice = await signIn(s.url, await newIdentity())
    const first = randomBytesSeeded(60 * KIB, 900)
    const second = randomBytesSeeded(60 * KIB, 901)
    assert.equal((await upload(s.url, first, undefined, 'a.bin', undefined, alice)).status, 201)
    // The same bytes again are counted once: no new record, nothing more used.
    assert.equal((await upload(s.url, first, undefined, 'a.bin', undefined, alice)).status, 200)

    const refused = await upload(s.url, second, undefined, 'b.bin', undefined, alice)
    assert.equal(refused.status, 413)
    assert.equal(refused.body.error.code, 'quota_exceeded')
    assert.equal(refused.body.error.message, 'You store 60.0 KiB of 100.0 KiB allowed; this file needs 60.0 KiB more. Delete files or ask the operator.')
    assert.equal(await stored(s, second), false, 'the refused file left no blob')
    assert.equal((await fetch(`${s.url}/api/media/${sha256(second)}`)).status, 404)

    // Someone else's quota is their own; a file stored by another key counts for each key holding it.
    const bob = await signIn(s.url, await newIdentity())
    assert.equal((await upload(s.url, second, undefined, 'b.bin', undefined, bob)).status, 201)
    const claimed = await claim(s, sha256(first), bob)
    assert.equal(claimed.status, 413, 'a claim counts too')
    assert.equal((await claimed.json()).error.code, 'quota_exceeded')
    assert.equal(await stored(s, first), true, "a refused claim leaves the other owner's file alone")

    // Deleting frees the room.
    assert.equal((await fetch(`${s.url}/api/media/${sha256(first)}`, { method: 'DELETE', headers: bearer(alice) })).status, 204)
    assert.equal((await upload(s.url, second, undefined, 'b.bin', undefined, alice)).status, 201)
  })

  test('a file known to be too large is refused before its bytes are read (Content-Length, or the size field)', async () => {
    const s = await start({ QUOTA_BYTES_PER_KEY: String(1024 * KIB) })
    const token = await signIn(s.url, await newIdentity())
    // 2 MiB announced, 64 KiB sent: the answer comes without the rest of the body.
    const early = async (parts: Parameters<typeof multipartBody>[0], contentLength: number): Promise<{ status: number, body: any }> => {
      const body = multipartBody(parts)
      return await new Promise((resolve, reject) => {
        const req = http.request(`${s.url}/api/media/upload`, {
          method: 'POST',
          headers: { ...bearer(token), 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': contentLength }
        }, res => {
          let text = ''
          res.on('data', c => { text += c })
          res.on('end', () => { req.destroy(); resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }) })
        })
        req.on('error', reject)
        req.write(body.subarray(0, 64 * KIB))
      })
    }
    const big = randomBytesSeeded(2048 * KIB, 902)
    const byLength = await early([{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes: big, filename: 'big.bin' } }], 2048 * KIB + 1000)
    assert.equal(byLength.status, 413)
    assert.equal(byLength.body.error.code, 'quota_exceeded')
    // At least the Content-Length less room for the form's other parts.
    assert.equal(byLength.body.error.message, 'You store 0 bytes of 1.0 MiB allowed; this file needs 1.8 MiB more. Delete files or ask the operator.')
    // Chunked (no Content-Length): the size field, sent before the file, tells.
    const bySize = await new Promise<{ status: number, body: any }>((resolve, reject) => {
      const body = multipartBody([{ name: 'access_level', value: 'public' }, { name: 'size', value: String(big.length) }, { name: 'file', file: { bytes: big, filename: 'big.bin' } }])
      const req = http.request(`${s.url}/api/media/upload`, { method: 'POST', headers: { ...bearer(token), 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` } }, res => {
        let text = ''
        res.on('data', c => { text += c })
        res.on('end', () => { req.destroy(); resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }) })
      })
      req.on('error', reject)
      req.write(body.subarray(0, 64 * KIB))
    })
    assert.equal(bySize.status, 413)
    assert.equal(bySize.body.error.message, 'You store 0 bytes of 1.0 MiB allowed; this file needs 2.0 MiB more. Delete files or ask the operator.')
    assert.equal(await stored(s, big), false)
  })

  test('two uploads at once that fit only one at a time: one is stored, the other refused', async () => {
    const s = await start({ QUOTA_BYTES_PER_KEY: String(100 * KIB) })
    const token = await signIn(s.url, await newIdentity())
    const files = [randomBytesSeeded(60 * KIB, 903), randomBytesSeeded(60 * KIB, 904)]
    const answers = await Promise.all(files.map(async (bytes, i) => await upload(s.url, bytes, { access_level: 'public', size: String(bytes.length) }, `${i}.bin`, undefined, token)))
    assert.deepEqual(answers.map(a => a.status).sort(), [201, 413])
    const refused = files[answers.findIndex(a => a.status === 413)]!
    assert.equal(await stored(s, refused), false)
    const mine = await (await fetch(`${s.url}/api/media?owner=me`, { headers: bearer(token) })).json()
    assert.equal(mine.items.length, 1)
  })

  test('claims at once that each fit but not together: the record transaction lets one through', async () => {
    // The files come from an admin (no quota of their own).
    const adminKey = await newIdentity()
    const s = await start({ QUOTA_BYTES_PER_KEY: String(100 * KIB), ADMIN_PUBLIC_KEYS: adminKey.publicKey })
    const uploader = await signIn(s.url, adminKey)
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await upload(s.url, randomBytesSeeded(60 * KIB, 905 + i), undefined, `c${i}.bin`, undefined, uploader)).body.mediaId)
    // Private claims: each builds its own torrent between the first look at the quota and the record.
    const token = await signIn(s.url, await newIdentity())
    const statuses = await Promise.all(ids.map(async id => (await fetch(`${s.url}/api/media/${id}/claim`, {
      method: 'POST',
      headers: { ...bearer(token), 'Content-Type': 'application/json' },
      body: JSON.stringify({ access_level: 'private' })
    })).status))
    assert.deepEqual(statuses.filter(code => code === 201).length, 1, `answers: ${statuses.join(', ')}`)
    assert.deepEqual(statuses.filter(code => code === 413).length, 4)
  })

  test('QUOTA_FILES_PER_KEY: one file more gets 413 file_quota_exceeded; admins and anonymous uploads', async () => {
    const adminKey = await newIdentity()
    const s = await start({ QUOTA_FILES_PER_KEY: '2', ADMIN_PUBLIC_KEYS: adminKey.publicKey, ALLOW_ANONYMOUS_UPLOADS: 'true' })
    const token = await signIn(s.url, await newIdentity())
    for (let i = 0; i < 2; i++) assert.equal((await upload(s.url, randomBytesSeeded(1000, 910 + i), undefined, 'f.bin', undefined, token)).status, 201)
    const refused = await upload(s.url, randomBytesSeeded(1000, 912), undefined, 'f.bin', undefined, token)
    assert.equal(refused.status, 413)
    assert.equal(refused.body.error.code, 'file_quota_exceeded')
    assert.equal(refused.body.error.message, 'You have 2 files of 2 allowed; this would be one more. Delete files or ask the operator.')

    // Admins have no quota of their own.
    const admin = await signIn(s.url, adminKey)
    for (let i = 0; i < 3; i++) assert.equal((await upload(s.url, randomBytesSeeded(1000, 920 + i), undefined, 'f.bin', undefined, admin)).status, 201)
    // Anonymous uploads share one quota, the owner ''.
    for (let i = 0; i < 2; i++) assert.equal((await upload(s.url, randomBytesSeeded(1000, 930 + i))).status, 201)
    assert.equal((await upload(s.url, randomBytesSeeded(1000, 932))).body.error.code, 'file_quota_exceeded')
  })

  test('resumable uploads: refused at creation when they would not fit beside what the key stores and has unfinished; checked again when they finish', async () => {
    const s = await start({ QUOTA_BYTES_PER_KEY: String(100 * KIB) })
    const token = await signIn(s.url, await newIdentity())
    const late = randomBytesSeeded(60 * KIB, 940)
    const created = await createUpload(s.url, token, late.length)
    assert.equal(created.res.status, 201)
    const second = await createUpload(s.url, token, 60 * KIB)
    assert.equal(second.res.status, 413)
    assert.equal((await second.res.json()).error.message, 'You store 0 bytes, plus 60.0 KiB in 1 unfinished upload, of 100.0 KiB allowed; this file needs 60.0 KiB more. Delete files or ask the operator.')

    // Meanwhile a plain upload takes the room; the resumable one is refused as it completes.
    assert.equal((await upload(s.url, randomBytesSeeded(60 * KIB, 941), undefined, 'x.bin', undefined, token)).status, 201)
    const finished = await sendFrom(created.url, token, late, 0)
    assert.equal(finished.status, 413)
    assert.equal((await finished.json()).error.code, 'quota_exceeded')
    assert.equal(await stored(s, late), false)
    assert.equal((await head(created.url, token)).status, 404, 'the upload is over: it must start again')
  })
})

describeEachDatabase('pins per key', ({ newDatabase }) => {
  let server: TestServer | undefined
  after(async () => { await server?.destroy() })

  test('one key with many claims cannot take all the pin slots: PINS_PER_KEY, admins exempt', async () => {
    const adminKey = await newIdentity()
    // Seven pin slots (half of 14), two per key.
    server = await startTestServer({ SEED_MAX_ACTIVE: '14', PINS_PER_KEY: '2', ADMIN_PUBLIC_KEYS: adminKey.publicKey, ALLOW_ANONYMOUS_UPLOADS: 'false', ...(await newDatabase()).env })
    const s = server
    const uploader = await signIn(s.url, await newIdentity())
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await upload(s.url, randomBytesSeeded(5000, 950 + i), undefined, `p${i}.bin`, undefined, uploader)).body.mediaId)
    const pin = async (id: string, token: string, method = 'PUT'): Promise<Response> => await fetch(`${s.url}/api/media/${id}/pin`, { method, headers: bearer(token) })

    // Claims are free; pins are not.
    const mallory = await signIn(s.url, await newIdentity())
    for (const id of ids) {
      assert.equal((await fetch(`${s.url}/api/media/${id}/claim`, { method: 'POST', headers: { ...bearer(mallory), 'Content-Type': 'application/json' }, body: JSON.stringify({ access_level: 'public' }) })).status, 201)
    }
    const statuses = await Promise.all(ids.map(async id => (await pin(id, mallory)).status))
    assert.deepEqual(statuses.filter(code => code === 200).length, 2, `answers: ${statuses.join(', ')}`)
    const pinnedByMallory = ids.filter((_, i) => statuses[i] === 200)
    const others = ids.filter((_, i) => statuses[i] !== 200)
    const refused = await pin(others[0]!, mallory)
    assert.equal(refused.status, 409)
    const error = (await refused.json()).error
    assert.equal(error.code, 'key_pin_limit')
    assert.equal(error.message, 'You have pinned 2 of the 2 files a key may pin (PINS_PER_KEY). Unpin one first, or ask the operator.')
    assert.equal((await pin(pinnedByMallory[0]!, mallory)).status, 200, 'pinning a pinned file again is no new pin')

    // The other slots are still there for everyone else.
    assert.equal((await pin(others[0]!, uploader)).status, 200)
    const admin = await signIn(s.url, adminKey)
    const own: string[] = []
    for (let i = 0; i < 3; i++) own.push((await upload(s.url, randomBytesSeeded(5000, 960 + i), undefined, `a${i}.bin`, undefined, admin)).body.mediaId)
    for (const id of own) assert.equal((await pin(id, admin)).status, 200, 'admins pin past PINS_PER_KEY')

    // Unpinning gives the key its allowance back.
    assert.equal((await pin(pinnedByMallory[0]!, mallory, 'DELETE')).status, 200)
    assert.equal((await pin(others[1]!, mallory)).status, 200)
  })
})
