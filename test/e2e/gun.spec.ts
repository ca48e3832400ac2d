/**
 * A private file published to the OIP network from the browser: its record sealed in the page
 * by a key only the owner's phrase derives, put by the server (GUN_URL) on a real GUN relay,
 * where the node read raw holds no plaintext of the record; a second browser that imported the
 * same phrase reads it back, decrypted, and Verify checks its owner signature; it finds the record
 * searching for those on GUN (a stranger does not); a node altered on the relay fails Verify.
 */
import { createHash } from 'node:crypto'
import { expect, test } from '@playwright/test'
import { GUN_RELAY_URL, GUN_URL } from '../../playwright.config.ts'
import { gunRecordKeys, gunSoul, openGunRecord } from '../../shared/gunRecord.ts'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { readGunNode, writeGunNode } from '../helpers/gun.ts'
import { createWallet, fileOf, PASSPHRASE } from './helpers.ts'

test('a private file\'s record on GUN: only ciphertext on the relay, read back and verified in another browser of the same phrase', async ({ browser }) => {
  test.setTimeout(120_000)
  const context = await browser.newContext({ baseURL: GUN_URL })
  const page = await context.newPage()
  const words = await createWallet(page)
  const me = await identityFromMnemonic(words.join(' '))

  // This server publishes private files (to GUN), not public ones (no Arweave): on by default for private.
  const option = page.getByTestId('publish-to-network')
  await expect(option).toBeDisabled()
  await page.getByTestId('private').check()
  await expect(option).toBeEnabled()
  await expect(option).toBeChecked()

  const nodePosted = page.waitForRequest(r => /\/api\/records\/[0-9a-f]{64}\/gun$/.test(r.url()))
  const file = fileOf('diary-of-a-secret.bin', 60_000, 11)
  const mediaId = createHash('sha256').update(file.buffer).digest('hex')
  await page.getByTestId('file-input').setInputFiles(file)
  await nodePosted
  const row = page.locator(`[data-media-id="${mediaId}"]`)
  await expect(row.getByTestId('publication')).toHaveAttribute('data-state', 'posted', { timeout: 60_000 })
  const soul = gunSoul(gunRecordKeys(me.privateKey), mediaId)
  await expect(row.getByTestId('did')).toHaveText(`did:gun:${soul}`)

  // The relay's node, read raw by a gun client of the test's: ciphertext, no field of the record.
  const raw = await readGunNode(GUN_RELAY_URL, soul)
  expect(Object.keys(raw ?? {}).sort()).toEqual(['ct', 'iv', 'v'])
  const text = JSON.stringify(raw)
  for (const plain of ['diary-of-a-secret', mediaId, 'magnet', 'btih', me.publicKey, '/api/media/']) expect(text).not.toContain(plain)
  const { record } = await openGunRecord(raw, mediaId, me.privateKey)
  expect(record.basic.name).toBe('diary-of-a-secret.bin')
  await context.close()

  // Another browser: the same phrase imported; My files lists the file, Verify reads the node back.
  const other = await browser.newContext({ baseURL: GUN_URL })
  const tab = await other.newPage()
  await tab.goto('/')
  await tab.getByRole('button', { name: 'Import recovery phrase' }).click()
  await tab.getByLabel('Recovery phrase').fill(words.join(' '))
  await tab.getByLabel('New passphrase for this browser').fill(PASSPHRASE)
  await tab.getByLabel('Passphrase again').fill(PASSPHRASE)
  await tab.getByRole('button', { name: 'Import' }).click()
  await expect(tab.getByTestId('identity')).toBeVisible()
  await tab.getByRole('link', { name: 'My files' }).click()
  const mine = tab.getByTestId('server-file').filter({ hasText: 'diary-of-a-secret.bin' })
  await expect(mine.getByTestId('publication')).toHaveAttribute('data-state', 'posted')
  await expect(mine.getByTestId('did')).toHaveText(`did:gun:${soul}`)
  await mine.getByTestId('publication-verify').click()
  const verdict = mine.getByTestId('verify-result')
  await expect(verdict).toHaveAttribute('data-ok', 'true')
  await expect(verdict).toContainText('diary-of-a-secret.bin')

  // Search, signed in: the record is found among those on GUN, to its owner only.
  await tab.getByRole('link', { name: 'Search records' }).click()
  await tab.getByTestId('search-source').selectOption('gun')
  await tab.getByTestId('search-submit').click()
  const found = tab.getByTestId('search-result')
  await expect(found).toHaveCount(1)
  await expect(found).toContainText('diary-of-a-secret.bin')
  await expect(found.getByTestId('result-private')).toBeVisible()
  await found.getByTestId('verify').click()
  await expect(found.getByTestId('verdict')).toHaveAttribute('data-ok', 'true')
  const stranger = await browser.newContext({ baseURL: GUN_URL })
  const nobody = await stranger.newPage()
  await nobody.goto('/#/search')
  await nobody.getByTestId('search-source').selectOption('gun')
  await nobody.getByTestId('search-submit').click()
  await expect(nobody.getByTestId('search-empty')).toBeVisible()
  await stranger.close()
  await tab.getByRole('link', { name: 'My files' }).click()

  // Anyone may write at a soul on a relay: an altered ciphertext there fails Verify, saying why.
  const ct = Buffer.from(String(raw!.ct), 'base64url')
  ct[3]! ^= 1
  await writeGunNode(GUN_RELAY_URL, soul, { v: 1, iv: String(raw!.iv), ct: ct.toString('base64url') })
  await mine.getByTestId('publication-verify').click()
  await expect(verdict).toHaveAttribute('data-ok', 'false')
  await expect(verdict).toContainText('does not decrypt with your key')
  await other.close()
})
