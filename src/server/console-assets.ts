/**
 * The console page: plain HTML, CSS and JavaScript files (src/server/console/, copied to
 * dist/console/ by the build) served as they are, no build step. A strict Content Security
 * Policy allows only these files: even if a device-supplied string slipped past the page's
 * escaping, no inline script or foreign resource could run.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/** The page's files, by URL path. Nothing else under /console/ is served from disk. */
const FILES: { [path: string]: [name: string, type: string] } = {
  '/console/': ['index.html', 'text/html; charset=utf-8'],
  '/console/console.css': ['console.css', 'text/css; charset=utf-8'],
  '/console/console.js': ['console.js', 'text/javascript; charset=utf-8'],
};

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

/** Sends a page file for `path`; false when `path` is not one. */
export async function serveConsoleAsset(path: string, res: ServerResponse): Promise<boolean> {
  const file = FILES[path];
  if (file === undefined) return false;
  // Beside this module in src/server/, and beside the bundled dist/cli.cjs and dist/index.js.
  const body = await readFile(fileURLToPath(new URL('./console/' + file[0], import.meta.url)));
  res.writeHead(200, Object.assign({ 'Content-Type': file[1], 'Content-Length': body.length }, SECURITY_HEADERS));
  res.end(body);
  return true;
}
