import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { expect, test, type Page } from '@playwright/test'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { bearer, signIn } from '../helpers/auth.ts'
import { createWallet, fileOf, toastMessages } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

const openSharedWithMe = async (page: Page): Promise<void> => {
  await page.getByRole('link', { name: 'Shared with me' }).click()
  await expect(page.getByRole('heading', { name: 'Shared with me' })).toBeVisible()
}

test('two wallets: A shares a private file with B\'s key (copied from B\'s page), B finds it under Shared with me and downloads it byte for byte; A revokes and B\'s next request gets the same 404 as a missing file', async ({ browser, baseURL }) => {
  test.setTimeout(180_000)
  // B: a wallet, and its key copied from its own page.
  const contextB = await browser.newContext({ acceptDownloads: true, permissions: ['clipboard-read', 'clipboard-write'] })
  const pageB = await contextB.newPage()
  const wordsB = await createWallet(pageB)
  await openSharedWithMe(pageB)
  await expect(pageB.getByTestId('shared-empty')).toBeVisible()
  await pageB.getByTestId('copy-key').click()
  await expect(pageB.getByRole('status').filter({ hasText: 'Copied' })).toBeVisible()
  const keyB = await pageB.evaluate(async () => await navigator.clipboard.readText())
  expect(keyB).toBe(await pageB.getByTestId('my-public-key').textContent())
  const tokenB = await signIn(baseURL!, await identityFromMnemonic(wordsB.join(' ')))

  // A: a private upload from the library.
  const contextA = await browser.newContext()
  const pageA = await contextA.newPage()
  await createWallet(pageA)
  const file = fileOf('minutes.pdf', 900_000, 191, 'application/pdf')
  const id = sha256(file.buffer)
  await pageA.getByTestId('private').check()
  await pageA.getByTestId('file-input').setInputFiles(file)
  await expect(pageA.locator(`[data-media-id="${id}"]`)).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  expect((await fetch(`${baseURL}/api/media/${id}`, { headers: bearer(tokenB) })).status).toBe(404)

  await pageA.getByRole('link', { name: 'My files' }).click()
  const row = pageA.locator(`[data-testid="server-file"][data-media-id="${id}"]`)
  await row.getByTestId('share').click()
  const dialog = pageA.getByRole('dialog', { name: 'Share minutes.pdf' })
  await expect(dialog.getByTestId('no-shares')).toBeVisible()
  // A typo is caught before the server is asked.
  await dialog.getByTestId('share-key').fill(keyB.slice(0, 60))
  await dialog.getByTestId('add-share').click()
  await expect(dialog.getByTestId('share-error')).toContainText('This is not a public key')
  await dialog.getByTestId('share-key').fill(keyB)
  await dialog.getByTestId('add-share').click()
  await expect(toastMessages(dialog, 'success').last()).toContainText(`Shared with ${keyB.slice(0, 8)}`)
  await expect(dialog.getByTestId('share-row')).toHaveAttribute('data-key', keyB)
  await pageA.keyboard.press('Escape')
  await expect(row.getByTestId('shared-with')).toContainText(keyB.slice(0, 8))

  // B finds it and downloads it through the download page, with capabilities issued to B.
  await pageB.reload()
  await pageB.getByLabel('Passphrase').fill('correct horse battery')
  await pageB.getByRole('button', { name: 'Unlock' }).click()
  await openSharedWithMe(pageB)
  const shared = pageB.locator(`[data-testid="shared-file"][data-media-id="${id}"]`)
  await expect(shared).toContainText('minutes.pdf')
  await expect(shared.getByTestId('expires')).toHaveText('Until revoked')
  await shared.getByTestId('open-shared').click()
  await expect(pageB.getByRole('heading', { name: 'minutes.pdf' })).toBeVisible()
  await pageB.getByTestId('download').click()
  await expect(pageB.getByTestId('download-done')).toBeVisible({ timeout: 60_000 })
  const [saved] = await Promise.all([pageB.waitForEvent('download'), pageB.getByTestId('save').click()])
  expect(sha256(await fs.readFile((await saved.path())!))).toBe(id)
  expect((await fetch(`${baseURL}/api/media/${id}`, { headers: bearer(tokenB) })).status).toBe(200)

  // A revokes.
  await row.getByTestId('share').click()
  await dialog.getByTestId('revoke').click()
  await expect(toastMessages(dialog, 'success').last()).toContainText('can no longer read this file')
  await expect(dialog.getByTestId('no-shares')).toBeVisible()
  await pageA.keyboard.press('Escape')
  await expect(row.getByTestId('shared-with')).toHaveCount(0)

  // B's next request: the same 404 as for a file that does not exist, at each door.
  const missing = '0'.repeat(64)
  for (const door of ['', '/info', '/torrent']) {
    const [gone, never] = await Promise.all([id, missing].map(async m => await fetch(`${baseURL}/api/media/${m}${door}`, { headers: bearer(tokenB) })))
    expect(gone!.status).toBe(404)
    expect(await gone!.json()).toEqual(await never!.json())
  }
  await openSharedWithMe(pageB)
  await expect(pageB.getByTestId('shared-empty')).toBeVisible()
  // The download page, still signed in as B, says what it says of a missing file.
  await pageB.evaluate(m => { location.hash = `#/m/${m}` }, id)
  await expect(pageB.getByRole('alert')).toHaveText('This file does not exist or is not shared with you. Check the link.')
  await contextA.close()
  await contextB.close()
})
