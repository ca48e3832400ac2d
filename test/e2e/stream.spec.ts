import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { expect, test, type Browser, type Page } from '@playwright/test'
import Tracker from 'bittorrent-tracker/server'
import { EXTRA_TRACKER_PORT, MIRROR_PORT, MIRRORED_URL, P2P_URL } from '../../playwright.config.ts'
import { startMirror } from '../helpers/mirror.ts'
import { createWallet, fileOf, PASSPHRASE, uploadFromTab, VIDEO } from './helpers.ts'

/** Where the player and the download stand at the moment this is read. */
interface Moment { currentTime: number, src: string, progress: number | null, done: boolean }
const moment = (): Moment | undefined => {
  const video = document.querySelector('video')
  if (!video || video.currentTime === 0) return undefined
  return {
    currentTime: video.currentTime,
    src: video.currentSrc,
    progress: (document.querySelector('progress') as HTMLProgressElement | null)?.value ?? null,
    done: document.querySelector('[data-testid="download-done"]') !== null
  }
}

/** Run `body` with the second tracker the P2P server's torrents name (WEBTORRENT_TRACKERS in playwright.config.ts) up. */
async function withExtraTracker (body: () => Promise<void>): Promise<void> {
  const tracker = new Tracker({ udp: false, http: false, stats: false })
  await new Promise<void>(resolve => tracker.listen(EXTRA_TRACKER_PORT, '127.0.0.1', resolve))
  try {
    await body()
  } finally {
    await new Promise<void>(resolve => tracker.close(() => resolve()))
  }
}

/** Run `body` with a pull-through mirror of MIRRORED_URL (a CDN in front of it) on MIRROR_PORT. */
async function withMirror (body: (rangeRequests: () => number) => Promise<void>): Promise<void> {
  const mirror = await startMirror(MIRRORED_URL, MIRROR_PORT)
  try {
    await body(mirror.ranges)
  } finally {
    await mirror.close()
  }
}

/**
 * A fresh browser with a wallet for which `server` is down (its API and web seed refuse
 * connections, its tracker answers nothing) opens `magnetURI` and downloads it until it is done.
 * Returns the page and the SHA-256 of the file it saves.
 */
async function downloadWithServerDown (browser: Browser, server: string, magnetURI: string): Promise<{ page: Page, saved: string }> {
  const visitor = await browser.newContext({ baseURL: server, acceptDownloads: true })
  const page = await visitor.newPage()
  await createWallet(page)
  await visitor.route(url => url.port === new URL(server).port && url.pathname.startsWith('/api/'), route => route.abort('connectionrefused'))
  await visitor.routeWebSocket(url => url.port === new URL(server).port, ws => { void ws.close() })
  await page.getByTestId('magnet-input').fill(magnetURI)
  await page.getByRole('button', { name: 'Open' }).click()
  await page.getByTestId('download').click()
  await expect(page.getByTestId('download-done')).toBeVisible({ timeout: 60_000 })
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save').click()])
  return { page, saved: createHash('sha256').update(await fs.readFile((await download.path())!)).digest('hex') }
}

/** Slow this page's network down (the web seed), so the download lasts long enough to watch. */
async function throttle (page: Page, bytesPerSecond: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: bytesPerSecond, uploadThroughput: -1 })
}

test('a shared video starts playing while it downloads, streamed through the service worker, and seeking ahead plays on', async ({ browser }) => {
  test.setTimeout(120_000)
  // The server without a seeding peer: every byte comes over its (throttled) web seed.
  const { mediaId } = await uploadFromTab(browser, P2P_URL, VIDEO)
  const visitor = await browser.newContext({ baseURL: P2P_URL })
  const page = await visitor.newPage()
  await page.goto(`/#/m/${mediaId}`)
  await page.evaluate(async () => { await navigator.serviceWorker.ready })
  await throttle(page, 150_000)
  await page.getByTestId('download').click()

  const playing = await (await page.waitForFunction(moment, undefined, { timeout: 60_000 })).jsonValue() as Moment
  // It plays from the stream, before the download is done.
  expect(playing.src).toContain('/webtorrent/')
  expect(playing.done).toBe(false)
  expect(playing.progress).toBeLessThan(1)

  // Skip to near the end, which has not arrived yet: it is fetched first, and playback goes on from there.
  const seek = await page.evaluate(async () => {
    const video = document.querySelector('video')!
    const progress = (document.querySelector('progress') as HTMLProgressElement | null)?.value ?? null
    video.currentTime = 17
    await new Promise(resolve => video.addEventListener('seeked', resolve, { once: true }))
    const at = video.currentTime
    await new Promise<void>(resolve => video.addEventListener('timeupdate', function onTime () {
      if (video.currentTime > at) { video.removeEventListener('timeupdate', onTime); resolve() }
    }))
    return { progressBefore: progress, at, after: video.currentTime }
  })
  expect(seek.progressBefore).toBeLessThan(1)
  expect(seek.at).toBeGreaterThanOrEqual(16.5)
  expect(seek.after).toBeGreaterThan(seek.at)

  const done = page.getByTestId('download-done')
  await expect(done).toBeVisible({ timeout: 60_000 })
  expect(Number(await done.getAttribute('data-from-server'))).toBeGreaterThanOrEqual(VIDEO.buffer.length)
  await expect(done).toContainText('from the server')
  await visitor.close()
})

test('a downloaded video kept in the library is there after a reload, seeds from the tab, and plays offline', async ({ browser, baseURL }) => {
  test.setTimeout(120_000)
  const { mediaId } = await uploadFromTab(browser, baseURL!, VIDEO)
  const visitor = await browser.newContext()
  const page = await visitor.newPage()
  await createWallet(page)
  await page.goto(`/#/m/${mediaId}`)
  await page.getByTestId('download').click()
  await expect(page.getByTestId('download-done')).toBeVisible({ timeout: 60_000 })
  await expect(page.getByTestId('keep-seed')).toBeChecked()
  await page.getByTestId('keep').click()
  await expect(page.getByTestId('kept')).toContainText('seeding from this tab')

  await page.goto('/')
  await page.reload()
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Unlock' }).click()
  const row = page.locator(`[data-media-id="${mediaId}"]`)
  await expect(row).toHaveAttribute('data-phase', 'seeding')
  await expect(row.getByTestId('downloaded')).toBeVisible()

  await visitor.setOffline(true)
  await page.reload()
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Unlock' }).click()
  await row.getByTestId('play').click()
  const played = await (await page.waitForFunction(moment)).jsonValue() as Moment
  expect(played.src).toMatch(/^blob:/)
  // The share link, offline too, opens the copy in the library.
  await page.goto(`/#/m/${mediaId}`)
  await expect(page.getByTestId('in-library')).toBeVisible()
  await page.waitForFunction(moment)
  await visitor.close()
})

test('when the server is down, a magnet link still downloads from another browser through another tracker, and the page says so', async ({ browser, request }) => {
  test.setTimeout(120_000)
  await withExtraTracker(async () => {
    const file = fileOf('field-notes.bin', 1_200_000, 61)
    const { mediaId, uploader } = await uploadFromTab(browser, P2P_URL, file, true)
    const { magnetURI } = await (await request.get(`${P2P_URL}/api/media/${mediaId}/info`)).json()
    expect(magnetURI).toContain(encodeURIComponent(`ws://127.0.0.1:${EXTRA_TRACKER_PORT}`))

    const { page, saved } = await downloadWithServerDown(browser, P2P_URL, magnetURI)
    await expect(page.getByTestId('server-unreachable')).toHaveText('The server is unreachable — downloaded from 1 other browser.')
    expect(Number(await page.getByTestId('download-done').getAttribute('data-from-server'))).toBe(0)
    expect(saved).toBe(mediaId)
    await page.context().close()
    await uploader.close()
  })
})

test('when the server is down and no browser has the file, a magnet link downloads from the server\'s mirror (CDN_URLS), and the page says so', async ({ browser, request }) => {
  test.setTimeout(120_000)
  await withMirror(async rangeRequests => {
    const file = fileOf('mirrored.bin', 1_500_000, 71)
    const { mediaId } = await uploadFromTab(browser, MIRRORED_URL, file) // the uploader's tab closes
    const { magnetURI } = await (await request.get(`${MIRRORED_URL}/api/media/${mediaId}/info`)).json()
    expect(magnetURI).toContain(encodeURIComponent(`http://127.0.0.1:${MIRROR_PORT}/api/media/${mediaId}`))

    const { page, saved } = await downloadWithServerDown(browser, MIRRORED_URL, magnetURI)
    await expect(page.getByTestId('server-unreachable')).toHaveText('The server is unreachable — downloaded from the server\'s mirror (1.4 MB).')
    const done = page.getByTestId('download-done')
    expect(Number(await done.getAttribute('data-from-mirrors'))).toBe(file.buffer.length)
    expect(Number(await done.getAttribute('data-from-server'))).toBe(0)
    expect(rangeRequests()).toBeGreaterThan(0)
    expect(saved).toBe(mediaId)
    await page.context().close()
  })
})

test('a share-link download whose server goes away half-way finishes from another browser, and the page says so', async ({ browser }) => {
  test.setTimeout(120_000)
  await withExtraTracker(async () => {
    // The uploader's tab closes: at first only the server's (throttled) web seed has the file.
    const file = fileOf('half-way.bin', 1_500_000, 62)
    const { mediaId, uploader } = await uploadFromTab(browser, P2P_URL, file, true)
    for (const tab of uploader.pages()) await tab.close()

    const visitor = await browser.newContext({ baseURL: P2P_URL, acceptDownloads: true })
    const page = await visitor.newPage()
    await page.goto(`/#/m/${mediaId}`)
    await throttle(page, 100_000)
    await page.getByTestId('download').click()
    await expect.poll(async () => Number(await page.locator('progress').first().getAttribute('value') ?? 0), { timeout: 30_000 }).toBeGreaterThan(0.1)

    // The server goes away for the visitor; the uploader comes back and seeds from its library.
    await visitor.route(url => url.port === new URL(P2P_URL).port && url.pathname.startsWith('/api/'), route => route.abort('connectionrefused'))
    const back = await uploader.newPage()
    await back.goto('/')
    await back.getByLabel('Passphrase').fill(PASSPHRASE)
    await back.getByRole('button', { name: 'Unlock' }).click()
    await expect(back.locator(`[data-media-id="${mediaId}"]`)).toHaveAttribute('data-phase', 'seeding')

    await expect(page.getByTestId('server-unreachable')).toContainText('The server is unreachable — downloaded from 1 other browser (', { timeout: 60_000 })
    const done = page.getByTestId('download-done')
    expect(Number(await done.getAttribute('data-from-server'))).toBeGreaterThan(0)
    expect(Number(await done.getAttribute('data-from-peers'))).toBeGreaterThan(0)
    const [saved] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save').click()])
    expect(createHash('sha256').update(await fs.readFile((await saved.path())!)).digest('hex')).toBe(mediaId)
    await visitor.close()
    await uploader.close()
  })
})
