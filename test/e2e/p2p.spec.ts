import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { expect, test, type Page } from '@playwright/test'
import { P2P_URL } from '../../playwright.config.ts'
import { createWallet, fileOf } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** WebTorrent's browser build as window.WebTorrent, for a bare downloading peer. */
async function loadWebTorrent (page: Page): Promise<void> {
  const source = fs.readFileSync('node_modules/webtorrent/dist/webtorrent.min.js', 'utf8')
    .replace(/export\s*\{\s*(\w+)\s+as\s+default\s*\}\s*;?/, 'window.WebTorrent = $1;')
  await page.addScriptTag({ content: source, type: 'module' })
  await page.waitForFunction(() => typeof (window as any).WebTorrent === 'function')
}

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

  // A bare WebTorrent peer on the app's origin, not the app: its script is injected inline, which the app's CSP forbids.
  const downloader = await browser.newContext({ baseURL: P2P_URL, bypassCSP: true })
  const peer = await downloader.newPage()
  await peer.goto('/')
  await loadWebTorrent(peer)
  const result = await peer.evaluate(async mediaId => {
    const torrentFile = new Uint8Array(await (await fetch(`/api/media/${mediaId}/torrent`)).arrayBuffer())
    const WebTorrent = (window as any).WebTorrent
    // No web seeds and only the ws tracker: the bytes can only come from a peer.
    const client = new WebTorrent({ webSeeds: false, tracker: { rtcConfig: { iceServers: [] } } })
    const ws = `${location.origin.replace('http', 'ws')}/announce`
    return await new Promise<{ sha256: string, wires: string[], received: number }>((resolve, reject) => {
      client.add(torrentFile, { announce: [ws] }, (t: any) => {
        t.on('done', async () => {
          const bytes = await t.files[0].arrayBuffer()
          const digest = await crypto.subtle.digest('SHA-256', bytes)
          resolve({
            sha256: [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join(''),
            wires: t.wires.map((w: any) => w.type),
            received: t.received
          })
        })
        t.on('error', reject)
      })
    })
  }, id)
  expect(result.sha256).toBe(id)
  expect(result.wires).toEqual(expect.arrayContaining(['webrtc']))
  expect(result.wires).not.toContain('webSeed')
  expect(result.received).toBeGreaterThanOrEqual(file.buffer.length)
  // The uploader's tab counted what it sent.
  await expect(row.getByTestId('seeding')).not.toContainText('0 peers')
  await uploader.close()
  await downloader.close()
})
