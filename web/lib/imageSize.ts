/**
 * An image's format and pixel size, read from its first bytes without decoding it: a picture
 * too big to decode safely (a 20000×20000 PNG is 1.6 GB of pixels) is refused before any
 * decoder sees it, whatever its file name or type says. Only raster formats browsers decode are
 * known; anything else (SVG, HEIC, a broken or truncated header) is undefined. Pure: runs in a
 * worker and under Node.
 */
export type RasterFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'avif'

export interface ImageSize { format: RasterFormat, width: number, height: number }

/** Bytes of the file's start that hold the size of every known format (a JPEG's EXIF block comes first and can be 64 KiB). */
export const IMAGE_HEADER_BYTES = 256 * 1024

const ascii = (b: Uint8Array, at: number, text: string): boolean =>
  at + text.length <= b.length && [...text].every((c, i) => b[at + i] === c.charCodeAt(0))

export function imageSize (b: Uint8Array): ImageSize | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const size = (format: RasterFormat, width: number, height: number): ImageSize | undefined =>
    width > 0 && height > 0 ? { format, width, height } : undefined
  if (b.length >= 24 && b[0] === 0x89 && ascii(b, 1, 'PNG\r\n\x1a\n') && ascii(b, 12, 'IHDR')) return size('png', v.getUint32(16), v.getUint32(20))
  if (b.length >= 10 && (ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a'))) return size('gif', v.getUint16(6, true), v.getUint16(8, true))
  if (b.length >= 26 && ascii(b, 0, 'BM')) return size('bmp', Math.abs(v.getInt32(18, true)), Math.abs(v.getInt32(22, true)))
  if (b.length >= 30 && ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')) return webpSize(b, v)
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) return jpegSize(b, v)
  if (b.length >= 12 && ascii(b, 4, 'ftyp') && (ascii(b, 8, 'avif') || ascii(b, 8, 'avis'))) return avifSize(b, v)
  return undefined
}

function webpSize (b: Uint8Array, v: DataView): ImageSize | undefined {
  const u24 = (at: number): number => v.getUint16(at, true) | (b[at + 2]! << 16)
  let w = 0
  let h = 0
  if (ascii(b, 12, 'VP8X')) { w = u24(24) + 1; h = u24(27) + 1 } else if (ascii(b, 12, 'VP8L')) {
    const bits = v.getUint32(21, true)
    w = (bits & 0x3fff) + 1
    h = ((bits >>> 14) & 0x3fff) + 1
  } else if (ascii(b, 12, 'VP8 ')) { w = v.getUint16(26, true) & 0x3fff; h = v.getUint16(28, true) & 0x3fff }
  return w > 0 && h > 0 ? { format: 'webp', width: w, height: h } : undefined
}

/** The first start-of-frame marker's size, walking the segments. */
function jpegSize (b: Uint8Array, v: DataView): ImageSize | undefined {
  let at = 2
  while (at + 9 < b.length) {
    if (b[at] !== 0xff) return undefined
    const marker = b[at + 1]!
    // Fill bytes, and markers without a length.
    if (marker === 0xff) { at++; continue }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue }
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
    if (isFrame) {
      const height = v.getUint16(at + 5)
      const width = v.getUint16(at + 7)
      return width > 0 && height > 0 ? { format: 'jpeg', width, height } : undefined
    }
    at += 2 + v.getUint16(at + 2)
  }
  return undefined
}

/** The largest 'ispe' (image spatial extent) property in the header: the picture itself, not a thumbnail item. */
function avifSize (b: Uint8Array, v: DataView): ImageSize | undefined {
  let width = 0
  let height = 0
  for (let at = 12; at + 16 <= b.length; at++) {
    if (!ascii(b, at, 'ispe')) continue
    const w = v.getUint32(at + 8)
    const h = v.getUint32(at + 12)
    if (w * h > width * height) { width = w; height = h }
  }
  return width > 0 && height > 0 ? { format: 'avif', width, height } : undefined
}
