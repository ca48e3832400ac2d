/** What a count covers: every torrent (operators), or public ones only (anyone: a private file must not show, not even as a number). */
export type StatsScope = 'all' | 'public'

/** The counts a torrent of this kind is in: every torrent's, and public ones' too when it is public. */
export const scopesOf = (kind: 'public' | 'private' | undefined): readonly StatsScope[] => kind === 'public' ? ['all', 'public'] : ['all']
