// An independent KLARF 1.8 reader for the tests: records by ';', wafer blocks after WaferID, defects by DefectRecordSpec.

export interface KlarfDefect {
  fields: Record<string, number>;
  className: string;
  /** Die as waferflow counts it: col = XINDEX, row = -YINDEX. */
  die: { row: number; col: number };
  /** Wafer millimetres from the centre, from the die frame and SampleCenterLocation. */
  waferMm: { x: number; y: number };
}

export interface KlarfWafer {
  waferId: string;
  slot: number;
  diePitchUm: { x: number; y: number };
  sampleCenterUm: { x: number; y: number };
  testPlan: Array<{ x: number; y: number }>;
  defects: KlarfDefect[];
}

export interface Klarf {
  version: string;
  lotId: string;
  sampleSizeMm: number;
  deviceId: string;
  stepId: string;
  classLookup: Map<number, string>;
  wafers: KlarfWafer[];
  endOfFile: boolean;
}

/** Splits into records: a keyword and its tokens, strings kept whole. */
function records(text: string): string[][] {
  const out: string[][] = [];
  let tokens: string[] = [];
  const pattern = /"([^"]*)"|(;)|([^\s;"]+)/g;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    if (match[2]) {
      out.push(tokens);
      tokens = [];
    } else {
      tokens.push(match[1] !== undefined ? match[1] : (match[3] as string));
    }
  }
  if (tokens.length) throw new Error(`KLARF ends inside a record: ${tokens.slice(0, 5).join(" ")}`);
  return out;
}

export function readKlarf(text: string): Klarf {
  const klarf: Klarf = {
    version: "",
    lotId: "",
    sampleSizeMm: 0,
    deviceId: "",
    stepId: "",
    classLookup: new Map(),
    wafers: [],
    endOfFile: false,
  };
  let wafer: KlarfWafer | undefined;
  let spec: string[] = [];
  for (const [keyword, ...rest] of records(text)) {
    const n = (i: number) => {
      const value = Number(rest[i]);
      if (!Number.isFinite(value)) throw new Error(`${keyword}: '${rest[i]}' is not a number`);
      return value;
    };
    switch (keyword) {
      case "FileVersion":
        klarf.version = `${rest[0]}.${rest[1]}`;
        break;
      case "LotID":
        klarf.lotId = rest[0] ?? "";
        break;
      case "SampleSize":
        klarf.sampleSizeMm = n(1);
        break;
      case "DeviceID":
        klarf.deviceId = rest[0] ?? "";
        break;
      case "StepID":
        klarf.stepId = rest[0] ?? "";
        break;
      case "ClassLookup": {
        const count = n(0);
        for (let i = 0; i < count; i++) klarf.classLookup.set(n(1 + 2 * i), rest[2 + 2 * i] ?? "");
        break;
      }
      case "WaferID":
        wafer = {
          waferId: rest[0] ?? "",
          slot: 0,
          diePitchUm: { x: 0, y: 0 },
          sampleCenterUm: { x: 0, y: 0 },
          testPlan: [],
          defects: [],
        };
        klarf.wafers.push(wafer);
        break;
      case "Slot":
        if (wafer) wafer.slot = n(0);
        break;
      case "DiePitch":
        if (wafer) wafer.diePitchUm = { x: n(0), y: n(1) };
        break;
      case "SampleCenterLocation":
        if (wafer) wafer.sampleCenterUm = { x: n(0), y: n(1) };
        break;
      case "SampleTestPlan": {
        const count = n(0);
        for (let i = 0; i < count; i++) wafer?.testPlan.push({ x: n(1 + 2 * i), y: n(2 + 2 * i) });
        break;
      }
      case "DefectRecordSpec":
        spec = rest.slice(1);
        if (spec.length !== n(0))
          throw new Error("DefectRecordSpec count does not match its fields");
        break;
      case "DefectList": {
        if (!wafer) throw new Error("DefectList before any WaferID");
        if (rest.length % spec.length !== 0) throw new Error("DefectList is not whole records");
        for (let start = 0; start < rest.length; start += spec.length) {
          const fields: Record<string, number> = {};
          spec.forEach((name, i) => {
            fields[name] = n(start + i);
          });
          const f = (name: string) => fields[name] as number;
          const x = (f("XINDEX") * wafer.diePitchUm.x + f("XREL") - wafer.sampleCenterUm.x) / 1000;
          const y = (f("YINDEX") * wafer.diePitchUm.y + f("YREL") - wafer.sampleCenterUm.y) / 1000;
          wafer.defects.push({
            fields,
            className: klarf.classLookup.get(f("CLASSNUMBER")) ?? `class ${f("CLASSNUMBER")}`,
            die: { row: -f("YINDEX") || 0, col: f("XINDEX") },
            waferMm: { x, y },
          });
        }
        break;
      }
      case "EndOfFile":
        klarf.endOfFile = true;
        break;
      default:
        break;
    }
  }
  return klarf;
}
