import { svelte } from '@sveltejs/vite-plugin-svelte'
import { defineConfig } from 'vite'

export default defineConfig({
  root: 'web',
  plugins: [svelte()],
  build: { outDir: '../dist/web', emptyOutDir: true },
  server: {
    // `vite` in web/ during development talks to the API server on :3000.
    proxy: { '/api': 'http://127.0.0.1:3000', '/announce': { target: 'ws://127.0.0.1:3000', ws: true } }
  }
})
