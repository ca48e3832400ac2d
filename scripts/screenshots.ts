/**
 * Screenshots of the web app for docs/: the empty library, a file hashing, the library, a
 * shared video playing while it downloads.
 * Starts its own server on a temp folder. Run: node --import tsx scripts/screenshots.ts
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chromium } from '@playwright/test'
import { spawnServer } from '../test/helpers/process.ts'
import { createWallet, fileOf, VIDEO } from '../test/e2e/helpers.ts'

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-shots-'))
const server = await spawnServer(dir, { WEB_DIR: path.resolve('dist/web'), ALLOW_ANONYMOUS_UPLOADS: 'false' })
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
try {
  const page = await browser.newPage({ baseURL: server.url, viewport: { width: 1100, height: 760 } })
  await createWallet(page)
  await page.screenshot({ path: 'docs/empty-library.png' })

  await page.getByTestId('file-input').setInputFiles([fileOf('holiday-video.mp4', 3_000_000, 1, 'video/mp4'), fileOf('notes.txt', 40_000, 2, 'text/plain')])
  await page.locator('[data-phase="seeding"]').nth(1).waitFor({ timeout: 60_000 })
  await page.getByTestId('private').check()
  await page.getByTestId('file-input').setInputFiles(fileOf('diary.pdf', 800_000, 3, 'application/pdf'))
  await page.locator('[data-phase="seeding"]').nth(2).waitFor({ timeout: 60_000 })

  // A big file (Playwright hands over files above 50 MB by path), caught while it hashes.
  await page.getByRole('radio', { name: /Public/ }).check()
  const big = path.join(dir, 'concert.mkv')
  const block = fileOf('block', 16 * 1024 * 1024, 4).buffer
  const handle = await fs.open(big, 'w')
  for (let i = 0; i < 25; i++) { block.writeUInt32LE(i, 0); await handle.write(block) }
  await handle.close()
  await page.getByTestId('file-input').setInputFiles(big)
  await page.locator('[data-phase="hashing"] progress').waitFor({ timeout: 60_000 })
  await page.waitForFunction(() => Number((document.querySelector('[data-phase="hashing"] progress') as HTMLProgressElement | null)?.value ?? 0) > 0.15)
  await page.screenshot({ path: 'docs/hashing.png' })

  await page.locator('[data-phase="seeding"]').nth(3).waitFor({ timeout: 120_000 })
  await page.screenshot({ path: 'docs/library.png', fullPage: true })

  // A visitor opens the video's share link; its download is slowed so the shot catches it streaming.
  await page.getByTestId('file-input').setInputFiles(VIDEO)
  const videoId = createHash('sha256').update(VIDEO.buffer).digest('hex')
  await page.locator(`[data-media-id="${videoId}"][data-phase="seeding"]`).waitFor({ timeout: 60_000 })
  const visitor = await browser.newPage({ baseURL: server.url, viewport: { width: 1100, height: 900 } })
  await visitor.goto(`/#/m/${videoId}`)
  await visitor.evaluate(async () => { await navigator.serviceWorker.ready })
  await (await visitor.context().newCDPSession(visitor)).send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 120_000, uploadThroughput: -1 })
  await visitor.getByTestId('download').click()
  await visitor.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 1.5)
  await visitor.screenshot({ path: 'docs/streaming.png' })
  console.log('wrote docs/empty-library.png, docs/hashing.png, docs/library.png, docs/streaming.png')
} finally {
  await browser.close()
  server.child.kill('SIGTERM')
  await server.exited
  await fs.rm(dir, { recursive: true, force: true })
}
