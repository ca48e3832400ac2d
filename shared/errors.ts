/**
 * The one error type. `code` is stable for programs, `message` tells a person what was wrong
 * and what to do, `status` is the HTTP status the server answers with.
 */
export class AppError extends Error {
  readonly code: string
  readonly status: number

  constructor (status: number, code: string, message: string) {
    super(message)
    this.name = 'AppError'
    this.status = status
    this.code = code
  }
}

export const badRequest = (code: string, message: string): AppError => new AppError(400, code, message)
export const notFound = (message = 'No media with this id. Check the id, or upload the file first.'): AppError =>
  new AppError(404, 'not_found', message)

export const loginRequired = (): AppError => new AppError(401, 'login_required',
  'Sign in with your key first (POST /api/auth/challenge, then /api/auth/verify) and send the token as "Authorization: Bearer <token>".')

/** For a catch: a not-found (the thing is gone already) is fine, anything else is thrown on. */
export function unlessMissing (err: unknown): void {
  if (!(err instanceof AppError && err.status === 404)) throw err
}
