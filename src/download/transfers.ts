/**
 * Which bytes travel for an image: a patch from the running image, else the image
 * gzip-compressed, else the image itself.
 *
 * A patch or a gzip is downloaded exactly like an image (chunk CRCs on the bytes that travel, its
 * own SHA-256, the resume journal) into the staging storage, then decoded into the slot while the
 * SHA-256 of the image that lands is computed and checked against the release's. Staging first
 * keeps the downloader as it is and makes the decode repeatable: after a power cut the downloader
 * finds the staged file complete (nothing is downloaded again), and a patch's decode resumes at
 * the last window boundary its journal recorded (a gzip's starts again). A patch that does not fit
 * the running image, a corrupt patch or gzip, or a result with the wrong SHA-256 falls back to the
 * next way by itself; only faults worth retrying (network, server trouble) end the attempt,
 * keeping what was downloaded.
 */
import { vcdiffDecoder, type VcdiffPosition } from '../delta/vcdiff.js';
import { otaError, toOtaError } from '../errors.js';
import type { Patch, Transfer } from '../check/release.js';
import { hashSlot, type SlotName, type SlotStorage } from '../install/slots.js';
import type { Platform } from '../platform/interfaces.js';
import { BackgroundSync } from './background-sync.js';
import { download, type DownloadContext, type DownloadJob } from './downloader.js';
import { digestingContext } from './legacy-digest.js';
import { imageKey } from './journal.js';

/** What {@link fetchImage} needs from the platform. */
export type FetchContext = DownloadContext & Pick<Platform, 'transfers' | 'digest'>;

/** The image the device runs now: the base a patch must have been made from. */
export interface RunningImage {
  slot: SlotName;
  sha256: string;
  size: number;
}

/**
 * Largest delta window a device decodes, and the `-W` that `ota publish` gives xdelta3: the decoder
 * holds one window's encoding and one target window, so this bounds its memory (about 2 MiB more
 * than a full update; xdelta3's default 8 MiB measured 7 MiB more peak RSS). Smaller windows cost
 * only a few bytes of patch per MiB: xdelta3 still finds matches anywhere in the base.
 */
export const MAX_DELTA_WINDOW = 1024 * 1024;

/**
 * Bytes of the running image the decoder reads at a time (two such blocks are cached): small,
 * because a patch between two archives copies from all over the base (1 MiB blocks read 6.6 MB of
 * a 2.2 MB bundle's base to decode it); 64 KiB costs only a read syscall per block.
 */
const DELTA_SOURCE_BLOCK = 64 * 1024;

/** Where a patch's decode stands, recorded at window boundaries once the slot is synced. */
interface DecodeJournal {
  /** SHA-256 of the patch and of the image it makes. */
  patch: string;
  image: string;
  slot: SlotName;
  at: VcdiffPosition;
}

/** Name of the decode journal in the state store. */
const DECODE_JOURNAL = 'decode.json';
/** Image bytes decoded between two background syncs of the slot and journal updates: each costs a few fsyncs. */
const DECODE_SYNC_BYTES = 16 * 1024 * 1024;

/** Receives decoded image bytes in order; `after` is a resume point when the piece ends a window. */
type Emit = (piece: Uint8Array, after: VcdiffPosition | null) => Promise<void>;

/** A decoder fed with the staged file in order. */
interface Decoder {
  push(data: Uint8Array): Promise<void>;
  end(): Promise<void>;
}

/**
 * Fetches `job.release` into `job.slot` the cheapest way the release and the platform allow and
 * resolves to the SHA-256 of the image that landed; rejects like {@link download}.
 */
export async function fetchImage(ctx: FetchContext, job: DownloadJob, running: RunningImage | null): Promise<string> {
  const r = job.release;
  // Published with SHA-1 or MD5 only (older hawkBit): computed as the image arrives.
  if (r.digest) ctx = digestingContext(ctx, r);
  const t = ctx.transfers;
  if (t) {
    const staging = t.staging;
    const patch = running === null ? null : patchFrom(r.patches, running.sha256);
    if (patch !== null && running !== null) {
      ctx.logger.log('INFO', 'Fetching a ' + patch.size + '-byte delta from the running image instead of the ' + r.size + '-byte image');
      const makeDecoder = (emit: Emit, resumeAt: VcdiffPosition | null): Decoder => {
        const d = vcdiffDecoder({
          source: (offset, length, into) => ctx.slots.read(running.slot, offset, length, into),
          sourceSize: running.size,
          sourceBlock: Math.min(ctx.slots.readSize, DELTA_SOURCE_BLOCK),
          maxWindow: MAX_DELTA_WINDOW,
          resumeAt: resumeAt ?? undefined,
          onWindow: (target, _offset, after) => emit(target, after),
        });
        return { push: (data) => d.push(data), end: async () => void d.finish() };
      };
      const sha256 = await orFallBack(ctx, 'delta update', job.slot, () => viaTransfer(ctx, staging, job, patch, makeDecoder, true));
      if (sha256 !== null) return sha256;
    }
    const gunzip = t.gunzip;
    if (r.gzip && gunzip) {
      const gzip = r.gzip;
      ctx.logger.log('INFO', 'Fetching the image gzip-compressed (' + gzip.size + ' bytes instead of ' + r.size + ')');
      const makeDecoder = (emit: Emit): Decoder => {
        const inflater = gunzip();
        const out = (piece: Uint8Array) => emit(piece, null);
        return { push: (data) => inflater.push(data, out), end: () => inflater.end(out) };
      };
      const sha256 = await orFallBack(ctx, 'compressed download', job.slot, () => viaTransfer(ctx, staging, job, gzip, makeDecoder, false));
      if (sha256 !== null) return sha256;
    }
  }
  return download(ctx, job);
}

function patchFrom(patches: Patch[] | undefined, base: string): Patch | null {
  if (!patches) return null;
  for (let i = 0; i < patches.length; i++) if (patches[i]!.baseSha256 === base) return patches[i]!;
  return null;
}

/**
 * Removes what was staged for `slot`, once the image decoded from it is installed: nothing resumes
 * from it any more (the download journal that described it is gone too). A failure only costs
 * disk space until the next update's staging replaces the file, so it is logged, not raised.
 */
export async function discardStaged(ctx: Pick<Platform, 'transfers' | 'logger'>, slot: SlotName): Promise<void> {
  const t = ctx.transfers;
  if (!t || !t.discard) return;
  try {
    await t.discard(slot);
  } catch (e) {
    ctx.logger.log('WARNING', 'Could not remove the staged transfer of slot ' + slot + ': ' + toOtaError(e, 'install').message);
  }
}

/**
 * Runs one way of fetching into `slot`; resolves to null (after a warning) when it failed in a way
 * the next way may avoid: a bad patch or gzip, a wrong result, a file the server no longer has.
 * What it staged is removed then: the next way stages its own or downloads into the slot.
 */
async function orFallBack(ctx: FetchContext, what: string, slot: SlotName, attempt: () => Promise<string>): Promise<string | null> {
  try {
    return await attempt();
  } catch (e) {
    const error = toOtaError(e, 'download');
    if (error.retryable && error.code !== 'SHA256_MISMATCH') throw error;
    await ctx.state.remove(DECODE_JOURNAL);
    await discardStaged(ctx, slot);
    ctx.logger.log('WARNING', what + ' failed (' + error.code + ': ' + error.message + '); falling back to the full image');
    return null;
  }
}

/** The resume point of this patch's decode into this slot that the journal `text` records, or null. */
function resumePoint(text: string, transfer: Transfer, image: string, slot: SlotName): VcdiffPosition | null {
  try {
    const j = JSON.parse(text) as DecodeJournal;
    const at = j.at;
    const fits = typeof at === 'object' && at !== null && typeof at.patch === 'number' && typeof at.target === 'number' && at.patch <= transfer.size;
    return j.patch === transfer.sha256 && j.image === image && j.slot === slot && fits ? { patch: at.patch, target: at.target } : null;
  } catch (e) {
    return null;
  }
}

/**
 * Downloads `transfer` into the staging storage, then decodes it into the slot. A `resumable`
 * decode (a patch) records its position at window boundaries and continues from there next time,
 * the image's hash rebuilt from the slot's bytes already decoded.
 */
async function viaTransfer(
  ctx: FetchContext,
  staging: SlotStorage,
  job: DownloadJob,
  transfer: Transfer,
  makeDecoder: (emit: Emit, resumeAt: VcdiffPosition | null) => Decoder,
  resumable: boolean,
): Promise<string> {
  await download(Object.assign({}, ctx, { slots: staging }), Object.assign({}, job, { release: transfer }));
  const r = job.release;
  const image = imageKey(r);
  const journal = await ctx.state.read(DECODE_JOURNAL);
  const resumeAt = journal === null || !resumable ? null : resumePoint(journal, transfer, image, job.slot);
  // Removed at the end when there is one (left by this decode or another): removing costs an fsync.
  let journaled = journal !== null;
  const writer = await ctx.slots.open(job.slot, r.size);
  const hasher = ctx.sha256();
  let written = 0;
  if (resumeAt !== null && resumeAt.target <= r.size) {
    // hashSlot ends with digest(): a wrapper keeps our hasher open for the bytes still to come.
    await hashSlot(ctx.slots, job.slot, resumeAt.target, { update: (d) => hasher.update(d), digest: () => '' });
    written = resumeAt.target;
    ctx.logger.log('INFO', 'Resuming the decode at byte ' + written + ' of ' + r.size + ' (patch byte ' + resumeAt.patch + ')');
  }
  // The slot syncs beside the decode (as a download's does), and the journal records a window
  // boundary only once the bytes before it are durable.
  const background = new BackgroundSync(DECODE_SYNC_BYTES);
  const decoder = makeDecoder(async (piece, after) => {
    background.check();
    if (written + piece.length > r.size) throw otaError('IMAGE_INVALID', 'download', 'the decoded image is larger than the ' + r.size + ' bytes the release announced');
    await writer.write(written, piece);
    hasher.update(piece);
    written += piece.length;
    if (background.wrote(piece.length) && resumable && after !== null) {
      const record: DecodeJournal = { patch: transfer.sha256, image, slot: job.slot, at: after };
      background.start(
        () => writer.sync(),
        () => {
          journaled = true;
          return ctx.state.write(DECODE_JOURNAL, JSON.stringify(record));
        },
      );
    }
  }, written > 0 ? resumeAt : null);
  let sha256 = '';
  try {
    const from = written > 0 && resumeAt !== null ? resumeAt.patch : 0;
    // One buffer for every read: the decoders are done with a piece when push() settles.
    const into = new Uint8Array(Math.min(staging.readSize, transfer.size));
    for (let at = from; at < transfer.size; at += staging.readSize) {
      const data = await staging.read(job.slot, at, Math.min(staging.readSize, transfer.size - at), into);
      if (data.length === 0) throw otaError('SLOT_IO', 'download', 'the staged file ends at byte ' + at + ' of ' + transfer.size);
      await decoder.push(data);
    }
    await decoder.end();
    await background.idle();
    background.check();
    if (written !== r.size) throw otaError('IMAGE_INVALID', 'download', 'the decoded image has ' + written + ' bytes but the release announced ' + r.size);
    sha256 = hasher.digest();
    if (r.sha256 !== null && sha256 !== r.sha256) {
      throw otaError('SHA256_MISMATCH', 'verify', 'the decoded image has SHA-256 ' + sha256 + ' but the release announced ' + r.sha256);
    }
    await writer.sync();
  } finally {
    await background.idle();
    await writer.close();
  }
  if (journaled) await ctx.state.remove(DECODE_JOURNAL);
  ctx.logger.log('INFO', 'Decoded ' + transfer.size + ' transferred bytes into the ' + r.size + '-byte image');
  return sha256;
}
