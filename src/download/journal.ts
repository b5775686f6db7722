/**
 * The resume journal: which release is being downloaded into which slot, and how many of its
 * chunks are known durable there. It advances only after the slot was synced; on resume the
 * chunks in the slot are read back and checked again, never trusted blindly.
 */
import type { StateStore } from '../platform/interfaces.js';
import type { SizedRelease } from '../check/release.js';
import type { SlotName, SlotStorage } from '../install/slots.js';
import { chunkCount, chunkLength, imageVerifier, type ImageVerifier } from './chunk-verifier.js';
import type { DownloadContext } from './downloader.js';

/** Name of the journal in the state store. */
export const JOURNAL = 'download.json';

/** The journal document. */
export interface Journal {
  /**
   * The release it belongs to: the image's SHA-256, or, when the server published none,
   * "unverified <version> <url>" (a release republished under the same version elsewhere is
   * another download). A journal naming another release is discarded.
   */
  image: string;
  slot: SlotName;
  size: number;
  chunk_size: number;
  /** Chunks known durable (synced) in the slot. */
  synced: number;
}

/**
 * What names the image of `r` in a journal (this one and the patch decode's): its SHA-256, or,
 * when the server published none, "unverified <version> <url>".
 */
export function imageKey(r: Pick<SizedRelease, 'sha256' | 'version' | 'url'>): string {
  return r.sha256 ?? 'unverified ' + r.version + ' ' + r.url;
}

/** The journal of a new download of `r` into `slot`, with `synced` chunks durable. */
export function journalFor(r: SizedRelease, slot: SlotName, synced: number): Journal {
  return { image: imageKey(r), slot, size: r.size, chunk_size: r.chunkSize, synced };
}

/** Reads the journal; null when there is none or it is unreadable (the download then starts over). */
export async function loadJournal(state: StateStore): Promise<Journal | null> {
  const text = await state.read(JOURNAL);
  if (text === null) return null;
  try {
    const j = JSON.parse(text) as Journal;
    return typeof j === 'object' && j !== null && typeof j.synced === 'number' ? j : null;
  } catch (e) {
    return null;
  }
}

/** Records the journal (atomically, through the state store). */
export function saveJournal(state: StateStore, j: Journal): Promise<void> {
  return state.write(JOURNAL, JSON.stringify(j));
}

/** Forgets a partial download. */
export async function discardJournal(state: StateStore): Promise<void> {
  await state.remove(JOURNAL);
}

/** Where a download resumes: the next chunk to fetch, and a verifier that has seen the chunks before it. */
export interface ResumePoint {
  next: number;
  verifier: ImageVerifier;
}

/**
 * Where to resume: the leading chunks already in the slot that pass their CRC, fed to a fresh
 * verifier. Chunks past the journal's synced count may have survived too and are kept when valid;
 * a synced chunk that fails means the slot is not what the journal says: start again.
 */
export async function resumePoint(ctx: Pick<DownloadContext, 'state' | 'logger' | 'sha256' | 'crc32'> & { slots: SlotStorage }, r: SizedRelease, slot: SlotName): Promise<ResumePoint> {
  // A slot storage that hashes in place needs no hash of the chunks as they pass.
  const newVerifier = () => imageVerifier(r, ctx.slots.sha256 ? null : ctx.sha256(), ctx.crc32);
  const fresh = () => ({ next: 0, verifier: newVerifier() });
  const j = await loadJournal(ctx.state);
  const chunks = chunkCount(r);
  if (j === null || j.image !== imageKey(r) || j.slot !== slot || j.size !== r.size || j.chunk_size !== r.chunkSize || j.synced > chunks) {
    return fresh();
  }
  const verifier = newVerifier();
  // Without published CRCs nothing past the synced chunks can be checked, so nothing past them is kept.
  const limit = r.chunkCrc32 === null ? j.synced : chunks;
  let next = 0;
  while (next < limit && verifier.accept(next, await ctx.slots.read(slot, next * r.chunkSize, chunkLength(r, next)))) next++;
  if (next < j.synced) {
    ctx.logger.log('WARNING', 'Download journal does not match slot ' + slot + ' (chunk ' + next + ' is corrupt); starting again from byte 0');
    return fresh();
  }
  return { next, verifier };
}
