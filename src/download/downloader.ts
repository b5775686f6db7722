/**
 * Chunked, resumable download of a release into a slot.
 *
 * The image is fetched with HTTP Range from the first chunk not yet verified. Each chunk is
 * checked (CRC-32) and added to the image's SHA-256 before it is written; the slot is synced in
 * the background every few MiB, and only then does the journal (keyed by the image's SHA-256)
 * record the chunks as durable. On resume the chunks already in the slot are read back and
 * checked again, never trusted blindly, so a crash costs at most the chunk that was in flight.
 * Memory use is one chunk buffer whatever the image size.
 */
import { isOtaError, otaError, type OtaError } from '../errors.js';
import { parseContentRange, parseRetryAfter, parseWhole } from './http-headers.js';
import type { Platform, SlotName, SlotStorage, SlotWriter, StateStore } from '../platform/interfaces.js';
import type { SizedRelease } from '../check/release.js';
import { chunkLength, imageVerifier, type ImageVerifier } from './chunk-verifier.js';

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
}

/** Name of the journal in the state store. */
export const JOURNAL = 'download.json';

interface Journal {
  /** The image's SHA-256, or "unverified <version>" when the server published none. */
  image: string;
  slot: SlotName;
  size: number;
  chunk_size: number;
  /** Chunks known durable (synced) in the slot. */
  synced: number;
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

async function loadJournal(state: StateStore): Promise<Journal | null> {
  const text = await state.read(JOURNAL);
  if (text === null) return null;
  try {
    const j = JSON.parse(text) as Journal;
    return typeof j === 'object' && j !== null && typeof j.synced === 'number' ? j : null;
  } catch (e) {
    return null;
  }
}

/**
 * Where to resume: the leading chunks already in the slot that pass their CRC, fed to a fresh
 * verifier. Chunks past the journal's synced count may have survived too and are kept when valid;
 * a synced chunk that fails means the slot is not what the journal says: start again.
 */
async function resume(ctx: DownloadContext, job: DownloadJob): Promise<{ next: number; verifier: ImageVerifier }> {
  const r = job.release;
  const fresh = () => ({ next: 0, verifier: imageVerifier(r, ctx.sha256(), ctx.crc32) });
  const j = await loadJournal(ctx.state);
  const chunks = chunkCount(r);
  if (j === null || j.image !== journalKey(r) || j.slot !== job.slot || j.size !== r.size || j.chunk_size !== r.chunkSize || j.synced > chunks) {
    return fresh();
  }
  const verifier = imageVerifier(r, ctx.sha256(), ctx.crc32);
  // Without published CRCs nothing past the synced chunks can be checked, so nothing past them is kept.
  const limit = r.chunkCrc32 === null ? j.synced : chunks;
  let next = 0;
  while (next < limit && verifier.accept(next, await ctx.slots.read(job.slot, next * r.chunkSize, chunkLength(r, next)))) next++;
  if (next < j.synced) {
    ctx.logger.log('WARNING', 'Download journal does not match slot ' + job.slot + ' (chunk ' + next + ' is corrupt); starting again from byte 0');
    return fresh();
  }
  return { next, verifier };
}

function sleep(ctx: DownloadContext, ms: number): Promise<void> {
  return new Promise((resolve) => {
    ctx.clock.setTimer(resolve, ms);
  });
}

function chunkCount(r: SizedRelease): number {
  return Math.ceil(r.size / r.chunkSize);
}

function journalKey(r: SizedRelease): string {
  return r.sha256 ?? 'unverified ' + r.version;
}

/**
 * Downloads `job.release` into `job.slot`, resuming where an earlier attempt stopped, verifies it
 * (CRC-32 per chunk and SHA-256 of the whole, where published) and syncs the slot. Resolves to
 * the image's SHA-256. Rejects with an OtaError that says what failed, after how many bytes, and
 * whether the bytes were kept.
 */
export async function download(ctx: DownloadContext, job: DownloadJob): Promise<string> {
  const r = job.release;
  const chunks = chunkCount(r);
  const resumed = await resume(ctx, job);
  const verifier = resumed.verifier;
  let next = resumed.next;
  const journal: Journal = { image: journalKey(r), slot: job.slot, size: r.size, chunk_size: r.chunkSize, synced: next };
  await ctx.state.write(JOURNAL, JSON.stringify(journal));
  if (next > 0) ctx.logger.log('INFO', 'Resuming download at byte ' + next * r.chunkSize + ' of ' + r.size);

  const writer = await openSlot(ctx.slots, job.slot, r.size);
  const buf = new Uint8Array(r.chunkSize);
  const startedAt = ctx.clock.now();
  const startedBytes = next * r.chunkSize;
  let lastProgressAt = -Infinity;
  let unsynced = 0;
  let syncing: Promise<void> | null = null;
  let syncFailure: unknown = null;
  let crcFailures = 0;
  let faults = 0;
  let sha256 = '';

  const progress = (force: boolean) => {
    const now = ctx.clock.now();
    if (!job.onProgress || (!force && now - lastProgressAt < PROGRESS_INTERVAL_MS)) return;
    lastProgressAt = now;
    const received = Math.min(next * r.chunkSize, r.size);
    const seconds = (now - startedAt) / 1000;
    job.onProgress({ received, total: r.size, bytesPerSecond: seconds > 0 ? (received - startedBytes) / seconds : 0 });
  };

  // Syncing runs beside the download; the journal advances only once the data is durable.
  const startSync = () => {
    const upTo = next;
    unsynced = 0;
    syncing = syncSlot(writer)
      .then(() => {
        journal.synced = upTo;
        return ctx.state.write(JOURNAL, JSON.stringify(journal));
      })
      .then(
        () => {
          syncing = null;
        },
        (e) => {
          syncing = null;
          syncFailure = e;
        },
      );
  };

  const commit = async (data: Uint8Array) => {
    if (syncFailure !== null) throw syncFailure;
    if (!verifier.accept(next, data)) {
      throw otaError('CHUNK_CRC', 'download', 'chunk ' + next + ' (bytes ' + next * r.chunkSize + '-' + (next * r.chunkSize + data.length - 1) + ') failed its CRC-32 check', { retryable: true });
    }
    await writeSlot(writer, next * r.chunkSize, data);
    next++;
    crcFailures = 0;
    unsynced += data.length;
    if (unsynced >= SYNC_BYTES && syncing === null) startSync();
    progress(next === chunks);
  };

  try {
    progress(true);
    while (next < chunks) {
      const start = next * r.chunkSize;
      const before = next;
      let filled = 0;
      let skip = 0;
      try {
        await ctx.transport.stream(
          { url: r.url, headers: Object.assign({ Range: 'bytes=' + start + '-' }, job.headers), timeoutMs: job.idleTimeoutMs },
          {
            onResponse(status, headers) {
              if (status === 206) {
                const cr = parseContentRange(headers['content-range']);
                if (cr === null || cr.first !== start || cr.total !== r.size) {
                  throw otaError('RANGE_INVALID', 'download', 'server answered Range bytes=' + start + '- with Content-Range ' + JSON.stringify(headers['content-range'] ?? null) + ' (image size ' + r.size + ')');
                }
                return true;
              }
              if (status === 200) {
                // The server ignored Range: the body starts at byte 0, so skip what we already have.
                if (start > 0) ctx.logger.log('WARNING', 'Server ignored the Range request; reading from byte 0 and skipping ' + start + ' bytes');
                skip = start;
                return true;
              }
              const retryable = status >= 500 || status === 429;
              const wait = retryable ? parseRetryAfter(headers['retry-after'], Date.now()) : null;
              throw otaError('HTTP_STATUS', 'download', 'image download got HTTP ' + status + ' from ' + r.url, {
                status,
                retryable,
                retryAfterMs: wait === null ? undefined : wait,
              });
            },
            async onData(piece) {
              let pos = 0;
              if (skip > 0) {
                pos = Math.min(skip, piece.length);
                skip -= pos;
              }
              while (pos < piece.length) {
                const want = chunkLength(r, next);
                const take = Math.min(want - filled, piece.length - pos);
                buf.set(piece.subarray(pos, pos + take), filled);
                filled += take;
                pos += take;
                if (filled === want) {
                  filled = 0;
                  await commit(buf.subarray(0, want));
                  // Never read (or write) past the announced size.
                  if (next === chunks) return false;
                }
              }
            },
          },
        );
        if (next < chunks) {
          throw otaError('DOWNLOAD_TRUNCATED', 'download', 'download ended at byte ' + (next * r.chunkSize + filled) + ' of ' + r.size, { retryable: true });
        }
      } catch (e) {
        if (!isOtaError(e) || !e.retryable) throw e;
        if (e.code === 'CHUNK_CRC') {
          if (++crcFailures >= MAX_CRC_FAILURES) {
            throw otaError('CHUNK_CRC', 'download', e.message + ' ' + crcFailures + ' times; giving up with ' + next * r.chunkSize + ' verified bytes kept for the next attempt', { retryable: true });
          }
          ctx.logger.log('WARNING', e.message + '; fetching it again');
          continue;
        }
        const progressed = next > before;
        faults = progressed ? 1 : faults + 1;
        const at = e.code === 'DOWNLOAD_TRUNCATED' ? '' : ' at byte ' + (next * r.chunkSize + filled) + ' of ' + r.size;
        if (faults > job.retry.retries) throw giveUp(e, at + ' (' + faults + ' faults in a row; ' + next * r.chunkSize + ' bytes kept for the next attempt)');
        const wait = e.retryAfterMs ?? (progressed ? 0 : backoff(job.retry, faults, ctx.random()));
        if (wait > MAX_RETRY_AFTER_MS) throw giveUp(e, '; the server asked to wait ' + Math.round(wait / 1000) + ' s (' + next * r.chunkSize + ' bytes kept for the next attempt)');
        ctx.logger.log('WARNING', e.message + at + '; resuming at byte ' + next * r.chunkSize + (wait > 0 ? ' in ' + (wait / 1000).toFixed(1) + ' s' : ''));
        if (wait > 0) await sleep(ctx, wait);
      }
    }
    if (syncing !== null) await syncing;
    if (syncFailure !== null) throw syncFailure;
    try {
      sha256 = verifier.finish();
    } catch (e) {
      // Every chunk passed its CRC yet the whole is wrong: nothing here is worth resuming from.
      await discardJournal(ctx.state);
      throw e;
    }
    await syncSlot(writer);
    journal.synced = chunks;
    await ctx.state.write(JOURNAL, JSON.stringify(journal));
  } finally {
    if (syncing !== null) await syncing;
    await writer.close();
  }
  // Returned after the try, not from inside it: the Espruino build's async lowering loses a
  // value returned through an awaiting `finally`.
  return sha256;
}

/**
 * The size of the image at `url`, for servers that do not announce it (IoTaaP's API): asks for
 * its first byte and reads the total from Content-Range (or Content-Length when Range is ignored).
 */
export async function probeSize(ctx: DownloadContext, url: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  let size = -1;
  await ctx.transport.stream(
    { url, headers: Object.assign({ Range: 'bytes=0-0' }, headers), timeoutMs },
    {
      onResponse(status, h) {
        if (status === 206) {
          const cr = parseContentRange(h['content-range']);
          if (cr !== null) size = cr.total;
        } else if (status === 200) {
          size = parseWhole(h['content-length'] ?? '');
        } else {
          throw otaError('HTTP_STATUS', 'download', 'image download got HTTP ' + status + ' from ' + url, { status, retryable: status >= 500 || status === 429 });
        }
        return false;
      },
      onData: () => false,
    },
  );
  if (size <= 0) throw otaError('RANGE_INVALID', 'download', 'the server at ' + url + ' does not say how large the image is (no Content-Range or Content-Length)');
  return size;
}

/** Exponential backoff with "equal jitter": between half and all of base × 2^(faults-1), capped. */
function backoff(policy: RetryPolicy, faults: number, random: number): number {
  const d = Math.min(MAX_BACKOFF_MS, policy.baseDelayMs * Math.pow(2, faults - 1));
  return Math.round(d / 2 + (d / 2) * random);
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
  return otaError('SLOT_IO', 'download', what + ': ' + (e instanceof Error ? e.message : String(e)), { cause: e });
}

/** Forgets a partial download. */
export async function discardJournal(state: StateStore): Promise<void> {
  await state.remove(JOURNAL);
}
