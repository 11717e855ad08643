// The spec's camera artefacts and out-of-spec images as seeded synth knobs, and their CLI flags.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";
import { decodeGray } from "../../lib/gray-image.ts";
import { TruthSchema } from "../../schemas/truth.ts";
import { ARTEFACT_KINDS, OUT_OF_SPEC_KINDS, PATTERN_ARTEFACTS } from "../../synth/artefacts.ts";
import { parseFixturesArgs } from "../../synth/cli.ts";
import { SynthOptionsError } from "../../synth/errors.ts";
import { FIXTURE_SEED, qualityOptions } from "../../synth/fixtures.ts";
import { designWafer, generateWafer, renderDesign } from "../../synth/generate.ts";

const SIZE = 512;

describe("synth artefacts", () => {
  it("are off by default: no artefacts or expectations in truth", async () => {
    const wafer = await generateWafer(11, 0, { size: SIZE });
    assert.equal(wafer.truth.artefacts, undefined);
    assert.equal(wafer.truth.expected, undefined);
  });

  it("each knob is drawn, labelled in truth and reproducible from the seed", async () => {
    for (const kind of ARTEFACT_KINDS) {
      const options = {
        size: SIZE,
        surface: "patterned" as const,
        artefacts: [kind],
        clean: false,
      };
      const first = await generateWafer(21, 1, options);
      const again = await generateWafer(21, 1, options);
      assert.ok(first.truth.artefacts?.includes(kind), `${kind} labelled`);
      // The same bytes (the same pixels, and nothing to decode).
      assert.ok(first.bytes.equals(again.bytes), `${kind}: same seed, same pixels`);
    }
  });

  it("changes the pixels it claims to change and leaves bare wafers without pattern artefacts", async () => {
    const voids = {
      size: SIZE,
      surface: "bare" as const,
      clean: false,
      defectClasses: ["void" as const],
    };
    const plain = renderDesign(designWafer(31, 0, voids));
    for (const kind of ARTEFACT_KINDS.filter((k) => !PATTERN_ARTEFACTS.includes(k))) {
      if (kind === "jpeg") continue; // applied when encoding (generateWafer), checked below
      const design = designWafer(31, 0, { ...voids, artefacts: [kind] });
      const rendered = renderDesign(design);
      let changed = 0;
      for (let k = 0; k < plain.pixels.length; k++)
        if (plain.pixels[k] !== rendered.pixels[k]) changed++;
      assert.ok(changed > 0, `${kind} changes the image`);
    }
    const bare = designWafer(31, 0, { size: SIZE, surface: "bare", artefacts: ["reticle"] });
    assert.deepEqual(bare.artefacts?.kinds ?? [], []);
    const jpeg = await generateWafer(31, 0, { size: SIZE, surface: "bare", artefacts: ["jpeg"] });
    const clean = await generateWafer(31, 0, { size: SIZE, surface: "bare" });
    assert.ok(
      !Buffer.from((await decodeGray(jpeg.bytes)).data).equals(
        Buffer.from((await decodeGray(clean.bytes)).data),
      ),
    );
  });

  it("hot pixels are isolated single pixels, as many as drawn", () => {
    const design = designWafer(41, 0, {
      size: SIZE,
      surface: "bare",
      artefacts: ["hot_pixels"],
      clean: true,
    });
    const plain = renderDesign(designWafer(41, 0, { size: SIZE, surface: "bare", clean: true }));
    const faulty = renderDesign(design);
    const changed: number[] = [];
    for (let k = 0; k < plain.pixels.length; k++)
      if (plain.pixels[k] !== faulty.pixels[k]) changed.push(k);
    assert.equal(changed.length, design.artefacts?.hotPixels);
    for (const k of changed) {
      for (const other of changed) {
        if (other === k) continue;
        const near =
          Math.abs((other % SIZE) - (k % SIZE)) <= 1 &&
          Math.abs(Math.floor(other / SIZE) - Math.floor(k / SIZE)) <= 1;
        assert.ok(!near, "no two faults touch");
      }
    }
  });

  it("out-of-spec images are labelled unusable; noise and checkerboards carry no defects", async () => {
    for (const kind of OUT_OF_SPEC_KINDS) {
      const wafer = await generateWafer(51, 0, { size: SIZE, outOfSpec: kind, clean: false });
      assert.equal(wafer.truth.expected, "unusable", kind);
      assert.equal(wafer.truth.outOfSpec, kind);
      if (kind === "noise" || kind === "checkerboard") assert.deepEqual(wafer.truth.defects, []);
    }
  });

  it("rejects unknown knobs with a message naming them", () => {
    assert.throws(() => designWafer(1, 0, { artefacts: ["smudge" as never] }), SynthOptionsError);
    assert.throws(() => designWafer(1, 0, { artefactMix: 2 }), /artefactMix/);
  });
});

describe("waferflow fixtures flags for artefacts", () => {
  const base = ["--out", "/tmp/x", "--lots", "1", "--wafers", "2", "--seed", "3"];
  it("parses artefacts, mix and out-of-spec flags", () => {
    const all = parseFixturesArgs([...base, "--artefacts", "all", "--artefact-mix", "0.3"]);
    assert.deepEqual(all.artefacts, [...ARTEFACT_KINDS]);
    assert.equal(all.artefactMix, 0.3);
    const some = parseFixturesArgs([
      ...base,
      "--artefacts",
      "hot-pixels,jpeg",
      "--out-of-spec",
      "defocus",
      "--out-of-spec-fraction",
      "0.1",
    ]);
    assert.deepEqual(some.artefacts, ["hot_pixels", "jpeg"]);
    assert.equal(some.outOfSpec, "defocus");
    assert.equal(some.outOfSpecFraction, 0.1);
  });
  it("names the bad flag", () => {
    assert.throws(
      () => parseFixturesArgs([...base, "--artefacts", "smudge"]),
      /--artefacts: 'smudge'/,
    );
    assert.throws(
      () => parseFixturesArgs([...base, "--out-of-spec", "blurry"]),
      /--out-of-spec must be one of/,
    );
    assert.throws(() => parseFixturesArgs([...base, "--artefact-mix", "1.5"]), /--artefact-mix/);
  });
});

describe("the committed lot-quality fixture", () => {
  it("is still what the generator makes (an artefact wafer and a defocused one)", async () => {
    const dir = fileURLToPath(new URL("../fixtures/lot-quality/", import.meta.url));
    const truth = TruthSchema.parse(JSON.parse(await readFile(`${dir}truth.json`, "utf8")));
    for (const index of [0, 6]) {
      const fresh = await generateWafer(FIXTURE_SEED + 2, index, qualityOptions(index));
      assert.deepEqual(
        fresh.truth,
        truth.wafers[index],
        "truth changed; run synth/make-fixtures.ts",
      );
      const committed = await decodeGray(await readFile(`${dir}${fresh.fileName}`));
      const regenerated = await decodeGray(fresh.bytes);
      assert.ok(Buffer.from(committed.data).equals(Buffer.from(regenerated.data)), fresh.fileName);
    }
  });
});
