import { createHash } from 'node:crypto'
import path from 'node:path'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { expect, test } from '@playwright/test'
import Database from 'better-sqlite3'
import { canonicalRecord, type StoredOipRecord } from '../../shared/record.ts'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { createWallet, fileOf, PASSPHRASE } from './helpers.ts'

test('a record the server holds in the old signature format is signed anew by its owner at the next unlock', async ({ page, request }) => {
  const words = await createWallet(page)
  const me = await identityFromMnemonic(words.join(' '))
  const file = fileOf('old-record.bin', 50_000, 81)
  await page.getByTestId('file-input').setInputFiles(file)
  const mediaId = createHash('sha256').update(file.buffer).digest('hex')
  const mine = async (): Promise<StoredOipRecord[]> => (await (await request.get(`/api/records?owner=${me.publicKey}`)).json()).items
  await expect.poll(async () => (await mine()).length, { timeout: 30_000 }).toBe(1)
  const [published] = await mine()
  expect(published!.record.media.mediaId).toBe(mediaId)
  expect(published!.signatureFormat).toBe('bitcoin-message-v1')

  // Back to how a server and a browser from before the Bitcoin message format hold it: the record
  // signed as raw hex ECDSA over its canonical JSON, and the library not knowing the format.
  const legacy = bytesToHex(secp256k1.sign(utf8ToBytes(canonicalRecord(published!.record)), me.privateKey, { lowS: true }))
  const db = new Database(path.join(process.env.E2E_TMP_DIR!, 'main', 'data', 'db.sqlite'))
  db.prepare('UPDATE oip_records SET signature = ? WHERE record_id = ?').run(legacy, published!.recordId)
  db.close()
  await page.evaluate(async id => await new Promise<void>((resolve, reject) => {
    const open = indexedDB.open('oip-media-seeder')
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const files = open.result.transaction('files', 'readwrite').objectStore('files')
      const get = files.get(id)
      get.onsuccess = () => {
        delete get.result.recordSignatureFormat
        const put = files.put(get.result)
        put.onsuccess = () => { open.result.close(); resolve() }
        put.onerror = () => reject(put.error)
      }
    }
  }), mediaId)
  expect((await mine())[0]!.signatureFormat).toBe('legacy-raw-sha256')

  await page.reload()
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Unlock' }).click()
  await expect.poll(async () => (await mine())[0]!.signatureFormat, { timeout: 30_000 }).toBe('bitcoin-message-v1')
  const [resigned] = await mine()
  expect(resigned!.recordId).toBe(published!.recordId)
  expect(resigned!.signature).toBe(published!.signature)
  await expect(page.locator(`[data-media-id="${mediaId}"]`).getByRole('alert')).toHaveCount(0)
})
