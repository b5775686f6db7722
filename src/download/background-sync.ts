/**
 * The slot's sync beside the writes, shared by the download and the decode of a patch: every few
 * MiB the slot is synced while writing goes on, and only once those bytes are durable does the
 * journal record them. Waiting for each sync would stall the writer for as long as the disk takes.
 */
export class BackgroundSync {
  /** Bytes written since the last sync started. */
  private unsynced = 0;
  private running: Promise<void> | null = null;
  private failure: unknown = null;

  /** `every`: bytes written between two syncs. */
  constructor(private readonly every: number) {}

  /** Counts `bytes` written; true when a sync is due (`every` bytes since the last start, none running). */
  wrote(bytes: number): boolean {
    this.unsynced += bytes;
    return this.unsynced >= this.every && this.running === null;
  }

  /** Starts `sync`, then `record` once it succeeded; a failure of either is thrown by the next {@link check}. */
  start(sync: () => Promise<void>, record: () => Promise<void>): void {
    this.unsynced = 0;
    this.running = sync()
      .then(record)
      .then(
        () => {
          this.running = null;
        },
        (e) => {
          this.running = null;
          this.failure = e;
        },
      );
  }

  /** Throws what a sync or its record failed with. */
  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** Resolves once no sync runs; never rejects (see {@link check}). */
  async idle(): Promise<void> {
    if (this.running !== null) await this.running;
  }
}
