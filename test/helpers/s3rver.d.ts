// The part of @20minutes/s3rver 4's API test/helpers/s3.ts uses (the package ships no types).
declare module '@20minutes/s3rver' {
  export interface S3rverOptions {
    address?: string
    port?: number
    directory: string
    silent?: boolean
    allowMismatchedSignatures?: boolean
    configureBuckets?: Array<{ name: string }>
  }

  export default class S3rver {
    constructor (options: S3rverOptions)
    run (): Promise<{ address: string, port: number }>
    close (): Promise<void>
  }
}
