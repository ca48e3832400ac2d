/** A real blob store that can hold the next look-up of one file, to let a test act while another request waits there. */
import { FsBlobStore } from '../../server/storage/fsBlobStore.ts'

export class PausingStore extends FsBlobStore {
  private held?: { mediaId: string, reached: () => void, released: Promise<void> }

  /**
   * Hold the next has(mediaId) until release() is called; `reached` resolves when a request
   * gets there (an upload asks it under the file's lock, when it is about to make its record).
   */
  pauseNextHas (mediaId: string): { reached: Promise<void>, release: () => void } {
    let release!: () => void
    let reached!: () => void
    const reachedP = new Promise<void>(resolve => { reached = resolve })
    const released = new Promise<void>(resolve => { release = resolve })
    this.held = { mediaId, reached, released }
    return { reached: reachedP, release }
  }

  override async has (mediaId: string): Promise<boolean> {
    const held = this.held
    if (held?.mediaId === mediaId) {
      this.held = undefined
      held.reached()
      await held.released
    }
    return await super.has(mediaId)
  }
}
