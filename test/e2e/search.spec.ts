/**
 * A record published on one server is found on another: a public file published to arlocal from
 * the publishing server (PUBLISHING_URL), the indexing server (INDEXING_URL) reads it off the
 * gateway, and its search box, used by keyboard at a phone's width, shows it from Arweave with
 * its name, owner, date, size, and Verify checks the owner's signature in the browser; by kind, it
 * is found as what it is and not as a video.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { expect, test } from '@playwright/test'
import { ARLOCAL_URL, INDEXING_URL, PUBLISHING_URL, PUBLISHING_WALLET } from '../../playwright.config.ts'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { addressOfOwner, arlocalClient } from '../helpers/arlocal.ts'
import { createWallet, fileOf } from './helpers.ts'

// The run's arlocal (test/e2e/arlocalSetup.ts).
const arweave = arlocalClient(ARLOCAL_URL)

test('published on one server, found by another\'s search box from Arweave, and Verify passes in the browser', async ({ browser }) => {
  test.setTimeout(120_000)
  const jwk = JSON.parse(fs.readFileSync(PUBLISHING_WALLET, 'utf8'))
  await arweave.mint(addressOfOwner(Buffer.from(jwk.n, 'base64url')))
  const publishing = await browser.newContext({ baseURL: PUBLISHING_URL })
  const uploader = await publishing.newPage()
  const me = await identityFromMnemonic((await createWallet(uploader)).join(' '))
  const file = fileOf('lighthouse-keeper.bin', 30_000, 2201)
  await uploader.getByTestId('file-input').setInputFiles(file)
  const row = uploader.locator(`[data-media-id="${createHash('sha256').update(file.buffer).digest('hex')}"]`)
  await expect(row.getByTestId('publication')).toHaveAttribute('data-state', 'posted', { timeout: 60_000 })
  // Gateways list items once they are in a block.
  await arweave.mine()

  const searching = await browser.newContext({ baseURL: INDEXING_URL, viewport: { width: 390, height: 844 }, hasTouch: true })
  const page = await searching.newPage()
  await page.goto('/#/search')
  const words = page.getByTestId('search-words')
  await words.focus()
  await page.keyboard.type('lighthouse keeper')
  await page.getByTestId('search-source').selectOption('arweave')
  const result = page.getByTestId('search-result').filter({ hasText: 'lighthouse-keeper.bin' })
  // The indexer reads the gateway every second: search (Enter in the box) until it has.
  await expect(async () => {
    await words.focus()
    await page.keyboard.press('Enter')
    await expect(result).toBeVisible({ timeout: 1000 })
  }).toPass({ timeout: 60_000 })

  await expect(result.getByTestId('result-source')).toHaveText('From Arweave')
  await expect(result.locator('code')).toHaveAttribute('title', me.publicKey)
  await expect(result).toContainText('29.3 KB')
  await result.getByTestId('verify').focus()
  await page.keyboard.press('Enter')
  const verdict = result.getByTestId('verdict')
  await expect(verdict).toHaveAttribute('data-ok', 'true')
  await expect(verdict).toHaveText(`Signed by ${me.publicKey}`)
  // By kind: the file is no video (application/octet-stream: the text section).
  await page.getByTestId('search-kind').selectOption('video')
  await page.getByTestId('search-submit').click()
  await expect(page.getByTestId('search-empty')).toBeVisible()
  await page.getByTestId('search-kind').selectOption('text')
  await page.getByTestId('search-submit').click()
  await expect(result).toBeVisible()
  // Usable at a phone's width: nothing scrolls sideways.
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true)

  await publishing.close()
  await searching.close()
})
