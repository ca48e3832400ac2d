/**
 * Thumbnails in the browser (shared/thumbnail.ts has the rules): made beside the hashing (an
 * image decoded and scaled in a worker, a video's poster frame from a hidden <video>), one at a
 * time and never while a large file's hash holds both cores, each given a time limit after
 * which its worker is ended; and read back from the server for files this browser does not
 * hold, only when they are what a thumbnail may be.
 */
import { isThumbnailType, THUMBNAIL_MAX_BYTES, THUMBNAIL_MAX_SIDE } from '../../shared/thumbnail.ts'
import type { ThumbnailReply, ThumbnailRequest } from '../workers/thumbnail.worker.ts'
import { whenCoresFree } from './hashing.ts'

/** A picture of the file, or why there is none (a broken, huge or unknown image, a video with no picture). */
export type Thumbnail = { blob: Blob } | { none: string }

/** Longest a thumbnail may take, decoding included; then its worker (or video) is let go. */
export const THUMBNAIL_TIMEOUT_MS = 15_000

/** Where the poster frame is: a few seconds in, or at 10 % of a clip shorter than 30 s. */
export const posterTime = (duration: number): number => Number.isFinite(duration) && duration >= 30 ? 3 : (Number.isFinite(duration) ? duration * 0.1 : 0)

class TimedOut extends Error {}

/** One at a time: each decode may hold a large picture in memory. */
let queue: Promise<unknown> = Promise.resolve()

/**
 * The file's thumbnail, if it is an image or a video; undefined for anything else (no picture
 * to show). Never throws: a failure is a Thumbnail with the reason.
 */
export function makeThumbnail (file: Blob, type: string): Promise<Thumbnail> | undefined {
  const kind = /^(image|video)\//.exec(type)?.[1]
  if (!kind) return undefined
  const made = queue.then(async () => {
    // A large file hashing on both cores goes first: a picture can wait a few seconds, the hashing must not slow down.
    await whenCoresFree()
    try {
      return kind === 'image' ? await encodeInWorker({ image: file }) : await posterFrame(file)
    } catch (err) {
      return { none: err instanceof TimedOut ? `it took longer than ${THUMBNAIL_TIMEOUT_MS / 1000} s` : (err as Error).message }
    }
  })
  queue = made
  return made
}

function encodeInWorker (request: ThumbnailRequest): Promise<Thumbnail> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('../workers/thumbnail.worker.ts', import.meta.url), { type: 'module', name: 'thumbnail' })
    const timer = setTimeout(() => { worker.terminate(); reject(new TimedOut()) }, THUMBNAIL_TIMEOUT_MS)
    const end = (): void => { clearTimeout(timer); worker.terminate() }
    worker.onmessage = ({ data }: MessageEvent<ThumbnailReply>) => {
      end()
      resolve(data.type === 'done' ? { blob: data.blob } : { none: data.reason })
    }
    // A worker that could not start, or died decoding (out of memory).
    worker.onerror = event => { end(); reject(new Error(`the thumbnail worker failed${event.message ? `: ${event.message}` : ''}`)) }
    worker.postMessage(request, 'frame' in request ? [request.frame] : [])
  })
}

/** A frame of the video, grabbed scaled from a hidden <video> and encoded in the worker. */
async function posterFrame (file: Blob): Promise<Thumbnail> {
  const video = document.createElement('video')
  const url = URL.createObjectURL(file)
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new TimedOut()), THUMBNAIL_TIMEOUT_MS) })
  /** The video's `name` event, or its error, or the deadline. */
  const event = (name: string): Promise<void> => Promise.race([deadline, new Promise<void>((resolve, reject) => {
    video.addEventListener(name, () => resolve(), { once: true })
    video.addEventListener('error', () => reject(new Error('this browser cannot play the video')), { once: true })
  })])
  try {
    video.muted = true
    video.preload = 'auto'
    const loaded = event('loadeddata')
    video.src = url
    await loaded
    if (video.videoWidth === 0 || video.videoHeight === 0) return { none: 'the video has no picture' }
    const seeked = event('seeked')
    video.currentTime = posterTime(video.duration)
    await seeked
    const scale = Math.min(1, THUMBNAIL_MAX_SIDE / Math.max(video.videoWidth, video.videoHeight))
    const frame = await createImageBitmap(video, {
      resizeWidth: Math.max(1, Math.round(video.videoWidth * scale)),
      resizeHeight: Math.max(1, Math.round(video.videoHeight * scale)),
      resizeQuality: 'medium'
    })
    return await encodeInWorker({ frame })
  } finally {
    clearTimeout(timer)
    video.removeAttribute('src')
    video.load()
    URL.revokeObjectURL(url)
  }
}

/** The lowercase hex SHA-256 of a thumbnail: its mediaId (small, so WebCrypto at once). */
export async function thumbnailId (blob: Blob): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()))
  return Array.from(digest, b => b.toString(16).padStart(2, '0')).join('')
}

/**
 * A thumbnail the server holds, read as this caller (`token`: a private one of mine or shared
 * with me): only a WebP or JPEG within THUMBNAIL_MAX_BYTES is shown, whatever a record names.
 */
export async function fetchThumbnail (mediaId: string, token?: string): Promise<Thumbnail> {
  const res = await fetch(`/api/media/${mediaId}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {})
  if (!res.ok) return { none: `the server answered ${res.status}` }
  const type = (res.headers.get('Content-Type') ?? '').split(';')[0]!.trim()
  if (!isThumbnailType(type)) return { none: `its thumbnail is ${type || 'of no type'}, not an image this app shows` }
  if (Number(res.headers.get('Content-Length') ?? 0) > THUMBNAIL_MAX_BYTES) return { none: 'its thumbnail is too large' }
  const bytes = await res.arrayBuffer()
  if (bytes.byteLength > THUMBNAIL_MAX_BYTES) return { none: 'its thumbnail is too large' }
  return { blob: new Blob([bytes], { type }) }
}
