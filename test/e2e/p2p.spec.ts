import { createHash } from 'node:crypto'
import { expect, test } from '@playwright/test'
import { P2P_URL } from '../../playwright.config.ts'
import { createWallet, downloadFromPeers, fileOf } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

test('a second browser downloads a file from the uploader\'s tab alone, byte for byte (server seeding off)', async ({ browser }) => {
  test.setTimeout(120_000)
  const uploader = await browser.newContext({ baseURL: P2P_URL })
  const tab = await uploader.newPage()
  await createWallet(tab)
  const file = fileOf('clip.bin', 2_000_000, 7)
  const id = sha256(file.buffer)
  await tab.getByTestId('file-input').setInputFiles(file)
  const row = tab.locator(`[data-media-id="${id}"]`)
  await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })

  const downloader = await browser.newContext({ baseURL: P2P_URL, bypassCSP: true })
  const result = await downloadFromPeers(downloader, id)
  expect(result.sha256).toBe(id)
  expect(result.wires).toEqual(expect.arrayContaining(['webrtc']))
  expect(result.wires).not.toContain('webSeed')
  expect(result.received).toBeGreaterThanOrEqual(file.buffer.length)
  // The uploader's tab counted what it sent.
  await expect(row.getByTestId('seeding')).not.toContainText('0 peers')
  await uploader.close()
  await downloader.close()
})
