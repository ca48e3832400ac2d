/**
 * Thumbnails off the main thread. An image file's size is read from its header first, and one
 * too big to decode safely, or in a format this code does not know, is refused before any
 * decoder sees it; then it is decoded already scaled down (createImageBitmap with resize
 * options) and encoded small on an OffscreenCanvas (WebP, or JPEG where the browser cannot
 * encode WebP). A video's poster frame arrives as an ImageBitmap (web/lib/thumbnails.ts grabs
 * it) and is only scaled and encoded here. The page ends this worker when it takes too long.
 *
 *   in:  { image: Blob } | { frame: ImageBitmap }
 *   out: { type: 'done', blob, width, height } | { type: 'none', reason }
 */
import { isThumbnailType, THUMBNAIL_MAX_BYTES, THUMBNAIL_MAX_SIDE } from '../../shared/thumbnail.ts'
import { IMAGE_HEADER_BYTES, imageSize } from '../lib/imageSize.ts'

export type ThumbnailRequest = { image: Blob } | { frame: ImageBitmap }
export type ThumbnailReply =
  | { type: 'done', blob: Blob, width: number, height: number }
  | { type: 'none', reason: string }

/** Larger image files are not decoded for a thumbnail (a 50-megapixel JPEG is ~25 MB). */
export const MAX_IMAGE_BYTES = 64 * 1024 * 1024
/** Nor pictures of more pixels: 50 megapixels decode to 200 MB. */
export const MAX_PIXELS = 50_000_000

const scope = self as unknown as DedicatedWorkerGlobalScope

class NoThumbnail extends Error {}

/** The size that fits in THUMBNAIL_MAX_SIDE × THUMBNAIL_MAX_SIDE, never larger than the picture. */
function fitted (width: number, height: number): { width: number, height: number } {
  const scale = Math.min(1, THUMBNAIL_MAX_SIDE / Math.max(width, height))
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) }
}

async function decodeImage (image: Blob): Promise<ImageBitmap> {
  if (image.size > MAX_IMAGE_BYTES) throw new NoThumbnail(`the image is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MB`)
  const size = imageSize(new Uint8Array(await image.slice(0, IMAGE_HEADER_BYTES).arrayBuffer()))
  if (!size) throw new NoThumbnail('not an image this app can preview (PNG, JPEG, GIF, WebP, BMP or AVIF)')
  if (size.width * size.height > MAX_PIXELS) {
    throw new NoThumbnail(`the image is ${size.width} × ${size.height} pixels, more than ${MAX_PIXELS / 1e6} megapixels`)
  }
  // Only the width: the browser keeps the proportions of the picture as shown (EXIF rotation
  // included), and encode() fits the result into the square.
  try {
    return await createImageBitmap(image, { resizeWidth: fitted(size.width, size.height).width, resizeQuality: 'medium' })
  } catch {
    throw new NoThumbnail('this browser could not decode the image (it may be damaged)')
  }
}

async function encode (bitmap: ImageBitmap): Promise<{ blob: Blob, width: number, height: number }> {
  const { width, height } = fitted(bitmap.width, bitmap.height)
  const canvas = new OffscreenCanvas(width, height)
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, width, height)
  bitmap.close()
  for (const [type, quality] of [['image/webp', 0.8], ['image/jpeg', 0.8], ['image/jpeg', 0.6]] as const) {
    const blob = await canvas.convertToBlob({ type, quality })
    // A browser that cannot encode the type gives PNG instead: try the next.
    if (isThumbnailType(blob.type) && blob.size <= THUMBNAIL_MAX_BYTES) return { blob, width, height }
  }
  throw new NoThumbnail('the thumbnail could not be made small enough')
}

scope.onmessage = async ({ data }: MessageEvent<ThumbnailRequest>) => {
  try {
    const bitmap = 'image' in data ? await decodeImage(data.image) : data.frame
    scope.postMessage({ type: 'done', ...await encode(bitmap) } satisfies ThumbnailReply)
  } catch (err) {
    const reason = err instanceof NoThumbnail ? err.message : `it could not be made (${(err as Error).message})`
    scope.postMessage({ type: 'none', reason } satisfies ThumbnailReply)
  }
}
