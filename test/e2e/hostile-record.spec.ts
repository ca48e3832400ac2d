import { createHash } from 'node:crypto'
import { expect, test, type Page, type Route } from '@playwright/test'
import type { UploadResult } from '../../shared/media.ts'
import type { OipMediaRecord } from '../../shared/record.ts'
import { createWallet, fileOf, uploadFromTab } from './helpers.ts'

// A hostile (or compromised) server stores the bytes and answers the right torrent, but names
// other facts in its answer to the upload or claim, hoping the wallet signs them into a record.

const sha256 = (buffer: Buffer): string => createHash('sha256').update(buffer).digest('hex')

/** The media of every record the page posts. */
function recordPosts (page: Page): Array<OipMediaRecord['media']> {
  const posts: Array<OipMediaRecord['media']> = []
  page.on('request', req => {
    if (req.method() === 'POST' && new URL(req.url()).pathname === '/api/records') posts.push((req.postDataJSON() as { record: OipMediaRecord }).record.media)
  })
  return posts
}

type Lies = Map<string, (answer: UploadResult) => Partial<UploadResult>>

/**
 * Pass the request to the real server; in its JSON answer, rewrite the upload result (the claim's
 * answer itself, or a tus upload's status `result`) of a file `lies` names.
 */
async function rewrite (route: Route, lies: Lies): Promise<void> {
  const response = await route.fetch()
  const body = await response.text()
  let answer: (UploadResult & { result?: UploadResult }) | undefined
  try { answer = JSON.parse(body) } catch {}
  const result = answer?.result ?? answer
  const lie = result?.mediaId ? lies.get(result.mediaId) : undefined
  if (!lie) return await route.fulfill({ response, body })
  const told = { ...result!, ...lie(result!) }
  await route.fulfill({ response, body: JSON.stringify(answer!.result ? { ...answer, result: told } : told) })
}

const row = (page: Page, mediaId: string) => page.locator(`[data-media-id="${mediaId}"]`)

test("the wallet signs no record when the upload's answer names another mediaId, magnet, httpUrl or size; an honest answer is signed", async ({ page, baseURL }) => {
  const origin = new URL(baseURL!).origin
  const files = {
    honest: fileOf('honest.bin', 40_000, 101),
    mediaId: fileOf('other-id.bin', 40_000, 102),
    magnet: fileOf('other-magnet.bin', 40_000, 103),
    httpUrl: fileOf('other-url.bin', 40_000, 104),
    size: fileOf('other-size.bin', 40_000, 105)
  }
  const elsewhere = 'e5'.repeat(32)
  const lies: Lies = new Map<string, (answer: UploadResult) => Partial<UploadResult>>([
    [sha256(files.mediaId.buffer), () => ({ mediaId: elsewhere })],
    [sha256(files.magnet.buffer), a => ({ magnetURI: a.magnetURI.replace(a.infoHash, 'f6'.repeat(20)) })],
    [sha256(files.httpUrl.buffer), () => ({ httpUrl: `https://evil.example/api/media/${elsewhere}` })],
    [sha256(files.size.buffer), a => ({ fileSize: a.fileSize * 10 })]
  ])
  // A finished tus upload's status (GET /api/uploads/:id) carries its result.
  await page.route('**/api/uploads/**', async route => await rewrite(route, lies))
  const posts = recordPosts(page)
  await createWallet(page)
  for (const file of Object.values(files)) await page.getByTestId('file-input').setInputFiles(file)

  const honestId = sha256(files.honest.buffer)
  await expect.poll(() => posts.length, { timeout: 60_000 }).toBe(1)
  expect(posts[0]).toEqual({
    mediaId: honestId,
    bittorrentAddress: expect.stringMatching(new RegExp(`^magnet:\\?xt=urn:btih:${await row(page, honestId).getAttribute('data-infohash')}&`)),
    httpUrl: `${origin}/api/media/${honestId}`,
    contentType: 'application/octet-stream',
    size: 40_000
  })
  const refusals: Array<[keyof typeof files, RegExp]> = [
    ['mediaId', /mediaId as "e5e5.*", but the SHA-256 this browser computed is/],
    ['magnet', /magnet \(its infoHash\) as "f6f6.*", but the infoHash this browser checked/],
    ['httpUrl', /httpUrl as "https:\/\/evil\.example.*", but this app's address for it is "http:\/\/127\.0\.0\.1/],
    ['size', /size as "400000", but the file's size here is "40000"/]
  ]
  for (const [which, reason] of refusals) {
    const refused = row(page, sha256(files[which].buffer))
    await expect(refused).toHaveAttribute('data-phase', 'failed', { timeout: 60_000 })
    await expect(refused.getByRole('alert')).toContainText('Nothing was signed')
    await expect(refused.getByRole('alert')).toContainText(reason)
  }
  await expect(row(page, honestId)).toHaveAttribute('data-phase', 'seeding')
  expect(posts).toHaveLength(1)
})

test("the wallet signs no record when the claim's answer (bytes the server already had) names another address", async ({ page, browser, baseURL }) => {
  const file = fileOf('claimed.bin', 30_000, 106)
  const { mediaId } = await uploadFromTab(browser, baseURL!, file)
  await page.route(`**/api/media/${mediaId}/claim`, async route => await rewrite(route, new Map([[mediaId, () => ({ httpUrl: 'https://evil.example/claimed.bin' })]])))
  const claims: string[] = []
  page.on('request', req => { if (req.url().endsWith('/claim')) claims.push(req.url()) })
  const posts = recordPosts(page)
  await createWallet(page)
  await page.getByTestId('file-input').setInputFiles(file)
  await expect(row(page, mediaId)).toHaveAttribute('data-phase', 'failed', { timeout: 60_000 })
  await expect(row(page, mediaId).getByRole('alert')).toContainText(/Nothing was signed: .*httpUrl as "https:\/\/evil\.example\/claimed\.bin"/)
  expect(claims).toHaveLength(1)
  expect(posts).toEqual([])
})
