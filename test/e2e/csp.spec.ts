import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect, test, type Page } from '@playwright/test'
import { createWallet, VIDEO } from './helpers.ts'

/** CSP violations the page reports, and the "Refused to …" lines Chromium logs for them. */
async function violations (page: Page): Promise<string[]> {
  const seen: string[] = []
  await page.exposeFunction('reportViolation', (v: string) => { seen.push(v) })
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', e => { void (window as any).reportViolation(`${e.violatedDirective} ${e.blockedURI}`) })
  })
  page.on('console', m => { if (/Content Security Policy/.test(m.text())) seen.push(m.text()) })
  page.on('worker', w => w.on('console', m => { if (/Content Security Policy/.test(m.text())) seen.push(m.text()) }))
  return seen
}

test('a page on another origin cannot frame the app', async ({ page, baseURL }) => {
  // The framing page, on its own loopback origin (a public one could not reach loopback at all).
  const framer = http.createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html')
    res.end(`<iframe src="${baseURL}/" onload="document.title = 'iframe loaded'"></iframe>`)
  })
  await new Promise<void>(resolve => framer.listen(0, '127.0.0.1', resolve))
  try {
    await page.goto(`http://127.0.0.1:${(framer.address() as AddressInfo).port}/`)
    await expect(page).toHaveTitle('iframe loaded')
    // The frame holds Chromium's error page, never the app.
    await expect(page.frameLocator('iframe').getByRole('heading', { name: 'OIP Media Seeder' })).toHaveCount(0)
    expect(page.frames().find(f => f !== page.mainFrame())!.url()).not.toBe(`${baseURL}/`)
  } finally {
    framer.close()
  }
})

test('a wallet, an upload seeded from the tab and a shared video streamed in another browser: no CSP violation', async ({ browser }) => {
  test.setTimeout(120_000)
  const uploader = await browser.newContext()
  const tab = await uploader.newPage()
  const uploaderSaw = await violations(tab)
  await createWallet(tab)
  const mediaId = createHash('sha256').update(VIDEO.buffer).digest('hex')
  // Hashing (hash-wasm in a worker), upload, the record, seeding through the tracker's WebSocket.
  await tab.getByTestId('file-input').setInputFiles(VIDEO)
  await expect(tab.locator(`[data-media-id="${mediaId}"]`)).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })

  const visitor = await browser.newContext()
  const page = await visitor.newPage()
  const visitorSaw = await violations(page)
  await page.goto(`/#/m/${mediaId}`)
  await page.evaluate(async () => { await navigator.serviceWorker.ready })
  await page.getByTestId('download').click()
  // Played through the service worker's /webtorrent/ stream or from the finished blob: either way media-src.
  await page.waitForFunction(() => { const v = document.querySelector('video'); return v !== null && v.currentTime > 0 }, undefined, { timeout: 60_000 })
  await expect(page.getByTestId('download-done')).toBeVisible({ timeout: 60_000 })
  expect(uploaderSaw).toEqual([])
  expect(visitorSaw).toEqual([])

  // The watch works: a connection the policy does not allow is seen.
  await page.evaluate(() => fetch('https://elsewhere.example/').catch(() => undefined))
  await expect.poll(() => visitorSaw.length).toBeGreaterThan(0)
  expect(visitorSaw.join('\n')).toContain('connect-src')
  await uploader.close()
  await visitor.close()
})
