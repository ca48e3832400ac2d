import { createHash } from 'node:crypto'
import { expect, test } from '@playwright/test'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { bearer, signIn } from '../helpers/auth.ts'
import { createWallet, fileOf, PASSPHRASE } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

test('a wallet, two files (one private) hashed, uploaded and seeded; back after a reload without hashing again; the private one hidden from another key', async ({ page, browser, request }) => {
  test.setTimeout(120_000)
  // Count hash workers, to prove a reload does not hash again.
  await page.addInitScript(() => {
    const Native = window.Worker
    ;(window as any).hashWorkers = 0
    window.Worker = class extends Native {
      constructor (url: string | URL, opts?: WorkerOptions) {
        if (String(url).includes('hash')) (window as any).hashWorkers++
        super(url, opts)
      }
    }
  })
  await createWallet(page)
  await expect(page.getByTestId('empty')).toBeVisible()

  const pub = fileOf('holiday.bin', 3_000_000, 1)
  const priv = fileOf('diary.txt', 200_000, 2, 'text/plain')
  await page.getByTestId('file-input').setInputFiles(pub)
  await page.getByTestId('private').check()
  await page.getByTestId('file-input').setInputFiles(priv)

  const rows = page.getByTestId('file-row')
  await expect(rows).toHaveCount(2)
  for (const file of [pub, priv]) {
    const row = page.locator(`[data-media-id="${sha256(file.buffer)}"]`)
    await expect(row.getByTestId('server-copy')).toHaveText('Server copy ✓', { timeout: 60_000 })
    await expect(row).toHaveAttribute('data-phase', 'seeding')
    // The torrent computed in the browser is the one the server built for this owner.
    const local = await row.getAttribute('data-local-infohash')
    expect(local).toMatch(/^[0-9a-f]{40}$/)
    await expect(row).toHaveAttribute('data-infohash', local!)
  }
  const pubInfo = await (await request.get(`/api/media/${sha256(pub.buffer)}/info`)).json()
  expect(await page.locator(`[data-media-id="${sha256(pub.buffer)}"]`).getAttribute('data-local-infohash')).toBe(pubInfo.infoHash)
  expect((await request.get(`/api/media/${sha256(priv.buffer)}`)).status()).toBe(404)
  expect(await page.evaluate(() => (window as any).hashWorkers)).toBe(2)

  await page.reload()
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Unlock' }).click()
  await expect(rows).toHaveCount(2)
  for (const file of [pub, priv]) {
    await expect(page.locator(`[data-media-id="${sha256(file.buffer)}"]`)).toHaveAttribute('data-phase', 'seeding')
  }
  expect(await page.evaluate(() => (window as any).hashWorkers)).toBe(0)

  // Another wallet in another browser context sees the public file only.
  const other = await browser.newContext()
  const otherPage = await other.newPage()
  await createWallet(otherPage)
  await expect(otherPage.getByTestId('empty')).toBeVisible()
  const listed = await otherPage.evaluate(async () => (await (await fetch('/api/media')).json()).items.map((i: any) => i.mediaId))
  expect(listed).toContain(sha256(pub.buffer))
  expect(listed).not.toContain(sha256(priv.buffer))
  expect(await otherPage.evaluate(async id => (await fetch(`/api/media/${id}/info`)).status, sha256(priv.buffer))).toBe(404)
  await other.close()
})

test('a wrong passphrase and wrong recovery words get clear messages', async ({ page }) => {
  await page.goto('/')
  await page.getByRole('button', { name: 'Import recovery phrase' }).click()
  await page.getByLabel('Recovery phrase').fill('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon')
  await page.getByLabel('New passphrase for this browser').fill(PASSPHRASE)
  await page.getByLabel('Passphrase again').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Import' }).click()
  await expect(page.getByRole('alert')).toContainText('not a valid recovery phrase')
  await page.getByLabel('Recovery phrase').fill('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about')
  await page.getByRole('button', { name: 'Import' }).click()
  await expect(page.getByTestId('identity')).toContainText('03aaeb52')
  await page.getByRole('button', { name: 'Lock' }).click()
  await page.getByLabel('Passphrase').fill('not the passphrase')
  await page.getByRole('button', { name: 'Unlock' }).click()
  await expect(page.getByRole('alert')).toContainText('Wrong passphrase')
})

test('an owner pins a file on the server from the library, and unpins it', async ({ page, baseURL }) => {
  const words = await createWallet(page)
  const file = fileOf('keep-me-seeded.bin', 80_000, 71)
  await page.getByTestId('file-input').setInputFiles(file)
  const row = page.locator(`[data-media-id="${sha256(file.buffer)}"]`)
  await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 30_000 })
  // What the server says, asked as the same key (the words derive it).
  const token = await signIn(baseURL!, await identityFromMnemonic(words.join(' ')))
  const pinned = async (): Promise<boolean> =>
    (await (await fetch(`${baseURL}/api/media/${sha256(file.buffer)}/info`, { headers: bearer(token) })).json()).seeding.pinned

  expect(await pinned()).toBe(false)
  await row.getByTestId('pin').click()
  await expect(row.getByTestId('pin')).toHaveText('Pinned on the server ✓')
  expect(await pinned()).toBe(true)
  await row.getByTestId('pin').click()
  await expect(row.getByTestId('pin')).toHaveText('Pin on the server')
  expect(await pinned()).toBe(false)
})
