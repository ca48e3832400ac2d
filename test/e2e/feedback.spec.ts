/**
 * Share to a phone and feedback on every action: the share dialog's QR code reads back as the
 * link, Copy, the Web Share API, stop, seed and remove say how they went, a failed request is an alert, and a long
 * upload shows its percentage and the time left.
 */
import { createHash } from 'node:crypto'
import { expect, test, type Page, type Route } from '@playwright/test'
import jsQR from 'jsqr'
import { createWallet, fileOf, toastMessages } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const MiB = 1024 * 1024

/** Add a public file from the library and wait until it is on the server; its row. */
async function addFile (page: Page, name: string, size: number, seed: number): Promise<{ mediaId: string, row: ReturnType<Page['locator']> }> {
  const file = fileOf(name, size, seed)
  const mediaId = sha256(file.buffer)
  await page.getByTestId('file-input').setInputFiles(file)
  const row = page.locator(`[data-testid="file-row"][data-media-id="${mediaId}"]`)
  await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  return { mediaId, row }
}

/** The QR code's SVG drawn on a canvas in the page, read by jsQR here: the text it holds. */
async function readQr (page: Page): Promise<string | undefined> {
  const image = await page.getByTestId('share-qr').evaluate(async (el: Element) => {
    const svg = el.querySelector('svg')
    if (!svg) return undefined
    const url = URL.createObjectURL(new Blob([svg.outerHTML], { type: 'image/svg+xml' }))
    const img = new Image()
    img.src = url
    await img.decode()
    const size = 400
    const canvas = document.createElement('canvas')
    canvas.width = canvas.height = size
    const ctx = canvas.getContext('2d')!
    ctx.fillStyle = 'white'
    ctx.fillRect(0, 0, size, size)
    ctx.drawImage(img, 0, 0, size, size)
    URL.revokeObjectURL(url)
    return { width: size, height: size, data: [...ctx.getImageData(0, 0, size, size).data] }
  })
  if (!image) return undefined
  // jsqr is CommonJS with its function also on `default`, the only way TypeScript sees it from ESM.
  return jsQR.default(Uint8ClampedArray.from(image.data), image.width, image.height)?.data
}

test('the share dialog shows a QR code that reads back as exactly the share link; Copy copies it and says so in a polite live region, without taking the focus; no Share… where the browser has no Web Share', async ({ page, context, baseURL }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'])
  // Whatever this Chromium has, the app must hide Share… where navigator.share is missing.
  await page.addInitScript(() => { delete (Navigator.prototype as { share?: unknown }).share })
  await createWallet(page)
  const { mediaId, row } = await addFile(page, 'for-my-phone.bin', 30_000, 301)
  const link = `${baseURL}/#/m/${mediaId}`

  await row.getByTestId('share-link-open').click()
  const dialog = page.getByRole('dialog', { name: 'Share for-my-phone.bin' })
  await expect(dialog.getByTestId('share-url')).toHaveValue(link)
  const qr = dialog.getByRole('img', { name: `QR code of the share link ${link}` })
  await expect(qr.locator('svg')).toBeVisible()
  expect(await readQr(page)).toBe(link)
  await expect(dialog.getByTestId('web-share')).toHaveCount(0)

  const copy = dialog.getByRole('button', { name: 'Copy', exact: true })
  await copy.click()
  await expect(dialog.locator('[role=status][aria-live=polite]').getByText('Copied the share link.')).toBeVisible()
  await expect(copy).toBeFocused()
  expect(await page.evaluate(async () => await navigator.clipboard.readText())).toBe(link)
  // Dismissed by hand (successes also go by themselves).
  await dialog.getByTestId('toast').getByRole('button', { name: 'Dismiss' }).click()
  await expect(dialog.getByTestId('toast')).toHaveCount(0)
})

test('Share… hands the link to the Web Share API; closing the share sheet (AbortError) is no error', async ({ page }) => {
  // The system share sheet stands in: cancelled the first time, used the second.
  await page.addInitScript(() => {
    const calls: ShareData[] = []
    Object.assign(window, { shareCalls: calls })
    Object.defineProperty(Navigator.prototype, 'share', {
      configurable: true,
      value: async (data: ShareData) => {
        calls.push(data)
        if (calls.length === 1) throw new DOMException('Share canceled', 'AbortError')
      }
    })
  })
  await createWallet(page)
  const { mediaId, row } = await addFile(page, 'shared-sheet.bin', 20_000, 302)
  await row.getByTestId('share-link-open').click()
  const dialog = page.getByRole('dialog', { name: 'Share shared-sheet.bin' })
  await dialog.getByRole('button', { name: 'Share…' }).click()
  await expect.poll(async () => await page.evaluate(() => (window as unknown as { shareCalls: ShareData[] }).shareCalls.length)).toBe(1)
  await dialog.getByRole('button', { name: 'Share…' }).click()
  await expect(toastMessages(dialog, 'success')).toHaveText('Shared the link.')
  await expect(dialog.getByTestId('toast').and(dialog.locator('[data-kind=error]'))).toHaveCount(0)
  const calls = await page.evaluate(() => (window as unknown as { shareCalls: ShareData[] }).shareCalls)
  expect(calls).toEqual([
    { title: 'shared-sheet.bin', url: `${new URL(page.url()).origin}/#/m/${mediaId}` },
    { title: 'shared-sheet.bin', url: `${new URL(page.url()).origin}/#/m/${mediaId}` }
  ])
})

test('a pin the server refuses is an alert toast with its reason, which stays until dismissed; a pin that works says so politely', async ({ page }) => {
  await createWallet(page)
  const { mediaId, row } = await addFile(page, 'pinned-later.bin', 10_000, 303)
  await page.route(`**/api/media/${mediaId}/pin`, route => route.fulfill({
    status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'busy', message: 'The server is busy. Try again in a minute.' } })
  }))
  const pin = row.getByTestId('pin')
  await pin.click()
  await expect(toastMessages(page, 'error')).toHaveText('pinned-later.bin was not pinned: The server is busy. Try again in a minute.')
  await expect(pin).toHaveText('Pin on the server')
  await expect(pin).toBeFocused()
  await page.getByRole('alert').getByRole('button', { name: 'Dismiss' }).click()
  await expect(toastMessages(page, 'error')).toHaveCount(0)

  await page.unroute(`**/api/media/${mediaId}/pin`)
  await pin.click()
  await expect(toastMessages(page, 'success')).toHaveText('pinned-later.bin is pinned: the server keeps seeding it.')
  await expect(pin).toHaveText('Pinned on the server ✓')
})

test('Stop seeding, Seed from this tab and Remove (after its confirm) say how they went, politely', async ({ page }) => {
  await createWallet(page)
  const { row } = await addFile(page, 'stop-then-go.bin', 10_000, 304)
  await row.getByRole('button', { name: 'Stop seeding' }).click()
  await expect(toastMessages(page, 'success').last()).toHaveText('stop-then-go.bin is no longer seeded from this tab.')
  await expect(row).toHaveAttribute('data-phase', 'stored')
  await row.getByRole('button', { name: 'Seed from this tab' }).click()
  await expect(toastMessages(page, 'success').last()).toHaveText('stop-then-go.bin is seeded from this tab.')

  const asked: string[] = []
  page.on('dialog', dialog => { asked.push(dialog.message()); void dialog.accept() })
  await row.getByRole('button', { name: 'Remove' }).click()
  await expect(toastMessages(page, 'success').last()).toHaveText('stop-then-go.bin was removed from this browser. The server copy stays.')
  expect(asked).toEqual(['Remove stop-then-go.bin from this browser? The server copy stays.'])
  await expect(row).toHaveCount(0)
  await expect(toastMessages(page, 'error')).toHaveCount(0)
})

test('a long upload shows a progress bar with its percentage and the time left', async ({ page }) => {
  test.setTimeout(120_000)
  await createWallet(page)
  // 40 MiB goes in three PATCHes of 16 MiB: the second is held until the test has seen the bar.
  let patches = 0
  let held: Route | undefined
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  await page.route('**/api/uploads/*', async route => {
    if (route.request().method() === 'PATCH' && ++patches === 2) {
      held = route
      await released
    }
    await route.continue()
  })
  const file = fileOf('long-upload.bin', 40 * MiB, 304)
  await page.getByTestId('file-input').setInputFiles(file)
  const row = page.locator(`[data-media-id="${sha256(file.buffer)}"]`)
  await expect.poll(() => held !== undefined, { timeout: 60_000 }).toBe(true)
  await expect(row).toHaveAttribute('data-phase', 'uploading')

  const bar = row.getByRole('progressbar', { name: 'Upload' })
  const text = row.getByTestId('progress-text')
  // The first 16 MiB are in, the rest is held: a percentage, and an estimate once a second has passed.
  await expect(text).toHaveText(/^\d{1,2}% · time left (\d+ s|\d+ min|\d+ h( \d+ min)?)$/)
  const percent = Number(/^(\d+)%/.exec((await text.textContent())!)![1])
  expect(percent).toBeGreaterThanOrEqual(40)
  expect(percent).toBeLessThan(100)
  expect(Number(await bar.getAttribute('value'))).toBeGreaterThanOrEqual(0.4)
  await expect(bar).toHaveAttribute('aria-valuetext', /^\d+% · time left /)

  release()
  await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  await expect(row.getByRole('progressbar')).toHaveCount(0)
  await expect(row).toContainText('Upload 100%')
})
