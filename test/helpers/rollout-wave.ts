/**
 * Which devices a staged rollout takes, computed here from the published definition rather than
 * the project's code: FNV-1a 32-bit (http://www.isthe.com/chongo/tech/comp/fnv/, offset basis
 * 2166136261, prime 16777619) of the device id's bytes, modulo 100, below the percentage.
 */
export function fnv1aReference(id: string): number {
  let h = 2166136261n;
  for (const byte of Buffer.from(id, 'latin1')) h = ((h ^ BigInt(byte)) * 16777619n) & 0xffffffffn;
  return Number(h);
}

/** True when `id` is in a wave of `percent`. */
export function inWave(id: string, percent: number): boolean {
  return fnv1aReference(id) % 100 < percent;
}
