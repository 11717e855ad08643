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
