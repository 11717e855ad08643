// Exact order statistics of large non-negative samples in about two linear passes (noise tails of the residual).
import { selectKth } from "./raster.ts";

/**
 * Below this many values one quickselect is as cheap as the histogram passes (which clear and
 * walk only the bins their values fill): about equal at 3,000, the histogram 2.5x faster at 10,000.
 */
const SMALL = 2048;
/** Histogram bins: the top 16 bits of a value's (high) word, sign and exponent first. */
const BINS = 1 << 16;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** One histogram for every call (detection is synchronous): cleared, never reallocated. */
const histogram = new Int32Array(BINS);
/** The bins of `histogram` that may hold counts (all of them until a pass completes). */
const filledBins = { low: 0, high: BINS - 1 };
/** Each wanted bin's next place in the gathering pool during a call, -1 for every other bin. */
const cursor = new Int32Array(BINS).fill(-1);

/**
 * The k-th smallest of values[0..count), for each k of `ranks`: the same values selectKth
 * returns, for samples of magnitudes (all >= +0, none NaN). A non-negative float's bit
 * pattern orders like its value, so one histogram of the top bits names the bin holding each
 * rank, and only those bins' values go through a quickselect: on 550,000 |residual| samples
 * about 1-2 ms instead of 5-25 ms per rank. The values are never reordered; a sample with a
 * sign bit, an infinity or a NaN sends a copy of them to selectKth, so the answers never
 * differ from it.
 */
export function selectRanksOfMagnitudes(
  values: Float32Array | Float64Array,
  count: number,
  ranks: readonly number[],
): number[] {
  const out = new Float64Array(ranks.length);
  selectRanksInto(values, count, Int32Array.from(ranks), out);
  return Array.from(out);
}

/**
 * selectRanksOfMagnitudes' work, on ranks and answers held in typed arrays: the callers' rank
 * lists and answer lists are arrays of several element kinds (small integers, doubles), and
 * code V8 compiled for one kind left for the interpreter at every call with another (about two
 * deoptimisations per detection, each finishing a pass over the sample unoptimised).
 */
function selectRanksInto(
  values: Float32Array | Float64Array,
  count: number,
  ranks: Int32Array,
  out: Float64Array,
): void {
  if (count < SMALL || !LITTLE_ENDIAN) {
    quickselectEach(values, count, ranks, out);
    return;
  }
  const wide = values instanceof Float64Array;
  // The word with the sign and exponent: the high half of a double, the whole of a float.
  const words = new Uint32Array(values.buffer, values.byteOffset, wide ? 2 * count : count);
  const first = wide ? 1 : 0;
  const stride = wide ? 2 : 1;
  // Infinity, NaN or a set sign bit (negative values, -0) from here up.
  const odd = wide ? 0x7ff00000 : 0x7f800000;
  if (ranks.length === 1) {
    const bracketed = selectBracketed(values, words, count, ranks[0] as number, first, stride, odd);
    if (bracketed === ODD) {
      quickselectEach(values, count, ranks, out);
      return;
    }
    if (bracketed !== MISSED) {
      out[0] = bracketed;
      return;
    }
  }
  // Only the bins the last call filled are cleared, and the walk below starts at the lowest
  // filled one: a sample of a few thousand values then pays for its own range, not all bins.
  histogram.fill(0, filledBins.low, filledBins.high + 1);
  filledBins.low = 0;
  filledBins.high = BINS - 1;
  if (!histogramOfWords(words, first, stride, odd)) {
    quickselectEach(values, count, ranks, out);
    return;
  }
  const low = filledBins.low;
  // Each rank's bin and how many values lie in lower bins: one walk up the bins for all ranks,
  // taken in rising order, each going on from where the one below stopped (the walk for a
  // rank passes through every state the walk for a lower rank stops at). One walk per rank
  // from the lowest bin cost about 16,000 empty bins each when the sample holds zeros (bin
  // 0) and its other values lie near 1 (bins near 0x3ff0 for doubles).
  const foundBin = new Int32Array(ranks.length);
  const foundBelow = new Int32Array(ranks.length);
  const rising: number[] = [];
  for (let j = 0; j < ranks.length; j++) rising.push(j);
  rising.sort((a, b) => (ranks[a] as number) - (ranks[b] as number));
  let below = 0;
  let bin = low;
  for (const j of rising) {
    const k = ranks[j] as number;
    while (below + (histogram[bin] as number) <= k) below += histogram[bin++] as number;
    foundBin[j] = bin;
    foundBelow[j] = below;
  }
  // The distinct bins wanted (a few), each with the array its values are gathered into.
  const bins: number[] = [];
  for (let j = 0; j < ranks.length; j++)
    if (!bins.includes(foundBin[j] as number)) bins.push(foundBin[j] as number);
  // The wanted bins' values, gathered in one pool, a slice per bin in value order; `cursor`
  // holds each wanted bin's next place in it (-1 for the others), so a value finds its slice
  // by one table read where a search of the wanted bins cost a branch taken at random per
  // value (several for the class bounds' five ranks).
  const starts = new Int32Array(bins.length + 1);
  for (let b = 0; b < bins.length; b++)
    starts[b + 1] = (starts[b] as number) + (histogram[bins[b] as number] as number);
  const pool = new Float64Array(starts[bins.length] as number);
  for (let b = 0; b < bins.length; b++) cursor[bins[b] as number] = starts[b] as number;
  let lowestBin = BINS;
  let highestBin = -1;
  for (const wanted of bins) {
    if (wanted < lowestBin) lowestBin = wanted;
    if (wanted > highestBin) highestBin = wanted;
  }
  gatherWantedBins(values, words, count, first, stride, lowestBin, highestBin - lowestBin, pool);
  for (const wanted of bins) cursor[wanted] = -1;
  for (let j = 0; j < ranks.length; j++) {
    const b = bins.indexOf(foundBin[j] as number);
    const size = (starts[b + 1] as number) - (starts[b] as number);
    out[j] = selectKth(
      pool.subarray(starts[b] as number, starts[b + 1] as number),
      size,
      (ranks[j] as number) - (foundBelow[j] as number),
    );
  }
}

/** selectKth of a copy of values[0..count) for each rank: the answer for odd or small samples. */
function quickselectEach(
  values: Float32Array | Float64Array,
  count: number,
  ranks: Int32Array,
  out: Float64Array,
): void {
  for (let j = 0; j < ranks.length; j++)
    out[j] = selectKth(values.slice(0, count), count, ranks[j] as number);
}

/**
 * The histogram of the words' top 16 bits (`histogram`, cleared by the caller), with the
 * lowest and highest filled bin in `filledBins`; false (filledBins left spanning every bin) at
 * the first odd word.
 */
function histogramOfWords(words: Uint32Array, first: number, stride: number, odd: number): boolean {
  let low = BINS;
  let high = -1;
  for (let w = first; w < words.length; w += stride) {
    const word = words[w] as number;
    if (word >= odd) return false;
    const bin = word >>> 16;
    if (bin < low) low = bin;
    if (bin > high) high = bin;
    histogram[bin] = (histogram[bin] as number) + 1;
  }
  filledBins.low = low;
  filledBins.high = high;
  return true;
}

/**
 * The wanted bins' values into their slices of `pool`, in value order, through `cursor`. The
 * wanted bins lie close together: one range test passes over nearly every value. It is one
 * unsigned comparison (a bin below the lowest wraps above the span): two comparisons were a
 * branch taken at random for a median (half the values below it, half above).
 */
function gatherWantedBins(
  values: Float32Array | Float64Array,
  words: Uint32Array,
  count: number,
  first: number,
  stride: number,
  lowestBin: number,
  span: number,
  pool: Float64Array,
): void {
  for (let i = 0, w = first; i < count; i++, w += stride) {
    const bin = (words[w] as number) >>> 16;
    if ((bin - lowestBin) >>> 0 > span) continue;
    const at = cursor[bin] as number;
    if (at < 0) continue;
    pool[at] = values[i] as number;
    cursor[bin] = at + 1;
  }
}

/** Values of the bracket's sample: enough that a median's bracket holds about 4% of the values. */
const SAMPLE = 8192;
/** Half-width of the bracket around the rank's place in the sample, in its standard deviations. */
const BRACKET_DEVIATIONS = 4;
/** selectBracketed's answers that are not a value: an odd word seen, or the rank outside the bracket. */
const ODD = -1;
const MISSED = -2;

/**
 * The k-th smallest in one pass over the values (the histogram needs two, and a walk of its
 * bins): a spread-out sample of the (high) words, sorted, gives two words that bracket the
 * rank's place with a margin of BRACKET_DEVIATIONS binomial deviations; the pass counts the
 * values whose word lies below the bracket (a sign bit of the difference, no branch) and
 * gathers those inside it, and a quickselect of the gathered values picks the rank. Words
 * order like the values, so every value below the bracket is smaller than every gathered one
 * and every value above it larger: the answer is selectKth's, whatever the sample. When the
 * rank falls outside the bracket (a sample that missed) or more values than expected share it
 * (ties), MISSED sends the call to the histogram; a word past `odd`, ODD to quickselect.
 */
function selectBracketed(
  values: Float32Array | Float64Array,
  words: Uint32Array,
  count: number,
  k: number,
  first: number,
  stride: number,
  odd: number,
): number {
  // Every step-th word from the start (whole numbers, exact as doubles): two quickselects
  // find the bracket's words, cheaper than sorting the sample. At most an eighth of the
  // values, so that on small samples the pass, not the sample, does most of the work.
  const step = Math.max(8, Math.floor(count / SAMPLE));
  const size = Math.floor((count - 1) / step) + 1;
  const sample = scratch(size, "sample");
  for (let j = 0, w = first; j < size; j++, w += step * stride) sample[j] = words[w] as number;
  sampleBracket(sample, size, (k + 0.5) / count, odd);
  const { lowIndex, highIndex, lowWord, highWord } = bracket;
  if (lowWord >= odd || highWord >= odd) return ODD;
  // Room for four times the share the bracket should hold; more (ties) goes to the histogram.
  const capacity = Math.min(count, Math.ceil((4 * count * (highIndex - lowIndex)) / size) + 1024);
  const gathered = scratch(capacity, "gathered");
  // Signed words: both operands of the difference then stay 32-bit integers.
  const signed = new Int32Array(words.buffer, words.byteOffset, words.length);
  const inside =
    values instanceof Float32Array
      ? gatherNarrow(values, signed, count, lowWord, highWord - lowWord, odd, gathered, capacity)
      : gatherWide(values, signed, count, lowWord, highWord - lowWord, odd, gathered, capacity);
  if (inside === ODD || inside === MISSED) return inside;
  const rank = k - lastPass.below;
  if (rank < 0 || rank >= inside) return MISSED;
  return selectKth(gathered, inside, rank);
}

/** The last sampleBracket's answer (one object for the module, as lastPass: no allocation per call). */
const bracket = { lowIndex: 0, highIndex: 0, lowWord: 0, highWord: 0 };

/**
 * Into `bracket`: the sample's indices around the rank at `share` of it, BRACKET_DEVIATIONS
 * binomial deviations (and 2) either side, and the sample's words at them (`odd` - 1 past its
 * end); the quickselects reorder the sample.
 */
function sampleBracket(sample: Float64Array, size: number, share: number, odd: number): void {
  const place = share * size - 0.5;
  const margin = BRACKET_DEVIATIONS * Math.sqrt(size * share * (1 - share)) + 2;
  const lowIndex = Math.floor(place - margin);
  const highIndex = Math.ceil(place + margin);
  const lowWord = lowIndex < 0 ? 0 : selectKth(sample, size, lowIndex);
  // The first quickselect left every sample word from lowIndex up at or above lowWord, so
  // the high one is the (highIndex - lowIndex)-th of that tail: the same order statistic.
  bracket.highWord =
    highIndex >= size
      ? odd - 1
      : lowIndex < 0
        ? selectKth(sample, size, highIndex)
        : selectKth(sample.subarray(lowIndex, size), size - lowIndex, highIndex - lowIndex);
  bracket.lowIndex = lowIndex;
  bracket.highIndex = highIndex;
  bracket.lowWord = lowWord;
}

/** How many values the last gathering pass found below its bracket. */
const lastPass = { below: 0 };

/**
 * selectBracketed's pass over float32 values (the word is the whole value), one loop per width
 * so that each reads one kind of array at a fixed stride: the count of values gathered (the
 * count below the bracket in lastPass), or ODD / MISSED. A word read as
 * unsigned is at or past `odd` exactly when it is odd or has its sign bit set (odd < 2^31).
 */
function gatherNarrow(
  values: Float32Array,
  signed: Int32Array,
  count: number,
  lowWord: number,
  span: number,
  odd: number,
  gathered: Float64Array,
  capacity: number,
): number {
  let below = 0;
  let inside = 0;
  for (let i = 0; i < count; i++) {
    const word = signed[i] as number;
    if (word >>> 0 >= odd) return ODD;
    const offset = (word - lowWord) | 0;
    // Bit 31 of the difference is set exactly when the word lies below the bracket.
    below += offset >>> 31;
    if (offset >>> 0 > span) continue;
    if (inside === capacity) return MISSED;
    gathered[inside++] = values[i] as number;
  }
  lastPass.below = below;
  return inside;
}

/** gatherNarrow for float64 values: the word is each value's high half (the odd index). */
function gatherWide(
  values: Float64Array,
  signed: Int32Array,
  count: number,
  lowWord: number,
  span: number,
  odd: number,
  gathered: Float64Array,
  capacity: number,
): number {
  let below = 0;
  let inside = 0;
  for (let i = 0; i < count; i++) {
    const word = signed[2 * i + 1] as number;
    if (word >>> 0 >= odd) return ODD;
    const offset = (word - lowWord) | 0;
    below += offset >>> 31;
    if (offset >>> 0 > span) continue;
    if (inside === capacity) return MISSED;
    gathered[inside++] = values[i] as number;
  }
  lastPass.below = below;
  return inside;
}

/**
 * quantileOfMagnitudes of the values whose key passes the gate (keys[i] <= gate; a NaN key
 * fails), over values[0..count) in one pass, without moving the passing values to the front
 * first: the quantile and how many passed, or null (the caller then compacts and asks
 * quantileOfMagnitudes). The rank is that of the passing count m (round(q (m - 1))), known at
 * the pass's end: the bracket is placed by share, from a spread-out sample of the passing
 * values, as selectBracketed places its own. A passing value with an odd word (sign bit,
 * infinity, NaN), a rank outside the bracket or an overfull bracket gives null. Otherwise
 * the answer is the rank's order statistic of the passing values, which is quantileOfMagnitudes'
 * answer on them (no -0 or NaN among them, so that value is one number whichever way it is
 * selected). `passing` alone is exact when m < minimum (the caller's "too few passed": no
 * quantile is taken, its value is NaN).
 */
export function gatedQuantileOfMagnitudes(
  values: Float32Array,
  keys: Float32Array,
  count: number,
  gate: number,
  q: number,
  minimum: number,
): { quantile: number; passing: number } | null {
  if (count < SMALL || !LITTLE_ENDIAN) return null;
  const words = new Int32Array(values.buffer, values.byteOffset, count);
  const odd = 0x7f800000;
  const step = Math.max(8, Math.floor(count / SAMPLE));
  const sample = scratch(Math.floor((count - 1) / step) + 1, "sample");
  let size = 0;
  for (let i = 0; i < count; i += step)
    if ((keys[i] as number) <= gate) sample[size++] = words[i] as number;
  if (size < 64) return null;
  sampleBracket(sample, size, q, odd);
  const { lowIndex, highIndex, lowWord, highWord } = bracket;
  // A sample word with its sign bit set reads as negative here: below lowWord's test as odd.
  if (lowWord < 0 || highWord < 0 || lowWord >= odd || highWord >= odd) return null;
  const span = highWord - lowWord;
  const capacity = Math.min(count, Math.ceil((4 * count * (highIndex - lowIndex)) / size) + 1024);
  const gathered = scratch(capacity, "gathered");
  let passing = 0;
  let below = 0;
  let inside = 0;
  let oddSeen = 0;
  let atLow = 0;
  let atHigh = 0;
  // The gate and the bracket's lower edge counted as 0 / 1 without branches (about one value
  // in ten fails the gate, at random). Where the sample shows ties at the bracket's end words
  // (a binned 8-bit map: its |Laplacian| takes a few hundred distinct values, some held by a
  // twentieth of the sample), values at those two words are counted, not gathered: a bracket
  // of one or two tied values would otherwise gather tens of thousands of ties for the
  // quickselect. Without ties (continuous values) the two counts cost more than they save.
  let tied = 0;
  for (let j = 0; j < size; j++) {
    const word = sample[j] as number;
    if (word === lowWord || word === highWord) tied++;
  }
  if (tied * 64 > size) {
    const inner = span - 1;
    for (let i = 0; i < count; i++) {
      const passes = +((keys[i] as number) <= gate);
      const word = words[i] as number;
      passing += passes;
      oddSeen |= passes & +(word >>> 0 >= odd);
      const offset = (word - lowWord) | 0;
      below += passes & (offset >>> 31);
      atLow += passes & +(offset === 0);
      atHigh += passes & +(offset === span);
      if ((offset - 1) >>> 0 >= inner || passes === 0) continue;
      if (inside === capacity) return null;
      gathered[inside++] = values[i] as number;
    }
  } else {
    // Every value of the bracket gathered, its end words included (atLow and atHigh stay 0).
    for (let i = 0; i < count; i++) {
      const passes = +((keys[i] as number) <= gate);
      const word = words[i] as number;
      passing += passes;
      oddSeen |= passes & +(word >>> 0 >= odd);
      const offset = (word - lowWord) | 0;
      below += passes & (offset >>> 31);
      if (offset >>> 0 > span || passes === 0) continue;
      if (inside === capacity) return null;
      gathered[inside++] = values[i] as number;
    }
  }
  if (oddSeen) return null;
  if (passing < minimum) return { quantile: Number.NaN, passing };
  const k = Math.min(passing - 1, Math.max(0, Math.round(q * (passing - 1))));
  // Ranks from the bracket's low end: the low word's values, the ones strictly inside, then
  // the high word's (the same values when the two words are one).
  const rank = k - below;
  if (rank < 0) return null;
  if (rank < atLow) return { quantile: wordValue(lowWord), passing };
  if (rank < atLow + inside)
    return { quantile: selectKth(gathered, inside, rank - atLow), passing };
  if (span > 0 && rank < atLow + inside + atHigh) return { quantile: wordValue(highWord), passing };
  return null;
}

/** The float32 value whose bits are `word`. */
function wordValue(word: number): number {
  wordBits[0] = word;
  return wordFloat[0] as number;
}

const wordBits = new Int32Array(1);
const wordFloat = new Float32Array(wordBits.buffer);

/** selectBracketed's sample and gathered values, kept between calls (detection is synchronous). */
const scratchArrays = { sample: new Float64Array(0), gathered: new Float64Array(0) };

/** A scratch array of at least `length` doubles, grown (never shrunk) as calls need. */
function scratch(length: number, which: keyof typeof scratchArrays): Float64Array {
  if (scratchArrays[which].length < length) scratchArrays[which] = new Float64Array(length);
  return scratchArrays[which];
}

/** The k-th smallest of values[0..count) (see selectRanksOfMagnitudes). */
export function selectKthMagnitude(
  values: Float32Array | Float64Array,
  count: number,
  k: number,
): number {
  oneRank[0] = k;
  selectRanksInto(values, count, oneRank, oneAnswer);
  return oneAnswer[0] as number;
}

/** The single rank and answer of selectKthMagnitude and quantileOfMagnitudes (no arrays made). */
const oneRank = new Int32Array(1);
const oneAnswer = new Float64Array(1);

/** quantileInPlace's quantile q in [0,1] of values[0..count), for each q of `qs`. */
export function quantilesOfMagnitudes(
  values: Float32Array | Float64Array,
  count: number,
  qs: readonly number[],
): number[] {
  if (count === 0) return qs.map(() => Number.NaN);
  const ranks = qs.map((q) => Math.min(count - 1, Math.max(0, Math.round(q * (count - 1)))));
  return selectRanksOfMagnitudes(values, count, ranks);
}

/** quantileInPlace's quantile q in [0,1] of values[0..count), by selectKthMagnitude. */
export function quantileOfMagnitudes(
  values: Float32Array | Float64Array,
  count: number,
  q: number,
): number {
  if (count === 0) return Number.NaN;
  return selectKthMagnitude(
    values,
    count,
    Math.min(count - 1, Math.max(0, Math.round(q * (count - 1)))),
  );
}

/**
 * One small call of each pass at load, so that every line of them has run before any large
 * call. V8 compiles a long loop while its function's first large call is still inside it
 * (on-stack replacement); code after the loop that had never run had no type feedback then,
 * and the compiled loop handed over to the interpreter there at every later call as well
 * (measured on main: gatherWide about 1.3 times and selectRanksOfMagnitudes 2.3 times per
 * patterned detection, each finishing its pass unoptimised). The answers are not used.
 */
function primeTypeFeedback(): void {
  const count = SMALL + 64;
  const wide = new Float64Array(count);
  for (let i = 0; i < count; i++) wide[i] = ((i * 7919) % count) / 8;
  const narrow = Float32Array.from(wide);
  for (const values of [wide, narrow]) {
    selectKthMagnitude(values, count, count >> 1);
    selectRanksOfMagnitudes(values, count, [1, count >> 1, count - 2]);
  }
  // Both of the gated pass's loops: continuous values, and values tied at the bracket's ends.
  gatedQuantileOfMagnitudes(narrow, narrow, count, count / 16, 0.5, 0);
  const tied = narrow.map((v) => Math.round(v / 32));
  gatedQuantileOfMagnitudes(tied, narrow, count, count / 16, 0.5, 0);
}

primeTypeFeedback();
