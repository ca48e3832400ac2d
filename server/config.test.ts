import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from './config.ts'

test('CDN_URLS: a comma list of http(s) base URLs, trimmed, without trailing slashes; none by default', () => {
  assert.deepEqual(loadConfig({}).cdnUrls, [])
  assert.deepEqual(loadConfig({ CDN_URLS: ' https://cdn.example.org/oip/ , http://127.0.0.1:9000,' }).cdnUrls,
    ['https://cdn.example.org/oip', 'http://127.0.0.1:9000'])
})

test('CDN_URLS: anything but an http(s) URL stops the server with a message naming the setting', () => {
  assert.throws(() => loadConfig({ CDN_URLS: 'ftp://cdn.example.org' }), { message: 'CDN_URLS must use http: or https:, got "ftp://cdn.example.org"' })
  assert.throws(() => loadConfig({ CDN_URLS: 'cdn.example.org' }), { message: 'CDN_URLS must be a URL, got "cdn.example.org"' })
})

test('GUN_PEERS: a comma list of relay URLs (http(s) or ws(s)), none by default (GUN publishing off); anything else stops the server naming it', () => {
  assert.deepEqual(loadConfig({}).gunPeers, [])
  assert.deepEqual(loadConfig({ GUN_PEERS: ' https://relay.example.org/gun , ws://127.0.0.1:8765/gun' }).gunPeers, ['https://relay.example.org/gun', 'ws://127.0.0.1:8765/gun'])
  assert.throws(() => loadConfig({ GUN_PEERS: 'relay.example.org' }), { message: 'GUN_PEERS must be a URL, got "relay.example.org"' })
  assert.throws(() => loadConfig({ GUN_PEERS: 'udp://relay.example.org' }), { message: 'GUN_PEERS must use http: or https: or ws: or wss:, got "udp://relay.example.org"' })
  assert.equal(loadConfig({ GUN_POLL_SECONDS: '5' }).gunPollMs, 5000)
})

test('REQUEST_IDLE_TIMEOUT: a duration (plain seconds, or 90s, 2m), 60 s by default; zero is refused', () => {
  assert.equal(loadConfig({}).requestIdleTimeoutMs, 60_000)
  assert.equal(loadConfig({ REQUEST_IDLE_TIMEOUT: '5' }).requestIdleTimeoutMs, 5000)
  assert.equal(loadConfig({ REQUEST_IDLE_TIMEOUT: '2m' }).requestIdleTimeoutMs, 120_000)
  assert.throws(() => loadConfig({ REQUEST_IDLE_TIMEOUT: '0' }), /REQUEST_IDLE_TIMEOUT must be a duration/)
})

test('denial-of-service bounds: defaults, and whole numbers only', () => {
  const c = loadConfig({})
  assert.deepEqual([c.maxByteResponses, c.maxByteResponsesPerAddress, c.sendTimeoutMs, c.seedActivationsPerMinute, c.pinsPerKey, c.quotaBytesPerKey, c.quotaFilesPerKey, c.challengesPerMinute, c.uploadStartsPerMinute, c.verifyReadsPerMinute],
    [256, 16, 30_000, 60, 10, 10 * 1024 ** 3, 10_000, 30, 60, 30])
  assert.equal(loadConfig({ QUOTA_BYTES_PER_KEY: '0' }).quotaBytesPerKey, 0)
  assert.throws(() => loadConfig({ SEND_TIMEOUT_SECONDS: '0' }), { message: 'SEND_TIMEOUT_SECONDS must be a whole number ≥ 1, got "0"' })
  assert.throws(() => loadConfig({ PINS_PER_KEY: '2.5' }), { message: 'PINS_PER_KEY must be a whole number ≥ 0, got "2.5"' })
})

test('BLOB_STORE: fs by default; s3 reads the S3_* settings (prefix as a folder, path style off, us-east-1)', () => {
  assert.deepEqual(loadConfig({}).blobStore, { kind: 'fs' })
  assert.deepEqual(loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'media' }).blobStore,
    { kind: 's3', endpoint: undefined, bucket: 'media', region: 'us-east-1', prefix: '', forcePathStyle: false, publicUrl: undefined })
  assert.deepEqual(loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'media', S3_ENDPOINT: 'http://127.0.0.1:9000/', S3_REGION: 'eu-west-3', S3_PREFIX: '/oip/blobs/', S3_FORCE_PATH_STYLE: 'true', S3_PUBLIC_URL: 'https://cdn.example.org/oip/' }).blobStore,
    { kind: 's3', endpoint: 'http://127.0.0.1:9000', bucket: 'media', region: 'eu-west-3', prefix: 'oip/blobs/', forcePathStyle: true, publicUrl: 'https://cdn.example.org/oip' })
})

test('BLOB_STORE: an unknown store, a missing or malformed bucket, a bad prefix or URL stop the server with a message naming the setting', () => {
  assert.throws(() => loadConfig({ BLOB_STORE: 'minio' }), { message: 'BLOB_STORE must be fs (files in MEDIA_DIR) or s3 (an S3-compatible bucket), got "minio"' })
  assert.throws(() => loadConfig({ BLOB_STORE: 's3' }), { message: 'BLOB_STORE=s3 needs S3_BUCKET, the name of an existing bucket' })
  assert.throws(() => loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'a/b' }), { message: 'S3_BUCKET must be a bucket name (letters, digits, dots, dashes), got "a/b"' })
  assert.throws(() => loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'media', S3_PREFIX: 'oip//x' }), /S3_PREFIX must be a key prefix like media or oip\/media/)
  assert.throws(() => loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'media', S3_PREFIX: '../x' }), /S3_PREFIX must be a key prefix/)
  assert.throws(() => loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'media', S3_ENDPOINT: 'minio:9000' }), { message: 'S3_ENDPOINT must use http: or https:, got "minio:9000"' })
  assert.throws(() => loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'media', S3_FORCE_PATH_STYLE: 'maybe' }), { message: 'S3_FORCE_PATH_STYLE must be true or false, got "maybe"' })
})

test('ARWEAVE_INDEX: on by default when ARWEAVE_URL is set, off without it; false turns it off; anything but a switch is refused', () => {
  assert.equal(loadConfig({}).arweaveIndex, false)
  assert.equal(loadConfig({ ARWEAVE_URL: 'https://arweave.net' }).arweaveIndex, true)
  assert.equal(loadConfig({ ARWEAVE_URL: 'https://arweave.net', ARWEAVE_INDEX: 'false' }).arweaveIndex, false)
  assert.equal(loadConfig({ ARWEAVE_INDEX: 'true' }).arweaveIndex, false, 'nothing to index without a gateway')
  assert.throws(() => loadConfig({ ARWEAVE_INDEX: 'sometimes' }), { message: 'ARWEAVE_INDEX must be true or false, got "sometimes"' })
})
