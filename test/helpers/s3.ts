/**
 * An S3-compatible server for tests: @20minutes/s3rver, an emulator of the S3 REST protocol, on
 * a loopback port over a temp folder. The server's code does not know it is an emulator: it gets
 * the same settings and AWS credentials variables an operator would set.
 */
import fs from 'node:fs/promises'
import S3rver from '@20minutes/s3rver'
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import type { S3Settings } from '../../server/config.ts'
import { tempDir } from './server.ts'

/** The emulator's one account; the AWS SDK reads these from the environment (its default chain). */
process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'

export interface TestBucket {
  settings: S3Settings
  /** BLOB_STORE=s3 and the S3_* variables that reach the bucket. */
  env: Record<string, string>
  /** Every key in the bucket, sorted, for tests to look at what is there. */
  keys (): Promise<string[]>
  /** An object's size; undefined when it is not there. */
  size (key: string): Promise<number | undefined>
  /** Stop the server (once; again is a no-op) and delete its folder. */
  stop (): Promise<void>
}

export async function startS3 (bucket = 'oip-test', prefix = ''): Promise<TestBucket> {
  const dir = await tempDir('oip-s3-')
  // s3rver canonicalises a bucket's own path as /bucket where the SDK signs /bucket/, so it
  // would refuse the SDK's bucket requests (ListObjects, DeleteObjects, HeadBucket). The access
  // key is still checked.
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true, allowMismatchedSignatures: true, configureBuckets: [{ name: bucket }] })
  const { port } = await server.run()
  const endpoint = `http://127.0.0.1:${port}`
  const settings: S3Settings = { kind: 's3', endpoint, bucket, region: 'us-east-1', prefix, forcePathStyle: true, publicUrl: undefined }
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true })
  let stopped: Promise<void> | undefined
  return {
    settings,
    env: { BLOB_STORE: 's3', S3_ENDPOINT: endpoint, S3_BUCKET: bucket, S3_REGION: 'us-east-1', S3_FORCE_PATH_STYLE: 'true', ...(prefix ? { S3_PREFIX: prefix } : {}) },
    async keys () {
      const keys: string[] = []
      let token: string | undefined
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }))
        keys.push(...(page.Contents ?? []).map(o => o.Key!))
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
      return keys.sort()
    },
    async size (key) {
      const got = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined)
      return got?.ContentLength
    },
    async stop () {
      stopped ??= (async () => {
        client.destroy()
        await server.close()
        await fs.rm(dir, { recursive: true, force: true })
      })()
      await stopped
    }
  }
}
