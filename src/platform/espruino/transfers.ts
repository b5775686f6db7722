/**
 * The Espruino build's transfer stage: whole images only, for now. The VCDIFF decoder
 * (src/delta/vcdiff.ts) is in the Espruino subset, ready for when a board has room to stage a patch.
 */
import { download, type DownloadJob } from '../../download/downloader.js';
import type { FetchContext } from '../../download/transfers.js';

/** Downloads the whole image, as `fetchImage` does when no patch or gzip applies. */
export function fetchImage(ctx: FetchContext, job: DownloadJob): Promise<string> {
  return download(ctx, job);
}

/** Nothing is staged on Espruino: nothing to remove. */
export async function discardStaged(): Promise<void> {}
