/**
 * The app over HTTPS through nginx, as docs/deploy.md deploys it (docs/nginx/oip-media-seeder.conf,
 * a self-signed certificate that Chromium is started to trust, by its public key: with
 * ignoreHTTPSErrors the page works but Chromium registers no service worker from an origin with
 * a certificate error): a server node of its own behind it,
 * with PUBLIC_URL the proxy's https URL and seeding off, so a second browser's bytes can only
 * come from the first one's tab, through the tracker's WebSocket at wss://…/announce.
 */
import { createHash } from 'node:crypto'
import path from 'node:path'
import { chromium, expect, test, type Browser } from '@playwright/test'
import config from '../../playwright.config.ts'
import { freePort } from '../../bench/serverProcess.ts'
import { nginxUnavailable, startNginx, type Nginx } from '../helpers/nginx.ts'
import { spawnServer, type ServerProcess } from '../helpers/process.ts'
import { tempDir } from '../helpers/server.ts'
import { createWallet, downloadFromPeers, fileOf } from './helpers.ts'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const unavailable = nginxUnavailable()

test.describe('through nginx over HTTPS', () => {
  test.skip(unavailable !== undefined, `nginx tests skipped: ${unavailable}`)
  let proxy: Nginx
  let node: ServerProcess
  let browser: Browser

  test.beforeAll(async () => {
    const nodePort = await freePort()
    proxy = await startNginx([`127.0.0.1:${nodePort}`])
    node = await spawnServer(await tempDir(), {
      PORT: String(nodePort),
      PUBLIC_URL: proxy.url,
      TRUST_PROXY: 'loopback',
      WEB_DIR: path.resolve('dist/web'),
      SEEDING: 'false'
    })
    const launch = config.use!.launchOptions!
    browser = await chromium.launch({ ...launch, args: [...launch.args ?? [], `--ignore-certificate-errors-spki-list=${proxy.certificate.spki}`] })
  })
  test.afterAll(async () => {
    await browser?.close()
    node?.child.kill('SIGTERM')
    await node?.exited
    await proxy?.stop()
  })

  test('a browser installs the service worker, uploads and seeds a file, and a second browser gets it from that tab alone', async () => {
    test.setTimeout(120_000)
    const uploader = await browser.newContext({ baseURL: proxy.url })
    const tab = await uploader.newPage()
    await createWallet(tab)
    // The worker takes control on a first visit; over HTTPS off localhost nothing else would let it run.
    expect(await tab.evaluate(async () => {
      await navigator.serviceWorker.ready
      return navigator.serviceWorker.controller?.scriptURL
    })).toBe(`${proxy.url}/sw.js`)
    const file = fileOf('through-nginx.bin', 2_000_000, 11)
    const id = sha256(file.buffer)
    await tab.getByTestId('file-input').setInputFiles(file)
    const row = tab.locator(`[data-media-id="${id}"]`)
    // Signed in (the challenge names the https origin), uploaded with tus and checked against the server's torrent.
    await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })

    const downloader = await browser.newContext({ baseURL: proxy.url, bypassCSP: true })
    const result = await downloadFromPeers(downloader, id)
    expect(result.sha256).toBe(id)
    expect(result.wires).toEqual(expect.arrayContaining(['webrtc']))
    expect(result.wires).not.toContain('webSeed')
    await expect(row.getByTestId('seeding')).not.toContainText('0 peers')
    await uploader.close()
    await downloader.close()
  })
})
