/**
 * Feedback on actions: short messages shown by the one toast region on top (Toasts.svelte) and
 * announced to screen readers, politely for a success and at once for an error. Successes go by
 * themselves; errors stay until dismissed. Nothing here takes focus.
 *
 * A modal dialog makes the rest of the page inert (unseen, unheard, unclickable), so each open
 * dialog holds a region of its own: the regions form a stack and only the top one shows toasts.
 */
export type ToastKind = 'success' | 'error'

export interface Toast {
  id: number
  kind: ToastKind
  message: string
  /** The region that showed it first, in its live region: elsewhere it shows without being announced again. */
  announcedBy?: number
}

/** How long a success stays (ms), longer while the pointer or focus is on it. */
const SUCCESS_MS = 6000
/** Old toasts give way: never a wall of them. */
const MAX_TOASTS = 4

class Toasts {
  items = $state<Toast[]>([])
  /** The regions, bottom to top: the page's, then one per open modal dialog. */
  regions = $state<number[]>([])
  /** A region the pointer or focus is in: successes there wait. */
  held = false
  private next = 1

  success (message: string): void { this.add('success', message) }
  error (message: string): void { this.add('error', message) }

  dismiss (id: number): void {
    this.items = this.items.filter(t => t.id !== id)
  }

  /** An id for a new region, to open once it is in the page. */
  regionId (): number { return this.next++ }

  /** A region appeared (the page's, or an opened dialog's): it is on top now. */
  openRegion (id: number): void {
    this.regions = [...this.regions, id]
  }

  closeRegion (id: number): void {
    this.regions = this.regions.filter(r => r !== id)
  }

  get top (): number | undefined { return this.regions.at(-1) }

  private add (kind: ToastKind, message: string): void {
    // The same message again (Copy twice) replaces the first: announced anew, shown once.
    const toast: Toast = { id: this.next++, kind, message }
    this.items = [...this.items.filter(t => t.message !== message), toast].slice(-MAX_TOASTS)
    if (kind === 'success') this.expire(toast.id)
  }

  private expire (id: number): void {
    setTimeout(() => {
      if (this.held) this.expire(id)
      else this.dismiss(id)
    }, SUCCESS_MS)
  }
}

export const toasts = new Toasts()
