// Seeded standard normal draws kept per seed: the raster builders of a test file that draw their noise from the same seed and size get the same numbers without drawing them again.
import { seededRandom, standardNormal } from "../../lib/random.ts";
import { Random } from "../../synth/random.ts";

/**
 * A cache of the first `count` numbers standardNormal(seededRandom(seed)) draws, one array per
 * (seed, count): the same doubles, in the same order, as the builder's own loop would draw them
 * (Box-Muller per pixel is most of what a noisy raster costs). Each test file makes its own, so
 * the arrays live as long as the file's module. Callers only read the arrays.
 */
export function normalDrawCache(): (seed: number, count: number) => Float64Array {
  const kept = new Map<string, Float64Array>();
  return (seed, count) => {
    const key = `${seed} ${count}`;
    let draws = kept.get(key);
    if (!draws) {
      const random = seededRandom(seed);
      draws = new Float64Array(count);
      for (let i = 0; i < count; i++) draws[i] = standardNormal(random);
      kept.set(key, draws);
    }
    return draws;
  };
}

/** The same for the generator's own stream: the first `count` of `new Random(seed).normal()`. */
export function synthNormalDrawCache(): (seed: number, count: number) => Float64Array {
  const kept = new Map<string, Float64Array>();
  return (seed, count) => {
    const key = `${seed} ${count}`;
    let draws = kept.get(key);
    if (!draws) {
      const random = new Random(seed);
      draws = new Float64Array(count);
      for (let i = 0; i < count; i++) draws[i] = random.normal();
      kept.set(key, draws);
    }
    return draws;
  };
}
