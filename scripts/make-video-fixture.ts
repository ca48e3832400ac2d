/**
 * Makes test/fixtures/countdown.webm once (there is no ffmpeg here): Chromium records a canvas
 * animation with MediaRecorder (VP8). The e2e streaming test and bench/download.ts play it.
 * Run: node --import tsx scripts/make-video-fixture.ts
 */
import fs from 'node:fs/promises'
import { chromium } from '@playwright/test'

const SECONDS = 20
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] })
try {
  const page = await browser.newPage()
  // tsx (esbuild keepNames) wraps named functions in __name(), which the page lacks.
  await page.evaluate('window.__name = f => f')
  const base64 = await page.evaluate(async seconds => {
    const canvas = document.createElement('canvas')
    canvas.width = 480
    canvas.height = 270
    const g = canvas.getContext('2d')!
    const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: 'video/webm;codecs=vp8', videoBitsPerSecond: 600_000 })
    const chunks: Blob[] = []
    recorder.ondataavailable = e => chunks.push(e.data)
    const stopped = new Promise(resolve => { recorder.onstop = resolve })
    const start = performance.now()
    recorder.start(1000)
    await new Promise<void>(resolve => {
      const draw = (): void => {
        const t = (performance.now() - start) / 1000
        // Noise keeps the encoder busy, so the file is big enough to take a while to download.
        const noise = g.createImageData(480, 40)
        for (let i = 0; i < noise.data.length; i += 4) { const v = Math.random() * 255; noise.data[i] = v; noise.data[i + 1] = v * 0.6; noise.data[i + 2] = 120; noise.data[i + 3] = 255 }
        g.fillStyle = `hsl(${(t * 40) % 360} 60% 35%)`
        g.fillRect(0, 0, 480, 270)
        g.putImageData(noise, 0, 230)
        g.fillStyle = '#fff'
        g.font = 'bold 96px sans-serif'
        g.fillText((seconds - t).toFixed(1), 120, 170)
        if (t < seconds) requestAnimationFrame(draw)
        else resolve()
      }
      draw()
    })
    recorder.stop()
    await stopped
    const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer())
    let s = ''
    for (const b of bytes) s += String.fromCharCode(b)
    return btoa(s)
  }, SECONDS)
  const out = Buffer.from(base64, 'base64')
  await fs.writeFile('test/fixtures/countdown.webm', out)
  console.log(`wrote test/fixtures/countdown.webm (${out.length} bytes)`)
} finally {
  await browser.close()
}
