// A spot-sized particle's seed and strength on the once-smoothed residual (the statistic matched to the spec's smallest particle), told from a hot pixel by its footprint.
import { gaussianUpperTail } from "./line-seed.ts";
import type { Blob, Thresholds } from "./segment.ts";
import { readSensorFault, type SensorFaultJudge } from "./sensor-faults.ts";
import { SPOT_STATISTIC } from "./thresholds.ts";

/**
 * The spot seed's threshold in noise sigmas for `tests` pixels: z with 2 tests Q(z) equal to
 * SPOT_STATISTIC.falseAlarmsPerWafer (both signs), by bisection on Q's monotone tail.
 */
export function spotSeedSigmas(tests: number): number {
  const perTest = SPOT_STATISTIC.falseAlarmsPerWafer / (2 * Math.max(1, tests));
  let lo = 0;
  let hi = 20;
  for (let k = 0; k < 60; k++) {
    const mid = 0.5 * (lo + hi);
    if (gaussianUpperTail(mid) > perTest) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The group's strength on the spot seed's statistic: its largest residual, in its sign, over
 * the spot seed's threshold at that pixel (>= 1: the statistic passes its false-alarm rate). 0
 * when it does not pass, or when its footprint cannot be told from a hot pixel's: the group
 * must read as a point (readSensorFault: within SENSOR_FAULT.maxReachMapPx of its peak, with
 * FAULT_SPREAD.minDirections pairs on the wafer; otherwise the rule has nothing to read and the
 * group keeps the score's verdict alone) whose unsmoothed die-to-die neighbours carry at least
 * SPOT_STATISTIC.spreadShare of what the spec's smallest spot would lend them, and whose
 * spike every direction read carries (at least SPOT_STATISTIC.agreeShare of it), and whose
 * spike's pixel holds no pixel the quality gate repaired (a repair is no observation).
 */
export function spotStrength(
  group: Blob,
  residual: Float32Array,
  pixelSeed: NonNullable<Thresholds["pixelSeed"]>,
  judge: SensorFaultJudge,
): number {
  const spot = pixelSeed.spot;
  if (!spot) return 0;
  let best = 0;
  for (const p of group.pixels) {
    const v = group.sign * (residual[p] as number);
    if (v < spot.min) continue;
    best = Math.max(best, v / spot.high(p));
  }
  if (best < 1) return 0;
  const reading = readSensorFault(group, judge);
  if (!reading || !(reading.spike > 0)) return 0;
  if (reading.response < SPOT_STATISTIC.spreadShare * reading.spotResponse) return 0;
  // A spike on a pixel the gate repaired is the gate's estimate against the references, not an
  // observation of this die: the gate replaces only a pixel standing out of its neighbours by
  // 12 sigmas and 10% of full scale (each neighbour by most of that, or along a structure), a
  // single-pixel footprint no spec particle has (3 px across before blur), so it replaced a hot
  // pixel or the motif's detail sampled into one pixel (round 39), never a spot.
  if (judge.repaired.has(reading.centre)) return 0;
  // Every direction read must see it: a spot in the die under test raises each pair difference
  // alike; a street's sampling phase along one die axis (which the pair along it shares)
  // leaves that direction out (SPOT_STATISTIC.agreeShare).
  return reading.weakest >= SPOT_STATISTIC.agreeShare * reading.spike ? best : 0;
}
