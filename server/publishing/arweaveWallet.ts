/**
 * The server's own Arweave wallet (a JWK RSA key), which signs and pays for the bundles that
 * carry owners' data items: ARWEAVE_WALLET_FILE, or DATA_DIR/arweave-wallet.json generated on
 * first start (mode 0600, like the token key). It never signs a record: the owners do.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import Arweave from 'arweave'
import type { JWKInterface } from 'arweave/node/lib/wallet.js'

export const GENERATED_WALLET = 'arweave-wallet.json'

const isJwk = (value: unknown): value is JWKInterface => {
  const jwk = value as Record<string, unknown> | null
  return typeof jwk === 'object' && jwk !== null && jwk.kty === 'RSA' && ['n', 'e', 'd', 'p', 'q'].every(k => typeof jwk[k] === 'string')
}

async function readWallet (file: string, what: string): Promise<JWKInterface> {
  let value: unknown
  try {
    value = JSON.parse(await fs.readFile(file, 'utf8'))
  } catch (err) {
    throw new Error(`${what} (${file}) cannot be read as JSON: ${(err as Error).message}. Give an Arweave wallet's JWK file.`)
  }
  if (!isJwk(value)) throw new Error(`${what} (${file}) is not an Arweave wallet: it must be a JWK with kty "RSA" and its private parts (n, e, d, p, q).`)
  return value
}

/** The wallet and its address (what to fund). */
export async function loadArweaveWallet (dataDir: string, walletFile: string | undefined): Promise<{ jwk: JWKInterface, address: string }> {
  const arweave = Arweave.init({})
  let jwk: JWKInterface
  if (walletFile !== undefined) {
    jwk = await readWallet(walletFile, 'ARWEAVE_WALLET_FILE')
  } else {
    const file = path.join(dataDir, GENERATED_WALLET)
    await fs.mkdir(dataDir, { recursive: true })
    // Generating a 4096-bit key takes seconds: only when there is none. 'wx': never overwrite a
    // wallet (it may hold AR) another process wrote meanwhile.
    if (!await fs.stat(file).then(() => true, () => false)) {
      await fs.writeFile(file, JSON.stringify(await arweave.wallets.generate()), { flag: 'wx', mode: 0o600 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err
      })
    }
    await fs.chmod(file, 0o600)
    jwk = await readWallet(file, 'The server\'s Arweave wallet')
  }
  return { jwk, address: await arweave.wallets.jwkToAddress(jwk) }
}
