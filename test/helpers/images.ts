/** Pictures for the thumbnail tests, made here: a huge but valid PNG, a damaged one, and real JPEGs drawn by the browser. */
import { deflateSync, crc32 } from 'node:zlib'
import type { Page } from '@playwright/test'

function chunk (type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const out = Buffer.alloc(body.length + 8)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(crc32(body), body.length + 4)
  return out
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/**
 * A valid black `side` × `side` PNG (1-bit grey): a few hundred KB on disk, side² × 4 bytes
 * once decoded (20000: 1.6 GB).
 */
export function hugePng (side: number): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(side, 0)
  ihdr.writeUInt32BE(side, 4)
  ihdr[8] = 1 // bit depth
  ihdr[9] = 0 // greyscale
  const rows = Buffer.alloc(side * (1 + Math.ceil(side / 8)))
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))])
}

/** A PNG whose header is right and whose pixels are noise: no decoder can read it. */
export function brokenPng (): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(800, 0)
  ihdr.writeUInt32BE(600, 4)
  ihdr[8] = 8
  ihdr[9] = 2
  const noise = Buffer.alloc(4000)
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) & 255
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', noise), chunk('IEND', Buffer.alloc(0))])
}

/** A `width` × `height` JPEG drawn in the page: coloured bands and a label, so a thumbnail of it is not one colour. */
export async function drawnJpeg (page: Page, width: number, height: number, label: string): Promise<Buffer> {
  const bytes = await page.evaluate(async ({ width, height, label }) => {
    const canvas = new OffscreenCanvas(width, height)
    const ctx = canvas.getContext('2d')!
    const colours = ['#2d5be3', '#e3a52d', '#1e6b34', '#b3261e']
    colours.forEach((c, i) => { ctx.fillStyle = c; ctx.fillRect(0, (i * height) / 4, width, height / 4) })
    ctx.fillStyle = 'white'
    ctx.font = `bold ${Math.round(height / 6)}px sans-serif`
    ctx.fillText(label, width / 10, height / 2)
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 })
    return Array.from(new Uint8Array(await blob.arrayBuffer()))
  }, { width, height, label })
  return Buffer.from(bytes)
}
