/**
 * The OIP record of a media file: its schema, canonical form (RFC 8785 JCS) and id. Pure: the
 * browser and the server build the same canonical text, so both agree on every byte that is
 * signed (signing.ts signs and verifies it).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import canonicalize from 'canonicalize'
import { badRequest } from './errors.ts'
import { ACCESS_LEVELS, isMediaId, SAFE_MIME, type AccessLevel } from './media.ts'
import type { Publication } from './publication.ts'
import type { SignatureFormat } from './signing.ts'
import { THUMBNAILS_PER_RECORD } from './thumbnail.ts'
import { isPublicKey } from './wallet.ts'

export interface OipMediaRecord {
  type: 'media'
  basic: {
    name: string
    description: string
    /** Unix time, seconds. */
    date: number
    language: string
    tagItems: string[]
  }
  media: {
    mediaId: string
    /** The magnet URI of the torrent. */
    bittorrentAddress: string
    httpUrl: string
    contentType: string
    size: number
    /**
     * mediaIds of small images of the file (shared/thumbnail.ts), the first one shown: files the
     * owner uploaded with the file's access level. Left out when there is none.
     */
    thumbnails?: string[]
  }
  accessControl: {
    access_level: AccessLevel
    owner_public_key: string
  }
}

/** A record as the API answers it. */
export interface StoredOipRecord {
  recordId: string
  record: OipMediaRecord
  /** The owner's signature over recordMessage(record) (signing.ts), base64. */
  signature: string
  /** How `signature` was made: records stored before the Bitcoin message format say so. */
  signatureFormat: SignatureFormat
  createdAt: string
  /** Where this server got it: made here (local), or read from Arweave or GUN by its indexer. */
  source: 'local' | 'arweave' | 'gun'
  /** Where it went on the OIP network (shared/publication.ts), and how far it got; none when it was not sent. */
  publication?: Publication
}

export const RECORD_LIMITS = { name: 200, description: 5000, tags: 20, tag: 64, language: 35, url: 2048, magnet: 8192, contentType: 255 } as const

/** RFC 8785: keys sorted, no whitespace, fixed number form — the exact text that is signed. */
export function canonicalRecord (record: OipMediaRecord): string {
  // canonicalize gives undefined only for undefined or function input, never for an object.
  return canonicalize(record)!
}

/** Lowercase hex SHA-256 of the canonical JSON: the same record always has the same id. */
export const recordId = (record: OipMediaRecord): string => bytesToHex(sha256(utf8ToBytes(canonicalRecord(record))))

const fail = (path: string, rule: string): never => {
  throw badRequest('bad_record', `${path} ${rule}.`)
}

/** Unknown keys are refused at every level: anything stored is signed, and anything signed is schema. */
function object (value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(path, value === undefined ? 'is missing' : 'must be a JSON object')
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) fail(`${path}.${key}`, `is not a known field (${path} has: ${keys.join(', ')})`)
  }
  return value as Record<string, unknown>
}

// With the u flag a valid surrogate pair is one code point, so this matches only lone halves,
// which JCS cannot encode.
export const LONE_SURROGATE = /[\uD800-\uDFFF]/u

function text (value: unknown, path: string, max: number, min = 0): string {
  if (typeof value !== 'string') return fail(path, value === undefined ? 'is missing' : 'must be a string')
  if (LONE_SURROGATE.test(value)) fail(path, 'must be valid Unicode text')
  // PostgreSQL's text cannot hold it, so no catalogue stores it.
  if (value.includes('\u0000')) fail(path, 'must not contain NUL (\\u0000)')
  if (value.length < min) fail(path, 'must not be empty')
  if (value.length > max) fail(path, `must be at most ${max} characters`)
  return value
}

function matching (value: unknown, path: string, max: number, pattern: { test (s: string): boolean }, rule: string): string {
  const s = text(value, path, max)
  if (!pattern.test(s)) fail(path, rule)
  return s
}

function integer (value: unknown, path: string, min: number, max: number, rule: string): number {
  if (value === undefined) return fail(path, 'is missing')
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(path, rule)
  return value as number
}

/** 9999-12-31T23:59:59Z: anything later is a time in milliseconds sent by mistake. */
const MAX_DATE = 253402300799
const LANGUAGE = /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$/
const MAGNET = /^magnet:\?xt=urn:btih:/
const MEDIA_ID = { test: isMediaId }
const OWNER_KEY = { test: isPublicKey }

function httpUrl (value: unknown, path: string): string {
  const s = text(value, path, RECORD_LIMITS.url)
  let protocol = ''
  try {
    protocol = new URL(s).protocol
  } catch {}
  if (protocol !== 'http:' && protocol !== 'https:') fail(path, 'must be an http:// or https:// URL (the httpUrl the upload answered)')
  return s
}

function tagList (value: unknown, path: string): string[] {
  if (!Array.isArray(value)) return fail(path, value === undefined ? 'is missing' : 'must be an array of strings')
  if (value.length > RECORD_LIMITS.tags) fail(path, `must have at most ${RECORD_LIMITS.tags} tags`)
  return value.map((t, i) => text(t, `${path}[${i}]`, RECORD_LIMITS.tag, 1))
}

/** Left out, or 1 to THUMBNAILS_PER_RECORD distinct mediaIds, none the file's own. */
function thumbnailList (value: unknown, path: string, mediaId: string): { thumbnails?: string[] } {
  if (value === undefined) return {}
  if (!Array.isArray(value) || value.length === 0) fail(path, 'must be a non-empty array of mediaIds of thumbnails you uploaded, or left out')
  const list = value as unknown[]
  if (list.length > THUMBNAILS_PER_RECORD) fail(path, `must have at most ${THUMBNAILS_PER_RECORD} thumbnails`)
  const ids = list.map((t, i) => matching(t, `${path}[${i}]`, Infinity, MEDIA_ID, 'must be the mediaId of a thumbnail you uploaded: 64 lowercase hex characters'))
  ids.forEach((id, i) => {
    if (id === mediaId) fail(`${path}[${i}]`, 'must be a thumbnail, not the file itself')
    if (ids.indexOf(id) !== i) fail(`${path}[${i}]`, 'names the same thumbnail twice')
  })
  return { thumbnails: ids }
}

function oneOf<T extends string> (value: unknown, path: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) fail(path, `must be ${allowed.map(v => `"${v}"`).join(' or ')}`)
  return value as T
}

/** The record in `value` (a fresh copy), or a 400 naming the wrong field and how to fix it. */
export function validateRecord (value: unknown): OipMediaRecord {
  const r = object(value, 'record', ['type', 'basic', 'media', 'accessControl'])
  const b = object(r.basic, 'record.basic', ['name', 'description', 'date', 'language', 'tagItems'])
  const m = object(r.media, 'record.media', ['mediaId', 'bittorrentAddress', 'httpUrl', 'contentType', 'size', 'thumbnails'])
  const a = object(r.accessControl, 'record.accessControl', ['access_level', 'owner_public_key'])
  // Shape first, then fields in document order: the message names the first field that is wrong.
  return {
    type: oneOf(r.type, 'record.type', ['media']),
    basic: {
      name: text(b.name, 'record.basic.name', RECORD_LIMITS.name, 1),
      description: text(b.description, 'record.basic.description', RECORD_LIMITS.description),
      date: integer(b.date, 'record.basic.date', 0, MAX_DATE, 'must be a Unix time in whole seconds (not milliseconds)'),
      language: matching(b.language, 'record.basic.language', RECORD_LIMITS.language, LANGUAGE, 'must be a language tag such as "en" or "pt-BR"'),
      tagItems: tagList(b.tagItems, 'record.basic.tagItems')
    },
    media: {
      mediaId: matching(m.mediaId, 'record.media.mediaId', Infinity, MEDIA_ID, 'must be the mediaId the upload answered: 64 lowercase hex characters (SHA-256 of the file)'),
      bittorrentAddress: matching(m.bittorrentAddress, 'record.media.bittorrentAddress', RECORD_LIMITS.magnet, MAGNET, 'must be the magnet URI of the torrent, starting with "magnet:?xt=urn:btih:"'),
      httpUrl: httpUrl(m.httpUrl, 'record.media.httpUrl'),
      contentType: matching(m.contentType, 'record.media.contentType', RECORD_LIMITS.contentType, SAFE_MIME, 'must be a lowercase MIME type such as "video/mp4"'),
      size: integer(m.size, 'record.media.size', 1, Number.MAX_SAFE_INTEGER, 'must be the file size in bytes, a whole number above 0'),
      ...thumbnailList(m.thumbnails, 'record.media.thumbnails', m.mediaId as string)
    },
    accessControl: {
      access_level: oneOf(a.access_level, 'record.accessControl.access_level', ACCESS_LEVELS),
      owner_public_key: matching(a.owner_public_key, 'record.accessControl.owner_public_key', Infinity, OWNER_KEY,
        'must be your public key: 66 lowercase hex characters starting with 02 or 03 (compressed secp256k1)')
    }
  }
}
