/**
 * Chunked, resumable download of a release into a slot.
 *
 * The image is fetched with HTTP Range from the first chunk not yet verified; each chunk is
 * checked against its CRC-32 before it is written. A journal keyed by the image's SHA-256 says
 * which slot holds a partial copy and how many chunks were durably synced; on resume those
 * chunks are re-checked (never trusted blindly) and the chunks written after the last sync are
 * probed, so a crash costs at most the chunk that was in flight. Memory use is one chunk buffer.
 */
import { crc32 } from './crc32.js';
import { isOtaError, otaError, type OtaError } from './errors.js';
import type { Clock, Logger, SlotName, SlotStorage, SlotWriter, StateStore, Transport } from './platform.js';
import type { Release } from './release.js';

/** Progress of a download. */
export interface DownloadProgress {
  /** Bytes of the image verified and written so far. */
  received: number;
  total: number;
  /** Average rate of this session, bytes per second. */
  bytesPerSecond: number;
}

/** What the downloader needs from the platform. */
export interface DownloadContext {
  transport: Transport;
  slots: SlotStorage;
  state: StateStore;
  clock: Clock;
  logger: Logger;
}

/** One download job. */
export interface DownloadJob {
  release: Release;
  slot: SlotName;
  headers: Record<string, string>;
  /** Longest silence on the connection before it is dropped and resumed. */
  idleTimeoutMs: number;
  onProgress?: (p: DownloadProgress) => void;
}

/** Name of the journal in the state store. */
export const JOURNAL = 'download.json';

interface Journal {
  sha256: string;
  slot: SlotName;
  size: number;
  chunk_size: number;
  /** Chunks known durable (synced) in the slot. */
  synced: number;
}

/** Bytes written between two syncs of the slot and the journal. */
const SYNC_BYTES = 4 * 1024 * 1024;
/** Connection faults in a row (without progress) before the download gives up. */
const MAX_FAULTS = 5;
/** Times one chunk may fail its CRC before the download gives up. */
const MAX_CRC_FAILURES = 3;
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

function chunkLength(r: Release, index: number): number {
  return Math.min(r.chunkSize, r.size - index * r.chunkSize);
}

/** Number of leading chunks of the slot whose CRC matches the release, from `from`, up to `limit`. */
async function countValidChunks(slots: SlotStorage, slot: SlotName, r: Release, from: number, limit: number): Promise<number> {
  let i = from;
  while (i < limit) {
    const data = await slots.read(slot, i * r.chunkSize, chunkLength(r, i));
    if (data.length !== chunkLength(r, i) || crc32(data) !== r.chunkCrc32[i]) break;
    i++;
  }
  return i;
}

/** Where to resume: the number of leading chunks already in the slot and verified. */
async function resumePoint(ctx: DownloadContext, job: DownloadJob): Promise<number> {
  const r = job.release;
  const j = await loadJournal(ctx.state);
  const chunks = r.chunkCrc32.length;
  if (j === null || j.sha256 !== r.sha256 || j.slot !== job.slot || j.size !== r.size || j.chunk_size !== r.chunkSize || j.synced > chunks) {
    return 0;
  }
  const synced = await countValidChunks(ctx.slots, job.slot, r, 0, j.synced);
  if (synced < j.synced) {
    ctx.logger.log('WARNING', 'Download journal does not match slot ' + job.slot + ' (chunk ' + synced + ' is corrupt); starting again from byte 0');
    return 0;
  }
  // Chunks written after the last sync may have survived too; each is checked before it is kept.
  return countValidChunks(ctx.slots, job.slot, r, synced, chunks);
}

function parseContentRange(v: string | undefined): { first: number; last: number; total: number } | null {
  if (v === undefined || v.indexOf('bytes ') !== 0) return null;
  const slash = v.split('/');
  const span = slash[0]!.slice(6).split('-');
  if (slash.length !== 2 || span.length !== 2) return null;
  const first = toWhole(span[0]!);
  const last = toWhole(span[1]!);
  const total = toWhole(slash[1]!);
  return first < 0 || last < first || total <= last ? null : { first, last, total };
}

function toWhole(s: string): number {
  if (s.length === 0 || s.length > 16) return -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  return parseInt(s, 10);
}

/**
 * Downloads `job.release` into `job.slot`, resuming where an earlier attempt stopped, and syncs
 * the slot. Rejects with an OtaError that says what failed and after how many bytes.
 */
export async function download(ctx: DownloadContext, job: DownloadJob): Promise<void> {
  const r = job.release;
  const chunks = r.chunkCrc32.length;
  let next = await resumePoint(ctx, job);
  const journal: Journal = { sha256: r.sha256, slot: job.slot, size: r.size, chunk_size: r.chunkSize, synced: next };
  await ctx.state.write(JOURNAL, JSON.stringify(journal));
  if (next > 0) ctx.logger.log('INFO', 'Resuming download at byte ' + next * r.chunkSize + ' of ' + r.size);

  const writer = await openSlot(ctx.slots, job.slot, r.size);
  const buf = new Uint8Array(r.chunkSize);
  const startedAt = ctx.clock.now();
  const startedBytes = next * r.chunkSize;
  let lastProgressAt = -Infinity;
  let unsynced = 0;
  let faults = 0;
  let crcFailures = 0;

  const progress = (force: boolean) => {
    const now = ctx.clock.now();
    if (!job.onProgress || (!force && now - lastProgressAt < PROGRESS_INTERVAL_MS)) return;
    lastProgressAt = now;
    const received = Math.min(next * r.chunkSize, r.size);
    const seconds = (now - startedAt) / 1000;
    job.onProgress({ received, total: r.size, bytesPerSecond: seconds > 0 ? (received - startedBytes) / seconds : 0 });
  };

  const commitChunk = async (data: Uint8Array) => {
    if (crc32(data) !== r.chunkCrc32[next]) {
      throw otaError('CHUNK_CRC', 'download', 'chunk ' + next + ' (bytes ' + next * r.chunkSize + '-' + (next * r.chunkSize + data.length - 1) + ') failed its CRC-32 check', { retryable: true });
    }
    await writeSlot(writer, next * r.chunkSize, data);
    next++;
    crcFailures = 0;
    faults = 0;
    unsynced += data.length;
    if (unsynced >= SYNC_BYTES || next === chunks) {
      await syncSlot(writer);
      journal.synced = next;
      await ctx.state.write(JOURNAL, JSON.stringify(journal));
      unsynced = 0;
    }
    progress(next === chunks);
  };

  try {
    progress(true);
    while (next < chunks) {
      const start = next * r.chunkSize;
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
                // The server ignored Range: the body starts at byte 0, so drop what we already have.
                if (start > 0) ctx.logger.log('WARNING', 'Server ignored the Range request; reading from byte 0 and skipping ' + start + ' bytes');
                skip = start;
                return true;
              }
              throw otaError('HTTP_STATUS', 'download', 'image download got HTTP ' + status + ' from ' + r.url, {
                status,
                retryable: status >= 500 || status === 429,
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
                  await commitChunk(buf.subarray(0, want));
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
            throw otaError('CHUNK_CRC', 'download', e.message + ' ' + crcFailures + ' times; giving up after ' + next * r.chunkSize + ' verified bytes', { retryable: true });
          }
        } else if (++faults >= MAX_FAULTS) {
          const at = e.code === 'DOWNLOAD_TRUNCATED' ? '' : ' at byte ' + (next * r.chunkSize + filled) + ' of ' + r.size;
          throw otaError(e.code, 'download', e.message + at + ' (' + faults + ' faults in a row; ' + next * r.chunkSize + ' bytes kept for the next attempt)', {
            retryable: true,
            status: e.status,
          });
        }
        ctx.logger.log('WARNING', e.message + '; resuming at byte ' + next * r.chunkSize);
      }
    }
  } finally {
    await writer.close();
  }
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

/** Forgets a partial download (after its image failed verification). */
export async function discardJournal(state: StateStore): Promise<void> {
  await state.remove(JOURNAL);
}
