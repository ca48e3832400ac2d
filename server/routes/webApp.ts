/**
 * The web app: files from the build, index.html for every other path (client-side routes), each
 * with headers that keep the page holding the wallet to its own code. Scripts only from this
 * origin (no inline script, no eval; WebAssembly for hash-wasm), connections only to this server
 * and the trackers and mirrors its torrents name, and no framing by any page (clickjacking).
 * Media bytes are not served here: they carry their own sandboxing policy (bytes.ts).
 */
import { serveStatic } from '@hono/node-server/serve-static'
import { Hono } from 'hono'
import type { AppEnv } from '../app.ts'

export interface WebAppPolicy {
  /** PUBLIC_URL: its tracker (ws:// or wss://) is named in every torrent. */
  publicUrl: string
  /** WEBTORRENT_TRACKERS: the WebSocket ones are what a browser connects to. */
  extraTrackers: string[]
  /** CDN_URLS: mirrors the browser fetches web-seed ranges and .torrent files from. */
  cdnUrls: string[]
}

const websocketOf = (httpUrl: string): string => new URL(httpUrl).origin.replace(/^http/, 'ws')

export function contentSecurityPolicy ({ publicUrl, extraTrackers, cdnUrls }: WebAppPolicy): string {
  const connect = new Set([
    "'self'",
    websocketOf(publicUrl),
    ...extraTrackers.filter(t => /^wss?:/.test(t)).map(t => new URL(t).origin),
    ...cdnUrls.map(u => new URL(u).origin)
  ])
  return [
    "default-src 'none'",
    // hash-wasm compiles WebAssembly in the page and in the hashing worker.
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    // Files played or shown from this browser's library are blob: URLs.
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    `connect-src ${[...connect].join(' ')}`,
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'"
  ].join('; ')
}

export function webAppRoutes (webDir: string, policy: WebAppPolicy): Hono<AppEnv> {
  const csp = contentSecurityPolicy(policy)
  const app = new Hono<AppEnv>()
  app.use('*', async (c, next) => {
    await next()
    c.header('Content-Security-Policy', csp)
    // For browsers that predate frame-ancestors.
    c.header('X-Frame-Options', 'DENY')
    // The URL of a private file's page may carry capabilities: never send it elsewhere.
    c.header('Referrer-Policy', 'no-referrer')
    c.header('X-Content-Type-Options', 'nosniff')
  })
  app.use('/*', serveStatic({ root: webDir }))
  app.get('*', serveStatic({ root: webDir, path: 'index.html' }))
  return app
}
