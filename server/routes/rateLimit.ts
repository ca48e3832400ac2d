/**
 * Per-address rate limits (rate-limiter-flexible, in memory): at most `perMinute` requests a
 * minute from one client address, then 429 `rate_limited` with Retry-After until the minute
 * is over. Keyed by the client's address (ClientAddresses: behind a trusted proxy, the one it forwarded).
 */
import type { MiddlewareHandler } from 'hono'
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from '../app.ts'

export function perAddressLimit (opts: { perMinute: number, what: string, setting: string }): MiddlewareHandler<AppEnv> {
  const limiter = new RateLimiterMemory({ points: opts.perMinute, duration: 60 })
  return async (c, next) => {
    const refused = await limiter.consume(c.get('clientAddress')).then(() => undefined, (res: unknown) => {
      if (res instanceof RateLimiterRes) return res
      throw res
    })
    if (refused) {
      const seconds = Math.max(1, Math.ceil(refused.msBeforeNext / 1000))
      throw Object.assign(new AppError(429, 'rate_limited', `Too many ${opts.what} from your address: at most ${opts.perMinute} a minute (${opts.setting}). Try again in ${seconds} s.`), { retryAfter: seconds })
    }
    await next()
  }
}
