/** Entry point: read the config, start everything, print the URL, stop cleanly on a signal. */
import { loadConfig } from './config.ts'
import { createLogger } from './logger.ts'
import { startServer } from './server.ts'

const config = loadConfig()
const log = createLogger(config.logLevel)
const server = await startServer(config, { log })
log.info({ url: server.url, mediaDir: config.mediaDir, torrentPort: server.seeder.torrentPort }, 'OIP Media Seeder is running')
// The one line a person starting it by hand needs.
process.stdout.write(`\nOIP Media Seeder is running at ${server.url}\n\n`)

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    server.close()
      .catch(err => log.error({ err: (err as Error).message }, 'error while stopping'))
      // Exit explicitly: wrtc's teardown can crash a process left to wind down by itself.
      .finally(() => process.exit(0))
  })
}
