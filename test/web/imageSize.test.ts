/** An image's size from its header (web/lib/imageSize.ts): what the thumbnail worker checks before it lets a decoder see a picture. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { test } from 'node:test'
import { imageSize } from '../../web/lib/imageSize.ts'

const bytes = (...parts: Array<string | number[] | Uint8Array>): Uint8Array =>
  new Uint8Array(Buffer.concat(parts.map(p => typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))))
const u32be = (n: number): number[] => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
const u32le = (n: number): number[] => u32be(n).reverse()
const u16be = (n: number): number[] => [n >>> 8, n & 255]
const u16le = (n: number): number[] => [n & 255, n >>> 8]
const u24le = (n: number): number[] => [n & 255, (n >>> 8) & 255, n >>> 16]

const png = (w: number, h: number): Uint8Array => bytes([0x89], 'PNG\r\n\x1a\n', u32be(13), 'IHDR', u32be(w), u32be(h), [8, 6, 0, 0, 0])

test('a real PNG: the app icon', () => {
  assert.deepEqual(imageSize(new Uint8Array(fs.readFileSync('web/public/icons/icon-192.png'))), { format: 'png', width: 192, height: 192 })
})

test('each known format gives its size, a 20000 × 20000 picture included', () => {
  assert.deepEqual(imageSize(png(20000, 20000)), { format: 'png', width: 20000, height: 20000 })
  assert.deepEqual(imageSize(bytes('GIF89a', u16le(640), u16le(480))), { format: 'gif', width: 640, height: 480 })
  // A bottom-up BMP has a positive height, a top-down one a negative height.
  assert.deepEqual(imageSize(bytes('BM', new Array(16).fill(0), u32le(300), u32le(-200 >>> 0))), { format: 'bmp', width: 300, height: 200 })
  const riff = (chunk: string, body: number[]): Uint8Array => bytes('RIFF', u32le(30), 'WEBP', chunk, u32le(body.length), body)
  assert.deepEqual(imageSize(riff('VP8X', [0, 0, 0, 0, ...u24le(4095), ...u24le(2999)])), { format: 'webp', width: 4096, height: 3000 })
  const lossless = (1024 - 1) | ((768 - 1) << 14)
  assert.deepEqual(imageSize(riff('VP8L', [0x2f, ...u32le(lossless), 0, 0, 0, 0, 0])), { format: 'webp', width: 1024, height: 768 })
  assert.deepEqual(imageSize(riff('VP8 ', [0, 0, 0, 0x9d, 0x01, 0x2a, ...u16le(320), ...u16le(180)])), { format: 'webp', width: 320, height: 180 })
  const avif = bytes(u32be(20), 'ftypavif', u32be(0), 'mif1', u32be(20), 'ispe', u32be(0), u32be(160), u32be(120), u32be(20), 'ispe', u32be(0), u32be(8000), u32be(6000))
  assert.deepEqual(imageSize(avif), { format: 'avif', width: 8000, height: 6000 }, 'the largest item, not an embedded thumbnail')
})

test('a JPEG: the frame header after the other segments (an EXIF block first), progressive too', () => {
  const segment = (marker: number, body: Uint8Array | number[]): Uint8Array => bytes([0xff, marker], u16be(body.length + 2), body instanceof Uint8Array ? body : body)
  const exif = new Uint8Array(65_000).fill(0x41)
  const sof = (marker: number): Uint8Array => segment(marker, [8, ...u16be(3000), ...u16be(4000), 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1])
  const jpeg = (frame: Uint8Array): Uint8Array => bytes([0xff, 0xd8], segment(0xe0, bytes('JFIF\0', [1, 1, 0, 0, 1, 0, 1, 0, 0])), segment(0xe1, exif), segment(0xc4, new Array(20).fill(0)), frame)
  assert.deepEqual(imageSize(jpeg(sof(0xc0))), { format: 'jpeg', width: 4000, height: 3000 })
  assert.deepEqual(imageSize(jpeg(sof(0xc2))), { format: 'jpeg', width: 4000, height: 3000 })
})

test('anything else is not known: SVG (it can carry script), HEIC, text, a cut or broken header, a zero size', () => {
  assert.equal(imageSize(bytes('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>')), undefined)
  assert.equal(imageSize(bytes(u32be(24), 'ftypheic', u32be(0), 'mif1heic')), undefined)
  assert.equal(imageSize(bytes('hello, world')), undefined)
  assert.equal(imageSize(png(100, 100).subarray(0, 20)), undefined)
  assert.equal(imageSize(png(0, 100)), undefined)
  assert.equal(imageSize(bytes([0xff, 0xd8, 0xff, 0xe0, 0, 16], new Array(10).fill(0), [0x12, 0x34])), undefined, 'a JPEG whose segments lose their markers')
  assert.equal(imageSize(new Uint8Array(0)), undefined)
})
