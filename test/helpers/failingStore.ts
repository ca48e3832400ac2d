/** A real blob store whose next publish of an adopted (resumable) upload fails as a full disk would. */
import type { PendingBlob } from '../../server/storage/blobStore.ts'
import { FsBlobStore } from '../../server/storage/fsBlobStore.ts'
import { AppError } from '../../shared/errors.ts'

export class PublishFailingStore extends FsBlobStore {
  /** Set to make the next commit of an adopted upload fail with 507 (then it is cleared). */
  failNext = false

  override async adopt (file: string): Promise<PendingBlob> {
    const real = await super.adopt(file)
    return {
      ...real,
      commit: async (manifest, torrentFile) => {
        if (!this.failNext) return await real.commit(manifest, torrentFile)
        this.failNext = false
        await real.abort()
        throw new AppError(507, 'insufficient_storage', 'The server has no disk space left for this file.')
      }
    }
  }
}
