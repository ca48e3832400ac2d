/**
 * The catalogue's tables as kysely sees them. SQLite and PostgreSQL hold the same columns
 * (migrations.ts): flags are integers 0/1 and times are milliseconds or ISO text on both, so
 * no query depends on which database answers.
 */
import type { Generated } from 'kysely'

export interface MediaRecordsTable {
  id: Generated<number>
  media_id: string
  owner: string
  access_level: 'public' | 'private'
  name: string | null
  description: string | null
  original_name: string
  mime_type: string
  torrent_salt: string | null
  private_info_hash: string | null
  pinned: Generated<number>
  file_size: number | null
  /** The owner's tags: a JSON array of strings. */
  tags: Generated<string>
  created_at: string
}

export interface AuthChallengesTable {
  nonce: string
  message: string
  expires_at: number
}

export interface OipRecordsTable {
  seq: Generated<number>
  record_id: string
  media_id: string
  owner: string
  access_level: 'public' | 'private'
  type: string
  name: string
  description: string
  tags: string
  record_json: string
  signature: string
  created_at: string
  /** Where the record came from: made here, or read from the OIP network by the indexer. */
  source: Generated<'local' | 'arweave' | 'gun'>
  /** The owner's P2PKH address (shared/wallet.ts addressOf), the other form `creator` takes. */
  owner_address: string
  /** record.basic.date, Unix seconds. */
  date: number
  /** record.media.size, bytes. */
  size: number
  /** The name with A–Z in lower case (as `q` folds): the order of sortBy=name, alike on both databases. */
  name_key: string
  /** The record's OIP section by its content type (image, video, audio, text): what `recordType` names besides `media`. */
  section: string
}

/** One row per distinct tag of a record (records/oipRecordRepository.ts), for `tags` to seek. */
export interface OipRecordTagsTable {
  seq: number
  tag: string
}

export interface PublicTorrentsTable {
  media_id: string
  info_hash: string
}

/** One row per stored file: its size and public face; the bytes are in the blob store under media_id. */
export interface BlobsTable {
  media_id: string
  file_size: number
  piece_length: number
  /** The face's bencoded info dict (name, length, piece length, pieces): it hashes to info_hash. */
  info: Uint8Array
  name: string
  mime_type: string
  info_hash: string
  /** When the file became public (ms); null while no public record holds it. Orders the public listing. */
  listed_at: number | null
  /** 1: the row has no bytes in the store (reported, never served). */
  missing: Generated<number>
  /** When the bytes were last published (ms): a blob no record holds is collected a grace period after. */
  published_at: number
  /** When the face was made (ISO): the manifest's createdAt. */
  created_at: string
}

/** The seeding state: one row per torrent the server seeds, public (a public file's face) or private (a record's own). */
export interface SeedsTable {
  info_hash: string
  media_id: string
  kind: 'public' | 'private'
  /** Some holder pinned it: it stays active in the BitTorrent client. */
  pinned: Generated<number>
  /** When someone last wanted it (ms), or null while nobody has. */
  wanted_at: number | null
  /** When last wanted, or else when seeded (ms): the most recent come up first. */
  ranked_at: number
  /** Bytes sent to peers, up to the last write-behind. */
  uploaded: Generated<number>
}

/**
 * How many seeds of each kind, as counts spread over a few rows (shards) that each change
 * adds to: exact, read in a few rows whatever the catalogue holds, and concurrent transactions
 * rarely wait on the same row.
 */
export interface SeedCountsTable {
  kind: 'public' | 'private'
  shard: number
  n: number
}

/** Changes to the public listing seeder.json may lack, one row each (catalog/seederJsonMark.ts). */
export interface SeederJsonChangesTable {
  id: Generated<number>
}

/**
 * A blob folder that may disagree with its row, one row per step that can leave it so: noted
 * before an upload's rename and in a delete's transaction, taken out when the step is complete
 * (catalog/blobJournal.ts). A start reconciles these, not the whole catalogue.
 */
export interface BlobJournalTable {
  id: Generated<number>
  media_id: string
  /** When it was noted (ms). */
  at: number
}

/** Small facts about the catalogue itself (e.g. an import still to finish). */
export interface CatalogMetaTable {
  key: string
  value: string
}

/** A resumable upload: what the client declared, how far its bytes got, and its answer once published. */
export interface UploadsTable {
  /** 32 hex characters: the upload's URL and its folder in the upload store. */
  id: string
  owner: string
  /** The declared Upload-Length. */
  length: number
  /** Bytes acknowledged to the client (the tus offset): in the store up to here. */
  size: Generated<number>
  file_name: string
  mime_type: string
  access_level: 'public' | 'private'
  name: string | null
  description: string | null
  torrent_salt: string | null
  /** The SHA-256 the client expects, if it gave one. */
  sha256: string | null
  /** ms */
  created_at: number
  /** ms; pushed forward by every request that sends bytes. */
  expires_at: number
  /** The whole pieces hashed so far, so a restart re-hashes only SHA-256 from the start. */
  checkpoint_piece_length: number | null
  checkpoint_pieces: Uint8Array | null
  /** The UploadResult (JSON) once published: the answer for a client whose last response was lost. */
  result: string | null
  /** The hashing's saved state after `size` bytes (upload/hashState.ts), where uploads may move between nodes. */
  hash_state: Uint8Array | null
  /** The request that holds the upload (sending bytes, ending it), on whichever node; until `writer_until` (ms). */
  writer: string | null
  writer_until: number | null
}

/** A private record shared with another key (records/shareRepository.ts). */
export interface MediaSharesTable {
  /** The shared record is the owner's record of this media. */
  media_id: string
  owner: string
  /** The public key that may read it. */
  recipient: string
  /** ms; null: until revoked. An expired row reads as no share. */
  expires_at: number | null
  /** ms */
  created_at: number
}

/** A thumbnail a signed OIP record names (record.media.thumbnails), kept beside the record's row. */
export interface RecordThumbnailsTable {
  record_id: string
  /** The file the record describes, its owner and access level (the record's). */
  media_id: string
  owner: string
  access_level: 'public' | 'private'
  /** Its place in record.media.thumbnails: 0 is the one shown. */
  position: number
  /** The thumbnail's own mediaId: a small image the owner uploaded with the file's access level. */
  thumbnail_id: string
}

/** A server process sharing the catalogue (cluster/clusterNodes.ts); times are the database's clock (ms). */
export interface ClusterNodesTable {
  /** Random, new at every start. */
  id: string
  /** NODE_URL: where the other nodes reach it (the tracker's announces are forwarded there). */
  url: string
  started_at: number
  heartbeat_at: number
  /** Set while it holds the leadership (cluster/leadership.ts). */
  leading_since: number | null
  /** Its seeder's BitTorrent peer id (hex), once its client runs: the tracker knows every node's seeder by it. */
  seeder_peer_id: string | null
}

/** A private record's sealed GUN node on its way to the relays (publishing/gunPublications.ts). Times in ms. */
export interface GunPublicationsTable {
  /** Where it goes: the record's did:gun:<soul>, derived from the owner's key and the mediaId. */
  soul: string
  /** The record it carries (gone from oip_records: the node is to be tombstoned). */
  record_id: string
  media_id: string
  owner: string
  /** The sealed node's JSON ({v, iv, ct}: ciphertext only); null: a tombstone to post. */
  node: string | null
  state: 'queued' | 'posted' | 'failed'
  attempts: Generated<number>
  /** A queued or failed node is put to the relays from then on. */
  next_attempt_at: number
  last_error: string | null
  /** A publisher is putting it, until lease_until (then another may). */
  lease: string | null
  lease_until: number | null
  created_at: number
  updated_at: number
}

/** A public record's Arweave data item on its way (publishing/arweavePublications.ts). Times in ms. */
export interface ArweavePublicationsTable {
  record_id: string
  media_id: string
  owner: string
  /** The data item's id: the record's did:arweave:<item_id>. */
  item_id: string
  /** The owner's signed data item, exactly as sent. */
  item: Uint8Array
  state: 'queued' | 'posted' | 'confirmed' | 'failed'
  attempts: Generated<number>
  /** A queued or failed item goes in the publisher's next bundle from then on. */
  next_attempt_at: number
  last_error: string | null
  /** The bundle transaction that carried it, once posted. */
  tx_id: string | null
  /** A publisher has taken it into a bundle being posted, until lease_until (then another may). */
  lease: string | null
  lease_until: number | null
  created_at: number
  posted_at: number | null
  updated_at: number
}

export interface Schema {
  media_records: MediaRecordsTable
  auth_challenges: AuthChallengesTable
  oip_records: OipRecordsTable
  oip_record_tags: OipRecordTagsTable
  public_torrents: PublicTorrentsTable
  blobs: BlobsTable
  seeds: SeedsTable
  seed_counts: SeedCountsTable
  seeder_json_changes: SeederJsonChangesTable
  blob_journal: BlobJournalTable
  catalog_meta: CatalogMetaTable
  uploads: UploadsTable
  media_shares: MediaSharesTable
  record_thumbnails: RecordThumbnailsTable
  cluster_nodes: ClusterNodesTable
  arweave_publications: ArweavePublicationsTable
  oip_index_cursor: OipIndexCursorTable
  gun_publications: GunPublicationsTable
}

/** The Arweave indexer's place on each gateway (records/oipIndexCursor.ts). */
export interface OipIndexCursorTable {
  /** ARWEAVE_URL: a cursor means something only to the gateway that gave it. */
  gateway: string
  /** The GraphQL `after` cursor of the last item read. */
  cursor: string
  /** ms */
  updated_at: number
}
