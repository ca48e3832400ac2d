/**
 * Secrets with no default in the code: each comes from its environment variable when set, else
 * one is generated on first start and kept in a file of DATA_DIR (mode 0600).
 */
import { createHmac, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

const MIN_BYTES = 32

interface SecretSpec {
  /** The environment variable that may give it, for messages. */
  envName: string
  /** Its file in DATA_DIR when generated. */
  fileName: string
  /** What losing it costs, for the message about a damaged file. */
  lossMeans: string
}

async function loadSecret (dataDir: string, fromEnv: string | undefined, spec: SecretSpec): Promise<string> {
  if (fromEnv !== undefined) {
    if (new TextEncoder().encode(fromEnv).length < MIN_BYTES) throw new Error(`${spec.envName} must be at least ${MIN_BYTES} bytes long; leave it unset to have one generated.`)
    return fromEnv
  }
  const file = path.join(dataDir, spec.fileName)
  await fs.mkdir(dataDir, { recursive: true })
  try {
    // 'wx': never overwrite a secret another process just wrote.
    await fs.writeFile(file, randomBytes(MIN_BYTES).toString('hex'), { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  await fs.chmod(file, 0o600)
  const secret = (await fs.readFile(file, 'utf8')).trim()
  if (!/^[0-9a-f]{64,}$/.test(secret)) throw new Error(`${file} is damaged: delete it to have a new one generated (${spec.lossMeans}).`)
  return secret
}

/** The key that signs session tokens and capabilities: JWT_SECRET, or DATA_DIR/jwt-secret. */
export async function loadTokenSecret (dataDir: string, fromEnv: string | undefined): Promise<Uint8Array> {
  return new TextEncoder().encode(await loadSecret(dataDir, fromEnv, { envName: 'JWT_SECRET', fileName: 'jwt-secret', lossMeans: 'everyone signs in again' }))
}

/** The bearer token /metrics asks for: METRICS_TOKEN, or DATA_DIR/metrics-token. */
export async function loadMetricsToken (dataDir: string, fromEnv: string | undefined): Promise<string> {
  return await loadSecret(dataDir, fromEnv, { envName: 'METRICS_TOKEN', fileName: 'metrics-token', lossMeans: 'give your metrics scraper the new one' })
}

/**
 * A key for one purpose, derived from the token secret: every node sharing the secret (and so
 * the catalogue) derives the same one, and it tells nothing of the secret.
 */
export function derivedKey (secret: Uint8Array, purpose: string): string {
  return createHmac('sha256', secret).update(`oip-media-seeder:${purpose}`).digest('base64url')
}
