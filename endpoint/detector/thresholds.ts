// Every threshold of the classical detector, in one table, each with the spec clause or noise derivation behind it.
//
// Units: "sigma" = the noise sigma measured in the image (or of the statistic named); "px at
// 2048" = full-resolution pixels of a 2048 px frame, scaled by (shorter side / 2048) as the
// spec's sizes are; "map px" = pixels of the binned working map. Nothing here is fitted to
// how synth/ draws: where a number is a judgement (a safety factor), the comment says so.
// The hash of this table is part of the detector's version (see version.ts), so a change
// here invalidates any ONNX second stage trained against the previous detector.

import { HOT_PIXEL_MIN_STEP, HOT_PIXEL_SIGMAS } from "../quality/thresholds.ts";

/** Spec "The image" / "Defects": the contrast and size rules every stage starts from. */
export const SPEC = {
  /** Frames are binned to about this many px on the shorter side (speed; a 3 px particle at 2048 still covers a 2x2 bin). */
  workingSide: 1024,
  /** Edge exclusion, mm: only edge chips are reported inside it. */
  edgeExclusionMm: 3,
  /** A must-find defect peaks at >= 5 sigma ... */
  mustFindSigmas: 5,
  /** ... and at >= 4% of the local wafer level. */
  mustFindLevelShare: 0.04,
  /** Defect sizes across, px at 2048 (the spec's table). */
  particlePx: [3, 16] as const,
  scratchWidthPx: [1, 4] as const,
  scratchLengthPx: [80, 600] as const,
  voidPx: [16, 90] as const,
  stainPx: [60, 300] as const,
  edgeChipPx: [12, 56] as const,
  /** Void rims are up to 5 px soft at 2048 ("What real cameras and processes add"). */
  voidRimSoftPx: 5,
  /** Optical blur up to a Gaussian sigma of 1 px at 2048. */
  blurSigmaPx: 1,
  /** Two defects more than this many times the larger one's size apart are two defects. */
  separateAtSizes: 2,
  /** Notch: a V about 1% of the radius deep. */
  notchDepthShare: 0.01,
  /** Die pitch is 2-10% of the wafer diameter. */
  diePitchShare: [0.02, 0.1] as const,
  /** Dies of one reticle field differ in level by up to +-0.75% of the die level. */
  reticleLevelShare: 0.0075,
} as const;

/** Seed/grow thresholds on the residual (segment.ts), from the noise measured in the image. */
export const DETECTION = {
  /**
   * Seed threshold on the smoothed residual, in its own measured sigma. The residual map holds
   * ~10^6 pixels; a Gaussian tail beyond 6 sigma has p = 1e-9 per pixel, i.e. < 0.002 false
   * seeds per wafer, while a must-find defect (5 sigma of the *raw* noise) gains about
   * 1/0.375 = 2.7x in SNR from the 3x3 binomial smoothing when it covers a few map pixels.
   */
  seedSigmas: 6,
  /** Grow threshold: 2.5 sigma keeps a defect's flanks without flooding noise (p = 0.6% per pixel). */
  growSigmas: 2.5,
  /**
   * Single-pixel seed on the unsmoothed residual (a defect smaller than a map pixel loses most
   * of its peak to smoothing). No smoothing gain here, and each seed tests one pixel instead of
   * a 3x3 average: 6.5 sigma gives p = 8e-11 per pixel.
   */
  pixelSeedSigmas: 6.5,
  /**
   * The pixel-seed threshold assumes a Gaussian tail, which JPEG errors (quantised DCT
   * blocks) and smeared sensor faults do not have. The tail is therefore measured: the
   * |residual| quantile at this probability (1e-3 per pixel: about 40 of the ~40,000 sampled
   * pixels lie beyond it, enough for a stable estimate; a Gaussian puts it at 3.29 sigma)
   * is read on pixels without smoothed support (no extended defect there), and when it
   * lies further out than the Gaussian would put it, the pixel-seed sigma grows by the same
   * ratio. Gaussian noise keeps the threshold (and the recall) it had.
   */
  pixelTailQuantile: 0.999,
  /**
   * A blob seeded on one unsmoothed pixel must grow (on the smoothed score) to at least this
   * many map pixels. The smallest particle is 3 px across at 2048 (1.5 map px at the working
   * side), blurred by up to a 1 px PSF: it always lends a neighbour part of its contrast, while
   * a single-pixel excursion of the noise (JPEG's heavy tail) has no support around it.
   */
  pixelSeedMinPixels: 2,
  /**
   * The smoothed score's tail is measured the same way (score-tail.ts; a particle-sized blob
   * must clear the seed threshold by it) per sector of the disk,
   * 4 rings of equal area x 4 angles, each of ~3,000 samples at every 4th map pixel of every 4th
   * row (a few beyond its 1e-3 quantile: the median of 16 sectors steadies it; denser sampling
   * cost 75 ms of CPU at 2048 px); the median sector stands for the wafer, so a defect (one or
   * two sectors) does not raise its own threshold.
   */
  scoreTailSectors: { rings: 4, angles: 4, step: 4 },
  /** |x| quantile 0.999 of a unit Gaussian (two-sided p = 1e-3). */
  pixelTailGaussianSigmas: 3.29,
  /** Noise sigma of [1 2 1] x [1 2 1] / 16 smoothing of white noise: sqrt(36/256) = 0.375. */
  binomialNoiseGain: 0.375,
  /**
   * Floors as shares of the wafer level, for images with almost no noise: a fraction of the
   * spec's 4% so that the smoothing's attenuation of a 3 px particle (to about a quarter of
   * its peak) still leaves it above the seed floor.
   */
  seedLevelShare: 0.006,
  growLevelShare: 0.003,
  /** The single-pixel seed floor is twice the smoothed one (no smoothing gain). */
  pixelSeedFloorFactor: 2,
  /** |x| 95th percentile = 1.96 sigma for a Gaussian: residual sigmas come from the tail, where false alarms live. */
  q95ToSigma: 1 / 1.96,
  /**
   * Lag (map px, along x) between the two pair differences whose difference measures the
   * die-to-die noise (noise.ts estimateDieDifferenceNoise): a die's own level cancels between
   * them, and their noise is independent once the lag passes the spec's correlation length
   * (1 px) plus the binomial smoothing's reach (2 px); one more for margin.
   */
  dieDifferenceLagPx: 4,
  /** Pattern-activity classes for the per-class residual sigma on patterned wafers. */
  activityClasses: 6,
  /**
   * A zone of its own noise (the rim ring where die-to-die references are extrapolated) is
   * measured apart when it holds at least this many map pixels: its sampled share then gives
   * the 95th percentile from a few hundred values at least.
   */
  minZoneSamples: 20_000,
  /**
   * Share of the reference's local 2x2 range forgiven as misregistration on pattern edges
   * (die-to-die): a bilinear sample of a 1-map-px-wide anti-aliased edge moves by up to the
   * whole step for a half-pixel registration error; 0.75 leaves a quarter as sensitivity.
   */
  misregistrationShare: 0.75,
  /**
   * Away from the rim ring (all eight neighbour dies on the wafer), each direction's pair
   * average cancels a lattice error to first order, and what is left is the bilinear samples' own blur,
   * fx(1 - fx) + fy(1 - fy) of the range at the direction's fractional offsets (die-to-die-allowance.ts
   * pairMisregistrationShare), plus this much for the die under test's own sampling phase:
   * the largest f(1 - f), a quarter. A judgement, not a fit: at most 0.75, as above.
   */
  samplingPhaseShare: 0.25,
} as const;

/** Die lattice search (lattice.ts). */
export const LATTICE = {
  /** Pitch search range, shares of the wafer diameter: the spec's 2-10% with 25% slack each way. */
  minPitchShare: 0.015,
  maxPitchShare: 0.12,
  /** A shift is a pitch candidate when its cost is within this share of (median - min) of the best. */
  nearBestShare: 0.2,
  /**
   * Candidates kept per axis, shortest first: motif repeats inside a die come before the
   * pitch, multiples of it (and reticle fields) after; each is scored, the best repeat wins.
   */
  maxCandidates: 6,
  /**
   * matchQuality = 1 - (energy left at the shift) / (energy at half of it), noise removed:
   * 0.8 means 80% of the pattern's difference energy cancels, a clear repeat: its multiples
   * are not scored, and the notch-aligned orientation is accepted without a full scan.
   */
  goodPeriodicity: 0.8,
  /** Below half the energy cancelled, the surface is not a die lattice. */
  minPeriodicity: 0.5,
  /**
   * The match quality is read per block of the sample disk, this many blocks per side, and the
   * blocks' median (weighted by their samples) is the periodicity: a die grid repeats in every
   * block, a defect breaks it only where it lies (lattice-refine.ts matchQuality). The sample
   * disk spans about 1.5 radii, so a block is about an eighth of the wafer's diameter: the
   * spec's largest stain (300 px at 2048, about 15% of the diameter) touches at most 3 x 3 of
   * the 28-32 blocks that hold samples, and the median holds while defects touch under half the
   * samples. Finer blocks read a faint pattern's energy on fewer samples each (noisier blocks);
   * coarser ones give one stain a larger share. The same 6 as the precheck's blocks below.
   */
  qualityBlocks: 6,
  /** A hinted pitch is searched +-5% (rounded metadata, out-of-round disks). */
  hintTolerance: 0.05,
  /**
   * Bare-wafer precheck: share of disk pixels standing more than 5 sigma out of the smooth
   * illumination model, per block of the disk. A die pattern covers every block; a stain or
   * void covers a few. The median block over 1% says "patterned, measure the lattice".
   */
  structuredSigmas: 5,
  structuredShare: 0.01,
  /** Blocks per side of the disk's bounding square for that precheck. */
  structuredBlocks: 6,
} as const;

/**
 * Lines along a die axis on patterned wafers (lattice-line.ts, stages/defects.ts). Two pattern
 * effects make such lines in the die-to-die residual: a sub-pixel error of the measured lattice
 * (error x pattern gradient, the same street or motif edge in every die) and a reticle
 * field-boundary street (the spec: up to 3% darker, fields of 2 x 2 to 3 x 3 dies), which
 * differs from the streets one pitch away but is the same street 2 or 3 pitches away. Their
 * residual is coherent along a whole row, which the per-pixel noise model does not describe,
 * so such a line needs `margin` times the seed threshold. What tells them from a scratch is
 * measured, not the angle: (1) they stay on one die row: over its length L a pattern line
 * drifts across the measured rows by at most the measured axis's turn from the true one,
 * L x registrationPx / pitch, plus its own width (its centre line may wander within it); a
 * scratch at angle t drifts L sin t. (2) They repeat: the same die phase k pitches across
 * (k = 1 for a lattice error, the field size for a field street) holds the same line, while
 * across a scratch the residual holds nothing (k >= 2) or its negative echo (k = 1, where the
 * scratch is the reference of three of the four pair comparisons). Both are necessary for a
 * pattern line, so the margin applies only when both hold; a line that fails either goes by
 * the ordinary seed threshold.
 */
export const LATTICE_LINE = {
  /** Only lines: length at least 4 widths (a spec scratch is 20 or more). */
  minElongation: 4,
  /**
   * A judgement, kept from the angle rule it replaces: a pattern line's coherent residual is
   * not described by the per-pixel noise, so no threshold for it is derived from that noise.
   */
  margin: 2,
  /**
   * How far (map px) the measured lattice vector may be off over one pitch: the misregistration
   * the die-to-die allowance is built to forgive (DETECTION.misregistrationShare, half a map px);
   * a larger error leaves residual on every pattern edge of the wafer, not on one line.
   */
  registrationPx: 0.5,
  /**
   * A copy k pitches across reads the line's contrast c for a pattern line and 0 (or less) for
   * a defect: the midpoint between the two hypotheses decides, as in REPEAT.evidenceShare.
   */
  repeatShare: 0.5,
  /** Copies read 1 to 3 pitches across: a lattice error repeats at 1, the spec's largest reticle field at 3. */
  repeatPitches: 3,
  /**
   * Pixels of a line each copy's mean is taken over, at most (evenly strided): a line that
   * clears the seed threshold stands several sigmas out, so a few hundred give each mean to a
   * small fraction of c.
   */
  maxSamples: 512,
} as const;

/**
 * A blob on a patterned wafer that one comparison direction cancels (direction-evidence.ts
 * repeatedAlongDirection): a pattern repeated along that row or column of dies (a reticle
 * field-boundary street, up to 3% darker by the spec, or a field's level) rather than a
 * defect in this die, which shows its contrast c along every direction.
 */
export const REPEAT = {
  /**
   * Evidence along the cancelling direction is c for a defect and 0 for a repeated pattern:
   * the midpoint between the two hypotheses (equal noise on both) decides.
   */
  evidenceShare: 0.5,
  /**
   * Pixels of a blob the evidence is averaged over, at most (evenly strided): a blob that
   * clears the seed threshold stands several sigmas out on every pixel's mean, so a few hundred
   * pixels give each direction's mean to a small fraction of c.
   */
  maxSamples: 256,
} as const;

/** Rim, notch and edge chips (locate.ts, locate-coarse.ts, rim.ts). */
export const RIM = {
  /**
   * The rim is traced at this share of the way from the chuck to the wafer level: below the
   * darkest street the spec allows (60% of the die level) for any chuck at least 20% of full
   * scale away, so streets reaching the rim read as wafer.
   */
  traceShare: 0.3,
  /**
   * The spec puts 20% of full scale between chuck and wafer; with the rim up to 12% darkened
   * by vignetting and a soft edge, half of that is the least a rim can show: a frame with no
   * two levels (or no rim step) this far apart holds no wafer.
   */
  minStepShare: 0.1,
  /** A deficit is seeded at 4 rim sigmas (p = 3e-5 per ray for Gaussian rim noise) ... */
  seedSigmas: 4,
  /** ... and grown down to 2 rim sigmas. */
  growSigmas: 2,
  /** Absolute floors, full-res px: sub-pixel rim tracing is good to about half a pixel. */
  seedFloorPx: 1.2,
  growFloorPx: 0.5,
  /** A chip must be at least 0.15% of the radius deep (a 12 px chip at 2048 bites ~1.5 px at least). */
  seedRadiusShare: 0.0015,
  /**
   * Out-of-round disks (axis ratio down to 0.993) are modelled by the rim radius's Fourier
   * terms up to this order (2 = ellipse; 3 absorbs a slightly off-centre trace), fitted
   * robustly; deficits are read against that model, not against a circle.
   */
  shapeOrder: 3,
  /** Notch candidates: 40-250% of the nominal 1% depth. */
  notchDepthRange: [0.4, 2.5] as const,
  /** A hinted notch angle matches a deficit within 2 degrees (the notch spans ~1.2 degrees). */
  notchHintToleranceDeg: 2,
  /** A chip is a bite about as deep as half its width; deeper than 0.9 x its width is a slot (a dark street). */
  chipMaxDepthToWidth: 0.9,
  /**
   * A chip candidate on a patterned wafer whose dark area looks like the same place one die
   * inwards (a street reaching the rim) is pattern, not a chip, when at least this share of
   * its pixels matches within the residual threshold.
   */
  streetMatchShare: 0.6,
} as const;

/** Grouping blobs into defects (classify.ts mergeFragments). */
export const MERGE = {
  /** Pieces closer than max(2 map px, 5 px at 2048) are one defect (a stain's patches, a halo). */
  nearGapPx: 5,
  nearGapMapPx: 2,
  /**
   * On patterned wafers a defect larger than this share of the die pitch breaks into a ring of
   * pieces (the rank statistic masks where neighbour dies share it) and leaves an echo.
   */
  bigPitchShare: 0.6,
  /** Echo reach: the references are one die (1.5 pitches covers the diagonal ones) away. */
  echoReachPitches: 1.5,
  /** How far beyond its box (share of the pitch) a host can still disturb references. */
  hostFringePitchShare: 0.25,
  /** An echo is at most about half as strong as its host (one of two pair members differs). */
  echoPeakShare: 0.6,
  /**
   * In the rim ring a reference may be extrapolated, 2 near - far: a host in the near die
   * enters it with weight 2 instead of a pair member's 1/2, so its echo is up to 4 times as
   * strong as in the interior (echoPeakShare scales by this).
   */
  extrapolatedEchoGain: 4,
  /**
   * ... unless the host is at least this many die pitches wide: then some of its own pixels
   * are compared with references inside it, its residual peak understates its contrast, and
   * an echo (half that contrast) may reach the host's peak.
   */
  broadHostPitches: 1,
  /** Collinear scratch pieces: within 15 degrees ... */
  collinearDeg: 15,
  /** ... 6 px at 2048 (or 8% of the distance) across and 40 px (or 30% of the length) apart. */
  collinearAcrossPx: 6,
  collinearGapPx: 40,
} as const;

/** Class decision (classify.ts classifyBlob), sizes in px at 2048. */
export const CLASSIFY = {
  /** Scratch: at least 40 px long (half the spec's 80, for pieces) and 4.5x longer than wide. */
  scratchMinLengthPx: 40,
  scratchMinElongation: 4.5,
  /** ... or a curved/crossing scratch: mean width <= 14 px and <= 15% of its length. */
  scratchMaxMeanWidthPx: 14,
  scratchMaxMeanWidthShare: 0.15,
  /** Particle/void boundary: the spec's 16 px (particle max = void min). */
  particleMaxCorePx: 16,
  /**
   * Half-maximum core of the smallest stain: a 60 px stain's soft edge puts half its contrast
   * at about 60% of its diameter, 35 px; below that only a void fits.
   */
  stainMinCorePx: 35,
  /** Above the largest void (90 px) with a 20% margin only a stain fits. */
  voidMaxCorePx: 110,
  /**
   * Void vs stain where sizes overlap: a void's rim (75%-to-25% fall) is at most the spec's
   * 5 px ramp (2.5 px) and 1 px blur (1.35 px) wide at 2048; our own binning and smoothing
   * add their width in quadrature. An edge wider than this factor times that is a stain.
   */
  softEdgeFactor: 1.6,
} as const;

/** Edge chips are scored against the rim threshold; blobs against the seed threshold. */
export const SCORE = {
  /** Score 0.5 at the threshold, saturating towards 1 one threshold above it. */
  atThreshold: 0.5,
} as const;

/**
 * Lattice search, coarse to fine (lattice.ts, branch lat2). The pitch candidates and each
 * candidate's first refinement are measured on the map averaged over 2 x 2 blocks when the
 * shortest pitch searched still spans this many of its pixels: 4 px per period leave the die
 * pattern's fundamental and its second harmonic below the coarse map's Nyquist limit (2 px per
 * period), and those carry the shift cost's dip at the pitch. The vector and its periodicity
 * are then fitted on the full-resolution map.
 */
export const LATTICE_SEARCH = {
  coarsePxPerPitch: 4,
  /**
   * When the notch-aligned orientation gave no clear lattice, the quadrant scan's orientation
   * is searched only if it differs from it by more than the scan's quarter-degree step (the
   * vectors' 2-D refinement absorbs less: 0.25 degrees is 0.4 px across a 100 px pitch).
   */
  sameOrientationDeg: 0.25,
  /**
   * A pitch candidate is not fitted when the difference energy at half its shift stands less
   * than this many noise variances above the noise floor (the match quality scores 0 below
   * 0.5): then the surface has no pattern there, or half the candidate lands on a repeat of it,
   * and fitting the candidate onto that repeat's multiple keeps its half on the repeat.
   */
  faintShare: 0.25,
} as const;

/**
 * Single-pixel sensor faults judged after the die-to-die comparison (sensor-faults.ts, branch
 * fault3). The spec: hot and dead pixels are single pixels and never defects; the smallest
 * particle is SPEC.particlePx[0] across at 2048 and passes through the optics' blur. The gate
 * judges isolation on raw neighbours (endpoint/quality), which a pattern edge or a 1 px motif
 * line beside the fault confuses; die to die the pattern has cancelled and only the spike is left.
 */
export const SENSOR_FAULT = {
  /**
   * A fault is the gate's own definition (quality/thresholds.ts): a spike of at least this many
   * noise sigmas of the full-resolution image ...
   */
  spikeSigmas: HOT_PIXEL_SIGMAS,
  /** ... and of at least this share of full scale (a stuck or dead pixel sits near a rail). */
  spikeMinStep: HOT_PIXEL_MIN_STEP,
  /**
   * Only a point candidate is judged: every pixel of its group within this many map px of its
   * peak (the binomial smoothing and the grow threshold spread one pixel's residual over a
   * 3 x 3 to 5 x 5 blob); anything larger is a defect's extent, never one pixel.
   */
  maxReachMapPx: 3,
  /**
   * What the gate's rim-blur measure (quality/measures.ts measureRimBlur) reads, in image px, on
   * a disk with no optical blur at all: the pixel's own area, the profile's bilinear samples and
   * 0.5 px bins (0.62 px measured at 1024 and 2048 px; test/unit/detector-sensor-faults.test.ts).
   * Deducted in quadrature to leave the optics' blur; taken a little high so the optics' blur
   * is never overstated (an overstated blur would expect more spread than a real spot has).
   */
  rimBlurSelfPx: 0.65,
} as const;

/**
 * The pixel seed's tail sample (threshold-pixel-tail.ts pixelTailFactor, branch thr3). The sample is as
 * large as the standard error of the quantile it reads allows, not larger: an order statistic
 * at probability p of n samples has SE = sqrt(p (1 - p) / n) / f(x_p), f the density there.
 * For |noise| of a Gaussian at p = DETECTION.pixelTailQuantile (x_p = 3.29 sigma,
 * f = 2 phi(3.29) = 0.00356 / sigma) a relative SE of 1% needs n = 0.000999 / (0.01 x 3.29 x
 * 0.00356)^2 = 72,800 samples (the 95th percentile it is divided by: 0.35% from the same n).
 * The factor moves the single-pixel seed threshold (6.5 sigma) only where it exceeds 1, by
 * the same share: 1% is 0.065 sigma, while the largest of the ~10^6 noise pixels of a working
 * map lies near 5 sigma, so the threshold keeps 1.5 sigma of margin, of which this is 4%; a
 * Gaussian tail's rate beyond 6.5 x 0.99 sigma is 1.2e-10 per pixel (8e-11 at 6.5).
 */
export const PIXEL_TAIL = {
  /** Relative standard error accepted on the 1e-3 tail quantile. */
  relativeError: 0.01,
  /**
   * Seed of the sample's positions: one pixel at a seeded random place in each cell of a grid
   * over the disk (stratified, so every part of the disk holds its share, and never in step
   * with a die pattern or JPEG's 8 px blocks as a regular grid can be). Any fixed number: the
   * same disk gets the same pixels every time.
   */
  sampleSeed: 0x7a11_5eed,
} as const;

/**
 * Reading the rim where the trace fails and telling the notch from chips (rim.ts, branch rim6).
 * Issue 8: chips missed on clipped, out-of-round and vignetted disks, where a chip was read as
 * the notch (its rays split by failed traces, or the notch outside the frame).
 */
export const RIM_READING = {
  /**
   * A wafer's rim never stands out of its own shape: a ray traced further out than the fitted
   * shape by more than the deficit seed threshold (RIM.seedSigmas rim sigmas) is a trace that
   * failed (the chuck darkened towards the trace level at a frame edge by frame-centred
   * vignetting), not rim, and is read as unknown like a ray that saw no rim. A gap of unknown
   * rays at most this many of the spec's smallest chips wide (12 px at 2048) is bridged by
   * interpolating the deficit across it: two bites closer than that are one defect by the
   * spec's own rule (two defects are two only when more than twice the larger one's size apart).
   */
  bridgeChipWidths: 1,
  /**
   * The notch is a 90-degree V: its sides fall 1 px of depth per px along the rim, so no two
   * neighbouring rays differ in deficit by more than their distance apart plus the trace noise
   * of a difference of two rays (sqrt 2 rim sigmas) at this many sigmas (as RIM.seedSigmas: p =
   * 3e-5 per pair). A deficit with a steeper wall (a round bite's edge) is a chip, never the notch.
   */
  notchSideNoiseSigmas: 4,
} as const;

/**
 * Seeds along a line (line-seed.ts, branch scratch5, issue 8). A scratch is 1-4 px wide and
 * 80-600 px long at 2048 (SPEC): the 3x3 smoothing that gives a particle 2.7x in SNR gives a
 * 1 px line only 1.3x, so a scratch near the must-find contrast reaches a few sigmas per pixel
 * and is never seeded. Summed along its length its evidence grows like sqrt(length) against
 * the noise. The statistic: the mean score along a short segment through the pixel, less the
 * mean of two parallel segments beside it (a ridge: smooth background, a stain's interior or
 * its soft edge give zero), in a few directions; its noise is measured on the wafer per
 * direction, and it seeds at the pixel seed's false-alarm rate with the directions' multiple
 * testing counted.
 */
export const LINE_SEED = {
  /**
   * Segment length in map px (odd: centred on the pixel). The shortest scratch is 80 px at 2048,
   * 40 map px (30 at 1536 px frames, binned by 2): a segment of 15 stays within half of it, and
   * a gently curved scratch is straight over it.
   */
  segmentMapPx: 15,
  /**
   * Samples along a segment every 2 map px (8 over 15 px): the score is binomial-smoothed, which
   * correlates neighbours by 0.67 at 1 px and 0.17 at 2 px, so 15 adjacent samples hold about
   * 15 / (1 + 2 (0.67 + 0.17)) = 5.6 independent ones and 8 spaced ones about 6: the same
   * evidence for half the reads (the test is memory-bound: rows 7 apart are far in memory).
   */
  sampleStepMapPx: 2,
  /**
   * Directions over 180 degrees: 15 degree steps leave at most 7.5 degrees between a line and
   * the nearest direction, which moves a segment's ends 7 sin(7.5 deg) = 0.9 map px off the line:
   * within the half-maximum of a smoothed 1 map px line ([1 2 1] / 4 keeps half at +-1 px).
   */
  directions: 12,
  /**
   * The side segments' distance across, map px: the widest scratch (4 px at 2048, 2 map px)
   * smoothed by the binomial (one px each side) ends at 2 px from its centre; the spec's
   * correlation length (1 px) and one more for margin put the sides clear of it.
   */
  sideOffsetMapPx: 4,
  /**
   * A line stands above both sides by its contrast (both flank differences equal the ridge); a
   * step between the centre and one side leaves one flank at 0 and the other at twice the
   * ridge. The midpoint between the two decides: each flank must reach half the ridge.
   */
  flankShare: 0.5,
  /**
   * Speed: only pixels whose own score passes this many sigmas (half the smoothed seed's 6) are
   * tried as the centre of a segment. On the wafers measured the line's threshold (familySigmas
   * x its noise) sits near 2 sigmas, so a line worth seeding has a mean of 2-6 sigmas along it,
   * and a fair share of its 40 or more map px pass 3 sigma: it is still seeded along its
   * length, while noise offers 0.27% of the pixels as candidates instead of the grow
   * threshold's 1.2%.
   */
  candidateSigmas: 3,
  /**
   * Noise of the statistic: one sample at a seeded random place in each cell of this many map
   * px (stratified, never in step with a die pattern or JPEG blocks), the directions taken in
   * turn: ~3,000 samples on a 1024 px map's disk read the 95th percentile to about 2%, and its
   * value over 1.96 is the sigma (DETECTION.q95ToSigma), as for every other seed. Speed: each
   * sample reads the per-pixel sigma and 24 map pixels rows apart.
   */
  noiseCellMapPx: 16,
  sampleSeed: 0x5c4a_7c11,
} as const;

/**
 * How the sensor-fault rule reads a candidate's spread (sensor-faults.ts, branch faults7; round 19
 * of docs/detector-recall.md). Round 16 found faults the rule left beside pattern detail, under
 * JPEG and at the spec's top noise: it summed the largest of four pair differences per
 * neighbour (biased up by one direction's residue or ringing, and with a noise the margin did not
 * describe) and asked the midpoint between "fault" and "smallest spot" to be 4 sigmas from both.
 */
export const FAULT_SPREAD = {
  /**
   * A real spot is judged with this many noise sigmas on its own side: the rule calls a fault
   * only when the neighbours' weighted response is this far under what the spec's smallest
   * particle would give at this spike (p = 3e-5 per candidate that a real particle is taken for
   * a fault; a wafer has a handful of candidates). The other side needs no margin: a fault the
   * rule cannot call stays a defect, as it would without the rule.
   */
  spotSigmas: 4,
  /**
   * Variance of the median of n independent unit normals, n = 1..4 (for four, the mean of the
   * middle two), by integrating their order statistics' densities: what the median of the pair
   * references' means adds to a pixel's own noise (pairMedianSigma).
   */
  medianVariance: [1, 0.5, 0.4487, 0.2982],
  /**
   * Directions whose references must lie on the wafer (of a, b, a + b, a - b): with three, one
   * direction's pattern residue or ringing cannot move the median; in the rim ring one or two
   * references fall off the disk and are left out instead of the candidate.
   */
  minDirections: 3,
} as const;

/**
 * A weak line on a narrow street's centre that is the street's sub-pixel sampling phase, not a
 * scratch (lattice-line.ts isStreetPhaseLine, branch faults7; rounds 16 and 19 of
 * docs/detector-recall.md). The die-to-die allowance is bounded by the reference cell's 2 x 2
 * range, which a trough a pixel or two wide does not show; what is left belongs to the whole die
 * row or column (every die along it has the same street at its own phase), while a scratch ends.
 */
export const STREET_PHASE = {
  /**
   * The line's centre within this many map px of a street centre line, plus one bin of the
   * lattice's street-phase reading (a pitch over phaseBins): the binomial smoothing spreads a
   * trough's leftover one map px either side of the trough.
   */
  centreMapPx: 1,
  /** Bins per pitch of the street-phase reading (lattice-projections.ts streetPhase): its resolution. */
  phaseBins: 64,
  /**
   * One pitch past an end the residual reads 0 for a scratch (it has ended) and the line's own
   * level c for a die row's leftover (the same street, the same die phase): the midpoint between
   * the two hypotheses decides, as LATTICE_LINE.repeatShare does across the line.
   */
  pastEndShare: 0.5,
  /**
   * Samples past an end a reading needs: a line that clears the seed stands several sigmas out,
   * so a mean over this many (smoothed, about 3 px correlated) reads c to a fraction of itself.
   */
  minPastSamples: 12,
} as const;

/**
 * The noise floors of a patterned wafer's comparison (die-to-die allowance, residual) and score
 * (branch floor8, docs/detector-recall.md rounds 20-21). They come from the die-difference noise
 * (noise.ts estimateDieDifferenceNoise on the smoothed map the comparison runs on), where the
 * pattern cancels, instead of max(binomialNoiseGain x sigmaMap, die difference): sigmaMap, a
 * Laplacian MAD on the raw map, reads street and motif edges as noise once they cover much of
 * the disk (dies under about 22 map px: 1.7x the noise, up to 2.3x), while the die difference
 * read 0.97-1.07x. The max had been kept for correlated noise, blur and JPEG, which the die
 * difference measures too (it runs on the same smoothed map). Bare wafers, and wafers where the
 * die difference has too few samples, keep sigmaMap.
 */
export const COMPARISON_FLOOR = {
  /**
   * The least per-pixel sigma of an integer image's map, in grey levels of one image pixel
   * (divided by the map's binning scale, times the binomial gain): rounding to integers adds a
   * uniform error of sigma 1/sqrt(12) = 0.29; a third of a level, as the noise stage's floor.
   */
  quantisationLevels: 0.3,
} as const;

/**
 * The die-to-die allowance judged over a footprint (die-to-die-footprint.ts, branch allowance8,
 * docs/detector-recall.md round 23): a shift or blur of the references leaves second
 * differences whose sum over a box telescopes to its sides; a particle adds one-signed flux.
 */
export const FOOTPRINT_FLUX = {
  /**
   * Candidates: local maxima of |residual| at least this many pair-difference sigmas. Gaussian
   * noise puts the 2nd smallest of four pair differences there about once in 10^4 pixels; a
   * particle the allowance cut by half from the spec's must-find floor (5 raw noise sigmas,
   * about 6 pair sigmas of the smoothed map for a 3 px spot) still stands there.
   */
  candidateSigmas: 3,
  /**
   * The flux statistic's noise and the shift model's coefficients are measured on the wafer at
   * about this many footprints on a grid (8 values each: four directions, two signs): the 84th
   * percentile of 2,400 values is known to about 3%, three coefficients from 300 footprints to
   * a few % of their spread, and defects are a vanishing share of the grid.
   */
  noiseFootprints: 300,
  /**
   * The shift model's coefficients are fitted on the same footprints; a second fit leaves out
   * those this many robust sigmas off the first (defects, detail the model does not describe):
   * p = 6e-5 for Gaussian noise, so noise alone drops almost none.
   */
  trimSigmas: 4,
  /**
   * Each coefficient's bound is its fitted magnitude plus this many standard errors (p = 3e-5
   * one-sided that a shift puts more there), never more than the shift model allows.
   */
  coefficientSigmas: 4,
  /**
   * The statistic's noise is read on the footprints whose shift bound is in this lowest share
   * (the streets' and dies' flat parts, which every spec pattern has: a motif does not fill a
   * die): there the flux over the bound is noise alone.
   */
  flatShare: 0.25,
  /**
   * Detail the shift model does not describe (sharp edges between samples) would pass the
   * noise's threshold on motif: the threshold is at least the grid's own quantile at this share,
   * so no more than 1 in 500 footprints of the clean wafer would pass (2,400 values: about five
   * beyond it, a stable enough tail).
   */
  gridPassShare: 0.002,
  /** Too few footprints (a disk smaller than a few dies of interior): no judgement, no change. */
  minNoiseFootprints: 64,
  /** The one-sigma quantile of a normal (Phi(1)), for the spread of the measured statistic. */
  oneSigmaQuantile: 0.8413,
  /**
   * Flux beyond the shift model must clear the measured median by this many sigmas in each of
   * three directions: one-sided p = 3e-5 per direction, and the residual's 2nd-smallest rule
   * needs three such directions before anything moves.
   */
  fluxSigmas: 4,
} as const;

/**
 * A street sampling-phase row that no scratch explains by its length (lattice-line.ts
 * longestScratchPx, branch phase9; docs/detector-recall.md round 25). Used only for a weak line
 * on a street's centre line (STREET_PHASE's test of where it lies): there, a line longer than
 * one scratch can be is the row's leftover even where nothing past its ends can be read (a row
 * across the whole disk ends at the rim ring).
 */
export const STREET_PHASE_ROW = {
  /**
   * Past the spec's longest scratch (SPEC.scratchLengthPx), this many die pitches along the row:
   * a scratch on a street whose row carries a leftover may have been joined with one of the
   * row's fragments (a die apart, as the pixel seed leaves them) beyond each end.
   */
  endPitches: 2,
} as const;

/**
 * The die-difference noise's second reading, along b, made only where the gate along a passes
 * too few samples (noise.ts estimateDieDifferenceNoise; branch phase9, docs/detector-recall.md
 * round 25): it costs a second pass over the grid on the finest dies.
 */
export const DIE_DIFFERENCE_SECOND_READING = {
  /**
   * Share of the first reading's samples it reads (its grid's step twice as coarse): 25,000 of
   * 100,000, of which at least a fifth pass its gate; a median of 5,000 |differences| reads sigma
   * to about 1.1% (the MAD's relative standard error, 0.78 / sqrt(n)), well under the 10-100%
   * by which the two directions' readings differ on the finest dies.
   */
  gridShare: 0.25,
} as const;

/**
 * The score's tail read on noise only (score-tail.ts notNoiseBlobs, branch tail9;
 * docs/detector-recall.md round 30): grown blobs that are defects or pattern lines are left out
 * of the measurement, so that they cannot raise the bar a particle must clear.
 */
export const SCORE_TAIL = {
  /**
   * A grown blob longer than this many of the spec's largest particles (SPEC.particlePx, 16 px
   * at 2048) is not one excursion of noise. One excursion (a JPEG block is 8 px, correlated
   * noise 1 px long) grown to its 2.5-sigma flanks spans at most a particle plus the blur
   * (1 px sigma) and the score's 3x3 smoothing each side; twice the largest particle leaves
   * room for both at every map scale, and every stain (60 px and up), scratch and street line
   * is longer.
   */
  noiseBlobMaxExtentParticles: 2,
} as const;

/**
 * The full-resolution trace from a coarse disk (locate.ts traceRim) looks for the rim out to
 * this window beyond the coarse circle; a disk of the rim's local step reaching past it is a rim
 * that trace cannot see, so the coarse disk of one level is then not the wafer (round 49).
 */
export const COARSE_TRACE = {
  /**
   * The window's outer end as a share of the coarse radius: the coarse circle, fitted on the
   * overview, is good to well under 1% of the radius, and the spec's out-of-round disk (axis
   * ratio 0.993) reaches 0.7% past it; 3% (the value traceRim has always used) covers both.
   */
  outwardShare: 1.03,
  /** ... plus this many overview pixels (the coarse fit's own error, as SEEDED_TRACE's seed). */
  marginPixels: 2,
} as const;

/**
 * Locate's trace started from a disk found before detection (the quality gate's fit; locate.ts
 * traceFromSeed, branch speed11): how far beyond the seed's circle the rays must reach.
 */
export const SEEDED_TRACE = {
  /**
   * The spec's disk is out of round down to an axis ratio of 0.993: its rim lies up to that
   * share of the radius beyond a circle fitted to it (the whole 0.7%, not half, so that a seed
   * fitted to a differently weighted set of rim points is covered too).
   */
  outOfRoundShare: 1 - 0.993,
  /**
   * The seed's own error, in pixels of the overview it was fitted on: its rim crossings are
   * sub-pixel there, and the circle through 360 of them is good to well under one such pixel;
   * two, as the coarse pass's margin (castRays' window in traceRim) has always allowed.
   */
  seedErrorPixels: 2,
  /** castRays' refinement reads six samples beyond the crossing: one more keeps it in the ray. */
  refineSamples: 7,
} as const;

/**
 * The linear-interpolation error of the die-to-die references (die-to-die-allowance.ts
 * boundInterpolationError, branch trough9, docs/detector-recall.md round 31): a pair's allowance
 * also forgives f(1 - f) / 2 x the pattern's second difference across each axis (the textbook
 * bound: no tuned share), where the direction sampled at the pixel's own phase agrees with it.
 */
export const INTERPOLATION_ERROR = {
  /**
   * Read where |residual| is at least this many pair-difference sigmas (the footprint pass's
   * candidate floor, FOOTPRINT_FLUX.candidateSigmas: the 2nd smallest of four Gaussian pair
   * differences passes it about once in 10^4 pixels, and a must-find particle stands about 6
   * there); an anchor direction "agrees" under the same level (a defect that reaches detection
   * differs from it by more).
   */
  gatePairSigmas: 3,
  /**
   * The anchor agrees with a pixel when their difference is also under this share of the
   * pixel's residual: the midpoint between the two hypotheses (a sampling leftover: the anchor
   * reads about 0; a defect in the die under test: the anchor reads the residual), as
   * STREET_PHASE.pastEndShare decides between a scratch and a row. A weak defect near the gate
   * then needs noise of half its size, not of what is left under the gate, to pass as agreeing.
   */
  agreeShare: 0.5,
} as const;

/**
 * A spot-sized particle's strength read on the unsmoothed residual (spot-statistic.ts, branch
 * spot35, round 35 of docs/detector-recall.md; group D-spot of round 32). The score smooths the
 * residual a second time (3x3 binomial on top of the comparison's): matched to a blob of about
 * 1 map px sigma, it keeps 48-60% of the residual's peak for the spec's smallest particle (3 px
 * across, energy in one or two pixels). The residual itself (the comparison's one smoothing, the
 * binomial's sigma 0.71 px) is the statistic matched to that spot, and the pixel seed already
 * tests it at DETECTION.pixelSeedSigmas of its own measured noise (per activity class, floored by
 * the die-difference noise of the same map, times its measured tail: JPEG and correlated noise
 * included), p = 8e-11 per pixel under a Gaussian tail: under 1e-4 per wafer of 1e6 pixels.
 * A particle-sized group whose residual passes that test is kept at classify even when its
 * score's strength stays under the score tail, provided its footprint is a spot's, not a hot
 * pixel's: the spec's hot pixels are single pixels and never defects.
 */
export const SPOT_STATISTIC = {
  /**
   * The spot seed's false-alarm budget, expected Gaussian false seeds per wafer: the seed's
   * threshold in sigmas is z with 2 N Q(z) = this (both signs; N the analysis disk's map pixels,
   * every pixel counted as an independent test: the residual's smoothing correlates neighbours,
   * so the true number of tests is smaller and the rate lower). A tenth of the spec's target of
   * 0.02 false alarms per clean wafer, the rest left to every other stage: a judgement. At a
   * 1024 px map (N about 7e5) it reads 5.95 sigmas against the pixel seed's fixed 6.5. Measured
   * (round 35): at 0.01 per wafer the spot seed added 3 false alarms on 390 tuning wafers
   * (0.0077 per wafer: the noise model, with the pixel seed's measured tail, holds the budget);
   * the budget is therefore the trade itself, and 0.01 cost as many false alarms as half the
   * particles it found.
   */
  falseAlarmsPerWafer: 0.002,
  /**
   * The footprint test (sensor-faults.ts readSensorFault: the 8 neighbours' die-to-die medians
   * on the unsmoothed map, weighted by the spec's smallest spot's own profile): a candidate has
   * a spot's footprint when that response reaches this share of what the smallest spot would
   * give at its spike. The midpoint between the two hypotheses (a single hot pixel: 0; the
   * smallest spot: at least the full response), as INTERPOLATION_ERROR.agreeShare decides.
   */
  spreadShare: 0.5,
  /**
   * The direction test (readSensorFault's pair differences at the spike's pixel on the
   * unsmoothed map): a spot candidate's least pair difference must reach this share of the
   * spike (their median). A spot in the die under test adds its contrast to every pair
   * difference alike (share 1); a difference that one direction does not see reads 0 there.
   * A street along a lattice axis does that: the dies along it sample it at the same sub-pixel
   * phase (that pair reads 0), the dies across it at other phases, and where the street is
   * about a map pixel wide the die under test can hold its trough in one pixel while the
   * references straddle it (a flat 2x2 cell: no allowance); a reticle field's boundary street,
   * up to 3% darker than the others (spec), is shared the same way. The midpoint of the two,
   * as spreadShare. Noise: the pairs share the centre pixel, so they differ only by their
   * references' averages (a pixel sigma between two of them): a spot at the spot seed's
   * threshold (3-4 pair sigmas at its spike) keeps about 2 pixel sigmas of margin per
   * direction. Round 38 (docs/detector-recall.md): in such a street's trough in the rim ring,
   * SYN-7065-3/wafer-001 (1622, 440) read 0.38; the spot rule's seven gains 0.87-1.
   */
  agreeShare: 0.5,
} as const;
