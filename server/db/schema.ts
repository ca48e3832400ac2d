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
}

export interface PublicTorrentsTable {
  media_id: string
  info_hash: string
}

export interface Schema {
  media_records: MediaRecordsTable
  auth_challenges: AuthChallengesTable
  oip_records: OipRecordsTable
  public_torrents: PublicTorrentsTable
}
