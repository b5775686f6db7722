/**
 * The transport's check of every hop of a request, the first and each redirect, with the URL
 * parser: only http and https; never from HTTPS down to plain HTTP; plain HTTP only to this
 * machine unless `allow_http` accepts the risk. The core decides on the first URL with its own
 * conservative reader (src/config/url-policy.ts); redirects are only seen here.
 */
import { otaError, type OtaStage } from '../../errors.js';

/** True for this machine as the URL parser writes it: localhost, 127.0.0.0/8, [::1]. */
function isLoopback(u: URL): boolean {
  return u.hostname === 'localhost' || u.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(u.hostname);
}

/** Throws INSECURE_TRANSPORT when the request may not go to `next` (coming from `from` by a redirect). */
export function checkHop(next: URL, from: URL | null, allowHttp: boolean, stage: OtaStage): void {
  const hop = from === null ? next.href : 'redirect from ' + from.href + ' to ' + next.href;
  const refuse = (why: string) => {
    throw otaError('INSECURE_TRANSPORT', stage, hop + ' refused: ' + why);
  };
  if (next.protocol !== 'https:' && next.protocol !== 'http:') refuse('only http and https are followed');
  if (from !== null && from.protocol === 'https:' && next.protocol === 'http:') refuse('it leaves HTTPS for plain HTTP');
  if (next.protocol === 'http:' && !allowHttp && !isLoopback(next)) refuse('plain HTTP to another machine (set "allow_http": true to accept the risk)');
}
