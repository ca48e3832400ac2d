import { expect, test } from '@playwright/test'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { bearer, signIn } from '../helpers/auth.ts'
import { createWallet, fileOf } from './helpers.ts'

test('the dashboard shows the server\'s seeding totals, limits and trackers', async ({ page, request }) => {
  await page.goto('/#/dashboard')
  const stats = await (await request.get('/api/seeder/stats')).json()
  await expect(page.getByTestId('seeding-count')).toHaveText(String(stats.seedingCount))
  // The embedded tracker, over WebSocket and HTTP.
  await expect(page.getByTestId('tracker-row')).toHaveCount(stats.trackers.length)
  expect(stats.trackers.length).toBeGreaterThanOrEqual(2)
  await expect(page.getByText('Limits: up unlimited')).toBeVisible()
})

test('after downloads the dashboard charts what was sent, lists each file\'s bytes by source (a private one for its owner only) and shows the disk against its low-water mark', async ({ page, browser, baseURL }) => {
  const words = await createWallet(page)
  const token = await signIn(baseURL!, await identityFromMnemonic(words.join(' ')))
  const uploadAndDownload = async (file: { name: string, mimeType: string, buffer: Buffer }, accessLevel: string): Promise<string> => {
    const form = new FormData()
    form.append('access_level', accessLevel)
    form.append('file', new Blob([new Uint8Array(file.buffer)], { type: file.mimeType }), file.name)
    const res = await fetch(`${baseURL}/api/media/upload`, { method: 'POST', headers: bearer(token), body: form })
    expect(res.status).toBe(201)
    const { mediaId } = await res.json()
    // Twice: more bytes than other tests' files send, so both are among the files listed.
    for (let i = 0; i < 2; i++) {
      const download = await fetch(`${baseURL}/api/media/${mediaId}`, { headers: bearer(token) })
      expect((await download.arrayBuffer()).byteLength).toBe(file.buffer.length)
    }
    return mediaId
  }
  const publicId = await uploadAndDownload(fileOf('dash-public.bin', 2_000_000, 211), 'public')
  const privateId = await uploadAndDownload(fileOf('dash-private.bin', 1_800_000, 212), 'private')

  // The wallet stays unlocked: the dashboard asks as this key, which sees its own private file.
  await page.getByRole('link', { name: 'Server dashboard' }).click()
  const sent = page.getByTestId('chart-upload')
  // A sample a second (HISTORY_SAMPLE_SECONDS=1): the downloads show as a peak on a drawn line.
  await expect.poll(async () => Number(await sent.getAttribute('data-peak'))).toBeGreaterThan(0)
  expect(Number(await sent.getAttribute('data-points'))).toBeGreaterThanOrEqual(2)
  await expect(sent.locator('path.line')).toHaveAttribute('d', /^M[\d.]+,[\d.]+L/)
  await expect(sent.getByRole('img')).toHaveAccessibleDescription(/^\d+ samples over the last \d+ (s|min): now .*, highest \d/)
  for (const key of ['download', 'peers', 'activeTorrents']) await expect(page.getByTestId(`chart-${key}`).getByTestId('latest')).not.toHaveText('—')

  const publicRow = page.locator(`[data-testid=served-file][data-media-id="${publicId}"]`)
  await expect(publicRow).toContainText('dash-public.bin')
  await expect(publicRow.locator('[data-source=http]')).toHaveText('Web seed / HTTP 3.8 MB')
  await expect(publicRow.locator('[data-source=tcp]')).toHaveText('TCP 0.0 KB')
  const privateRow = page.locator(`[data-testid=served-file][data-media-id="${privateId}"]`)
  await expect(privateRow).toContainText('dash-private.bin')
  await expect(privateRow).toContainText('private')

  await expect(page.getByRole('meter', { name: 'Media disk used' })).toHaveAttribute('aria-valuetext', /free of .*; uploads stop under 1\.0 GB free/)

  // A phone's width: everything fits, nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 })
  await expect(sent.locator('path.line')).toBeVisible()
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)

  // Anyone else: the public file, never the private one.
  const visitor = await browser.newPage()
  await visitor.goto('/#/dashboard')
  await expect(visitor.locator(`[data-testid=served-file][data-media-id="${publicId}"]`)).toBeVisible()
  await expect(visitor.locator(`[data-testid=served-file][data-media-id="${privateId}"]`)).toHaveCount(0)
  await expect(visitor.getByText('dash-private.bin')).toHaveCount(0)
  await visitor.close()
})
