import { svelte } from '@sveltejs/vite-plugin-svelte'
import { defineConfig } from 'vite'
import { VitePWA } from 'vite-plugin-pwa'

export default defineConfig({
  root: 'web',
  plugins: [
    svelte(),
    VitePWA({
      // Our own service worker (web/sw.ts): precache the app shell; later, webtorrent streaming.
      strategies: 'injectManifest',
      srcDir: '.',
      filename: 'sw.ts',
      // web/lib/pwa.svelte.ts registers it with workbox-window and offers reloads.
      injectRegister: false,
      manifest: {
        name: 'OIP Media Seeder',
        short_name: 'Media Seeder',
        description: 'Share files peer-to-peer, owned by your key, kept alive by a server.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#f6f7f9',
        theme_color: '#2d5be3',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' }
        ]
      },
      // The app shell only: media never goes into the precache, nor the worker that signs Arweave
      // items with arbundles (~240 KiB gzip), loaded only when a record is published there.
      injectManifest: { globPatterns: ['**/*.{js,css,html,svg,png,webmanifest}'], globIgnores: ['**/arweaveItem.worker-*.js'] }
    })
  ],
  build: { outDir: '../dist/web', emptyOutDir: true },
  server: {
    // `vite` in web/ during development talks to the API server on :3000.
    proxy: { '/api': 'http://127.0.0.1:3000', '/announce': { target: 'ws://127.0.0.1:3000', ws: true } }
  }
})
