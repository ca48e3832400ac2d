import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { expect, type Browser, type BrowserContext, type Locator, type Page } from '@playwright/test'
import { loadWebTorrent } from '../helpers/browserPeer.ts'

export const PASSPHRASE = 'correct horse battery'

/** Create a wallet through the UI: read the words, confirm three, set the passphrase. */
export async function createWallet (page: Page): Promise<string[]> {
  await page.goto('/')
  await page.getByRole('button', { name: 'Create a new wallet' }).click()
  const words = (await page.getByTestId('recovery-words').locator('li').allInnerTexts()).map(t => t.replace(/^\d+\.\s*/, '').trim())
  expect(words).toHaveLength(12)
  await page.getByRole('button', { name: 'I wrote them down' }).click()
  for (const n of [2, 7, 11]) await page.getByTestId(`check-word-${n}`).fill(words[n - 1]!)
  await page.getByLabel('Passphrase for this browser').fill(PASSPHRASE)
  await page.getByLabel('Passphrase again').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Save my wallet' }).click()
  await expect(page.getByTestId('identity')).toBeVisible()
  return words
}

/** A file of `size` pseudo-random bytes for setInputFiles. */
export function fileOf (name: string, size: number, seed: number, mimeType = 'application/octet-stream'): { name: string, mimeType: string, buffer: Buffer } {
  const buffer = Buffer.alloc(size)
  let x = seed
  for (let i = 0; i < size; i++) { x = (x * 1103515245 + 12345) >>> 0; buffer[i] = x >>> 24 }
  return { name, mimeType, buffer }
}

/** After a reload: unlock the wallet with the passphrase. */
export async function unlock (page: Page): Promise<void> {
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.getByRole('button', { name: 'Unlock' }).click()
  await expect(page.getByTestId('identity')).toBeVisible()
}

/** A WAV file of a `seconds` long 440 Hz tone (8 kHz, 16-bit mono): the audio the tests play. */
export function toneWav (name: string, seconds: number): { name: string, mimeType: string, buffer: Buffer } {
  const rate = 8000
  const samples = Math.round(rate * seconds)
  const buffer = Buffer.alloc(44 + samples * 2)
  buffer.write('RIFF', 0)
  buffer.writeUInt32LE(36 + samples * 2, 4)
  buffer.write('WAVEfmt ', 8)
  buffer.writeUInt32LE(16, 16) // fmt chunk: PCM, mono, rate, byte rate, block align, bits
  buffer.writeUInt16LE(1, 20)
  buffer.writeUInt16LE(1, 22)
  buffer.writeUInt32LE(rate, 24)
  buffer.writeUInt32LE(rate * 2, 28)
  buffer.writeUInt16LE(2, 32)
  buffer.writeUInt16LE(16, 34)
  buffer.write('data', 36)
  buffer.writeUInt32LE(samples * 2, 40)
  for (let i = 0; i < samples; i++) buffer.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / rate)), 44 + i * 2)
  return { name, mimeType: 'audio/wav', buffer }
}

/** The video the streaming tests play (20 s VP8 WebM, made by scripts/make-video-fixture.ts). */
export const VIDEO = { name: 'countdown.webm', mimeType: 'video/webm', buffer: fs.readFileSync('test/fixtures/countdown.webm') }

/** Upload `file` from a fresh browser's library (it seeds there), then close that browser; its mediaId. */
export async function uploadFromTab (browser: Browser, baseURL: string, file: { name: string, mimeType: string, buffer: Buffer }, keepOpen = false): Promise<{ mediaId: string, uploader: BrowserContext }> {
  const uploader = await browser.newContext({ baseURL })
  const tab = await uploader.newPage()
  await createWallet(tab)
  const mediaId = createHash('sha256').update(file.buffer).digest('hex')
  await tab.getByTestId('file-input').setInputFiles(file)
  await expect(tab.locator(`[data-media-id="${mediaId}"]`)).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  if (!keepOpen) await uploader.close()
  return { mediaId, uploader }
}

/**
 * The messages of the toasts (Toasts.svelte) in `scope`: successes in the polite live region,
 * errors as alerts in the assertive one. The newest is last.
 */
export function toastMessages (scope: Page | Locator, kind: 'success' | 'error'): Locator {
  const region = kind === 'success' ? '[role=status][aria-live=polite] [data-testid=toast]' : '[aria-live=assertive] [role=alert][data-testid=toast]'
  return scope.locator(`${region} [data-testid=toast-message]`)
}

/**
 * Download a stored file in `context` (made with bypassCSP) from other browsers alone: a bare
 * WebTorrent peer on the app's origin, not the app (its script is injected inline, which the app's
 * CSP forbids), with no web seeds and only the server's WebSocket tracker, so the bytes can only
 * come from a peer. Its SHA-256, the types of the wires it had and the bytes it received.
 */
export async function downloadFromPeers (context: BrowserContext, mediaId: string): Promise<{ sha256: string, wires: string[], received: number }> {
  const peer = await context.newPage()
  await peer.goto('/')
  await loadWebTorrent(peer)
  return await peer.evaluate(async mediaId => {
    const torrentFile = new Uint8Array(await (await fetch(`/api/media/${mediaId}/torrent`)).arrayBuffer())
    const WebTorrent = (window as any).WebTorrent
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
  }, mediaId)
}
