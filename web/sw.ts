/// <reference lib="webworker" />
/**
 * The app's service worker: the app shell is precached, so the app opens offline; every
 * navigation gets index.html. API calls, the tracker and media bytes always go to the network.
 * /webtorrent/ URLs are files streamed by the page's WebTorrent (sw/stream.ts).
 */
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'
import { streamResponse } from './sw/stream.ts'

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<{ url: string, revision: string | null }> }

// Before workbox's routes: the first fetch listener that answers wins.
self.addEventListener('fetch', event => {
  const response = streamResponse(event)
  if (response) event.respondWith(response)
})

precacheAndRoute(self.__WB_MANIFEST)
cleanupOutdatedCaches()
registerRoute(new NavigationRoute(createHandlerBoundToURL('index.html'), {
  denylist: [/^\/api\//, /^\/announce/, /^\/metrics/, /^\/healthz/, /^\/readyz/, /^\/webtorrent\//]
}))

// A share link opened for the first time streams at once: the new worker controls the page
// without a reload (updates still wait for the user's "Reload").
self.addEventListener('activate', event => { event.waitUntil(self.clients.claim()) })

// "New version available — reload": the page asks the waiting worker to take over.
self.addEventListener('message', event => {
  if ((event.data as { type?: string } | undefined)?.type === 'SKIP_WAITING') void self.skipWaiting()
})
