/**
 * The dashboard's bytes by file: the torrents the seeder counted since start (ServedBytes), most
 * served first, as many as `limit` of those the caller may see (the access policy decides: a
 * public file's counts while it is public, a private torrent's by its owner alone), each named as
 * that caller knows the file. Only the counted torrents are walked (their number is bounded), and
 * the database is asked only about those that pass the policy's first look.
 */
import type { ServedFile } from '../../shared/media.ts'
import type { AccessPolicy, Caller } from '../access/accessPolicy.ts'
import type { RecordRepository } from '../records/recordRepository.ts'
import type { RecordThumbnails } from '../records/recordThumbnails.ts'
import type { MediaSeeder } from '../seeder/mediaSeeder.ts'
import type { ServedTorrent } from '../seeder/servedBytes.ts'
import type { Catalog } from './catalog.ts'

export interface ServedFilesDeps {
  access: AccessPolicy
  catalog: Catalog
  records: RecordRepository
  thumbnails: RecordThumbnails
  seeder: MediaSeeder
}

export async function servedFiles (deps: ServedFilesDeps, caller: Caller, limit: number): Promise<ServedFile[]> {
  const { access, catalog, records, thumbnails, seeder } = deps
  const files: ServedFile[] = []
  for (const { torrent, bytes, total } of seeder.served.mostServed()) {
    if (files.length >= limit) break
    if (!await access.seesServed(caller, torrent)) continue
    const name = torrent.kind === 'public'
      ? await publicName(catalog, torrent.mediaId)
      : (await records.byPrivateInfoHash(torrent.infoHash))?.originalName
    // Gone between the two reads: left out, as it would be a moment later.
    if (name === undefined) continue
    files.push({ mediaId: torrent.mediaId, name, accessLevel: torrent.kind, ...await thumbnailOf(deps, torrent), bytes: { ...bytes }, total })
  }
  return files
}

const publicName = async (catalog: Catalog, mediaId: string): Promise<string | undefined> => (await catalog.manifest(mediaId).catch(() => undefined))?.originalName

/** The file a thumbnail's torrent shows, named by records of the thumbnail's own access level (and owner, when private). */
async function thumbnailOf ({ catalog, records, thumbnails }: ServedFilesDeps, torrent: ServedTorrent): Promise<Pick<ServedFile, 'thumbnailOf'>> {
  const { kind, owner } = torrent
  if (kind === 'private' && owner === undefined) return {}
  const file = await thumbnails.fileOf(torrent.mediaId, kind === 'public' ? 'public' : { owner: owner! })
  if (file === null) return {}
  const name = kind === 'public' ? await publicName(catalog, file) : (await records.get(file, owner!))?.originalName
  return name === undefined ? {} : { thumbnailOf: { mediaId: file, name } }
}
