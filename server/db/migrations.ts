/**
 * The schema, one migration at a time, the same on SQLite and PostgreSQL (kysely's Migrator
 * keeps track of which ran). Only column types differ: an auto-numbered key is SQLite's rowid
 * alias (INTEGER PRIMARY KEY) and PostgreSQL's bigserial.
 */
import { DEFAULT_MIGRATION_TABLE, Migrator, sql, type Kysely, type Migration, type RawBuilder } from 'kysely'
import { addressOf } from '../../shared/wallet.ts'
import type { Dialect } from './database.ts'

/**
 * Databases made before kysely counted their SQLite user_version up to this list's length.
 * Such a database is brought to the end of this list in the first migration, instead of
 * creating the tables it already has.
 */
export const LEGACY_SQLITE = [
  `CREATE TABLE media_records (
     id           INTEGER PRIMARY KEY,
     media_id     TEXT NOT NULL,
     owner        TEXT NOT NULL,
     access_level TEXT NOT NULL CHECK (access_level IN ('public', 'private')),
     name         TEXT,
     description  TEXT,
     created_at   TEXT NOT NULL,
     UNIQUE (media_id, owner)
   );
   CREATE INDEX media_records_public ON media_records (media_id) WHERE access_level = 'public';
   CREATE TABLE auth_challenges (
     nonce      TEXT PRIMARY KEY,
     message    TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  `ALTER TABLE media_records ADD COLUMN torrent_salt TEXT;
   ALTER TABLE media_records ADD COLUMN private_info_hash TEXT;
   CREATE UNIQUE INDEX media_records_private_info_hash ON media_records (private_info_hash) WHERE private_info_hash IS NOT NULL;`,
  `ALTER TABLE media_records ADD COLUMN original_name TEXT NOT NULL DEFAULT 'file';
   ALTER TABLE media_records ADD COLUMN mime_type TEXT NOT NULL DEFAULT 'application/octet-stream';`,
  `CREATE TABLE oip_records (
     seq          INTEGER PRIMARY KEY,
     record_id    TEXT NOT NULL UNIQUE,
     media_id     TEXT NOT NULL,
     owner        TEXT NOT NULL,
     access_level TEXT NOT NULL CHECK (access_level IN ('public', 'private')),
     type         TEXT NOT NULL,
     name         TEXT NOT NULL,
     description  TEXT NOT NULL,
     tags         TEXT NOT NULL,
     record_json  TEXT NOT NULL,
     signature    TEXT NOT NULL,
     created_at   TEXT NOT NULL
   );
   CREATE INDEX oip_records_owner ON oip_records (owner);
   CREATE INDEX oip_records_media ON oip_records (media_id, owner);`,
  `CREATE TABLE public_torrents (
     media_id  TEXT PRIMARY KEY,
     info_hash TEXT NOT NULL UNIQUE
   );`,
  `ALTER TABLE media_records ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX media_records_pinned ON media_records (media_id) WHERE pinned = 1;`,
  `ALTER TABLE media_records ADD COLUMN file_size INTEGER;
   CREATE INDEX media_records_owner ON media_records (owner);`
]

const ACCESS_LEVEL_CHECK = sql`access_level IN ('public', 'private')`

/** Set by 0002: the files, faces and seeding state of an older MEDIA_DIR are still to be imported (catalog/import.ts). */
export const IMPORT_PENDING = 'import_pending'

/** Set by 0007: the next start compares every folder and row once (catalog/reconcile.ts). */
export const RECONCILE_ALL = 'reconcile_all'

function migrations (dialect: Dialect): Record<string, Migration> {
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer'
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob'
  return {
    // Records of ownership, OIP records, sign-in challenges, public torrents.
    '0001_records': {
      async up (db: Kysely<any>) {
        if (dialect === 'sqlite') {
          const { rows } = await sql<{ user_version: number }>`PRAGMA user_version`.execute(db)
          const version = rows[0]?.user_version ?? 0
          if (version > 0) {
            // One statement per query (no step has a ';' inside a literal).
            const statements = LEGACY_SQLITE.slice(version).flatMap(step => step.split(';')).map(s => s.trim()).filter(Boolean)
            for (const statement of statements) await sql.raw(statement).execute(db)
            return
          }
        }
        await db.schema.createTable('media_records')
          .addColumn('id', serial, c => c.primaryKey())
          .addColumn('media_id', 'text', c => c.notNull())
          .addColumn('owner', 'text', c => c.notNull())
          .addColumn('access_level', 'text', c => c.notNull().check(ACCESS_LEVEL_CHECK))
          .addColumn('name', 'text')
          .addColumn('description', 'text')
          .addColumn('created_at', 'text', c => c.notNull())
          .addColumn('torrent_salt', 'text')
          .addColumn('private_info_hash', 'text')
          .addColumn('original_name', 'text', c => c.notNull().defaultTo('file'))
          .addColumn('mime_type', 'text', c => c.notNull().defaultTo('application/octet-stream'))
          .addColumn('pinned', 'integer', c => c.notNull().defaultTo(0))
          .addColumn('file_size', 'bigint')
          .addUniqueConstraint('media_records_media_id_owner_key', ['media_id', 'owner'])
          .execute()
        await db.schema.createIndex('media_records_public').on('media_records').column('media_id').where(sql.ref('access_level'), '=', 'public').execute()
        await db.schema.createIndex('media_records_private_info_hash').unique().on('media_records').column('private_info_hash').where(sql.ref('private_info_hash'), 'is not', null).execute()
        await db.schema.createIndex('media_records_pinned').on('media_records').column('media_id').where(sql.ref('pinned'), '=', 1).execute()
        await db.schema.createIndex('media_records_owner').on('media_records').column('owner').execute()
        await db.schema.createTable('auth_challenges')
          .addColumn('nonce', 'text', c => c.primaryKey())
          .addColumn('message', 'text', c => c.notNull())
          .addColumn('expires_at', 'bigint', c => c.notNull())
          .execute()
        await db.schema.createTable('oip_records')
          .addColumn('seq', serial, c => c.primaryKey())
          .addColumn('record_id', 'text', c => c.notNull().unique())
          .addColumn('media_id', 'text', c => c.notNull())
          .addColumn('owner', 'text', c => c.notNull())
          .addColumn('access_level', 'text', c => c.notNull().check(ACCESS_LEVEL_CHECK))
          .addColumn('type', 'text', c => c.notNull())
          .addColumn('name', 'text', c => c.notNull())
          .addColumn('description', 'text', c => c.notNull())
          .addColumn('tags', 'text', c => c.notNull())
          .addColumn('record_json', 'text', c => c.notNull())
          .addColumn('signature', 'text', c => c.notNull())
          .addColumn('created_at', 'text', c => c.notNull())
          .execute()
        await db.schema.createIndex('oip_records_owner').on('oip_records').column('owner').execute()
        await db.schema.createIndex('oip_records_media').on('oip_records').columns(['media_id', 'owner']).execute()
        await db.schema.createTable('public_torrents')
          .addColumn('media_id', 'text', c => c.primaryKey())
          .addColumn('info_hash', 'text', c => c.notNull().unique())
          .execute()
      }
    },
    // Every fact about a stored file in the database: blobs (size and public face) and the seeding state.
    '0002_catalogue': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('blobs')
          .addColumn('media_id', 'text', c => c.primaryKey())
          .addColumn('file_size', 'bigint', c => c.notNull())
          .addColumn('piece_length', 'integer', c => c.notNull())
          .addColumn('info', bytes, c => c.notNull())
          .addColumn('name', 'text', c => c.notNull())
          .addColumn('mime_type', 'text', c => c.notNull())
          .addColumn('info_hash', 'text', c => c.notNull())
          .addColumn('listed_at', 'bigint')
          .addColumn('missing', 'integer', c => c.notNull().defaultTo(0))
          .addColumn('published_at', 'bigint', c => c.notNull())
          .addColumn('created_at', 'text', c => c.notNull())
          .execute()
        await db.schema.createIndex('blobs_info_hash').on('blobs').column('info_hash').execute()
        await db.schema.createIndex('blobs_listed').on('blobs').columns(['listed_at', 'media_id']).where(sql.ref('listed_at'), 'is not', null).execute()
        await db.schema.createIndex('blobs_missing').on('blobs').column('media_id').where(sql.ref('missing'), '=', 1).execute()
        await db.schema.createTable('seeds')
          .addColumn('info_hash', 'text', c => c.primaryKey())
          .addColumn('media_id', 'text', c => c.notNull())
          .addColumn('kind', 'text', c => c.notNull().check(sql`kind IN ('public', 'private')`))
          .addColumn('pinned', 'integer', c => c.notNull().defaultTo(0))
          .addColumn('wanted_at', 'bigint')
          .addColumn('ranked_at', 'bigint', c => c.notNull())
          .addColumn('uploaded', 'bigint', c => c.notNull().defaultTo(0))
          .execute()
        await db.schema.createIndex('seeds_rank').on('seeds').columns(['pinned', 'ranked_at']).execute()
        await db.schema.createIndex('seeds_media').on('seeds').column('media_id').execute()
        await db.schema.createIndex('seeds_uploaded').on('seeds').columns(['kind', 'uploaded']).execute()
        // The owner's listing pages by (created_at, media_id): a cursor that tells nothing of other keys' records.
        await db.schema.createIndex('media_records_owner_created').on('media_records').columns(['owner', 'created_at', 'media_id']).execute()
        await db.schema.createTable('catalog_meta')
          .addColumn('key', 'text', c => c.primaryKey())
          .addColumn('value', 'text', c => c.notNull())
          .execute()
        await db.insertInto('catalog_meta').values({ key: IMPORT_PENDING, value: '1' }).execute()
      }
    },
    // Resumable uploads' state (catalog/uploadRepository.ts); their bytes stay in the upload store.
    '0003_uploads': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('uploads')
          .addColumn('id', 'text', c => c.primaryKey())
          .addColumn('owner', 'text', c => c.notNull())
          .addColumn('length', 'bigint', c => c.notNull())
          .addColumn('size', 'bigint', c => c.notNull().defaultTo(0))
          .addColumn('file_name', 'text', c => c.notNull())
          .addColumn('mime_type', 'text', c => c.notNull())
          .addColumn('access_level', 'text', c => c.notNull().check(ACCESS_LEVEL_CHECK))
          .addColumn('name', 'text')
          .addColumn('description', 'text')
          .addColumn('torrent_salt', 'text')
          .addColumn('sha256', 'text')
          .addColumn('created_at', 'bigint', c => c.notNull())
          .addColumn('expires_at', 'bigint', c => c.notNull())
          .addColumn('checkpoint_piece_length', 'integer')
          .addColumn('checkpoint_pieces', bytes)
          .addColumn('result', 'text')
          .execute()
        await db.schema.createIndex('uploads_expiry').on('uploads').columns(['expires_at', 'id']).execute()
        await db.schema.createIndex('uploads_owner_open').on('uploads').column('owner').where(sql.ref('result'), 'is', null).execute()
      }
    },
    // Each query on seeds by kind needs an index that also covers its other condition and its
    // order: with only (kind, uploaded) to go by, SQLite read every public seed for one file's,
    // and sorted them all for each page of the seeder.json snapshot (found by bench:catalog).
    '0004_seed_indexes': {
      async up (db: Kysely<any>) {
        await db.schema.dropIndex('seeds_media').execute()
        await db.schema.createIndex('seeds_media').on('seeds').columns(['media_id', 'kind']).execute()
        await db.schema.createIndex('seeds_kind_hash').on('seeds').columns(['kind', 'info_hash']).execute()
      }
    },
    // seeder.json is rewritten at a start only when changes are noted since it was written
    // (catalog/seederJsonMark.ts): the first start after this upgrade writes it once, as every
    // start did before.
    '0005_seeder_json_changes': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('seeder_json_changes')
          .addColumn('id', serial, c => c.primaryKey())
          .execute()
        await db.insertInto('seeder_json_changes').defaultValues().execute()
      }
    },
    // Seeds counted per request from a few rows, not by counting the catalogue (schema.ts, SeedCountsTable).
    '0006_seed_counts': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('seed_counts')
          .addColumn('kind', 'text', c => c.notNull())
          .addColumn('shard', 'integer', c => c.notNull())
          .addColumn('n', 'bigint', c => c.notNull())
          .addPrimaryKeyConstraint('seed_counts_pk', ['kind', 'shard'])
          .execute()
        await sql`INSERT INTO seed_counts (kind, shard, n) SELECT kind, 0, COUNT(*) FROM seeds GROUP BY kind`.execute(db)
      }
    },
    // A start reconciles the folders a step noted here (catalog/blobJournal.ts), not every folder
    // and row; the catalogue_reconcile_all mark makes the first start after this upgrade walk
    // them all once (when it holds any), as every start did before.
    '0007_blob_journal': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('blob_journal')
          .addColumn('id', serial, c => c.primaryKey())
          .addColumn('media_id', 'text', c => c.notNull())
          .addColumn('at', 'bigint', c => c.notNull())
          .execute()
        await sql`INSERT INTO catalog_meta (key, value) SELECT ${RECONCILE_ALL}, '1' WHERE EXISTS (SELECT 1 FROM blobs)`.execute(db)
      }
    },
    // The owner's tags for their file (a JSON array of strings), edited with PATCH /api/media/:id.
    '0008_record_tags': {
      async up (db: Kysely<any>) {
        await db.schema.alterTable('media_records').addColumn('tags', 'text', c => c.notNull().defaultTo('[]')).execute()
      }
    },
    // Owners share their private records with chosen keys (records/shareRepository.ts): one row
    // per (file, owner, recipient). Indexes for "may this key read this file" and for "shared
    // with me", newest first, paged by row value.
    '0009_media_shares': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('media_shares')
          .addColumn('media_id', 'text', c => c.notNull())
          .addColumn('owner', 'text', c => c.notNull())
          .addColumn('recipient', 'text', c => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('created_at', 'bigint', c => c.notNull())
          .addPrimaryKeyConstraint('media_shares_pk', ['media_id', 'owner', 'recipient'])
          .execute()
        await db.schema.createIndex('media_shares_readable').on('media_shares').columns(['media_id', 'recipient', 'created_at']).execute()
        await db.schema.createIndex('media_shares_recipient').on('media_shares').columns(['recipient', 'created_at', 'media_id', 'owner']).execute()
      }
    },
    // Expired shares read as none already; this index lets a periodic sweep find them without
    // reading every share (ShareRepository.removeExpiredBatch).
    '0010_media_shares_expiry': {
      async up (db: Kysely<any>) {
        await db.schema.createIndex('media_shares_expires').on('media_shares').column('expires_at').execute()
      }
    },
    // Record search (records/recordSearch.ts): where a record came from, its creator's address,
    // date, size and name order as columns, its tags as rows, a full-text index over name,
    // description and tags; one index per order, for public records and per owner, so a page
    // reads its rows from an index in order. Existing records are filled in and indexed.
    '0011_record_search': {
      async up (db: Kysely<any>) {
        await db.schema.alterTable('oip_records').addColumn('source', 'text', c => c.notNull().defaultTo('local').check(sql`source IN ('local', 'arweave', 'gun')`)).execute()
        await db.schema.alterTable('oip_records').addColumn('owner_address', 'text', c => c.notNull().defaultTo('')).execute()
        await db.schema.alterTable('oip_records').addColumn('date', 'bigint', c => c.notNull().defaultTo(0)).execute()
        await db.schema.alterTable('oip_records').addColumn('size', 'bigint', c => c.notNull().defaultTo(0)).execute()
        // Byte order on PostgreSQL too, as SQLite compares text.
        await db.schema.alterTable('oip_records').addColumn('name_key', 'text', c => (dialect === 'postgres' ? c.modifyFront(sql`COLLATE "C"`) : c).notNull().defaultTo('')).execute()
        const field = (path: string): RawBuilder<number> => dialect === 'postgres'
          ? sql<number>`(record_json::jsonb #>> ${`{${path.replace('.', ',')}}`})::bigint`
          : sql<number>`json_extract(record_json, ${`$.${path}`})`
        await db.updateTable('oip_records').set({
          date: field('basic.date'),
          size: field('media.size'),
          name_key: dialect === 'postgres' ? sql`lower(name COLLATE "C")` : sql`lower(name)`
        }).execute()
        const { rows: owners } = await sql<{ owner: string }>`SELECT DISTINCT owner FROM oip_records`.execute(db)
        for (const { owner } of owners) await db.updateTable('oip_records').set({ owner_address: addressOf(owner) }).where('owner', '=', owner).execute()

        await db.schema.dropIndex('oip_records_owner').execute()
        for (const key of ['date', 'name_key', 'size']) {
          await db.schema.createIndex(`oip_records_public_${key}`).on('oip_records').columns(['access_level', key, 'seq']).execute()
          await db.schema.createIndex(`oip_records_owner_${key}`).on('oip_records').columns(['owner', 'access_level', key, 'seq']).execute()
        }
        await db.schema.createIndex('oip_records_public_seq').on('oip_records').columns(['access_level', 'seq']).execute()
        await db.schema.createIndex('oip_records_owner_seq').on('oip_records').columns(['owner', 'access_level', 'seq']).execute()
        await db.schema.createIndex('oip_records_address').on('oip_records').column('owner_address').execute()

        await db.schema.createTable('oip_record_tags')
          .addColumn('seq', 'bigint', c => c.notNull().references('oip_records.seq').onDelete('cascade'))
          .addColumn('tag', 'text', c => c.notNull())
          .addPrimaryKeyConstraint('oip_record_tags_pk', ['tag', 'seq'])
          .execute()
        await db.schema.createIndex('oip_record_tags_seq').on('oip_record_tags').column('seq').execute()
        await sql`INSERT INTO oip_record_tags (seq, tag) SELECT DISTINCT seq, ${dialect === 'postgres'
          ? sql`jsonb_array_elements_text(tags::jsonb) FROM oip_records`
          : sql`json_each.value FROM oip_records, json_each(oip_records.tags)`}`.execute(db)

        if (dialect === 'postgres') {
          // Generated: every row's words are indexed in the same statement that writes it. ASCII
          // punctuation becomes spaces first: the parser would keep "clip.mp4", a URL or an e-mail
          // address as one word, where FTS5 splits them (records/recordFullText.ts).
          const punctuation = '!"#$%&\'\'()*+,-./:;<=>?@[\\]^_`{|}~'
          await sql.raw(`ALTER TABLE oip_records ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
            to_tsvector('simple'::regconfig, translate(name || ' ' || description || ' ' || tags, '${punctuation}', '${' '.repeat(32)}'))) STORED`).execute(db)
          await sql`CREATE INDEX oip_records_search ON oip_records USING gin (search_vector)`.execute(db)
        } else {
          // External content: the index holds the words, the triggers keep it in step with the rows.
          await sql`CREATE VIRTUAL TABLE oip_records_fts USING fts5(name, description, tags, content='oip_records', content_rowid='seq', tokenize='unicode61 remove_diacritics 0')`.execute(db)
          const add = sql`INSERT INTO oip_records_fts (rowid, name, description, tags) VALUES (new.seq, new.name, new.description, new.tags);`
          const remove = sql`INSERT INTO oip_records_fts (oip_records_fts, rowid, name, description, tags) VALUES ('delete', old.seq, old.name, old.description, old.tags);`
          await sql`CREATE TRIGGER oip_records_fts_insert AFTER INSERT ON oip_records BEGIN ${add} END`.execute(db)
          await sql`CREATE TRIGGER oip_records_fts_delete AFTER DELETE ON oip_records BEGIN ${remove} END`.execute(db)
          await sql`CREATE TRIGGER oip_records_fts_update AFTER UPDATE OF name, description, tags ON oip_records BEGIN ${remove} ${add} END`.execute(db)
          await sql`INSERT INTO oip_records_fts (oip_records_fts) VALUES ('rebuild')`.execute(db)
        }
      }
    },
    // The thumbnails a signed record names (records/recordThumbnails.ts): one row per record and
    // thumbnail. Indexes for "whose thumbnail is this file" (access, listings) and for the
    // thumbnails of one owner's records of a file.
    '0012_record_thumbnails': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('record_thumbnails')
          .addColumn('record_id', 'text', c => c.notNull())
          .addColumn('media_id', 'text', c => c.notNull())
          .addColumn('owner', 'text', c => c.notNull())
          .addColumn('access_level', 'text', c => c.notNull().check(ACCESS_LEVEL_CHECK))
          .addColumn('position', 'integer', c => c.notNull())
          .addColumn('thumbnail_id', 'text', c => c.notNull())
          .addPrimaryKeyConstraint('record_thumbnails_pk', ['record_id', 'position'])
          .execute()
        await db.schema.createIndex('record_thumbnails_thumbnail').on('record_thumbnails').columns(['thumbnail_id', 'owner']).execute()
        await db.schema.createIndex('record_thumbnails_media').on('record_thumbnails').columns(['media_id', 'owner']).execute()
      }
    },
    // Public records on their way to Arweave (publishing/arweavePublications.ts): the owner's
    // signed data item, byte for byte, and how far it got. Indexes for the publisher's next
    // batch (due items by state and time), the bundles to ask about, and My files' rows.
    '0013_arweave_publications': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('arweave_publications')
          .addColumn('record_id', 'text', c => c.primaryKey())
          .addColumn('media_id', 'text', c => c.notNull())
          .addColumn('owner', 'text', c => c.notNull())
          .addColumn('item_id', 'text', c => c.notNull().unique())
          .addColumn('item', bytes, c => c.notNull())
          .addColumn('state', 'text', c => c.notNull().check(sql`state IN ('queued', 'posted', 'confirmed', 'failed')`))
          .addColumn('attempts', 'integer', c => c.notNull().defaultTo(0))
          .addColumn('next_attempt_at', 'bigint', c => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('tx_id', 'text')
          .addColumn('lease', 'text')
          .addColumn('lease_until', 'bigint')
          .addColumn('created_at', 'bigint', c => c.notNull())
          .addColumn('posted_at', 'bigint')
          .addColumn('updated_at', 'bigint', c => c.notNull())
          .execute()
        await db.schema.createIndex('arweave_publications_due').on('arweave_publications').columns(['state', 'next_attempt_at']).execute()
        await db.schema.createIndex('arweave_publications_tx').on('arweave_publications').columns(['tx_id']).execute()
        await db.schema.createIndex('arweave_publications_owner').on('arweave_publications').columns(['owner', 'media_id']).execute()
      }
    },
    // The server processes sharing this catalogue (cluster/clusterNodes.ts): each registers at
    // start and heartbeats; one not seen for CLUSTER_NODE_TIMEOUT is dead.
    '0016_cluster_nodes': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('cluster_nodes')
          .addColumn('id', 'text', c => c.primaryKey())
          .addColumn('url', 'text', c => c.notNull())
          .addColumn('started_at', 'bigint', c => c.notNull())
          .addColumn('heartbeat_at', 'bigint', c => c.notNull())
          .addColumn('leading_since', 'bigint')
          .addColumn('seeder_peer_id', 'text')
          .execute()
      }
    },
    // Resumable uploads that any node may continue (upload/resumable.ts): the hashing's saved
    // state after the acknowledged bytes, and which request holds the upload until when (a lease
    // across nodes, so two never write one upload at once).
    '0017_upload_hash_state': {
      async up (db: Kysely<any>) {
        await db.schema.alterTable('uploads').addColumn('hash_state', bytes).execute()
        await db.schema.alterTable('uploads').addColumn('writer', 'text').execute()
        await db.schema.alterTable('uploads').addColumn('writer_until', 'bigint').execute()
      }
    },
    // Private records' sealed GUN nodes on their way to the relays (publishing/gunPublications.ts),
    // one row per soul: the owner's ciphertext (never the key or the plaintext), or null once the
    // record is gone and the node is to be overwritten with a tombstone. Indexes for the
    // publisher's next batch and My files' rows.
    '0018_gun_publications': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('gun_publications')
          .addColumn('soul', 'text', c => c.primaryKey())
          .addColumn('record_id', 'text', c => c.notNull())
          .addColumn('media_id', 'text', c => c.notNull())
          .addColumn('owner', 'text', c => c.notNull())
          .addColumn('node', 'text')
          .addColumn('state', 'text', c => c.notNull().check(sql`state IN ('queued', 'posted', 'failed')`))
          .addColumn('attempts', 'integer', c => c.notNull().defaultTo(0))
          .addColumn('next_attempt_at', 'bigint', c => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('lease', 'text')
          .addColumn('lease_until', 'bigint')
          .addColumn('created_at', 'bigint', c => c.notNull())
          .addColumn('updated_at', 'bigint', c => c.notNull())
          .execute()
        await db.schema.createIndex('gun_publications_due').on('gun_publications').columns(['state', 'next_attempt_at']).execute()
        await db.schema.createIndex('gun_publications_record').on('gun_publications').columns(['record_id']).execute()
        // One soul per owner's file (the soul is derived from both): a key cannot pile up rows.
        await db.schema.createIndex('gun_publications_owner').unique().on('gun_publications').columns(['owner', 'media_id']).execute()
      }
    },
    // Where the Arweave indexer (records/oipIndexer.ts) got to on each gateway: the GraphQL
    // cursor after the last item it read, so a restart (or another leader) goes on from there.
    '0019_oip_index_cursor': {
      async up (db: Kysely<any>) {
        await db.schema.createTable('oip_index_cursor')
          .addColumn('gateway', 'text', c => c.primaryKey())
          .addColumn('cursor', 'text', c => c.notNull())
          .addColumn('updated_at', 'bigint', c => c.notNull())
          .execute()
      }
    },
    // A record's OIP section (image, video, audio or text, by its content type: oipSectionOf), the
    // RecordType its Arweave item is tagged with, for `recordType` to find it by.
    '0020_oip_record_section': {
      async up (db: Kysely<any>) {
        await db.schema.alterTable('oip_records').addColumn('section', 'text', c => c.notNull().defaultTo('text')).execute()
        const contentType = dialect === 'postgres' ? sql`(record_json::jsonb #>> '{media,contentType}')` : sql`json_extract(record_json, '$.media.contentType')`
        // Only the rows of another section are written: the default is text.
        await db.updateTable('oip_records').set({
          section: sql`CASE WHEN ${contentType} LIKE 'image/%' THEN 'image' WHEN ${contentType} LIKE 'video/%' THEN 'video' ELSE 'audio' END`
        }).where(eb => eb.or(['image/%', 'video/%', 'audio/%'].map(prefix => eb(contentType, 'like', prefix)))).execute()
      }
    }
  }
}

/** The names of the migrations, in the order they run. */
export const migrationNames = (dialect: Dialect): string[] => Object.keys(migrations(dialect))

/**
 * Bring the schema up to date; throws (and changes nothing more) when a migration fails.
 * `fresh`: the database held nothing of ours before (no migration had run, no legacy schema).
 */
export async function migrate (db: Kysely<any>, dialect: Dialect): Promise<{ fresh: boolean }> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations(dialect) } })
  // Read only (getMigrations would create kysely's tables outside its lock, racing other nodes).
  const ran = (await db.introspection.getTables({ withInternalKyselyTables: true })).some(t => t.name === DEFAULT_MIGRATION_TABLE)
  const legacy = dialect === 'sqlite' && ((await sql<{ user_version: number }>`PRAGMA user_version`.execute(db)).rows[0]?.user_version ?? 0) > 0
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    const failed = results?.find(r => r.status === 'Error')?.migrationName
    throw new Error(`database migration ${failed ?? ''} failed: ${(error as Error).message}`)
  }
  return { fresh: !ran && !legacy }
}
