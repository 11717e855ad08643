// Errors raised by the synthetic wafer generator and its CLI.

/** An option or flag outside what the generator (or the input spec) allows. */
export class SynthOptionsError extends Error {
  override name = "SynthOptionsError";
}

/** Encoding or writing a generated wafer failed. */
export class SynthOutputError extends Error {
  override name = "SynthOutputError";
}
