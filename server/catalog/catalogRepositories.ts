/** Every repository of the catalogue over one database handle: the database, or one transaction on it. */
import type { Db, Dialect } from '../db/database.ts'
import { DatabaseRecordRepository } from '../records/databaseRecordRepository.ts'
import { DatabaseOipRecordRepository } from '../records/oipRecordRepository.ts'
import type { RecordRepository } from '../records/recordRepository.ts'
import type { OipRecordRepository } from '../records/oipRecordRepository.ts'
import { RecordThumbnails } from '../records/recordThumbnails.ts'
import { ShareRepository } from '../records/shareRepository.ts'
import { BlobJournal } from './blobJournal.ts'
import { BlobRepository } from './blobRepository.ts'
import { CatalogMeta } from './catalogMeta.ts'
import { SeedRepository } from './seedRepository.ts'

export interface CatalogRepositories {
  records: RecordRepository
  oipRecords: OipRecordRepository
  thumbnails: RecordThumbnails
  blobs: BlobRepository
  seeds: SeedRepository
  journal: BlobJournal
  shares: ShareRepository
  meta: CatalogMeta
}

export function catalogRepositories (db: Db, dialect: Dialect): CatalogRepositories {
  return {
    records: new DatabaseRecordRepository(db, dialect),
    oipRecords: new DatabaseOipRecordRepository(db, dialect),
    thumbnails: new RecordThumbnails(db),
    blobs: new BlobRepository(db),
    seeds: new SeedRepository(db, dialect),
    journal: new BlobJournal(db),
    shares: new ShareRepository(db),
    meta: new CatalogMeta(db)
  }
}
