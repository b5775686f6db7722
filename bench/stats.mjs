// What the benchmarks report of their rounds.

/** The middle value of `xs` (the upper middle of an even count); `xs` is left as it is. */
export function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}
