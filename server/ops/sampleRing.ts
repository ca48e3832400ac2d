/**
 * A bounded ring of samples, each a few named numbers: its memory is fixed when it is made (one
 * Float64Array of capacity × fields) and, once full, each new sample takes the oldest one's place.
 */
export class SampleRing<F extends string> {
  readonly fields: readonly F[]
  readonly capacity: number
  private readonly values: Float64Array
  /** Where the next sample goes. */
  private next = 0
  private count = 0

  constructor (fields: readonly F[], capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`a ring holds at least one sample, not ${capacity}`)
    this.fields = fields
    this.capacity = capacity
    this.values = new Float64Array(capacity * fields.length)
  }

  /** Samples held (at most capacity). */
  get size (): number {
    return this.count
  }

  push (sample: Readonly<Record<F, number>>): void {
    const at = this.next * this.fields.length
    this.fields.forEach((field, i) => { this.values[at + i] = sample[field] })
    this.next = (this.next + 1) % this.capacity
    this.count = Math.min(this.count + 1, this.capacity)
  }

  /** Every sample held, oldest first. */
  samples (): Array<Record<F, number>> {
    const oldest = (this.next - this.count + this.capacity) % this.capacity
    return Array.from({ length: this.count }, (_, k) => this.sample((oldest + k) % this.capacity))
  }

  /** The newest sample, if any. */
  latest (): Record<F, number> | undefined {
    return this.count === 0 ? undefined : this.sample((this.next - 1 + this.capacity) % this.capacity)
  }

  private sample (slot: number): Record<F, number> {
    const at = slot * this.fields.length
    return Object.fromEntries(this.fields.map((field, i) => [field, this.values[at + i]!])) as Record<F, number>
  }
}
