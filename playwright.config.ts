import { defineConfig } from '@playwright/test'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

// E2E_PORT lets two checkouts run their e2e suites side by side.
const PORT = Number(process.env.E2E_PORT ?? 5178)
const BASE_URL = `http://127.0.0.1:${PORT}`
const P2P_PORT = PORT + 1
/** The server without BitTorrent seeding (see webServer below). */
export const P2P_URL = `http://127.0.0.1:${P2P_PORT}`
/** A second tracker the P2P server names in its torrents; a test runs it (see stream.spec.ts). */
export const EXTRA_TRACKER_PORT = PORT + 2
/** A mirror of the mirrored server's public files (its CDN_URLS); a test runs it (see stream.spec.ts). */
export const MIRROR_PORT = PORT + 3
/** The server whose torrents name that mirror. */
export const MIRRORED_URL = `http://127.0.0.1:${PORT + 4}`
/** The server that publishes public records to Arweave: to arlocal on ARLOCAL_PORT, which a test runs (see arweave.spec.ts). */
export const PUBLISHING_URL = `http://127.0.0.1:${PORT + 5}`
export const ARLOCAL_PORT = PORT + 6
export const ARLOCAL_URL = `http://127.0.0.1:${ARLOCAL_PORT}`
/** The server that indexes the OIP records on that arlocal (ARWEAVE_URL; see search.spec.ts). PORT+7/8 are the GUN tests'. */
export const INDEXING_URL = `http://127.0.0.1:${PORT + 9}`
// PORT+10 is free.
/** The server whose per-key storage quota is small (QUOTA_BYTES_PER_KEY), so the app meets the limit. */
export const QUOTA_URL = `http://127.0.0.1:${PORT + 11}`
/** Its quota: 100 kB. */
export const QUOTA_BYTES = 100_000
/** The server that publishes private records to GUN: to the relay on GUN_RELAY_PORT, which this config starts (see webServer below). */
export const GUN_URL = `http://127.0.0.1:${PORT + 7}`
export const GUN_RELAY_PORT = PORT + 8
/** What that server's GUN_PEERS names. */
export const GUN_RELAY_URL = `http://127.0.0.1:${GUN_RELAY_PORT}/gun`

// A fresh, empty data folder per run so tests never see a previous run's media.
// Playwright loads this file in the runner and again in each worker; the env var
// (inherited by workers) keeps them all on the one folder.
process.env.E2E_TMP_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), 'oip-e2e-'))
const tmp = process.env.E2E_TMP_DIR
/** The Arweave wallet the publishing server generates on its first start (a test funds it). */
export const PUBLISHING_WALLET = path.join(tmp, 'publishing', 'data', 'arweave-wallet.json')

function serverEnv (port: number, name: string): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    MEDIA_DIR: path.join(tmp, name, 'media'),
    DATA_DIR: path.join(tmp, name, 'data'),
    TORRENT_PORT: '0',
    // The browser and every test are 127.0.0.1: per-address limits are for the server's own tests.
    CHALLENGES_PER_MINUTE: '100000',
    UPLOAD_STARTS_PER_MINUTE: '100000',
    MAX_BYTE_RESPONSES_PER_ADDRESS: '100000',
    SEED_ACTIVATIONS_PER_MINUTE: '100000',
    // The dashboard's history takes a sample a second, so its charts show activity at once.
    HISTORY_SAMPLE_SECONDS: '1'
  }
}

export default defineConfig({
  testDir: 'test/e2e',
  // Only *.spec.ts: *.test.ts files belong to Node's runner (scripts/test.mjs).
  testMatch: '**/*.spec.ts',
  workers: 1,
  retries: 0,
  timeout: 60_000,
  reporter: 'list',
  // arlocal, for the whole run (see the file).
  globalSetup: './test/e2e/arlocalSetup.ts',
  use: {
    baseURL: BASE_URL,
    headless: true,
    launchOptions: {
      // No browser downloads here: scripts/test.mjs finds the system Chromium and passes it in.
      executablePath: process.env.CHROMIUM_PATH,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync']
    }
  },
  webServer: [
    {
      // The server serves the built web app from dist/web, so build it first.
      command: 'npx vite build && node scripts/build-server.mjs && node --enable-source-maps dist/server/main.mjs',
      url: `${BASE_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: serverEnv(PORT, 'main')
    },
    {
      // The same product with BitTorrent seeding off (SEEDING=false): peer-to-peer tests use it
      // to prove bytes came from another tab, not from the server. Its torrents also name a second
      // tracker, so browsers still find each other when this server is down.
      command: 'node scripts/build-server.mjs && node --enable-source-maps dist/server/main.mjs',
      url: `${P2P_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: { ...serverEnv(P2P_PORT, 'p2p'), SEEDING: 'false', WEBTORRENT_TRACKERS: `ws://127.0.0.1:${EXTRA_TRACKER_PORT}` }
    },
    {
      // The same product with a mirror (CDN_URLS), seeding off: a test downloads from the mirror alone.
      command: 'node scripts/build-server.mjs && node --enable-source-maps dist/server/main.mjs',
      url: `${MIRRORED_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: { ...serverEnv(PORT + 4, 'mirrored'), SEEDING: 'false', CDN_URLS: `http://127.0.0.1:${MIRROR_PORT}` }
    },
    {
      // The same product publishing public records to Arweave (ARWEAVE_URL), asking about its
      // bundles every second, seeding off.
      command: 'node scripts/build-server.mjs && node --enable-source-maps dist/server/main.mjs',
      url: `${PUBLISHING_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: { ...serverEnv(PORT + 5, 'publishing'), SEEDING: 'false', ARWEAVE_URL: ARLOCAL_URL, ARWEAVE_POLL_SECONDS: '1' }
    },
    {
      // Another instance on the same gateway, indexing what others publish there every second.
      command: 'node scripts/build-server.mjs && node --enable-source-maps dist/server/main.mjs',
      url: `${INDEXING_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: { ...serverEnv(PORT + 9, 'indexing'), SEEDING: 'false', ARWEAVE_URL: ARLOCAL_URL, ARWEAVE_POLL_SECONDS: '1' }
    },
    {
      // The same product with a small per-key storage quota, seeding off: a test uploads past it.
      command: 'node scripts/build-server.mjs && node --enable-source-maps dist/server/main.mjs',
      url: `${QUOTA_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: { ...serverEnv(PORT + 11, 'quota'), SEEDING: 'false', QUOTA_BYTES_PER_KEY: String(QUOTA_BYTES) }
    },
    {
      // A GUN relay (in memory), up before the server that publishes to it.
      command: `node test/helpers/gunRelay.mjs ${GUN_RELAY_PORT}`,
      url: `http://127.0.0.1:${GUN_RELAY_PORT}/`,
      reuseExistingServer: false,
      timeout: 30_000
    },
    {
      // The same product publishing private records to GUN (GUN_PEERS), running every second, seeding off.
      command: 'node scripts/build-server.mjs && node --enable-source-maps dist/server/main.mjs',
      url: `${GUN_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: { ...serverEnv(PORT + 7, 'gun'), SEEDING: 'false', GUN_PEERS: GUN_RELAY_URL, GUN_POLL_SECONDS: '1' }
    }
  ]
})
