/**
 * Thumbnails: a small image of a file (an image scaled down, a video's poster frame), made in
 * the browser, uploaded as a file of its own with the file's access level and named in the
 * owner's signed record (record.media.thumbnails). The server refuses a record naming anything
 * else, and browsers show only what passes the same rules.
 */
/** Types a thumbnail may be: what the browser encodes, and raster only (never SVG, which can carry script). */
export const THUMBNAIL_TYPES: readonly string[] = ['image/webp', 'image/jpeg']
/** A thumbnail is at most this long on its long side (px). */
export const THUMBNAIL_MAX_SIDE = 320
/** And at most this many bytes (a 320 px WebP is ~10–30 KB). */
export const THUMBNAIL_MAX_BYTES = 256 * 1024
/** Thumbnails one record may name. */
export const THUMBNAILS_PER_RECORD = 4

export const isThumbnailType = (type: string): boolean => THUMBNAIL_TYPES.includes(type)
