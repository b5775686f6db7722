/** A one-line download progress bar for terminals; silent when the stream is not a TTY. */
import type { DownloadProgress } from '../download/downloader.js';

const WIDTH = 30;

function mib(n: number): string {
  return (n / 1048576).toFixed(1) + ' MiB';
}

/** Returns a progress callback drawing on `out`, and `end()` to finish the line. */
export function progressBar(out: NodeJS.WriteStream): { update(p: DownloadProgress): void; end(): void } {
  let drawn = false;
  return {
    update(p) {
      if (!out.isTTY) return;
      const fraction = p.total > 0 ? p.received / p.total : 0;
      const full = Math.round(fraction * WIDTH);
      const bar = '#'.repeat(full) + '-'.repeat(WIDTH - full);
      out.write('\r[' + bar + '] ' + (fraction * 100).toFixed(0).padStart(3) + '%  ' + mib(p.received) + ' / ' + mib(p.total) + '  ' + mib(p.bytesPerSecond) + '/s ');
      drawn = true;
    },
    end() {
      if (drawn) out.write('\n');
      drawn = false;
    },
  };
}
