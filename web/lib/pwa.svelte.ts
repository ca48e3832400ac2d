/** The service worker, registered through workbox-window; tells the UI when a new version waits. */
import { Workbox } from 'workbox-window'

export class AppUpdates {
  waiting = $state(false)
  private wb: Workbox | undefined

  register (): void {
    if (!('serviceWorker' in navigator)) return
    this.wb = new Workbox('/sw.js')
    this.wb.addEventListener('waiting', () => { this.waiting = true })
    // A new version took over: load the page it serves. (A first install also takes control,
    // see sw.ts, but the page is already the one it serves.)
    this.wb.addEventListener('controlling', event => { if (event.isUpdate) window.location.reload() })
    this.wb.register().catch(() => { /* no worker, no offline: the app still works online */ })
  }

  reload (): void {
    this.wb?.messageSkipWaiting()
  }
}
