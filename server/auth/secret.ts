/**
 * The key that signs session tokens: JWT_SECRET when set, else one generated on first start
 * and kept in DATA_DIR/jwt-secret (mode 0600). There is no default secret in the code.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

const MIN_BYTES = 32

export async function loadTokenSecret (dataDir: string, fromEnv: string | undefined): Promise<Uint8Array> {
  if (fromEnv !== undefined) {
    const bytes = new TextEncoder().encode(fromEnv)
    if (bytes.length < MIN_BYTES) throw new Error(`JWT_SECRET must be at least ${MIN_BYTES} bytes long; leave it unset to have one generated.`)
    return bytes
  }
  const file = path.join(dataDir, 'jwt-secret')
  await fs.mkdir(dataDir, { recursive: true })
  try {
    // 'wx': never overwrite a secret another process just wrote.
    await fs.writeFile(file, randomBytes(MIN_BYTES).toString('hex'), { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  await fs.chmod(file, 0o600)
  const secret = (await fs.readFile(file, 'utf8')).trim()
  if (!/^[0-9a-f]{64,}$/.test(secret)) throw new Error(`${file} is damaged: delete it to have a new secret generated (everyone signs in again).`)
  return new TextEncoder().encode(secret)
}
