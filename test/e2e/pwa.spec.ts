import { createHash } from 'node:crypto'
import { chromium, expect, test } from '@playwright/test'
import { createWallet, fileOf, PASSPHRASE } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

test('the manifest and service worker pass Chromium\'s installability checks', async ({ baseURL }, testInfo) => {
  // Test contexts are incognito, where Chromium never offers to install: use a real profile.
  const context = await chromium.launchPersistentContext(testInfo.outputPath('profile'), {
    executablePath: process.env.CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    baseURL
  })
  const page = await context.newPage()
  await page.goto('/')
  await page.evaluate(async () => { await navigator.serviceWorker.ready })
  const manifest = await (await page.request.get('/manifest.webmanifest')).json()
  expect(manifest.display).toBe('standalone')
  for (const icon of manifest.icons) {
    const res = await page.request.get(icon.src)
    expect(res.status()).toBe(200)
    expect(res.headers()['content-type']).toBe('image/png')
  }
  const cdp = await page.context().newCDPSession(page)
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
  expect(installabilityErrors).toEqual([])
  await context.close()
})

test('offline, the app reloads, unlocks and lists the library kept in IndexedDB', async ({ page, context }) => {
  await createWallet(page)
  await page.evaluate(async () => { await navigator.serviceWorker.ready })
  const file = fileOf('offline.bin', 150_000, 41)
  await page.getByTestId('file-input').setInputFiles(file)
  await expect(page.locator(`[data-media-id="${sha256(file.buffer)}"]`)).toHaveAttribute('data-phase', 'seeding', { timeout: 30_000 })

  await context.setOffline(true)
  await page.reload()
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Unlock' }).click()
  await expect(page.locator(`[data-media-id="${sha256(file.buffer)}"]`)).toBeVisible()
  await expect(page.getByTestId('server-copy')).toHaveText('Server copy ✓')
  await context.setOffline(false)
})

test('an upload made offline waits in the queue, says so, and goes when the network is back', async ({ page, context }) => {
  await createWallet(page)
  await context.setOffline(true)
  const file = fileOf('on-the-train.bin', 120_000, 42)
  await page.getByTestId('file-input').setInputFiles(file)
  const row = page.locator(`[data-media-id="${sha256(file.buffer)}"]`)
  await expect(row).toHaveAttribute('data-phase', 'queued', { timeout: 30_000 })
  await expect(row.getByTestId('queued')).toContainText('waits and goes when the network is back')
  await expect(row.getByTestId('server-copy')).toHaveText('Not on the server yet')

  await context.setOffline(false)
  await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 30_000 })
  await expect(row.getByTestId('server-copy')).toHaveText('Server copy ✓')
  expect((await page.request.get(`/api/media/${sha256(file.buffer)}/info`)).status()).toBe(200)
})
