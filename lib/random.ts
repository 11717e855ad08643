// A small seeded random generator (Mulberry32) for tests, training and benchmarks: same seed, same numbers, on every machine.

/** Uniform numbers in [0, 1) from a 32-bit seed. synth/random.ts has the generator's own streams. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal number (Box-Muller) from two of `random`'s uniforms, the first for the radius. */
export function standardNormal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * The 32-bit integer seededRandom(seed)'s number at `index` (0 for the first) is made of (that
 * number times 2^32), without drawing the ones before it: the generator's state only counts on.
 */
export function seededUint32At(seed: number, index: number): number {
  let t = ((seed >>> 0) + Math.imul(index + 1, 0x6d2b79f5)) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}
