import { createHash } from 'node:crypto'
import { expect, test } from '@playwright/test'
import { createWallet, fileOf } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

test('a file the server already has publicly is not uploaded again: only a record is created', async ({ browser }) => {
  const file = fileOf('shared.bin', 500_000, 21)
  const first = await browser.newContext()
  const a = await first.newPage()
  await createWallet(a)
  await a.getByTestId('file-input').setInputFiles(file)
  await expect(a.locator(`[data-media-id="${sha256(file.buffer)}"]`)).toHaveAttribute('data-phase', 'seeding', { timeout: 30_000 })

  const second = await browser.newContext()
  const b = await second.newPage()
  await createWallet(b)
  const uploads: string[] = []
  const claims: string[] = []
  b.on('request', r => {
    if (r.url().endsWith('/api/media/upload')) uploads.push(r.url())
    if (r.url().endsWith('/claim')) claims.push(r.url())
  })
  await b.getByTestId('file-input').setInputFiles(file)
  const row = b.locator(`[data-media-id="${sha256(file.buffer)}"]`)
  await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 30_000 })
  await expect(row.getByTestId('server-copy')).toHaveText('Server copy ✓')
  expect(uploads).toEqual([])
  expect(claims).toHaveLength(1)
  await first.close()
  await second.close()
})

test('a browser without IndexedDB gets a clear message', async ({ page }) => {
  await page.addInitScript(() => { Object.defineProperty(window, 'indexedDB', { value: undefined }) })
  await page.goto('/')
  await expect(page.getByRole('alert')).toContainText('no IndexedDB')
})

test('a full storage quota gets a clear message and leaves nothing half-written', async ({ page }) => {
  await createWallet(page)
  // From now on every IndexedDB write fails as a full disk would.
  await page.evaluate(() => {
    IDBObjectStore.prototype.put = function () { throw new DOMException('quota', 'QuotaExceededError') }
  })
  await page.getByTestId('file-input').setInputFiles(fileOf('big.bin', 100_000, 23))
  const row = page.locator('[data-testid="file-row"]').first()
  await expect(row.getByRole('alert')).toContainText('no room left')
  await expect(row).toHaveAttribute('data-phase', 'failed')
  const stored = await page.evaluate(async () => await new Promise<number>((resolve, reject) => {
    const open = indexedDB.open('oip-media-seeder')
    open.onsuccess = () => {
      const req = open.result.transaction('files').objectStore('files').count()
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(req.error)
    }
  }))
  expect(stored).toBe(0)
})

test('files dropped on the drop zone are added like picked ones', async ({ page }) => {
  await createWallet(page)
  // A real drop: a DataTransfer holding two Files, dispatched on the zone.
  const dataTransfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer()
    dt.items.add(new File([new Uint8Array(50_000).fill(7)], 'dropped-a.bin'))
    dt.items.add(new File([new Uint8Array(60_000).fill(9)], 'dropped-b.bin'))
    return dt
  })
  await page.getByTestId('dropzone').dispatchEvent('dragover', { dataTransfer })
  await page.getByTestId('dropzone').dispatchEvent('drop', { dataTransfer })
  const rows = page.getByTestId('file-row')
  await expect(rows).toHaveCount(2)
  for (const name of ['dropped-a.bin', 'dropped-b.bin']) {
    await expect(rows.filter({ hasText: name })).toHaveAttribute('data-phase', 'seeding', { timeout: 30_000 })
  }
})
