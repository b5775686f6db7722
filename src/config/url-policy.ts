/** Which URLs the agent may use without TLS. */

/** True for an http:// URL whose host is not this machine (loopback). */
export function isPlainRemote(url: string): boolean {
  if (url.indexOf('http://') !== 0) return false;
  const rest = url.slice(7);
  const host = rest.charAt(0) === '[' ? rest.slice(0, rest.indexOf(']') + 1) : rest.split('/')[0]!.split(':')[0]!;
  return !(host === 'localhost' || host === '[::1]' || host.indexOf('127.') === 0);
}
