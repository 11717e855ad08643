// Every limit of the image-quality gate in one place, each with the spec range it guards (docs/wafer-images.md).

/**
 * The spec's noise sigma is at most 1.5% of full scale. "Clearly outside" is twice that: an
 * in-spec image never gets there, and the 5-sigma detectability rule has become 15% of full
 * scale, so most in-spec defects could no longer be told from noise.
 */
export const MAX_NOISE_SIGMA = 0.03;

/**
 * Blur in spec is up to 1 px (Gaussian sigma at 2048 px); the rim of a sharp image also spreads
 * by the pixel itself (a 1 px box: sigma 0.29 px) and a JPEG pass. Three times the spec's blur
 * is clearly outside: a 3 px particle is then smeared to a fraction of its contrast.
 */
export const MAX_BLUR_SIGMA_PX_2048 = 3;

/** The spec itself: more than 5% of the wafer area saturated makes an image unusable. */
export const MAX_SATURATED_FRACTION = 0.05;

/** The spec itself: more than 5% of the wafer area black makes an image unusable. */
export const MAX_BLACK_FRACTION = 0.05;

/**
 * The spec puts at least 20% of full scale between chuck and wafer; half of that is clearly
 * outside, and below it a frame of noise or a uniform grey frame has no wafer to find.
 */
export const MIN_CHUCK_CONTRAST = 0.1;

/**
 * A wafer in spec is a disk with an axis ratio of at least 0.993 (rim within 0.35% of the fitted
 * circle), one notch (1% of the radius deep) and a few edge chips, which the fit drops as
 * outliers. An RMS residual of 2% of the radius is clearly not such a disk (a square's is 7%).
 */
export const MAX_RIM_RESIDUAL = 0.02;

/**
 * The spec's diameter is 80-98% of the shorter side (a disk may leave the frame by 1%); outside
 * 70-105% what was fitted is not a wafer of the spec.
 */
export const DIAMETER_FRACTION_RANGE: readonly [number, number] = [0.7, 1.05];

/** The spec's centre is within 3% of the frame centre; twice that is clearly outside. */
export const MAX_CENTRE_OFFSET_FRACTION = 0.06;

/**
 * A rim must be seen on at least this share of the directions from the centre. At the spec's
 * extreme (98% of the frame, 3% off centre, leaving it by 1%) over half of the rim is still in
 * the frame; a frame of noise or texture has no rim to find.
 */
export const MIN_RIM_COVERAGE = 0.3;

/**
 * Inside the rim, a wafer is one surface: dies, streets and motif all differ from the chuck by
 * the spec's 20% of full scale, and the largest defect (a 300 px stain at 2048 px) covers under
 * 2% of the disk. A checkerboard or other picture fills a "disk" with both classes.
 */
export const MIN_WAFER_INTERIOR = 0.9;

/**
 * Hot or dead pixels (the spec's camera faults, up to 50 per image) differ from all 8 neighbours
 * by far more than the noise: at least this many noise sigmas from their neighbours' median.
 * 12 sigma is never reached by Gaussian noise over a whole 8192 px frame (p ~ 1e-33 per pixel).
 */
export const HOT_PIXEL_SIGMAS = 12;

/**
 * ... and from each neighbour by at least this share of that: the neighbours agree with each
 * other. The smallest particle (3 px across at 2048 px) lends its 4-neighbours over half its
 * contrast (share <= 0.7), so it is never taken for a hot pixel at 2048 px and above.
 */
export const HOT_PIXEL_ISOLATION = 0.8;

/**
 * Beside a street or motif edge the 8 neighbours do not agree, and the pixel is judged along
 * the structure instead (measures.ts): against the opposite pair two pixels out that differ
 * least, with no neighbour carrying more than 1 - HOT_PIXEL_ISOLATION of the spike above its
 * own best-fitting local line. There it must also stand out of every line through itself (the
 * mean of each opposite pair of neighbours) by at least this share of the spike: a pixel of a
 * scratch or motif line has both line neighbours at its level (it stands out of that pair by
 * nothing), a fault beside an edge has at most one neighbour of each pair on the far side, so
 * the pair's mean lies at most half-way (the spec's darkest street, 60% of the die level, puts
 * it at 0.6-0.8 of the spike for a dead pixel on the die). For the same reason no pixel two
 * out may carry this share of the spike: a motif finer than that (pads two pixels apart) does,
 * a street beside the fault carries at most 40% of a dead pixel's spike.
 */
export const HOT_PIXEL_OFF_LINE = 0.5;

/**
 * ... and by at least this share of full scale. A die motif can hold single-pixel features
 * (pads of a small die) a few percent off their surroundings, repeated in every die: those are
 * surface, left to the detector's die-to-die comparison. A stuck or dead pixel sits near a rail,
 * tens of percent away from any wafer level in the spec.
 */
export const HOT_PIXEL_MIN_STEP = 0.1;

/** Noise below this (fraction of full scale) is taken as this, so noiseless rasters keep detail. */
export const NOISE_FLOOR = 0.002;
