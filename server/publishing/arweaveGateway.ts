/**
 * The Arweave gateway (ARWEAVE_URL), as the publisher uses it: post signed data items as one
 * ANS-104 bundle in a transaction the server's wallet signs and pays for, and ask how far a
 * posted bundle got. Failures come back as Errors whose message says what to do.
 */
import Arweave from 'arweave'
import type { JWKInterface } from 'arweave/node/lib/wallet.js'
import { arbundles } from './arweavePublishing.ts'

export type BundleStatus = 'confirmed' | 'pending' | 'missing'

export interface BundleGateway {
  /** The bundle transaction's id. */
  postBundle (items: Uint8Array[]): Promise<string>
  status (txId: string): Promise<BundleStatus>
}

export class ArweaveGateway implements BundleGateway {
  private readonly arweave: Arweave
  private readonly url: string
  private readonly wallet: { jwk: JWKInterface, address: string }
  private readonly maxReward: bigint

  /** `maxReward`: the most winston the wallet pays for one bundle, whatever the gateway quotes. */
  constructor (url: string, wallet: { jwk: JWKInterface, address: string }, maxReward: number) {
    const { protocol, hostname, port } = new URL(url)
    this.arweave = Arweave.init({ protocol: protocol.slice(0, -1), host: hostname, port: port || (protocol === 'https:' ? 443 : 80), timeout: 30_000, logging: false })
    this.url = url
    this.wallet = wallet
    this.maxReward = BigInt(maxReward)
  }

  async postBundle (items: Uint8Array[]): Promise<string> {
    const { ArweaveSigner, DataItem, bundleAndSignData } = await arbundles()
    const { jwk, address } = this.wallet
    // bundleAndSignData signs (over the owner's signature, breaking the item) every item it takes
    // for unsigned, as one read from bytes is until its id is set: so it is set.
    const signed = items.map(bytes => {
      const item = new DataItem(Buffer.from(bytes))
      item.rawId = item.rawId
      return item
    })
    const bundle = await bundleAndSignData(signed, new ArweaveSigner(jwk))
    // The fee is the gateway's quote (its /price): a hostile or broken gateway could ask for the
    // whole wallet, so a quote over the cap is not signed.
    const tx = await this.reach(async () => await bundle.toTransaction({}, this.arweave, jwk))
    if (BigInt(tx.reward) > this.maxReward) {
      throw new Error(`The Arweave gateway asks ${tx.reward} winston for a bundle of ${tx.data_size} bytes, over ARWEAVE_MAX_REWARD (${this.maxReward}); nothing was paid. If that price is right, the operator raises ARWEAVE_MAX_REWARD; it is tried again later.`)
    }
    const res = await this.reach(async () => {
      await this.arweave.transactions.sign(tx, jwk)
      return { id: tx.id, ...await this.arweave.transactions.post(tx) }
    })
    if (res.status === 200 || res.status === 208) return res.id
    if (res.status === 402 || res.status === 410) {
      throw new Error(`The Arweave gateway refused the bundle (${res.status}): the server's wallet ${address} has too little AR. The operator funds it; then it goes by itself.`)
    }
    throw new Error(`The Arweave gateway answered ${res.status} ${res.statusText} to the bundle; it is tried again later.`)
  }

  async status (txId: string): Promise<BundleStatus> {
    const { status, confirmed } = await this.reach(async () => await this.arweave.transactions.getStatus(txId))
    // In a block: the gateway names it. (arlocal counts that block as 0 confirmations, and
    // answers a pending one 200 "Pending" where arweave.net answers 202.)
    if (status === 200 && typeof confirmed?.block_indep_hash === 'string') return 'confirmed'
    if (status === 200 || status === 202) return 'pending'
    if (status === 404) return 'missing'
    throw new Error(`The Arweave gateway answered ${status} when asked about bundle ${txId}.`)
  }

  private async reach<T> (call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (err) {
      throw new Error(`The Arweave gateway at ${this.url} cannot be reached (${(err as Error).message}); it is tried again later.`)
    }
  }
}
