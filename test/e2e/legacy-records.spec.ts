import { createHash } from 'node:crypto'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { expect, test, type APIRequestContext, type Page } from '@playwright/test'
import Database from 'better-sqlite3'
import type { UploadResult } from '../../shared/media.ts'
import { canonicalRecord, type StoredOipRecord } from '../../shared/record.ts'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { createWallet, fileOf, PASSPHRASE } from './helpers.ts'

/**
 * Upload a file and wait for its record; then hold that record as a server and a browser from
 * before the Bitcoin message format did: signed as raw hex ECDSA over its canonical JSON, and the
 * library not knowing the format. `changes` alter the server's answer the library kept.
 */
async function legacyRecord (page: Page, request: APIRequestContext, seed: number, changes: Partial<UploadResult> = {}) {
  const words = await createWallet(page)
  const me = await identityFromMnemonic(words.join(' '))
  const file = fileOf(`old-record-${seed}.bin`, 50_000, seed)
  await page.getByTestId('file-input').setInputFiles(file)
  const mediaId = createHash('sha256').update(file.buffer).digest('hex')
  const mine = async (): Promise<StoredOipRecord[]> => (await (await request.get(`/api/records?owner=${me.publicKey}`)).json()).items
  await expect.poll(async () => (await mine()).length, { timeout: 30_000 }).toBe(1)
  const [published] = await mine()
  expect(published!.record.media.mediaId).toBe(mediaId)
  expect(published!.signatureFormat).toBe('bitcoin-message-v1')

  const legacy = bytesToHex(secp256k1.sign(utf8ToBytes(canonicalRecord(published!.record)), me.privateKey, { lowS: true }))
  const db = new Database(path.join(process.env.E2E_TMP_DIR!, 'main', 'data', 'db.sqlite'))
  db.prepare('UPDATE oip_records SET signature = ? WHERE record_id = ?').run(legacy, published!.recordId)
  db.close()
  await page.evaluate(async ({ id, changes }) => await new Promise<void>((resolve, reject) => {
    const open = indexedDB.open('oip-media-seeder')
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const files = open.result.transaction('files', 'readwrite').objectStore('files')
      const get = files.get(id)
      get.onsuccess = () => {
        delete get.result.recordSignatureFormat
        Object.assign(get.result.server, changes)
        const put = files.put(get.result)
        put.onsuccess = () => { open.result.close(); resolve() }
        put.onerror = () => reject(put.error)
      }
    }
  }), { id: mediaId, changes })
  expect((await mine())[0]!.signatureFormat).toBe('legacy-raw-sha256')
  return { mediaId, published: published!, mine }
}

async function unlockAgain (page: Page): Promise<void> {
  await page.reload()
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Unlock' }).click()
}

test('a record the server holds in the old signature format is signed anew by its owner at the next unlock', async ({ page, request }) => {
  const { mediaId, published, mine } = await legacyRecord(page, request, 81)
  await unlockAgain(page)
  await expect.poll(async () => (await mine())[0]!.signatureFormat, { timeout: 30_000 }).toBe('bitcoin-message-v1')
  const [resigned] = await mine()
  expect(resigned!.recordId).toBe(published.recordId)
  expect(resigned!.signature).toBe(published.signature)
  await expect(page.locator(`[data-media-id="${mediaId}"]`).getByRole('alert')).toHaveCount(0)
})

test("a legacy record is not signed anew when the server's answer the library kept names another httpUrl", async ({ page, request }) => {
  const { mediaId, mine } = await legacyRecord(page, request, 82, { httpUrl: 'https://evil.example/api/media/x' })
  const posts: string[] = []
  page.on('request', req => { if (req.method() === 'POST' && new URL(req.url()).pathname === '/api/records') posts.push(req.url()) })
  await unlockAgain(page)
  const alert = page.locator(`[data-media-id="${mediaId}"]`).getByRole('alert')
  await expect(alert).toContainText('Cannot sign the record again: Nothing was signed', { timeout: 30_000 })
  await expect(alert).toContainText('httpUrl as "https://evil.example/api/media/x"')
  expect(posts).toEqual([])
  expect((await mine())[0]!.signatureFormat).toBe('legacy-raw-sha256')
})
