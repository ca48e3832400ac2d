import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

let server: TestServer
before(async () => {
  server = await startTestServer({ WEBTORRENT_TRACKERS: 'wss://tracker.example.org/announce,udp://udp.example.org:6969', CDN_URLS: 'https://cdn.example.net/mirror' })
  // A stand-in for the build in dist/web.
  await fs.mkdir(path.join(server.dir, 'web', 'assets'), { recursive: true })
  await fs.writeFile(path.join(server.dir, 'web', 'index.html'), '<!doctype html><title>app</title>')
  await fs.writeFile(path.join(server.dir, 'web', 'assets', 'hash.worker.js'), 'self.onmessage = () => {}')
})
after(async () => { await server.destroy() })

/** Directive name → its sources. */
const directives = (csp: string | null): Map<string, string[]> =>
  new Map((csp ?? '').split(';').map(d => d.trim().split(/\s+/)).map(([name, ...sources]) => [name!, sources]))

test("the web app's pages, scripts and workers carry its CSP, no framing and no referrer", async () => {
  const { port } = new URL(server.url)
  for (const p of ['/', '/some/client/route', '/assets/hash.worker.js']) {
    const res = await fetch(`${server.url}${p}`)
    assert.equal(res.status, 200, p)
    const csp = directives(res.headers.get('content-security-policy'))
    assert.deepEqual(csp.get('default-src'), ["'none'"], p)
    assert.deepEqual(csp.get('script-src'), ["'self'", "'wasm-unsafe-eval'"], `${p}: no inline script, no eval`)
    assert.deepEqual(csp.get('frame-ancestors'), ["'none'"], p)
    assert.deepEqual(csp.get('object-src'), ["'none'"], p)
    assert.deepEqual(csp.get('base-uri'), ["'none'"], p)
    assert.deepEqual(csp.get('worker-src'), ["'self'"], p)
    assert.deepEqual(csp.get('media-src'), ["'self'", 'blob:'], p)
    // This server's tracker, the WebSocket tracker and the mirror it names; not the UDP one.
    assert.deepEqual(csp.get('connect-src'), ["'self'", `ws://127.0.0.1:${port}`, 'wss://tracker.example.org', 'https://cdn.example.net'], p)
    assert.equal(res.headers.get('x-frame-options'), 'DENY', p)
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer', p)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', p)
    await res.arrayBuffer()
  }
})

test("media bytes keep their own sandboxing policy, and the API answers carry no page policy", async () => {
  const { body } = await upload(server.url, randomBytesSeeded(5000, 7), { access_level: 'public' }, 'clip.mp4', 'video/mp4')
  const bytes = await fetch(`${server.url}/api/media/${body.mediaId}`)
  assert.equal(bytes.status, 200)
  assert.equal(bytes.headers.get('content-security-policy'), "default-src 'none'; sandbox")
  await bytes.arrayBuffer()
  const info = await fetch(`${server.url}/api/media/${body.mediaId}/info`)
  assert.equal(info.status, 200)
  assert.equal(info.headers.get('content-security-policy'), null)
  await info.arrayBuffer()
})
