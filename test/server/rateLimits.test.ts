/**
 * Per-address rate limits: sign-in challenges (CHALLENGES_PER_MINUTE) and upload starts
 * (UPLOAD_STARTS_PER_MINUTE: plain uploads and tus creations, not the PATCHes that send bytes).
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, describe, test } from 'node:test'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'
import { createUpload, published, sendFrom } from '../helpers/tus.ts'

/** A POST over a fresh connection from `localAddress` (another client, as the server sees it). */
function postFrom (url: string, localAddress: string, headers: Record<string, string> = {}, body = ''): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', localAddress, agent: false, headers: { 'Content-Length': String(Buffer.byteLength(body)), ...headers } }, res => {
      let text = ''
      res.on('data', c => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('per-address rate limits', () => {
  const servers: TestServer[] = []
  after(async () => { for (const s of servers) await s.destroy() })

  test('past CHALLENGES_PER_MINUTE an address gets 429 rate_limited with Retry-After; other addresses do not', async () => {
    const s = await startTestServer({ CHALLENGES_PER_MINUTE: '3' })
    servers.push(s)
    const url = `${s.url}/api/auth/challenge`
    for (let i = 0; i < 3; i++) assert.equal((await postFrom(url, '127.0.0.1')).status, 200)
    const refused = await postFrom(url, '127.0.0.1')
    assert.equal(refused.status, 429)
    assert.equal(refused.body.error.code, 'rate_limited')
    assert.match(refused.body.error.message, /^Too many sign-in challenges from your address: at most 3 a minute \(CHALLENGES_PER_MINUTE\)\. Try again in \d+ s\.$/)
    const wait = Number(refused.headers['retry-after'])
    assert.ok(wait >= 1 && wait <= 60, `Retry-After: ${refused.headers['retry-after']}`)
    assert.equal((await postFrom(url, '127.0.0.2')).status, 200)
  })

  test('past UPLOAD_STARTS_PER_MINUTE plain uploads and tus creations get 429; bytes to an upload already started still go', async () => {
    const s = await startTestServer({ UPLOAD_STARTS_PER_MINUTE: '2' })
    servers.push(s)
    const token = await signIn(s.url, await newIdentity())
    assert.equal((await upload(s.url, randomBytesSeeded(1000, 1000))).status, 201)
    const bytes = randomBytesSeeded(3 * 1024 * 1024, 1001)
    const started = await createUpload(s.url, token, bytes.length)
    assert.equal(started.res.status, 201)

    const plain = await upload(s.url, randomBytesSeeded(1000, 1002))
    assert.equal(plain.status, 429)
    assert.equal(plain.body.error.code, 'rate_limited')
    assert.match(plain.body.error.message, /at most 2 a minute \(UPLOAD_STARTS_PER_MINUTE\)/)
    const tus = await createUpload(s.url, token, 1000)
    assert.equal(tus.res.status, 429)
    assert.ok(Number(tus.res.headers.get('retry-after')) >= 1)

    // The started upload's PATCHes are not starts (1 MiB each, three of them).
    const finished = await sendFrom(started.url, token, bytes, 0)
    assert.equal((await published(started.url, token, finished)).fileSize, bytes.length)
    // Another address has its own budget.
    const form = '--b\r\nContent-Disposition: form-data; name="access_level"\r\n\r\npublic\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n\r\nhello\r\n--b--\r\n'
    assert.equal((await postFrom(`${s.url}/api/media/upload`, '127.0.0.2', { 'Content-Type': 'multipart/form-data; boundary=b' }, form)).status, 201)
  })
})
