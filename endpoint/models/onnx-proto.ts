// A minimal onnx.proto subset in protobufjs, so the project can write (and inspect) ONNX files without extra tooling.
import protobuf from "protobufjs";

/** Field numbers follow onnx/onnx.proto (IR version 8); only what our models use is declared. */
const ONNX_PROTO_JSON = {
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: {
          fields: { key: { type: "string", id: 1 }, value: { type: "string", id: 2 } },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } },
        },
        TensorShapeProto: {
          fields: { dim: { rule: "repeated", type: "Dimension", id: 1 } },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ["dimValue", "dimParam"] } },
              fields: {
                dimValue: { type: "int64", id: 1 },
                dimParam: { type: "string", id: 2 },
                denotation: { type: "string", id: 3 },
              },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ["tensorType"] } },
          fields: { tensorType: { type: "Tensor", id: 1 }, denotation: { type: "string", id: 6 } },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: "int32", id: 1 },
                shape: { type: "TensorShapeProto", id: 2 },
              },
            },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: "string", id: 1 },
            type: { type: "TypeProto", id: 2 },
            docString: { type: "string", id: 3 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1 },
            dataType: { type: "int32", id: 2 },
            floatData: { rule: "repeated", type: "float", id: 4, options: { packed: true } },
            int64Data: { rule: "repeated", type: "int64", id: 7, options: { packed: true } },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
            docString: { type: "string", id: 12 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            s: { type: "bytes", id: 4 },
            t: { type: "TensorProto", id: 5 },
            floats: { rule: "repeated", type: "float", id: 7 },
            ints: { rule: "repeated", type: "int64", id: 8 },
            type: { type: "int32", id: 20 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            docString: { type: "string", id: 6 },
            domain: { type: "string", id: 7 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            docString: { type: "string", id: 10 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            domain: { type: "string", id: 4 },
            modelVersion: { type: "int64", id: 5 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
            metadataProps: { rule: "repeated", type: "StringStringEntryProto", id: 14 },
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(ONNX_PROTO_JSON);
const ModelProto = root.lookupType("onnx.ModelProto");

export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 13;

/** TensorProto.DataType values we use. */
export const TensorDataType = { FLOAT: 1, INT64: 7 } as const;
/** AttributeProto.AttributeType values we use. */
export const AttributeType = { FLOAT: 1, INT: 2, INTS: 7 } as const;

export interface TensorInit {
  name: string;
  dims: number[];
  /** Stored as float32. */
  values: ArrayLike<number>;
}

export interface NodeInit {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Array<{ name: string; int?: number; float?: number; ints?: number[] }>;
}

export interface ValueInit {
  name: string;
  elemType: number;
  /** A number is a fixed size; a string a symbolic one (e.g. "N"). */
  shape: Array<number | string>;
}

export interface ModelInit {
  graphName: string;
  producerVersion: string;
  docString?: string;
  inputs: ValueInit[];
  outputs: ValueInit[];
  initializers: TensorInit[];
  nodes: NodeInit[];
  metadata?: Record<string, string>;
}

function valueInfo(value: ValueInit) {
  return {
    name: value.name,
    type: {
      tensorType: {
        elemType: value.elemType,
        shape: {
          dim: value.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

function tensor(init: TensorInit) {
  const count = init.dims.reduce((a, b) => a * b, 1);
  if (count !== init.values.length) {
    throw new RangeError(
      `tensor ${init.name}: dims ${init.dims.join("x")} hold ${count} values, got ${init.values.length}`,
    );
  }
  // raw_data is little-endian float32, the layout onnxruntime reads without conversion.
  const raw = new Uint8Array(new Float32Array(Array.from(init.values)).buffer);
  return { name: init.name, dims: init.dims, dataType: TensorDataType.FLOAT, rawData: raw };
}

function attribute(attr: NonNullable<NodeInit["attributes"]>[number]) {
  if (attr.int !== undefined) return { name: attr.name, i: attr.int, type: AttributeType.INT };
  if (attr.float !== undefined)
    return { name: attr.name, f: attr.float, type: AttributeType.FLOAT };
  if (attr.ints !== undefined)
    return { name: attr.name, ints: attr.ints, type: AttributeType.INTS };
  throw new RangeError(`attribute ${attr.name} has no value`);
}

/** Serialises a graph as an ONNX ModelProto (IR 8, default-domain opset 13). */
export function encodeOnnxModel(model: ModelInit): Uint8Array {
  const message = ModelProto.fromObject({
    irVersion: ONNX_IR_VERSION,
    producerName: "waferflow",
    producerVersion: model.producerVersion,
    docString: model.docString ?? "",
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    metadataProps: Object.entries(model.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: model.graphName,
      node: model.nodes.map((node, i) => ({
        input: node.inputs,
        output: node.outputs,
        name: node.name ?? `${node.opType}_${i}`,
        opType: node.opType,
        attribute: (node.attributes ?? []).map(attribute),
      })),
      initializer: model.initializers.map(tensor),
      input: model.inputs.map(valueInfo),
      output: model.outputs.map(valueInfo),
    },
  });
  return ModelProto.encode(message).finish();
}

/** The model's metadata_props, which onnxruntime's JS API does not expose. */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const decoded = ModelProto.toObject(ModelProto.decode(bytes), { defaults: false }) as {
    metadataProps?: Array<{ key?: string; value?: string }>;
  };
  const result: Record<string, string> = {};
  for (const entry of decoded.metadataProps ?? []) {
    if (entry.key !== undefined) result[entry.key] = entry.value ?? "";
  }
  return result;
}
