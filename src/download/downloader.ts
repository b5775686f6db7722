/**
 * Chunked, resumable download of a release into a slot.
 *
 * The image is fetched with HTTP Range from the first chunk not yet verified. Each chunk is
 * checked (CRC-32) and added to the image's SHA-256 before it is written; the slot is synced in
 * the background every few MiB, and only then does the journal (journal.ts) record the chunks as
 * durable. A crash costs at most the chunk that was in flight. Memory use is one chunk buffer
 * whatever the image size, or none where the slot storage reads in place (`SlotStorage.inPlace`):
 * there each piece of the body is written where it goes and each chunk checked in the slot.
 */
import type { SizedRelease } from '../check/release.js';
import { isOtaError, otaError, type OtaError } from '../errors.js';
import type { SlotName, SlotStorage, SlotWriter } from '../install/slots.js';
import type { Platform, StopSignal } from '../platform/interfaces.js';
import { backoffDelay } from '../schedule/backoff.js';
import { BackgroundSync } from './background-sync.js';
import { chunkCount, chunkLength, type ImageVerifier } from './chunk-verifier.js';
import { parseContentRange, parseRetryAfter } from './http-headers.js';
import { discardJournal, journalFor, resumePoint, saveJournal, type Journal, type ResumePoint } from './journal.js';
import { ProgressRule, type MinRate } from './progress-rule.js';

/** Progress of a download. */
export interface DownloadProgress {
  /** Bytes of the image verified and written so far. */
  received: number;
  total: number;
  /** Average rate of this session, bytes per second. */
  bytesPerSecond: number;
}

/** What the downloader needs from the platform. */
export type DownloadContext = Pick<Platform, 'transport' | 'slots' | 'state' | 'clock' | 'logger' | 'random' | 'sha256' | 'crc32'>;

/** How connection faults are retried within one download. */
export interface RetryPolicy {
  /** Faults in a row without progress before the download gives up. */
  retries: number;
  /** First backoff delay; doubles with each fault in a row (with jitter). */
  baseDelayMs: number;
}

/** One download job. */
export interface DownloadJob {
  release: SizedRelease;
  slot: SlotName;
  headers: Record<string, string>;
  /** Longest silence on the connection before it is dropped and resumed. */
  idleTimeoutMs: number;
  retry: RetryPolicy;
  onProgress?: (p: DownloadProgress) => void;
  /** Stops the download at the next chunk boundary (or at once while waiting); the journal is kept. */
  signal?: StopSignal;
  /**
   * The progress rule (progress-rule.ts): a connection bringing fewer than `bytesPerSecond` body
   * bytes per second of network time (time spent writing the slot not counted) over a window of
   * `windowMs` is dropped as a fault, however steadily it drips (each byte would reset an idle
   * timer). Absent or 0: no rule.
   */
  minRate?: MinRate;
}

/** Bytes written between two background syncs of the slot (and journal updates). */
const SYNC_BYTES = 32 * 1024 * 1024;
/** Times one chunk may fail its CRC before the download gives up. */
const MAX_CRC_FAILURES = 3;
/** Longest backoff between two attempts. */
const MAX_BACKOFF_MS = 60 * 1000;
/** A server asking to wait longer than this ends the attempt (the scheduler tries later). */
const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;
const PROGRESS_INTERVAL_MS = 250;

/**
 * Downloads `job.release` into `job.slot`, resuming where an earlier attempt stopped, verifies it
 * (CRC-32 per chunk and SHA-256 of the whole, where published) and syncs the slot. Resolves to
 * the image's SHA-256. Rejects with an OtaError that says what failed, after how many bytes, and
 * whether the bytes were kept (`STOPPED` when `job.signal` fired).
 */
export async function download(ctx: DownloadContext, job: DownloadJob): Promise<string> {
  return new Download(ctx, job, await resumePoint(ctx, job.release, job.slot)).run();
}

function noop(): void {}

/**
 * One download. It alone owns the chunk buffer and the index of the next chunk. Body pieces are
 * taken only by the current attempt, and the next attempt starts only once the last piece of the
 * previous one was handled, so a retry never runs beside a write.
 */
class Download {
  private readonly r: SizedRelease;
  private readonly chunks: number;
  private buf: Uint8Array;
  /** Pieces are written straight into the slot and chunks checked there (`SlotStorage.inPlace`). */
  private readonly inPlace: boolean;
  private readonly verifier: ImageVerifier;
  private readonly journal: Journal;
  /** The chunk being assembled (in `buf`, or in the slot when in place), and how many of its bytes are there. */
  private next: number;
  private filled = 0;
  /** Body bytes still to skip (a server that ignored Range sends from byte 0). */
  private skip = 0;
  /** The chunk the current attempt started at. */
  private attemptFrom = 0;
  private readonly background = new BackgroundSync(SYNC_BYTES);
  private crcFailures = 0;
  private faults = 0;
  private readonly startedAt: number;
  private readonly startedBytes: number;
  private lastProgressAt = -Infinity;
  private readonly rate: ProgressRule;

  constructor(
    private readonly ctx: DownloadContext,
    private readonly job: DownloadJob,
    start: ResumePoint,
  ) {
    this.r = job.release;
    this.chunks = chunkCount(this.r);
    this.inPlace = ctx.slots.inPlace === true;
    // A board's largest allocation otherwise (4 KB chunks: ~300 of an ESP32's 16 383 variables).
    this.buf = new Uint8Array(this.inPlace ? 0 : this.r.chunkSize);
    this.verifier = start.verifier;
    this.next = start.next;
    this.journal = journalFor(this.r, job.slot, start.next);
    this.startedAt = ctx.clock.now();
    this.startedBytes = start.next * this.r.chunkSize;
    this.rate = new ProgressRule(ctx.clock, job.minRate);
  }

  async run(): Promise<string> {
    const { ctx, r } = this;
    const writer = await openSlot(ctx.slots, this.job.slot, r.size);
    let sha256 = '';
    try {
      // The chunks read back may have been only in the page cache (a crash that was not a power
      // cut): made durable before the journal claims them.
      if (this.next > 0) await syncSlot(writer);
      await saveJournal(ctx.state, this.journal);
      if (this.next > 0) ctx.logger.log('INFO', 'Resuming download at byte ' + this.next * r.chunkSize + ' of ' + r.size);
      this.progress(true);
      while (this.next < this.chunks) {
        this.checkStopped();
        try {
          await this.attempt(writer);
        } catch (e) {
          await this.recover(e);
        }
      }
      sha256 = await this.finish(writer);
    } finally {
      // The chunk buffer is the largest thing a download holds, and what comes next (the state
      // writes, the report) needs none of it: an Espruino board's update peaks there otherwise
      // (issue 17; the downloader itself stays referenced until the check ends).
      this.buf = new Uint8Array(0);
      await this.background.idle();
      await writer.close();
    }
    // Returned after the try, not from inside it: the Espruino build's async lowering loses a
    // value returned through an awaiting `finally`.
    return sha256;
  }

  /** One HTTP exchange from chunk `next` on; settles only once its last piece was handled. */
  private async attempt(writer: SlotWriter): Promise<void> {
    const { r, job } = this;
    // In place, the bytes of the chunk already written stay where they are: fetched from after them.
    if (!this.inPlace) this.filled = 0;
    const first = this.next * r.chunkSize + this.filled;
    this.attemptFrom = this.next;
    this.skip = 0;
    let live = true;
    let handling: Promise<unknown> = Promise.resolve();
    const handled = () => this.rate.handled();
    this.rate.start();
    try {
      await this.ctx.transport.stream(
        { url: r.url, headers: Object.assign({ Range: 'bytes=' + first + '-' }, job.headers), timeoutMs: job.idleTimeoutMs, signal: job.signal },
        {
          onResponse: (status, headers) => this.onResponse(status, headers, first),
          onData: (piece) => {
            this.rate.arrived(piece.length, first);
            const taking = this.take(piece, writer, () => live);
            handling = taking.then(handled, handled);
            return taking;
          },
        },
      );
    } finally {
      // The transport may give up (idle timeout, reset) while a piece is still being written:
      // nothing else happens until that write is over.
      live = false;
      await handling;
    }
    if (this.next < this.chunks) {
      throw otaError('DOWNLOAD_TRUNCATED', 'download', 'download ended at byte ' + (this.next * r.chunkSize + this.filled) + ' of ' + r.size, { retryable: true });
    }
  }

  private onResponse(status: number, headers: Record<string, string>, first: number): boolean {
    const r = this.r;
    if (status === 206) {
      const cr = parseContentRange(headers['content-range']);
      if (cr === null || cr.first !== first || cr.total !== r.size) {
        throw otaError('RANGE_INVALID', 'download', 'server answered Range bytes=' + first + '- with Content-Range ' + JSON.stringify(headers['content-range'] ?? null) + ' (image size ' + r.size + ')');
      }
      return true;
    }
    if (status === 200) {
      // The server ignored Range: the body starts at byte 0, so skip what we already have.
      if (first > 0) this.ctx.logger.log('WARNING', 'Server ignored the Range request; reading from byte 0 and skipping ' + first + ' bytes');
      this.skip = first;
      return true;
    }
    const retryable = status >= 500 || status === 429;
    const wait = retryable ? parseRetryAfter(headers['retry-after'], this.ctx.clock.date()) : null;
    throw otaError('HTTP_STATUS', 'download', 'image download got HTTP ' + status + ' from ' + r.url, {
      status,
      retryable,
      retryAfterMs: wait === null ? undefined : wait,
    });
  }

  /**
   * Takes a piece of the body into the chunk (in `buf`, or in the slot when in place), committing
   * each chunk it completes; false stops reading. A chain of steps rather than an awaiting loop:
   * Espruino's lowering of such a loop held about 180 variables per piece (issue 17).
   */
  private take(piece: Uint8Array, writer: SlotWriter, live: () => boolean): Promise<boolean> {
    // `d`, not `this`, in the steps: Espruino's debug builds stop at an arrow function that reads
    // `this` in a branch not taken (jspeArrowFunction, src/jsparse.c), as the minifier writes them.
    const d = this;
    let pos = 0;
    if (d.skip > 0) {
      pos = Math.min(d.skip, piece.length);
      d.skip -= pos;
    }
    const step = (): Promise<boolean> => {
      if (pos >= piece.length) return Promise.resolve(true);
      if (!live()) return Promise.resolve(false);
      const start = d.next * d.r.chunkSize;
      const want = chunkLength(d.r, d.next);
      if (d.filled === 0 && piece.length - pos >= want) {
        // A whole chunk inside the piece is verified and written where it lies, not copied: the
        // piece stays valid until this promise settles.
        pos += want;
        return d.commit(writer, piece.subarray(pos - want, pos), false).then(next);
      }
      const take = Math.min(want - d.filled, piece.length - pos);
      const part = piece.subarray(pos, pos + take);
      let stored: Promise<void>;
      if (d.inPlace) stored = writeSlot(writer, start + d.filled, part);
      else {
        d.buf.set(part, d.filled);
        stored = Promise.resolve();
      }
      return stored.then(() => {
        d.filled += take;
        pos += take;
        if (d.filled < want) return step();
        d.filled = 0;
        // In place, the chunk is read back where it was written (a view, not a copy, on Espruino).
        const chunk = d.inPlace ? d.ctx.slots.read(d.job.slot, start, want) : Promise.resolve(d.buf.subarray(0, want));
        return chunk.then((c) => d.commit(writer, c, d.inPlace)).then(next);
      });
    };
    // Never read (or write) past the announced size; a stop takes effect at a chunk boundary.
    const next = (): Promise<boolean> => (d.next === d.chunks || d.stopped() ? Promise.resolve(false) : step());
    try {
      return step();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Verifies chunk `next` and writes it (unless `written` there already); every few MiB a background sync starts. */
  private async commit(writer: SlotWriter, data: Uint8Array, written: boolean): Promise<void> {
    const r = this.r;
    this.background.check();
    if (!this.verifier.accept(this.next, data)) {
      throw otaError('CHUNK_CRC', 'download', 'chunk ' + this.next + ' (bytes ' + this.next * r.chunkSize + '-' + (this.next * r.chunkSize + data.length - 1) + ') failed its CRC-32 check', { retryable: true });
    }
    if (!written) await writeSlot(writer, this.next * r.chunkSize, data);
    this.next++;
    this.crcFailures = 0;
    if (this.background.wrote(data.length)) this.startSync(writer);
    this.progress(this.next === this.chunks);
  }

  /** Syncing runs beside the download; the journal advances only once the data is durable. */
  private startSync(writer: SlotWriter): void {
    const upTo = this.next;
    this.background.start(
      () => syncSlot(writer),
      () => {
        this.journal.synced = upTo;
        return saveJournal(this.ctx.state, this.journal);
      },
    );
  }

  /** After a failed attempt: returns to try again (after a backoff), or throws to give up. */
  private async recover(e: unknown): Promise<void> {
    this.checkStopped();
    if (!isOtaError(e) || !e.retryable) throw e;
    const r = this.r;
    const kept = this.next * r.chunkSize;
    if (e.code === 'CHUNK_CRC') {
      if (++this.crcFailures >= MAX_CRC_FAILURES) {
        throw otaError('CHUNK_CRC', 'download', e.message + ' ' + this.crcFailures + ' times; giving up with ' + kept + ' verified bytes kept for the next attempt', { retryable: true });
      }
      this.ctx.logger.log('WARNING', e.message + '; fetching it again');
      return;
    }
    const progressed = this.next > this.attemptFrom;
    this.faults = progressed ? 1 : this.faults + 1;
    const at = e.code === 'DOWNLOAD_TRUNCATED' ? '' : ' at byte ' + (kept + this.filled) + ' of ' + r.size;
    if (this.faults > this.job.retry.retries) throw giveUp(e, at + ' (' + this.faults + ' faults in a row; ' + kept + ' bytes kept for the next attempt)');
    const wait = e.retryAfterMs ?? (progressed ? 0 : backoffDelay(this.job.retry.baseDelayMs, this.faults - 1, MAX_BACKOFF_MS, this.ctx.random()));
    if (wait > MAX_RETRY_AFTER_MS) throw giveUp(e, '; the server asked to wait ' + Math.round(wait / 1000) + ' s (' + kept + ' bytes kept for the next attempt)');
    this.ctx.logger.log('WARNING', e.message + at + '; resuming at byte ' + (kept + (this.inPlace ? this.filled : 0)) + (wait > 0 ? ' in ' + (wait / 1000).toFixed(1) + ' s' : ''));
    if (wait > 0) await this.sleep(wait);
  }

  /** Checks the whole image and makes the slot and the journal durable; the image's SHA-256. */
  private async finish(writer: SlotWriter): Promise<string> {
    await this.background.idle();
    this.background.check();
    const slots = this.ctx.slots;
    await syncSlot(writer);
    let sha256: string;
    try {
      sha256 = this.verifier.finish(slots.sha256 ? await slots.sha256(this.job.slot, this.r.size) : undefined);
    } catch (e) {
      // Every chunk passed its CRC yet the whole is wrong: nothing here is worth resuming from.
      await discardJournal(this.ctx.state);
      throw e;
    }
    this.journal.synced = this.chunks;
    await saveJournal(this.ctx.state, this.journal);
    return sha256;
  }

  private progress(force: boolean): void {
    const { ctx, job, r } = this;
    const now = ctx.clock.now();
    if (!job.onProgress || (!force && now - this.lastProgressAt < PROGRESS_INTERVAL_MS)) return;
    this.lastProgressAt = now;
    const received = Math.min(this.next * r.chunkSize, r.size);
    const seconds = (now - this.startedAt) / 1000;
    job.onProgress({ received, total: r.size, bytesPerSecond: seconds > 0 ? (received - this.startedBytes) / seconds : 0 });
  }

  private stopped(): boolean {
    return this.job.signal !== undefined && this.job.signal.aborted;
  }

  private checkStopped(): void {
    if (this.stopped()) {
      throw otaError('STOPPED', 'download', 'download stopped with ' + this.next * this.r.chunkSize + ' of ' + this.r.size + ' bytes verified and kept for the next start', { retryable: true });
    }
  }

  /** Waits `ms`, or less when the download is stopped meanwhile. */
  private sleep(ms: number): Promise<void> {
    const signal = this.job.signal;
    return new Promise((resolve) => {
      let cancel: () => void = noop;
      const done = () => {
        cancel();
        if (signal) signal.removeEventListener('abort', done);
        resolve();
      };
      cancel = this.ctx.clock.setTimer(done, ms);
      if (signal) signal.addEventListener('abort', done);
    });
  }
}

function giveUp(e: OtaError, detail: string): OtaError {
  return otaError(e.code, 'download', e.message + detail, { retryable: true, status: e.status, retryAfterMs: e.retryAfterMs });
}

async function openSlot(slots: SlotStorage, slot: SlotName, size: number): Promise<SlotWriter> {
  try {
    return await slots.open(slot, size);
  } catch (e) {
    throw slotError('cannot open slot ' + slot, e);
  }
}

async function writeSlot(w: SlotWriter, offset: number, data: Uint8Array): Promise<void> {
  try {
    await w.write(offset, data);
  } catch (e) {
    throw slotError('cannot write at byte ' + offset + ' of the slot', e);
  }
}

async function syncSlot(w: SlotWriter): Promise<void> {
  try {
    await w.sync();
  } catch (e) {
    throw slotError('cannot sync the slot', e);
  }
}

function slotError(what: string, e: unknown): OtaError {
  if (isOtaError(e)) return e; // the slot's own verdict (a full disk) says it best
  return otaError('SLOT_IO', 'download', what + ': ' + (e instanceof Error ? e.message : String(e)), { cause: e });
}
