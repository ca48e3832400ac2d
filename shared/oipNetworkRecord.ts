/**
 * A record in the OIP network's own form, the way the OIP indexer (DevonJames/oip-arweave-indexer)
 * writes media: its `basic` template, one media section named by the content type (its `image`,
 * `video`, `audio` and `text` templates) and `accessControl`. The mapping is one-to-one both ways
 * (toOipNetwork / fromOipNetwork), so a record published to Arweave or GUN and read back is the
 * very record its owner signed, and the owner's signature (signing.ts) still verifies. Also the
 * Arweave tags an OIP record carries and the DID forms of where a record lives. Pure: the browser
 * builds it to sign, the server and the indexer read it back.
 *
 * Mapping (ours → OIP):
 *   basic.{name, description, date, language, tagItems} → basic.{same}, plus basic.nsfw: false
 *   media.bittorrentAddress → <section>.bittorrentAddress (the magnet)
 *   media.httpUrl           → <section>.webUrl
 *   basic.name              → <section>.filename (the same text: our name is the file's name)
 *   media.size, media.contentType → <section>.size, <section>.contentType
 *   media.mediaId           → <section>.mediaId (SHA-256 of the bytes; our addition)
 *   media.thumbnails        → <section>.thumbnailMediaIds (mediaIds, not OIP drefs; our addition)
 *   (none)                  → <section>.arweaveAddress: '', <section>.ipfsAddress: '' (bytes are on BitTorrent and HTTP)
 *   accessControl           → accessControl (the same two fields)
 * <section> is image, video or audio by the content type's top level, text for anything else.
 */
import canonicalize from 'canonicalize'
import { badRequest } from './errors.ts'
import { validateRecord, type OipMediaRecord } from './record.ts'
import { signatureFormatOf } from './signing.ts'
import { addressOf } from './wallet.ts'

export const OIP_SECTIONS = ['image', 'video', 'audio', 'text'] as const
export type OipSectionName = typeof OIP_SECTIONS[number]

export interface OipMediaSection {
  webUrl: string
  arweaveAddress: string
  ipfsAddress: string
  bittorrentAddress: string
  filename: string
  size: number
  contentType: string
  mediaId: string
  thumbnailMediaIds?: string[]
}

export interface OipNetworkRecord {
  basic: { name: string, description: string, date: number, language: string, nsfw: boolean, tagItems: string[] }
  image?: OipMediaSection
  video?: OipMediaSection
  audio?: OipMediaSection
  text?: OipMediaSection
  accessControl: OipMediaRecord['accessControl']
}

/** The OIP version our records are written in (the `Ver` tag). */
export const OIP_VERSION = '0.8.0'

/** The section a content type's record goes in. */
export function oipSectionOf (contentType: string): OipSectionName {
  const top = contentType.split('/')[0]
  return top === 'image' || top === 'video' || top === 'audio' ? top : 'text'
}

export function toOipNetwork (record: OipMediaRecord): OipNetworkRecord {
  const { basic, media, accessControl } = record
  const section: OipMediaSection = {
    webUrl: media.httpUrl,
    arweaveAddress: '',
    ipfsAddress: '',
    bittorrentAddress: media.bittorrentAddress,
    filename: basic.name,
    size: media.size,
    contentType: media.contentType,
    mediaId: media.mediaId,
    ...(media.thumbnails ? { thumbnailMediaIds: media.thumbnails } : {})
  }
  return {
    basic: { name: basic.name, description: basic.description, date: basic.date, language: basic.language, nsfw: false, tagItems: basic.tagItems },
    [oipSectionOf(media.contentType)]: section,
    accessControl: { access_level: accessControl.access_level, owner_public_key: accessControl.owner_public_key }
  }
}

const refuse = (rule: string): never => {
  throw badRequest('bad_oip_record', `The OIP record ${rule}.`)
}

/**
 * Our record from its OIP form, or a 400 saying what is wrong. Refuses what the mapping cannot
 * have made (a second section, a filename other than the name, an Arweave or IPFS address, nsfw),
 * so two different OIP texts never read back as the same signed record.
 */
export function fromOipNetwork (value: unknown): OipMediaRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return refuse('must be a JSON object')
  const oip = value as Record<string, unknown>
  const known = ['basic', 'accessControl', ...OIP_SECTIONS]
  const unknown = Object.keys(oip).find(k => !known.includes(k))
  if (unknown !== undefined) refuse(`has a field "${unknown}" this server does not write (it has: ${known.join(', ')})`)
  const sections = OIP_SECTIONS.filter(s => oip[s] !== undefined)
  if (sections.length !== 1) refuse(`must have exactly one media section (${OIP_SECTIONS.join(', ')})`)
  const name = sections[0]!
  const basic = (oip.basic ?? {}) as Record<string, unknown>
  const s = (oip[name] ?? {}) as Record<string, unknown>
  if (typeof s !== 'object' || Array.isArray(s)) refuse(`section "${name}" must be a JSON object`)
  const sectionKeys = ['webUrl', 'arweaveAddress', 'ipfsAddress', 'bittorrentAddress', 'filename', 'size', 'contentType', 'mediaId', 'thumbnailMediaIds']
  const extra = Object.keys(s).find(k => !sectionKeys.includes(k))
  if (extra !== undefined) refuse(`section "${name}" has a field "${extra}" this server does not write`)
  if (basic.nsfw !== false) refuse('basic.nsfw must be false')
  if (s.arweaveAddress !== '' || s.ipfsAddress !== '') refuse(`${name}.arweaveAddress and ${name}.ipfsAddress must be empty`)
  const { nsfw: _nsfw, ...ours } = basic
  const record = validateRecord({
    type: 'media',
    basic: ours,
    media: {
      mediaId: s.mediaId,
      bittorrentAddress: s.bittorrentAddress,
      httpUrl: s.webUrl,
      contentType: s.contentType,
      size: s.size,
      ...(s.thumbnailMediaIds !== undefined ? { thumbnails: s.thumbnailMediaIds } : {})
    },
    accessControl: oip.accessControl
  })
  if (s.filename !== record.basic.name) refuse(`${name}.filename must be basic.name`)
  if (oipSectionOf(record.media.contentType) !== name) refuse(`puts a ${record.media.contentType} file in "${name}", not "${oipSectionOf(record.media.contentType)}"`)
  return record
}

/** The exact text published: RFC 8785 canonical JSON, so the same record is always the same bytes. */
export const oipNetworkText = (record: OipMediaRecord): string => canonicalize(toOipNetwork(record))!

export interface Tag { name: string, value: string }

/**
 * The tags of an OIP record's Arweave data item, as the OIP indexer queries them (Index-Method,
 * Ver, Type, RecordType, Creator), plus what lets any reader check the owner's signature over our
 * record without asking this server: Owner-Signature (signing.ts's format) and Media-Id.
 */
export function oipTags (record: OipMediaRecord, ownerSignature: string): Tag[] {
  return [
    { name: 'Content-Type', value: 'application/json' },
    { name: 'Index-Method', value: 'OIP' },
    { name: 'Ver', value: OIP_VERSION },
    { name: 'Type', value: 'Record' },
    { name: 'RecordType', value: oipSectionOf(record.media.contentType) },
    { name: 'Creator', value: record.accessControl.owner_public_key },
    { name: 'Creator-Address', value: addressOf(record.accessControl.owner_public_key) },
    { name: 'Media-Id', value: record.media.mediaId },
    { name: 'Owner-Signature', value: ownerSignature },
    { name: 'Signature-Format', value: signatureFormatOf(ownerSignature) }
  ]
}

/** Where a record lives on the OIP network. */
export const arweaveDid = (txId: string): string => `did:arweave:${txId}`
export const gunDid = (soul: string): string => `did:gun:${soul}`
