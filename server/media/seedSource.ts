/** What the seeder needs of a torrent the database seeds when it comes up: its .torrent, and a private one's gatekeeping. */
import type { AccessPolicy } from '../access/accessPolicy.ts'
import type { BlobRow } from '../catalog/blobRepository.ts'
import type { RecordRepository } from '../records/recordRepository.ts'
import type { SeedSource, TrackerToken } from '../seeder/mediaSeeder.ts'
import type { Catalog } from './catalog.ts'

export interface SeedSourceDeps {
  catalog: Catalog
  records: RecordRepository
  access: AccessPolicy
  /** A tracker capability for the seeder's own announces of one private torrent. */
  seederTrackerToken: (infoHash: string) => Promise<TrackerToken>
}

export function seedSource ({ catalog, records, access, seederTrackerToken }: SeedSourceDeps): SeedSource {
  const blobOf = async (mediaId: string): Promise<BlobRow> => {
    const blob = await catalog.blob(mediaId)
    if (!blob) throw new Error('its file is gone or its bytes are missing')
    return blob
  }
  return {
    torrentFile: async seed => {
      const blob = await blobOf(seed.mediaId)
      if (seed.kind === 'public') return catalog.seederTorrent(blob)
      // Our tracker's URLs without a capability: the seeder sends its capability with each
      // announce, so it can renew it without touching the running torrent.
      const record = await records.byPrivateInfoHash(seed.infoHash)
      if (!record) throw new Error('its record is gone')
      return catalog.privateTorrent(blob, record.originalName, record.torrentSalt!, { announce: catalog.seederTrackers, urlList: [] }).torrentFile
    },
    privateAccess: async seed => {
      const record = await records.byPrivateInfoHash(seed.infoHash)
      return record && {
        owner: record.owner,
        trackerToken: async () => await seederTrackerToken(seed.infoHash),
        admits: (peerId: string, address: string | null) => access.admitsPeer(seed.infoHash, peerId, address)
      }
    }
  }
}
