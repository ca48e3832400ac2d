/**
 * The media fields of an OIP record as the wallet signs them: built from what the browser knows
 * of the file itself (the SHA-256 and size it hashed, the infoHash it checked against its own
 * pieces, the type it sent, the app's origin), never from the server's word. The server's answer
 * to the upload or claim must say the same; where it does not, RecordMediaMismatch names the
 * field and nothing may be signed. The type is not compared: the record states the type this
 * owner uploaded it as, while the answer shows the public face's, which may be an earlier
 * uploader's (the server checks the record's type against the owner's own). Only the magnet is
 * the server's (its trackers and web seeds), accepted once it names exactly the checked infoHash
 * and carries nothing but a name and tracker, web-seed and .torrent URLs: the record is signed,
 * and a public one goes to Arweave for good, so a server cannot slip a peer's address (x.pe) or a
 * field of its own into it (the name and URLs stay its words). The check is at the caller, not in
 * signRecord, because only the caller knows the local facts. Pure: runs in the browser and Node.
 */
import type { UploadResult } from './media.ts'
import type { OipMediaRecord } from './record.ts'
import { magnetInfoHash } from './torrent.ts'

/** What the browser knows of a file it added, without asking the server. */
export interface LocalMedia {
  /** The SHA-256 the browser computed. */
  mediaId: string
  /** The local file's size in bytes. */
  size: number
  /** The infoHash checked against the browser's own pieces. */
  infoHash: string
  /** The type the browser sent, as the server stores it (storedMimeType). */
  contentType: string
  /** The app's origin (location.origin): the origin of PUBLIC_URL, or sign-in is refused. */
  origin: string
}

/** The server's answer disagrees with the file the browser hashed: nothing is signed. */
export class RecordMediaMismatch extends Error {
  override name = 'RecordMediaMismatch'
}

export type ServerMedia = Pick<UploadResult, 'mediaId' | 'magnetURI' | 'httpUrl' | 'mimeType' | 'fileSize'>

/** What a magnet may carry besides its one xt, and the URL schemes of each. */
const MAGNET_URLS: Record<string, string[]> = {
  tr: ['ws:', 'wss:', 'http:', 'https:', 'udp:'],
  ws: ['http:', 'https:'],
  xs: ['http:', 'https:']
}

/** The first parameter of the magnet that a record must not carry, as `key=value`; undefined: none. */
function foreignMagnetParameter (magnet: string): string | undefined {
  for (const [key, value] of new URLSearchParams(magnet.slice('magnet:?'.length))) {
    if (key === 'xt' || key === 'dn') continue
    const schemes = MAGNET_URLS[key]
    let scheme: string | undefined
    try {
      scheme = new URL(value).protocol
    } catch {}
    if (schemes === undefined || scheme === undefined || !schemes.includes(scheme)) return `${key}=${value}`
  }
  return undefined
}

/** The record's media fields, or RecordMediaMismatch naming the first field the server got wrong. */
export function recordMedia (local: LocalMedia, server: ServerMedia): OipMediaRecord['media'] {
  const httpUrl = `${local.origin}/api/media/${local.mediaId}`
  const checks: Array<[field: string, answered: unknown, known: unknown, knownAs: string]> = [
    ['mediaId', server.mediaId, local.mediaId, 'the SHA-256 this browser computed'],
    ['size', server.fileSize, local.size, "the file's size here"],
    ['httpUrl', server.httpUrl, httpUrl, "this app's address for it"],
    ['magnet (its infoHash)', magnetInfoHash(server.magnetURI), local.infoHash, "the infoHash this browser checked against the file's pieces"]
  ]
  const wrong = checks.find(([, answered, known]) => answered !== known)
  if (wrong) {
    const [field, answered, known, knownAs] = wrong
    throw new RecordMediaMismatch(`Nothing was signed: the server's answer gives this file's ${field} as "${String(answered ?? 'none')}", but ${knownAs} is "${String(known)}". ` +
      'The server does not describe the file you added; remove it and add it again, and if this stays, do not publish records through this server.')
  }
  const foreign = foreignMagnetParameter(server.magnetURI)
  if (foreign !== undefined) {
    throw new RecordMediaMismatch(`Nothing was signed: the server's magnet link for this file carries "${foreign.slice(0, 200)}", which a record of yours may not (only a name, and tracker, web seed and .torrent URLs). ` +
      'Do not publish records through this server.')
  }
  return { mediaId: local.mediaId, bittorrentAddress: server.magnetURI, httpUrl, contentType: local.contentType, size: local.size }
}
