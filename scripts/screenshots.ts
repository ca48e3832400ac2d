/**
 * Screenshots of the web app for docs/, on a desktop (1280×800) and a phone (390×844): the
 * welcome, the empty library, a file hashing, the library, a shared video playing while it
 * downloads; My files, a share (with its QR code), a toast and Shared with me; thumbnails in the
 * library and a video's poster on its share page, and the library in the dark theme; the
 * dashboard after some traffic; Search records with a record verified. Starts its own server on
 * a temp folder. Run: node --import tsx scripts/screenshots.ts (`-- library`, `-- my-files`,
 * `-- thumbnails`, `-- dashboard` or `-- search` makes only those).
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chromium, type Browser, type Page } from '@playwright/test'
import parseTorrent, { toTorrentFile } from 'parse-torrent'
import WebTorrent from 'webtorrent'
import { identityFromMnemonic } from '../shared/wallet.ts'
import { bearer, signIn } from '../test/helpers/auth.ts'
import { spawnServer } from '../test/helpers/process.ts'
import { createWallet, fileOf, VIDEO } from '../test/e2e/helpers.ts'
import { brokenPng, drawnJpeg } from '../test/helpers/images.ts'

const only = process.argv[2]
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-shots-'))
// The dashboard's history samples every second, so a minute of traffic fills its charts.
const server = await spawnServer(dir, { WEB_DIR: path.resolve('dist/web'), ALLOW_ANONYMOUS_UPLOADS: 'false', HISTORY_SAMPLE_SECONDS: '1' })
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
try {
  if (only === undefined || only === 'library') await libraryShots(browser)
  if (only === undefined || only === 'my-files') await myFilesShots(browser)
  if (only === undefined || only === 'thumbnails') await thumbnailShots(browser)
  if (only === undefined || only === 'dashboard') await dashboardShots(browser)
  if (only === undefined || only === 'search') await searchShots(browser)
} finally {
  await browser.close()
  server.child.kill('SIGTERM')
  await server.exited
  await fs.rm(dir, { recursive: true, force: true })
}

async function libraryShots (browser: Browser): Promise<void> {
  const page = await browser.newPage({ baseURL: server.url, viewport: DESKTOP })
  await page.goto('/')
  await page.getByRole('button', { name: 'Create a new wallet' }).waitFor()
  await bothSizes(page, 'welcome')
  await createWallet(page)
  await bothSizes(page, 'empty-library')

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
  await bothSizes(page, 'hashing')

  await page.locator('[data-phase="seeding"]').nth(3).waitFor({ timeout: 120_000 })
  await bothSizes(page, 'library')

  // A visitor opens the video's share link; its download is slowed so the shot catches it streaming.
  await page.getByTestId('file-input').setInputFiles(VIDEO)
  const videoId = createHash('sha256').update(VIDEO.buffer).digest('hex')
  await page.locator(`[data-media-id="${videoId}"][data-phase="seeding"]`).waitFor({ timeout: 60_000 })
  const visitor = await browser.newPage({ baseURL: server.url, viewport: DESKTOP })
  await visitor.goto(`/#/m/${videoId}`)
  await visitor.evaluate(async () => { await navigator.serviceWorker.ready })
  await (await visitor.context().newCDPSession(visitor)).send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 120_000, uploadThroughput: -1 })
  await visitor.getByTestId('download').click()
  await visitor.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 1.5)
  await bothSizes(visitor, 'streaming')
  console.log('wrote docs/welcome.png, docs/empty-library.png, docs/hashing.png, docs/library.png, docs/streaming.png, each with its -phone.png')
}

/** A shot at a desktop's size and a phone's: `<name>.png` and `<name>-phone.png`. */
async function bothSizes (page: Page, name: string): Promise<void> {
  await page.setViewportSize(DESKTOP)
  await page.screenshot({ path: `docs/${name}.png`, fullPage: true })
  await page.setViewportSize(PHONE)
  await page.screenshot({ path: `docs/${name}-phone.png`, fullPage: true })
  await page.setViewportSize(DESKTOP)
}

/** My files with files from this browser and from elsewhere, a share, and the recipient's Shared with me. */
async function myFilesShots (browser: Browser): Promise<void> {
  const recipient = await browser.newPage({ baseURL: server.url, viewport: DESKTOP })
  const recipientKey = (await identityFromMnemonic((await createWallet(recipient)).join(' '))).publicKey

  const page = await browser.newPage({ baseURL: server.url, viewport: DESKTOP })
  const token = await signIn(server.url, await identityFromMnemonic((await createWallet(page)).join(' ')))
  await page.getByTestId('file-input').setInputFiles(fileOf('holiday-video.mp4', 3_000_000, 1, 'video/mp4'))
  await page.getByTestId('private').check()
  await page.getByTestId('file-input').setInputFiles(fileOf('board-minutes.pdf', 800_000, 3, 'application/pdf'))
  await page.locator('[data-phase="seeding"]').nth(1).waitFor({ timeout: 60_000 })
  // Uploaded from elsewhere (curl), then described and pinned there.
  const form = new FormData()
  form.append('access_level', 'public')
  form.append('file', new Blob([new Uint8Array(fileOf('conference-talk.webm', 2_000_000, 5).buffer)], { type: 'video/webm' }), 'conference-talk.webm')
  const talk = await (await fetch(`${server.url}/api/media/upload`, { method: 'POST', headers: bearer(token), body: form })).json()
  await fetch(`${server.url}/api/media/${talk.mediaId}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json', ...bearer(token) },
    body: JSON.stringify({ name: 'Keynote, day one', description: 'The opening talk, recorded in the main hall.', tags: ['conference', 'video'] })
  })
  await fetch(`${server.url}/api/media/${talk.mediaId}/pin`, { method: 'PUT', headers: bearer(token) })

  await page.getByRole('link', { name: 'My files' }).click()
  const minutes = page.locator('[data-testid="server-file"]', { hasText: 'board-minutes.pdf' })
  await minutes.getByTestId('share').click()
  await page.getByTestId('share-key').fill(recipientKey)
  await page.getByTestId('add-share').click()
  await page.getByTestId('share-row').waitFor()
  await page.getByTestId('share-qr').locator('svg').waitFor()
  await page.screenshot({ path: 'docs/share-dialog.png', animations: 'disabled' })
  await page.setViewportSize(PHONE)
  await page.screenshot({ path: 'docs/share-dialog-phone.png', animations: 'disabled' })
  await page.keyboard.press('Escape')
  // The share's toast goes by itself before the shots of My files, which show no focus ring on Share.
  await page.getByTestId('toast').waitFor({ state: 'detached' })
  await page.evaluate(() => { (document.activeElement as HTMLElement | null)?.blur() })
  await page.getByTestId('usage').waitFor()
  await bothSizes(page, 'my-files')

  // A toast: an edit saved.
  await page.locator('[data-testid="server-file"]', { hasText: 'Keynote, day one' }).getByTestId('edit').click()
  await page.getByTestId('edit-tags').fill('conference, video, keynote')
  await page.getByTestId('save-edit').click()
  await page.getByTestId('toast').waitFor()
  // From the top of the page (closing the dialog left it scrolled to the row).
  await page.evaluate(() => { window.scrollTo(0, 0) })
  await page.screenshot({ path: 'docs/toast.png', animations: 'disabled' })
  await page.setViewportSize(PHONE)
  await page.screenshot({ path: 'docs/toast-phone.png', animations: 'disabled' })
  await page.setViewportSize(DESKTOP)

  await recipient.getByRole('link', { name: 'Shared with me' }).click()
  await recipient.getByTestId('shared-file').waitFor()
  await bothSizes(recipient, 'shared-with-me')
  console.log('wrote docs/my-files.png, docs/my-files-phone.png, docs/share-dialog.png, docs/share-dialog-phone.png, docs/toast.png, docs/toast-phone.png, docs/shared-with-me.png, docs/shared-with-me-phone.png')
}

/** The library with thumbnails (pictures, a video's poster, a placeholder) and a fresh browser's share page of the video. */
async function thumbnailShots (browser: Browser): Promise<void> {
  const page = await browser.newPage({ baseURL: server.url, viewport: DESKTOP })
  await createWallet(page)
  const files = [
    VIDEO,
    { name: 'harbour-at-dusk.jpg', mimeType: 'image/jpeg', buffer: await drawnJpeg(page, 2400, 1600, 'Harbour') },
    { name: 'garden.jpg', mimeType: 'image/jpeg', buffer: await drawnJpeg(page, 1200, 1600, 'Garden') },
    { name: 'scan-damaged.png', mimeType: 'image/png', buffer: brokenPng() },
    fileOf('field-recording.mp3', 600_000, 7, 'audio/mpeg')
  ]
  for (const file of files) {
    await page.getByTestId('file-input').setInputFiles(file)
    await page.locator(`[data-media-id="${createHash('sha256').update(file.buffer).digest('hex')}"][data-phase="seeding"]`).waitFor({ timeout: 60_000 })
  }
  await bothSizes(page, 'library-thumbnails')
  await page.emulateMedia({ colorScheme: 'dark' })
  await page.screenshot({ path: 'docs/library-dark.png', fullPage: true })
  await page.emulateMedia({ colorScheme: 'light' })

  const videoId = createHash('sha256').update(VIDEO.buffer).digest('hex')
  const visitor = await browser.newPage({ baseURL: server.url, viewport: DESKTOP })
  await visitor.goto(`/#/m/${videoId}`)
  await visitor.getByTestId('play-poster').getByTestId('thumbnail').waitFor()
  await bothSizes(visitor, 'share-poster')
  console.log('wrote docs/library-thumbnails.png, docs/library-thumbnails-phone.png, docs/library-dark.png, docs/share-poster.png, docs/share-poster-phone.png')
}

/** The dashboard after a minute of traffic that rises and falls: downloads over HTTP, and a BitTorrent client over TCP. */
async function dashboardShots (browser: Browser): Promise<void> {
  const page = await browser.newPage({ baseURL: server.url, viewport: DESKTOP })
  const token = await signIn(server.url, await identityFromMnemonic((await createWallet(page)).join(' ')))
  const files = [['city-walk.mp4', 6_000_000, 'video/mp4', 'public'], ['field-recording.flac', 3_000_000, 'audio/flac', 'public'],
    ['album-cover.png', 900_000, 'image/png', 'public'], ['family-photos.zip', 2_500_000, 'application/zip', 'private']] as const
  const ids: string[] = []
  for (const [i, [name, size, type, access]] of files.entries()) {
    const form = new FormData()
    form.append('access_level', access)
    form.append('file', new Blob([new Uint8Array(fileOf(name, size, 30 + i).buffer)], { type }), name)
    ids.push((await (await fetch(`${server.url}/api/media/upload`, { method: 'POST', headers: bearer(token), body: form })).json()).mediaId)
  }
  const leechDir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-shots-leecher-'))
  const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false })
  try {
    for (let second = 0; second < 60; second++) {
      const downloads = Math.round(2 + 2 * Math.sin(second / 6))
      await Promise.all(Array.from({ length: downloads }, async (_, k) => {
        await (await fetch(`${server.url}/api/media/${ids[(second + k) % ids.length]}`, { headers: bearer(token) })).arrayBuffer()
      }))
      if (second === 20) {
        const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${ids[0]}/torrent`)).arrayBuffer()))
        client.add(toTorrentFile({ ...torrent, announce: [`${server.url}/announce`], urlList: [] }), { path: leechDir })
      }
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
    await page.getByRole('link', { name: 'Server dashboard' }).click()
    await page.getByTestId('served-file').first().waitFor()
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart-upload]')?.getAttribute('data-points')) > 30)
    await bothSizes(page, 'dashboard')
  } finally {
    await new Promise<void>(resolve => client.destroy(() => resolve()))
    await fs.rm(leechDir, { recursive: true, force: true })
  }
  console.log('wrote docs/dashboard.png, docs/dashboard-phone.png')
}

/** Search records: a few public records and a private one, words searched, the first one verified. */
async function searchShots (browser: Browser): Promise<void> {
  const page = await browser.newPage({ baseURL: server.url, viewport: DESKTOP })
  await createWallet(page)
  await page.getByTestId('file-input').setInputFiles([fileOf('harbour-at-dawn.mp4', 900_000, 31, 'video/mp4'), fileOf('harbour-map.png', 120_000, 32, 'image/png'), fileOf('ferry-timetable.txt', 8_000, 33, 'text/plain')])
  await page.locator('[data-phase="seeding"]').nth(2).waitFor({ timeout: 60_000 })
  // One of the owner's private records: found too, with the wallet unlocked.
  await page.getByTestId('private').check()
  await page.getByTestId('file-input').setInputFiles(fileOf('harbour-diary.txt', 4_000, 34, 'text/plain'))
  await page.locator('[data-phase="seeding"]').nth(3).waitFor({ timeout: 60_000 })
  await page.getByRole('link', { name: 'Search records' }).click()
  await page.getByTestId('search-words').fill('harbour')
  await page.getByTestId('search-submit').click()
  await page.getByTestId('search-result').nth(1).waitFor()
  await page.getByTestId('verify').first().click()
  await page.getByTestId('verdict').waitFor()
  await bothSizes(page, 'search')
  await page.close()
  console.log('wrote docs/search.png, docs/search-phone.png')
}
