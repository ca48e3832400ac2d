import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { expect, test } from '@playwright/test'
import { pieceLength } from '../../shared/torrent.ts'
import { createWallet, fileOf } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

test('the uploader\'s tab closes; a fresh browser opens the share link and downloads the file from the server, byte for byte', async ({ browser }) => {
  test.setTimeout(120_000)
  const uploader = await browser.newContext()
  const tab = await uploader.newPage()
  await createWallet(tab)
  const file = fileOf('talk.webm', 2_500_000, 31, 'video/webm')
  const id = sha256(file.buffer)
  await tab.getByTestId('file-input').setInputFiles(file)
  await expect(tab.locator(`[data-media-id="${id}"]`)).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  await uploader.close()

  const visitor = await browser.newContext({ acceptDownloads: true })
  const page = await visitor.newPage()
  const ranges: string[] = []
  page.on('request', r => { if (r.url().endsWith(`/api/media/${id}`) && r.headers().range) ranges.push(r.headers().range!) })
  const webSeedWorkers: string[] = []
  page.on('worker', w => { if (w.url().includes('webSeed.worker')) webSeedWorkers.push(w.url()) })
  await page.goto(`/#/m/${id}`)
  await expect(page.getByRole('heading', { name: 'talk.webm' })).toBeVisible()
  await page.getByTestId('download').click()
  await expect(page.getByTestId('download-done')).toBeVisible({ timeout: 60_000 })
  // The web seed streams long ranges, read and checked by a worker of its own: a handful of
  // requests, not one per piece.
  const pieces = Math.ceil(file.buffer.length / pieceLength(file.buffer.length))
  expect(pieces).toBeGreaterThan(20)
  expect(ranges.length).toBeGreaterThan(0)
  expect(ranges.length).toBeLessThan(pieces / 4)
  // It ran, and was let go when the download was done.
  expect(webSeedWorkers).toHaveLength(1)
  await expect.poll(() => page.workers().filter(w => w.url().includes('webSeed.worker')).length).toBe(0)
  // The uploader is gone: every byte came from the server, as its WebRTC seeder or its web seed,
  // and the page accounts for all of them.
  const done = page.getByTestId('download-done')
  const counted = Number(await done.getAttribute('data-from-peers')) + Number(await done.getAttribute('data-from-server'))
  expect(counted).toBeGreaterThanOrEqual(file.buffer.length)
  const [saved] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save').click()])
  expect(saved.suggestedFilename()).toBe('talk.webm')
  expect(sha256(await fs.readFile((await saved.path())!))).toBe(id)
  await visitor.close()
})

test('a share link to a file that does not exist says so', async ({ page }) => {
  await page.goto(`/#/m/${'0'.repeat(64)}`)
  await expect(page.getByRole('alert')).toContainText('does not exist or is not shared with you')
})

test('a pasted magnet link and an opened .torrent file download the file, byte for byte', async ({ browser, request }) => {
  test.setTimeout(120_000)
  const uploader = await browser.newContext()
  const tab = await uploader.newPage()
  await createWallet(tab)
  const file = fileOf('lecture.bin', 1_500_000, 32)
  const id = sha256(file.buffer)
  await tab.getByTestId('file-input').setInputFiles(file)
  await expect(tab.locator(`[data-media-id="${id}"]`)).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  await uploader.close()
  const { magnetURI } = await (await request.get(`/api/media/${id}/info`)).json()
  const torrentFile = await (await request.get(`/api/media/${id}/torrent`)).body()

  for (const open of ['magnet', 'torrent'] as const) {
    const visitor = await browser.newContext({ acceptDownloads: true })
    const page = await visitor.newPage()
    await createWallet(page)
    if (open === 'magnet') {
      await page.getByTestId('magnet-input').fill(magnetURI)
      await page.getByRole('button', { name: 'Open' }).click()
    } else {
      await page.getByTestId('torrent-input').setInputFiles({ name: 'lecture.torrent', mimeType: 'application/x-bittorrent', buffer: torrentFile })
    }
    await page.getByTestId('download').click()
    await expect(page.getByTestId('download-done')).toBeVisible({ timeout: 60_000 })
    await expect(page.getByRole('heading', { name: 'lecture.bin' })).toBeVisible()
    const [saved] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save').click()])
    expect(sha256(await fs.readFile((await saved.path())!)), open).toBe(id)
    await visitor.close()
  }
})

test('text that is not a magnet link gets a clear message', async ({ page }) => {
  await createWallet(page)
  await page.getByTestId('magnet-input').fill('https://example.org/file')
  await page.getByRole('button', { name: 'Open' }).click()
  await expect(page.getByRole('alert')).toContainText('not a magnet link')
})
