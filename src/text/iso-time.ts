/**
 * UTC times written as text from the Date's UTC fields. In Node, `Date.prototype.toISOString` (and
 * any local-time method) makes V8 set up its time zone through ICU, which pages in ~0.6 MiB of the
 * node binary's ICU data (`npm run bench`, issue 20): the check record, the status report and log
 * lines need none of it.
 */

function pad(n: number, width: number): string {
  let s = String(n);
  while (s.length < width) s = '0' + s;
  return s;
}

/** `ms` (since the epoch) as `toISOString` writes it: `YYYY-MM-DDTHH:MM:SS.mmmZ`. */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  // Years it writes with a sign and six digits, and invalid dates (it throws): left to it.
  if (!(year >= 0 && year <= 9999)) return d.toISOString();
  return (
    pad(year, 4) + '-' + pad(d.getUTCMonth() + 1, 2) + '-' + pad(d.getUTCDate(), 2) + 'T' +
    pad(d.getUTCHours(), 2) + ':' + pad(d.getUTCMinutes(), 2) + ':' + pad(d.getUTCSeconds(), 2) + '.' + pad(d.getUTCMilliseconds(), 3) + 'Z'
  );
}
