/**
 * Staged rollouts decided on the device: a release for a group may carry `rollout` (a percentage),
 * and each device computes from a stable hash of its id whether it is in the wave. The server
 * keeps no per-device list, so the same manifest works from nginx or a CDN, and raising the
 * percentage only adds devices (a device's bucket never changes).
 */

/** FNV-1a (32-bit) of the id's UTF-16 code units (bytes, for the ASCII ids servers accept). */
function fnv1a(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) {
    h = (h ^ id.charCodeAt(i)) >>> 0;
    // h * 16777619 mod 2^32, split as h * 403 + h * 2^24 so no product passes 2^53 (no Math.imul on Espruino).
    h = (h * 403 + ((h << 24) >>> 0)) >>> 0;
  }
  return h;
}

/** The device's bucket, 0 to 99: FNV-1a(device id) mod 100. */
export function rolloutBucket(deviceId: string): number {
  return fnv1a(deviceId) % 100;
}

/** True when a device is in a wave of `percent` (0 to 100; undefined: no staged rollout, everyone). */
export function inRollout(deviceId: string, percent: number | undefined): boolean {
  return percent === undefined || rolloutBucket(deviceId) < percent;
}
