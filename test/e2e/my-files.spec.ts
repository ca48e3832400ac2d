import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { expect, test, type Page } from '@playwright/test'
import { QUOTA_BYTES, QUOTA_URL } from '../../playwright.config.ts'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { bearer, signIn } from '../helpers/auth.ts'
import { createWallet, fileOf, PASSPHRASE, toastMessages } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** Upload as `token` the way curl does (multipart), not from the page. */
async function uploadWithFetch (baseURL: string, token: string, file: { name: string, mimeType: string, buffer: Buffer }, accessLevel = 'public'): Promise<string> {
  const form = new FormData()
  form.append('access_level', accessLevel)
  form.append('file', new Blob([new Uint8Array(file.buffer)], { type: file.mimeType }), file.name)
  const res = await fetch(`${baseURL}/api/media/upload`, { method: 'POST', headers: bearer(token), body: form })
  expect(res.status).toBe(201)
  return (await res.json()).mediaId
}

const openMyFiles = async (page: Page): Promise<void> => {
  await page.getByRole('link', { name: 'My files' }).click()
  await expect(page.getByRole('heading', { name: 'My files on the server' })).toBeVisible()
}

test('My files lists what another client uploaded; deleting it from the server (confirmed) ends its share link; the copy of a file in this browser stays, marked', async ({ page, browser, baseURL }) => {
  test.setTimeout(120_000)
  const words = await createWallet(page)
  const token = await signIn(baseURL!, await identityFromMnemonic(words.join(' ')))
  const elsewhere = fileOf('from-curl.bin', 60_000, 181)
  const elsewhereId = await uploadWithFetch(baseURL!, token, elsewhere)
  const here = fileOf('from-this-tab.bin', 50_000, 182)
  const hereId = sha256(here.buffer)
  await page.getByTestId('file-input').setInputFiles(here)
  await expect(page.locator(`[data-media-id="${hereId}"]`)).toHaveAttribute('data-phase', 'seeding', { timeout: 30_000 })

  await openMyFiles(page)
  const curlRow = page.locator(`[data-testid="server-file"][data-media-id="${elsewhereId}"]`)
  const tabRow = page.locator(`[data-testid="server-file"][data-media-id="${hereId}"]`)
  await expect(curlRow).toContainText('from-curl.bin')
  await expect(curlRow.getByTestId('in-browser')).toHaveText('Not in this browser')
  await expect(curlRow.getByTestId('access')).toHaveText('public')
  await expect(curlRow).toContainText('58.6 KB')
  await expect(tabRow.getByTestId('in-browser')).toHaveText('In this browser')

  // Before the delete, a fresh browser downloads it from its share link, byte for byte.
  const visitor = await browser.newContext()
  const visit = await visitor.newPage()
  await visit.goto(`/#/m/${elsewhereId}`)
  await expect(visit.getByRole('heading', { name: 'from-curl.bin' })).toBeVisible()
  await visit.getByTestId('download').click()
  await expect(visit.getByTestId('download-done')).toBeVisible({ timeout: 60_000 })
  const [saved] = await Promise.all([visit.waitForEvent('download'), visit.getByTestId('save').click()])
  expect(sha256(await fs.readFile((await saved.path())!))).toBe(elsewhereId)
  await visitor.close()

  // The dialog says what happens; Cancel (Escape) changes nothing.
  await curlRow.getByTestId('delete').click()
  const dialog = page.getByRole('dialog', { name: 'Delete from-curl.bin from the server?' })
  await expect(dialog).toContainText('The server deletes the bytes when no one else holds them')
  await expect(dialog).toContainText('Peers that already downloaded the file keep their copies')
  await expect(dialog).toContainText('it stays public under their records')
  await expect(dialog.getByTestId('remove-here')).toHaveCount(0)
  await page.keyboard.press('Escape')
  await expect(dialog).toBeHidden()
  expect((await fetch(`${baseURL}/api/media/${elsewhereId}`)).status).toBe(200)

  await curlRow.getByTestId('delete').click()
  await dialog.getByTestId('confirm-delete').click()
  await expect(toastMessages(page, 'success').last()).toHaveText('from-curl.bin was deleted from the server.')
  await expect(curlRow).toHaveCount(0)
  expect((await fetch(`${baseURL}/api/media/${elsewhereId}`)).status).toBe(404)

  // A fresh browser's share link no longer downloads it.
  const late = await browser.newContext()
  const latePage = await late.newPage()
  await latePage.goto(`/#/m/${elsewhereId}`)
  await expect(latePage.getByRole('alert')).toContainText('does not exist or is not shared with you')
  await expect(latePage.getByTestId('download')).toHaveCount(0)
  await late.close()

  // The file in this browser: deleted from the server, its copy here kept and marked.
  await tabRow.getByTestId('delete').click()
  const tabDialog = page.getByRole('dialog', { name: 'Delete from-this-tab.bin from the server?' })
  await expect(tabDialog).toContainText('The copy in this browser stays')
  await tabDialog.getByTestId('confirm-delete').click()
  await expect(toastMessages(page, 'success').last()).toHaveText('from-this-tab.bin was deleted from the server. The copy in this browser stays, marked "not on the server".')
  await expect(page.getByTestId('my-files-empty')).toBeVisible()
  expect((await fetch(`${baseURL}/api/media/${hereId}`, { method: 'HEAD', headers: bearer(token) })).status).toBe(404)

  // After a reload the copy is still here, still marked, and not uploaded again by itself.
  await page.reload()
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Unlock' }).click()
  await page.getByRole('link', { name: 'Library' }).click()
  const libraryRow = page.locator(`[data-testid="file-row"][data-media-id="${hereId}"]`)
  await expect(libraryRow.getByTestId('server-copy')).toHaveText('Not on the server (deleted from it)')
  await openMyFiles(page)
  await expect(page.getByTestId('my-files-empty')).toBeVisible()
  expect((await fetch(`${baseURL}/api/media/${hereId}`, { method: 'HEAD', headers: bearer(token) })).status).toBe(404)
})

test('My files pages by cursor: the next page comes with "Load more"', async ({ page, baseURL }) => {
  test.setTimeout(120_000)
  const words = await createWallet(page)
  const token = await signIn(baseURL!, await identityFromMnemonic(words.join(' ')))
  const ids = new Set<string>()
  for (let i = 0; i < 27; i++) ids.add(await uploadWithFetch(baseURL!, token, fileOf(`page-${i}.bin`, 1000 + i, 900 + i)))
  await openMyFiles(page)
  const rows = page.getByTestId('server-file')
  await expect(rows).toHaveCount(25)
  await page.getByTestId('load-more').click()
  await expect(rows).toHaveCount(27)
  await expect(page.getByTestId('load-more')).toHaveCount(0)
  const listed = await rows.evaluateAll(els => els.map(e => e.getAttribute('data-media-id')))
  expect(new Set(listed)).toEqual(ids)
})

test('a delete the server refuses says why, and the file stays listed', async ({ page, baseURL }) => {
  const words = await createWallet(page)
  const token = await signIn(baseURL!, await identityFromMnemonic(words.join(' ')))
  const id = await uploadWithFetch(baseURL!, token, fileOf('kept.bin', 3000, 183))
  await openMyFiles(page)
  const row = page.locator(`[data-testid="server-file"][data-media-id="${id}"]`)
  await expect(row).toBeVisible()
  await page.route(`**/api/media/${id}`, route => route.request().method() === 'DELETE'
    ? route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'busy', message: 'The server is busy. Try again in a minute.' } }) })
    : route.continue())
  await row.getByTestId('delete').click()
  await page.getByTestId('confirm-delete').click()
  await expect(toastMessages(page, 'error')).toHaveText('kept.bin was not deleted: The server is busy. Try again in a minute.')
  await expect(row).toBeVisible()
})

test('a private file uploaded elsewhere opens from My files and downloads byte for byte with my session; without it the link shows nothing', async ({ page, browser, baseURL }) => {
  test.setTimeout(120_000)
  const words = await createWallet(page)
  const token = await signIn(baseURL!, await identityFromMnemonic(words.join(' ')))
  const file = fileOf('private-notes.bin', 700_000, 184)
  const id = await uploadWithFetch(baseURL!, token, file, 'private')
  await openMyFiles(page)
  const row = page.locator(`[data-testid="server-file"][data-media-id="${id}"]`)
  await expect(row.getByTestId('access')).toHaveText('private')
  await row.getByRole('link', { name: 'Open' }).click()
  await expect(page.getByRole('heading', { name: 'private-notes.bin' })).toBeVisible()
  await page.getByTestId('download').click()
  await expect(page.getByTestId('download-done')).toBeVisible({ timeout: 60_000 })
  const [saved] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save').click()])
  expect(sha256(await fs.readFile((await saved.path())!))).toBe(id)

  const stranger = await browser.newContext()
  const strangerPage = await stranger.newPage()
  await strangerPage.goto(`/#/m/${id}`)
  await expect(strangerPage.getByRole('alert')).toContainText('does not exist or is not shared with you. Check the link. If it was shared with you, open the app and unlock your wallet first.')
  await stranger.close()
})

/** My OIP records as the server holds them (newest first). */
async function recordsOf (baseURL: string, token: string, publicKey: string): Promise<Array<{ record: any }>> {
  return (await (await fetch(`${baseURL}/api/records?owner=${publicKey}`, { headers: bearer(token) })).json()).items
}

test('Edit from My files: name, description and tags change on the server and the record is signed again, for a file in this browser and one uploaded elsewhere; search finds by the new words', async ({ page, baseURL }) => {
  test.setTimeout(120_000)
  const words = await createWallet(page)
  const me = await identityFromMnemonic(words.join(' '))
  const token = await signIn(baseURL!, me)
  const here = fileOf('beach.bin', 40_000, 185)
  const hereId = sha256(here.buffer)
  await page.getByTestId('file-input').setInputFiles(here)
  await expect(page.locator(`[data-media-id="${hereId}"]`)).toHaveAttribute('data-phase', 'seeding', { timeout: 30_000 })
  const elsewhereId = await uploadWithFetch(baseURL!, token, fileOf('scan.bin', 30_000, 186), 'private')

  await openMyFiles(page)
  for (const [id, name, tags] of [[hereId, 'Beach day', 'summer, sea'], [elsewhereId, 'Tax scan', 'paperwork']] as const) {
    const row = page.locator(`[data-testid="server-file"][data-media-id="${id}"]`)
    await row.getByTestId('edit').click()
    const dialog = page.getByRole('dialog')
    await dialog.getByTestId('edit-name').fill(name)
    await dialog.getByTestId('edit-description').fill(`About ${name}`)
    await dialog.getByTestId('edit-tags').fill(tags)
    await dialog.getByTestId('save-edit').click()
    await expect(toastMessages(page, 'success').last()).toHaveText(`${name} was saved. Your record of it is signed again.`)
    await expect(dialog).toBeHidden()
    await expect(row.getByTestId('title')).toHaveText(name)
    await expect(row.getByTestId('description')).toHaveText(`About ${name}`)
    await expect(row.getByTestId('tags').locator('li')).toHaveText(tags.split(', '))
    // The one record of mine for it says the same, signed by my key (the server checks the signature).
    const records = (await recordsOf(baseURL!, token, me.publicKey)).filter(r => r.record.media.mediaId === id)
    expect(records).toHaveLength(1)
    expect(records[0]!.record.basic).toMatchObject({ name, description: `About ${name}`, tagItems: tags.split(', ') })
  }
  // The library's copy takes the new words too.
  await page.getByRole('link', { name: 'Library' }).click()
  await expect(page.locator(`[data-testid="file-row"][data-media-id="${hereId}"]`)).toContainText('Beach day')

  await openMyFiles(page)
  await page.getByTestId('my-files-search').fill('tax')
  await page.getByRole('button', { name: 'Search' }).click()
  await expect(page.getByTestId('server-file')).toHaveCount(1)
  await expect(page.getByTestId('server-file')).toHaveAttribute('data-media-id', elsewhereId)
  await page.getByTestId('my-files-search').fill('nothing like this')
  await page.getByRole('button', { name: 'Search' }).click()
  await expect(page.getByTestId('my-files-empty')).toHaveText('None of your files matches "nothing like this".')
  await page.getByRole('button', { name: 'Show all' }).click()
  await expect(page.getByTestId('server-file')).toHaveCount(2)
})

test('Change access from My files: public to private takes the file from everyone else at once and the tab seeds the new private torrent; back to public opens it again; each time the record is signed again', async ({ page, baseURL }) => {
  test.setTimeout(120_000)
  const words = await createWallet(page)
  const me = await identityFromMnemonic(words.join(' '))
  const token = await signIn(baseURL!, me)
  const file = fileOf('open-then-closed.bin', 300_000, 187)
  const id = sha256(file.buffer)
  await page.getByTestId('file-input').setInputFiles(file)
  const libraryRow = page.locator(`[data-testid="file-row"][data-media-id="${id}"]`)
  await expect(libraryRow).toHaveAttribute('data-phase', 'seeding', { timeout: 30_000 })
  const publicInfoHash = await libraryRow.getAttribute('data-infohash')
  expect((await fetch(`${baseURL}/api/media/${id}`)).status).toBe(200)

  await openMyFiles(page)
  const row = page.locator(`[data-testid="server-file"][data-media-id="${id}"]`)
  await expect(row.getByTestId('seeding-state')).toHaveText(/Seeded by the server|Idle on the server/)
  await row.getByTestId('change-access').click()
  const dialog = page.getByRole('dialog', { name: 'Make open-then-closed.bin private?' })
  await expect(dialog).toContainText('If nobody else holds these bytes publicly, the file leaves the public listing')
  await expect(dialog).toContainText('Copies people already downloaded stay with them')
  await dialog.getByTestId('confirm-access').click()
  await expect(toastMessages(page, 'success').last()).toHaveText('open-then-closed.bin is private now. Your record of it is signed again.')
  await expect(row.getByTestId('access')).toHaveText('private')
  for (const door of ['', '/info', '/torrent']) expect((await fetch(`${baseURL}/api/media/${id}${door}`)).status).toBe(404)
  const privateInfoHash = (await (await fetch(`${baseURL}/api/media/${id}/info`, { headers: bearer(token) })).json()).infoHash
  expect(privateInfoHash).not.toBe(publicInfoHash)
  let records = (await recordsOf(baseURL!, token, me.publicKey)).filter(r => r.record.media.mediaId === id)
  expect(records).toHaveLength(1)
  expect(records[0]!.record.accessControl.access_level).toBe('private')
  expect(records[0]!.record.media.bittorrentAddress).toContain(privateInfoHash)

  // The library's copy seeds the private torrent now (checked against its own pieces).
  await page.getByRole('link', { name: 'Library' }).click()
  await expect(libraryRow).toHaveAttribute('data-infohash', privateInfoHash)
  await expect(libraryRow).toHaveAttribute('data-phase', 'seeding')
  await expect(libraryRow.locator('.badge')).toHaveText('private')

  await openMyFiles(page)
  await row.getByTestId('change-access').click()
  const back = page.getByRole('dialog', { name: 'Make open-then-closed.bin public?' })
  await expect(back).toContainText('Anyone with the link can download it')
  await back.getByTestId('confirm-access').click()
  await expect(toastMessages(page, 'success').last()).toHaveText('open-then-closed.bin is public now. Your record of it is signed again.')
  expect((await fetch(`${baseURL}/api/media/${id}`)).status).toBe(200)
  records = (await recordsOf(baseURL!, token, me.publicKey)).filter(r => r.record.media.mediaId === id)
  expect(records).toHaveLength(1)
  expect(records[0]!.record.accessControl.access_level).toBe('public')
  expect(records[0]!.record.media.bittorrentAddress).toContain(publicInfoHash)
  await page.getByRole('link', { name: 'Library' }).click()
  await expect(libraryRow).toHaveAttribute('data-infohash', publicInfoHash!)
})

test('My files shows my usage against the per-key limits', async ({ page, baseURL }) => {
  const words = await createWallet(page)
  const token = await signIn(baseURL!, await identityFromMnemonic(words.join(' ')))
  await uploadWithFetch(baseURL!, token, fileOf('a.bin', 2048, 188))
  await uploadWithFetch(baseURL!, token, fileOf('b.bin', 4096, 189))
  await openMyFiles(page)
  const usage = page.getByTestId('usage')
  await expect(usage).toContainText('Stored 6.0 KB of 10.0 GB')
  await expect(usage).toContainText('Files 2 of 10,000')
  await expect(usage).toContainText('Pinned 0 of 10')
  await expect(usage).toContainText('At a limit, the server refuses new uploads')
  // A delete gives the room back.
  await page.getByTestId('delete').first().click()
  await page.getByTestId('confirm-delete').click()
  await expect(usage).toContainText('Files 1 of 10,000')
})

test("an upload past my storage quota: the row and My files' usage say what the server said, and nothing is stored", async ({ browser }) => {
  const context = await browser.newContext({ baseURL: QUOTA_URL })
  const page = await context.newPage()
  await createWallet(page)
  const fits = fileOf('fits.bin', 60_000, 193)
  await page.getByTestId('file-input').setInputFiles(fits)
  await expect(page.locator(`[data-media-id="${sha256(fits.buffer)}"]`)).toHaveAttribute('data-phase', 'seeding', { timeout: 30_000 })
  const tooMuch = fileOf('too-much.bin', 60_000, 194)
  await page.getByTestId('file-input').setInputFiles(tooMuch)
  const row = page.locator(`[data-testid="file-row"][data-media-id="${sha256(tooMuch.buffer)}"]`)
  const said = `You store 58.6 KiB of ${(QUOTA_BYTES / 1024).toFixed(1)} KiB allowed; this file needs 58.6 KiB more. Delete files or ask the operator.`
  await expect(row.getByRole('alert')).toHaveText(said, { timeout: 30_000 })

  await openMyFiles(page)
  await expect(page.getByTestId('server-file')).toHaveCount(1)
  const usage = page.getByTestId('usage')
  await expect(usage).toContainText(`Stored 58.6 KB of ${(QUOTA_BYTES / 1024).toFixed(1)} KB`)
  await expect(usage.getByRole('alert')).toHaveText(`The server refused too-much.bin: ${said}`)
  await context.close()
})

test('on a phone (390×844) My files, its dialogs and Shared with me fit without scrolling sideways, and are reached with the keyboard', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
  const page = await context.newPage()
  const words = await createWallet(page)
  const token = await signIn(baseURL!, await identityFromMnemonic(words.join(' ')))
  await uploadWithFetch(baseURL!, token, fileOf(`a-rather-long-file-name-without-spaces-from-a-camera-${'x'.repeat(40)}.bin`, 5000, 192), 'private')
  const fits = async (): Promise<void> => {
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
  }
  // Tab from the app's title to the My files link, and open it with Enter.
  await page.getByRole('link', { name: 'OIP Media Seeder' }).focus()
  await page.keyboard.press('Tab')
  await page.keyboard.press('Tab')
  await expect(page.getByRole('link', { name: 'My files' })).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(page.getByTestId('server-file')).toHaveCount(1)
  await fits()
  await page.getByTestId('delete').focus()
  await page.keyboard.press('Enter')
  await expect(page.getByRole('dialog')).toBeVisible()
  // The dialog takes the focus, and Escape gives it back.
  await expect(page.getByRole('dialog').locator(':focus')).toHaveCount(1)
  await fits()
  await page.keyboard.press('Escape')
  await expect(page.getByTestId('delete')).toBeFocused()
  await page.getByTestId('edit').click()
  await fits()
  await page.keyboard.press('Escape')
  await page.getByRole('link', { name: 'Shared with me' }).click()
  await expect(page.getByTestId('my-public-key')).toBeVisible()
  await fits()
  await context.close()
})
