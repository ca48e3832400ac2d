import { createHash } from 'node:crypto'
import { expect, test, type Page } from '@playwright/test'
import { createWallet, fileOf, PASSPHRASE } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const MiB = 1024 * 1024

/**
 * Slow the page's uploads down (loopback is too fast to catch an upload half-way); the
 * function returned takes the page off and on line under the same throttle.
 */
async function throttleUploads (page: Page, bytesPerSecond: number): Promise<(offline: boolean) => Promise<void>> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Network.enable')
  const set = async (offline: boolean): Promise<void> => {
    await cdp.send('Network.emulateNetworkConditions', { offline, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond })
  }
  await set(false)
  return set
}

/** The Upload-Offset of every PATCH the page sends: a resumed upload goes on from where it was. */
function patchOffsets (page: Page): number[] {
  const offsets: number[] = []
  page.on('request', req => { if (req.method() === 'PATCH' && req.url().includes('/api/uploads/')) offsets.push(Number(req.headers()['upload-offset'])) })
  return offsets
}

/** The status of every PATCH answer the page got: tus 1.0 allows only 204, the last one too. */
function patchStatuses (page: Page): number[] {
  const statuses: number[] = []
  page.on('response', res => { if (res.request().method() === 'PATCH' && res.url().includes('/api/uploads/')) statuses.push(res.status()) })
  return statuses
}

async function startLargeUpload (page: Page, name: string, seed: number): Promise<{ file: ReturnType<typeof fileOf>, row: ReturnType<Page['locator']> }> {
  const file = fileOf(name, 24 * MiB, seed)
  await page.getByTestId('file-input').setInputFiles(file)
  const row = page.locator(`[data-media-id="${sha256(file.buffer)}"]`)
  await expect(row).toHaveAttribute('data-phase', 'uploading', { timeout: 60_000 })
  return { file, row }
}

/** Wait until the server has some of the bytes (the progress bar is past `share`). */
async function waitForProgress (row: ReturnType<Page['locator']>, share: number): Promise<void> {
  await expect.poll(async () => Number(await row.locator('progress').last().getAttribute('value') ?? 0), { timeout: 30_000 }).toBeGreaterThan(share)
}

test('a large upload paused by hand resumes from the server\'s offset', async ({ page }) => {
  await createWallet(page)
  await throttleUploads(page, 4 * MiB)
  const offsets = patchOffsets(page)
  const statuses = patchStatuses(page)
  const { file, row } = await startLargeUpload(page, 'paused.bin', 61)
  await waitForProgress(row, 0.2)
  await row.getByRole('button', { name: 'Pause' }).click()
  await expect(row).toHaveAttribute('data-phase', 'paused')
  await expect(row.getByRole('alert')).toContainText('Resume to continue')
  const before = offsets.length
  await row.getByRole('button', { name: 'Resume' }).click()
  await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  expect(offsets[before]).toBeGreaterThan(0)
  // The app read the published file from GET on the upload: the last PATCH answered 204 too.
  expect(statuses.length).toBeGreaterThan(0)
  expect(new Set(statuses)).toEqual(new Set([204]))
  const stored = await page.request.get(`/api/media/${sha256(file.buffer)}`)
  expect(sha256(await stored.body())).toBe(sha256(file.buffer))
})

test('an upload that loses the network half-way waits, then completes from where it stopped', async ({ page }) => {
  await createWallet(page)
  const setOffline = await throttleUploads(page, 4 * MiB)
  const offsets = patchOffsets(page)
  const { file, row } = await startLargeUpload(page, 'flaky.bin', 62)
  await waitForProgress(row, 0.2)
  await setOffline(true)
  await expect(row).toHaveAttribute('data-phase', 'queued', { timeout: 30_000 })
  await expect(row.getByTestId('queued')).toContainText('network is back')
  await expect(row.getByTestId('server-copy')).toHaveText('Not on the server yet')
  const before = offsets.length
  await setOffline(false)
  await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  expect(offsets[before]).toBeGreaterThan(0)
  const stored = await page.request.get(`/api/media/${sha256(file.buffer)}`)
  expect(sha256(await stored.body())).toBe(sha256(file.buffer))
})

test('a reload mid-upload picks the upload up again at the server\'s offset', async ({ page }) => {
  await createWallet(page)
  await throttleUploads(page, 4 * MiB)
  const { file, row } = await startLargeUpload(page, 'reloaded.bin', 63)
  await waitForProgress(row, 0.2)
  await page.reload()
  const offsets = patchOffsets(page)
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Unlock' }).click()
  const again = page.locator(`[data-media-id="${sha256(file.buffer)}"]`)
  await expect(again).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  expect(offsets[0]).toBeGreaterThan(0)
  const stored = await page.request.get(`/api/media/${sha256(file.buffer)}`)
  expect(sha256(await stored.body())).toBe(sha256(file.buffer))
})
