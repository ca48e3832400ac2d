/**
 * A BlobStore that keeps blobs in memory and has no paths at all: a server over it proves that
 * nothing outside server/storage/ opens a blob's file, so an object store is a new
 * implementation of the interface, not a rewrite. Tests only.
 */
import fs from 'node:fs/promises'
import { Readable } from 'node:stream'
import { blobReader } from '../../server/storage/blobReader.ts'
import type { BlobReader, BlobStat, BlobStore, PendingBlob, StagingBlob } from '../../server/storage/blobStore.ts'
import { notFound } from '../../shared/errors.ts'
import type { MediaManifest } from '../../shared/media.ts'

interface StoredBlob {
  bytes: Buffer
  manifest: MediaManifest
  torrent: Uint8Array
  publishedAt: number
}

export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, StoredBlob>()
  /** Reads the server made of stored blobs: whole streams, and positional reads (bytes.ts, the seeder). */
  readonly reads = { streams: 0, positional: 0 }

  async init (): Promise<{ sweptIncoming: number }> {
    return { sweptIncoming: 0 }
  }

  async check (): Promise<void> {}

  async begin (): Promise<StagingBlob> {
    const writes: Array<{ bytes: Buffer, position: number }> = []
    const bytes = (): Buffer => {
      const out = Buffer.alloc(Math.max(0, ...writes.map(w => w.position + w.bytes.length)))
      for (const w of writes) w.bytes.copy(out, w.position)
      return out
    }
    // Copied: the hash job reuses its memory once a write is done.
    return { ...this.pending(bytes, async () => {}), file: { write: async (b, position) => { writes.push({ bytes: Buffer.from(b), position }) } } }
  }

  async adopt (file: string): Promise<PendingBlob> {
    const bytes = await fs.readFile(file)
    await fs.rm(file)
    return this.pending(() => bytes, async () => { await fs.writeFile(file, bytes) })
  }

  /** Commit keeps the bytes unless the id is stored already; abort gives adopted bytes back. */
  private pending (bytes: () => Buffer, release: () => Promise<void>): PendingBlob {
    let settled = false
    return {
      read: () => Readable.from([bytes()]),
      commit: async (manifest, torrent) => {
        if (settled) throw new Error('pending blob already settled')
        settled = true
        const stored = this.blobs.get(manifest.mediaId)
        if (stored) {
          stored.publishedAt = Date.now()
          return 'existed'
        }
        this.blobs.set(manifest.mediaId, { bytes: bytes(), manifest, torrent, publishedAt: Date.now() })
        return 'created'
      },
      abort: async () => {
        if (settled) return
        settled = true
        await release()
      }
    }
  }

  private blob (mediaId: string): StoredBlob {
    const stored = this.blobs.get(mediaId)
    if (!stored) throw notFound()
    return stored
  }

  async has (mediaId: string): Promise<boolean> {
    return this.blobs.has(mediaId)
  }

  async stat (mediaId: string): Promise<BlobStat | undefined> {
    const stored = this.blobs.get(mediaId)
    return stored && { size: stored.bytes.length }
  }

  async publishedAt (mediaId: string): Promise<number | undefined> {
    return this.blobs.get(mediaId)?.publishedAt
  }

  async readManifest (mediaId: string): Promise<MediaManifest> {
    return { ...this.blob(mediaId).manifest }
  }

  async readTorrent (mediaId: string): Promise<Uint8Array> {
    return this.blob(mediaId).torrent
  }

  /** For tests: replace the torrent object written at publish. */
  async writeTorrent (mediaId: string, torrentFile: Uint8Array): Promise<void> {
    this.blob(mediaId).torrent = torrentFile
  }

  async read (mediaId: string): Promise<Readable> {
    const { bytes } = this.blob(mediaId)
    this.reads.streams++
    return Readable.from([bytes])
  }

  reader (mediaId: string): BlobReader {
    return blobReader(async (buffer, position) => {
      const { bytes } = this.blob(mediaId)
      this.reads.positional++
      return position >= bytes.length ? 0 : bytes.copy(buffer, 0, position, Math.min(bytes.length, position + buffer.length))
    }, async () => {})
  }

  location (mediaId: string): string {
    return `memory:${mediaId}`
  }

  isLocation (location: string, mediaId: string): boolean {
    return location === this.location(mediaId)
  }

  async * list (): AsyncIterable<string> {
    yield * [...this.blobs.keys()]
  }

  async remove (mediaId: string): Promise<void> {
    this.blob(mediaId)
    this.blobs.delete(mediaId)
  }
}
