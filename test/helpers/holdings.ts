/**
 * What a crash test expects each key to hold, as its clients know it: a record acknowledged
 * (2xx seen) is certain; one whose request was cut by a kill is in doubt between the outcomes
 * the request allows (all or nothing). After a restart the server's answer settles each doubt,
 * and an answer that no outcome allows is a violation.
 */

export type AccessLevel = 'public' | 'private'

/** One key's record of one file. */
export interface Holding {
  access: AccessLevel
  /** The record's own name (the `name` field it was made with). */
  name: string
  pinned: boolean
  /** A private record's torrent: fixed by its salt, so it never changes. */
  privateInfoHash?: string
}

/** A record, or none. */
export type Outcome = Holding | null

/** What a key's own listing and /info show of one of its records. */
export interface Seen {
  access: AccessLevel
  name: string
  infoHash: string
  pinned: boolean
}

export interface Mismatch {
  kind: string
  mediaId: string
  detail: string
}

const sameRecord = (o: Outcome, seen: Seen | undefined): boolean =>
  o === null ? seen === undefined : seen !== undefined && o.access === seen.access && o.name === seen.name

export class Holdings {
  /** key → mediaId → the outcomes still possible (one: certain). */
  private readonly byKey = new Map<string, Map<string, Outcome[]>>()

  private of (key: string): Map<string, Outcome[]> {
    let m = this.byKey.get(key)
    if (!m) this.byKey.set(key, m = new Map())
    return m
  }

  /** The certain outcome (between kills every request was answered, so nothing is in doubt). */
  get (key: string, mediaId: string): Outcome {
    const options = this.of(key).get(mediaId) ?? [null]
    if (options.length !== 1) throw new Error(`${key} ${mediaId} is in doubt: settle it first`)
    return options[0]!
  }

  set (key: string, mediaId: string, outcome: Outcome): void {
    this.of(key).set(mediaId, [outcome])
  }

  /** A request that could have changed the record to `outcome` got no answer. */
  doubt (key: string, mediaId: string, outcome: Outcome): void {
    const options = this.of(key).get(mediaId) ?? [null]
    this.of(key).set(mediaId, [...options, outcome])
  }

  /** The files `key` holds for certain. */
  held (key: string): Array<[string, Holding]> {
    return [...this.of(key)].flatMap(([id, o]) => o.length === 1 && o[0] ? [[id, o[0]] as [string, Holding]] : [])
  }

  /** Who holds `mediaId` and how (after settle, everything is certain). */
  holders (mediaId: string): Array<[string, Holding]> {
    return [...this.byKey].flatMap(([key, m]) => {
      const o = m.get(mediaId)
      return o?.length === 1 && o[0] ? [[key, o[0]] as [string, Holding]] : []
    })
  }

  mediaIds (): Set<string> {
    return new Set([...this.byKey.values()].flatMap(m => [...m.keys()]))
  }

  /**
   * Compare what `key` expects with what the server shows it (`seen`: its listing, with the
   * pin from /info), record what the server shows as certain, and return what no allowed
   * outcome explains.
   */
  settle (key: string, seen: Map<string, Seen>): Mismatch[] {
    const found: Mismatch[] = []
    const mine = this.of(key)
    for (const mediaId of new Set([...mine.keys(), ...seen.keys()])) {
      const options = mine.get(mediaId) ?? [null]
      const actual = seen.get(mediaId)
      const sure = options.length === 1
      const expected = JSON.stringify(options.map(o => o && { access: o.access, name: o.name, pinned: o.pinned }))
      const shown = JSON.stringify(actual ?? null)
      const records = options.filter(o => sameRecord(o, actual))
      if (records.length === 0) {
        const kind = !sure
          ? 'in_doubt_not_all_or_nothing'
          : options[0] === null ? 'deleted_record_back' : actual === undefined ? 'acknowledged_record_lost' : 'record_changed'
        found.push({ kind, mediaId, detail: `${key} ${mediaId}: expected ${expected}, the server shows ${shown}` })
      } else if (actual && !records.some(o => o!.pinned === actual.pinned)) {
        found.push({ kind: 'pin_changed', mediaId, detail: `${key} ${mediaId}: expected ${expected}, the server shows ${shown}` })
      }
      const before = records.find(o => o?.privateInfoHash !== undefined)?.privateInfoHash
      if (actual?.access === 'private' && before !== undefined && before !== actual.infoHash) {
        found.push({ kind: 'private_infohash_changed', mediaId, detail: `${key} ${mediaId}: private torrent was ${before}, now ${actual.infoHash}` })
      }
      mine.set(mediaId, [actual
        ? { access: actual.access, name: actual.name, pinned: actual.pinned, ...(actual.access === 'private' ? { privateInfoHash: actual.infoHash } : {}) }
        : null])
    }
    return found
  }
}
