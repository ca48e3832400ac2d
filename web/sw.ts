/// <reference lib="webworker" />
/**
 * The app's service worker: the app shell is precached, so the app opens offline; every
 * navigation gets index.html. API calls, the tracker and media bytes always go to the network.
 */
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<{ url: string, revision: string | null }> }

precacheAndRoute(self.__WB_MANIFEST)
cleanupOutdatedCaches()
registerRoute(new NavigationRoute(createHandlerBoundToURL('index.html'), {
  denylist: [/^\/api\//, /^\/announce/, /^\/metrics/, /^\/healthz/, /^\/readyz/, /^\/webtorrent\//]
}))

// "New version available — reload": the page asks the waiting worker to take over.
self.addEventListener('message', event => {
  if ((event.data as { type?: string } | undefined)?.type === 'SKIP_WAITING') void self.skipWaiting()
})
