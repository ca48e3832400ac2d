/**
 * Thumbnails in real Chromium: made while a file is hashed (a JPEG scaled in a worker, the
 * fixture video's poster frame), shown in the library, named in the signed record, and shown on
 * a fresh browser's share page before anything is downloaded; a damaged and a 20000 × 20000
 * image give a placeholder that says why, and the page goes on; an audio file's share page shows
 * a player; a private file's thumbnail is not readable by another key.
 */
import { createHash } from 'node:crypto'
import { expect, test, type Page } from '@playwright/test'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { brokenPng, drawnJpeg, hugePng } from '../helpers/images.ts'
import { createWallet, toneWav, unlock, VIDEO } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** What a picture has in it: a blank or near-uniform frame has few colours and a small spread. */
interface Picture {
  width: number
  height: number
  /** Distinct colours (4 bits a channel) in a 32 × 32 sample. */
  colours: number
  /** The standard deviation of the sample's luma (0–255). */
  spread: number
}

/** The picture an <img> shows. */
async function shown (page: Page, selector: string): Promise<Picture> {
  // img.decode() rejects with EncodingError when the <img> gets a new source or is drawn anew while it decodes (its
  // row re-rendered as the file's state changes just after it shows): that is no broken picture, so look again.
  let seen: Picture | undefined
  await expect(async () => { seen = await decoded(page, selector) }).toPass({ timeout: 15_000 })
  return seen!
}

async function decoded (page: Page, selector: string): Promise<Picture> {
  return await page.locator(selector).first().evaluate(async (img: HTMLImageElement) => {
    await img.decode()
    const canvas = new OffscreenCanvas(32, 32)
    const ctx = canvas.getContext('2d')!
    ctx.drawImage(img, 0, 0, 32, 32)
    const data = ctx.getImageData(0, 0, 32, 32).data
    const colours = new Set<string>()
    const lumas: number[] = []
    for (let i = 0; i < data.length; i += 4) {
      colours.add(`${data[i]! >> 4},${data[i + 1]! >> 4},${data[i + 2]! >> 4}`)
      lumas.push(0.2126 * data[i]! + 0.7152 * data[i + 1]! + 0.0722 * data[i + 2]!)
    }
    const mean = lumas.reduce((a, b) => a + b, 0) / lumas.length
    const spread = Math.sqrt(lumas.reduce((a, b) => a + (b - mean) ** 2, 0) / lumas.length)
    return { width: img.naturalWidth, height: img.naturalHeight, colours: colours.size, spread }
  })
}

/** A frame with something in it (the countdown's digits on its background, the noise strip), not a near-uniform one. */
function expectDetailed (picture: Picture): void {
  expect(picture.colours).toBeGreaterThan(8)
  expect(picture.spread).toBeGreaterThan(20)
}

/**
 * The file's thumbnail as this browser's library keeps it in IndexedDB: its size (the picture
 * itself), and its mediaId on the server once uploaded.
 */
async function keptThumbnail (page: Page, mediaId: string): Promise<{ size?: number, id?: string }> {
  return await page.evaluate(async id => await new Promise<{ size?: number, id?: string }>((resolve, reject) => {
    const open = indexedDB.open('oip-media-seeder')
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const get = open.result.transaction('files').objectStore('files').get(id)
      get.onsuccess = () => { resolve({ size: (get.result?.thumbnail as Blob | undefined)?.size, id: get.result?.thumbnailId }); open.result.close() }
    }
  }), mediaId)
}

test('an image and the fixture video get thumbnails while they hash; a fresh browser\'s share page shows the picture, and the poster that plays', async ({ browser, baseURL, request }) => {
  test.setTimeout(180_000)
  const uploader = await browser.newContext()
  const tab = await uploader.newPage()
  await createWallet(tab)
  const photo = { name: 'harbour.jpg', mimeType: 'image/jpeg', buffer: await drawnJpeg(tab, 2400, 1500, 'Harbour') }
  const ids = { photo: sha256(photo.buffer), video: sha256(VIDEO.buffer) }
  await tab.getByTestId('file-input').setInputFiles([photo, VIDEO])
  for (const id of Object.values(ids)) {
    const row = tab.locator(`[data-media-id="${id}"]`)
    await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
    await expect(row.getByTestId('thumbnail')).toBeVisible()
  }
  // Scaled to 320 px on the long side, in its proportions (the browser rounds the other side); a real picture, not a blank frame.
  const picture = await shown(tab, `[data-media-id="${ids.photo}"] [data-testid=thumbnail]`)
  expect(picture.width).toBe(320)
  expect(Math.abs(picture.height - 200)).toBeLessThanOrEqual(1)
  expectDetailed(picture)
  const poster = await shown(tab, `[data-media-id="${ids.video}"] [data-testid=thumbnail]`)
  expect(Math.max(poster.width, poster.height)).toBeLessThanOrEqual(320)
  expectDetailed(poster)

  // Named in the signed records, so anyone can find them.
  for (const id of Object.values(ids)) {
    await expect.poll(async () => (await (await request.get(`/api/media/${id}/info`)).json()).thumbnail, { timeout: 30_000 }).not.toBeNull()
    const thumbnail = (await (await request.get(`/api/media/${id}/info`)).json()).thumbnail as string
    const records = (await (await request.get(`/api/records?owner=${encodeURIComponent(await tab.getByTestId('identity').getAttribute('title') ?? '')}`)).json()).items
    expect(records.find((r: any) => r.record.media.mediaId === id).record.media.thumbnails).toEqual([thumbnail])
    expect((await request.get(`/api/media/${thumbnail}`)).headers()['content-type']).toBe('image/webp')
  }

  // After a reload the thumbnails come from this browser's IndexedDB: the server's copies are not even asked for.
  const kept = await Promise.all(Object.values(ids).map(async id => await keptThumbnail(tab, id)))
  for (const thumbnail of kept) {
    expect(thumbnail.size).toBeGreaterThan(0)
    await tab.route(`**/api/media/${thumbnail.id!}**`, route => route.abort())
  }
  await tab.reload()
  await unlock(tab)
  expect(await shown(tab, `[data-media-id="${ids.photo}"] [data-testid=thumbnail]`)).toEqual(picture)
  expect(await shown(tab, `[data-media-id="${ids.video}"] [data-testid=thumbnail]`)).toEqual(poster)
  await uploader.close()

  const visitor = await browser.newContext({ baseURL })
  const page = await visitor.newPage()
  await page.goto(`/#/m/${ids.photo}`)
  await expect(page.getByTestId('preview').getByTestId('thumbnail')).toBeVisible()
  expect(await shown(page, '[data-testid=preview] [data-testid=thumbnail]')).toMatchObject({ width: picture.width, height: picture.height })

  // Every request of the visitor's pages and workers, service worker included.
  const requested: string[] = []
  visitor.on('request', r => requested.push(new URL(r.url()).pathname))
  const forTheVideosBytes = (path: string): boolean => path === `/api/media/${ids.video}` || path.startsWith(`/api/media/${ids.video}/seed/`) || path.startsWith('/webtorrent/')
  await page.goto(`/#/m/${ids.video}`)
  const play = page.getByRole('button', { name: `Play ${VIDEO.name}` })
  await expect(play.getByTestId('thumbnail')).toBeVisible()
  expectDetailed(await shown(page, '[data-testid=play-poster] [data-testid=thumbnail]'))
  // Nothing was downloaded for it: the poster is the thumbnail's few KB.
  expect(requested.filter(forTheVideosBytes)).toEqual([])
  await play.click()
  await page.waitForFunction(() => { const v = document.querySelector('video'); return v !== null && v.currentTime > 0 }, undefined, { timeout: 60_000 })
  expect(requested.filter(forTheVideosBytes).length, 'the play click fetched its bytes').toBeGreaterThan(0)

  // The thumbnails this visitor fetched are sent bytes too: the dashboard names each after its file.
  const photoThumbnail = (await (await request.get(`/api/media/${ids.photo}/info`)).json()).thumbnail as string
  await page.goto('/#/dashboard')
  await expect(page.locator(`[data-testid=served-file][data-media-id="${photoThumbnail}"]`)).toContainText(`Thumbnail of ${photo.name}`)
  await visitor.close()
})

test('a damaged and a 20000 × 20000 image get a placeholder that says why; the page answers meanwhile and the next picture still gets its thumbnail', async ({ page }) => {
  test.setTimeout(180_000)
  await createWallet(page)
  const huge = { name: 'huge.png', mimeType: 'image/png', buffer: hugePng(20_000) }
  const broken = { name: 'broken.png', mimeType: 'image/png', buffer: brokenPng() }
  const fine = { name: 'fine.jpg', mimeType: 'image/jpeg', buffer: await drawnJpeg(page, 640, 480, 'Fine') }
  // Main-thread tasks while they are read, decoded and hashed. Decoding the huge image on the
  // main thread would hold it for many seconds; the bound is far above what a loaded machine
  // makes of ordinary work, so only a freeze fails.
  await page.evaluate(() => {
    (window as any).longTasks = []
    new PerformanceObserver(list => { for (const e of list.getEntries()) (window as any).longTasks.push(Math.round(e.duration)) }).observe({ type: 'longtask' })
  })
  await page.getByTestId('file-input').setInputFiles([huge, broken, fine])

  const row = (b: { buffer: Buffer }) => page.locator(`[data-media-id="${sha256(b.buffer)}"]`)
  await expect(row(huge).getByTestId('thumbnail-placeholder')).toHaveAttribute('data-reason', /20000 × 20000 pixels, more than 50 megapixels/, { timeout: 60_000 })
  await expect(row(huge).getByTestId('thumbnail-note')).toContainText('No preview: the image is 20000 × 20000 pixels')
  await expect(row(broken).getByTestId('thumbnail-placeholder')).toHaveAttribute('data-reason', /could not decode the image/, { timeout: 60_000 })
  await expect(row(fine).getByTestId('thumbnail')).toBeVisible({ timeout: 60_000 })
  // The page answers and its controls work.
  await page.getByTestId('private').check()
  await expect(page.getByTestId('private')).toBeChecked()
  // The files themselves are fine: hashed, uploaded and seeded like any other.
  for (const b of [huge, broken, fine]) await expect(row(b)).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  await expect(row(huge).getByRole('img', { name: /No preview of huge\.png: the image is 20000 × 20000 pixels/ })).toBeVisible()
  expect((await page.evaluate(() => (window as any).longTasks as number[])).filter(ms => ms > 2000), 'main-thread tasks over 2 s (a freeze)').toEqual([])
})

test("an audio file's share page shows an audio player before anything is downloaded, which plays it", async ({ browser, baseURL }) => {
  test.setTimeout(120_000)
  const tone = toneWav('tone.wav', 2)
  const token = await signIn(baseURL!, await newIdentity())
  const form = new FormData()
  form.append('access_level', 'public')
  form.append('file', new Blob([new Uint8Array(tone.buffer)], { type: tone.mimeType }), tone.name)
  const res = await fetch(`${baseURL}/api/media/upload`, { method: 'POST', headers: bearer(token), body: form })
  expect(res.status).toBe(201)

  const visitor = await browser.newContext({ baseURL })
  const page = await visitor.newPage()
  await page.goto(`/#/m/${sha256(tone.buffer)}`)
  const player = page.getByRole('group', { name: 'Audio player: tone.wav' })
  await expect(player).toBeVisible()
  await expect(page.locator('audio')).toHaveCount(0)
  await player.getByRole('button', { name: 'Play tone.wav' }).click()
  // The app's <audio> has the file: its length is the tone's.
  await expect.poll(() => page.getByTestId('player').evaluate((a: HTMLAudioElement) => Math.round(a.duration)), { timeout: 60_000 }).toBe(2)
  await visitor.close()
})

test("a private file's thumbnail is private: its owner sees it, nobody without a key nor another key can read it", async ({ page, baseURL, request }) => {
  test.setTimeout(120_000)
  await createWallet(page)
  await page.getByTestId('private').check()
  const secret = { name: 'passport.jpg', mimeType: 'image/jpeg', buffer: await drawnJpeg(page, 1200, 800, 'Private') }
  const id = sha256(secret.buffer)
  await page.getByTestId('file-input').setInputFiles(secret)
  const row = page.locator(`[data-media-id="${id}"]`)
  await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  await expect(row.getByTestId('thumbnail')).toBeVisible()
  await expect.poll(async () => (await keptThumbnail(page, id)).id, { timeout: 30_000 }).toMatch(/^[0-9a-f]{64}$/)
  const thumbnail = (await keptThumbnail(page, id)).id!

  // Its owner reads it (My files shows it, read with their session).
  await page.goto('/#/my-files')
  await expect(page.locator(`[data-testid=server-file][data-media-id="${id}"]`).getByTestId('thumbnail')).toBeVisible()
  await expect(page.locator(`[data-testid=server-file][data-media-id="${thumbnail}"]`)).toHaveCount(0)

  const other = await signIn(baseURL!, await newIdentity())
  for (const [who, headers] of [['no key', {}], ['another key', bearer(other)]] as const) {
    expect((await request.get(`/api/media/${thumbnail}`, { headers })).status(), who).toBe(404)
    expect((await request.get(`/api/media/${thumbnail}/info`, { headers })).status(), who).toBe(404)
    expect((await request.get(`/api/media/${id}/info`, { headers })).status(), who).toBe(404)
  }
})
