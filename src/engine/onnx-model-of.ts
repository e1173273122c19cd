import { decodeOnnxModel, type ModelProto } from '../onnx/onnx-model.js';

/**
 * A backbone handle's ONNX model, decoded: Graft builds a model directory by surgery on it and encodes once, instead
 * of an encode and a decode per step (~30 ms each for a 3.7 MB model). Kept in a side table, not on BackboneHandle,
 * so that no public type is an onnx-proto type.
 */
const models = new WeakMap<object, () => Promise<ModelProto>>();

/** What reading a handle's model needs: its bytes (the fallback) and where it came from, for messages. */
interface HandleBytes {
  readonly info: { readonly source: string };
  onnxBytes(): Promise<Uint8Array>;
}

/** Records how `handle`'s model is had without decoding its bytes (a format that parsed it, a wrapper that built it). */
export function withOnnxModel<H extends HandleBytes>(handle: H, onnxModel: () => Promise<ModelProto>): H {
  models.set(handle, onnxModel);
  return handle;
}

/** `handle.onnxBytes()` as a model, had once and shared: read it, never change it (Graft's ONNX wrappers clone). */
export function onnxModelOf(handle: HandleBytes): Promise<ModelProto> {
  let get = models.get(handle);
  if (!get) {
    let decoded: Promise<ModelProto> | undefined;
    get = () => (decoded ??= handle.onnxBytes().then((bytes) => decodeOnnxModel(bytes, handle.info.source)));
    models.set(handle, get);
  }
  return get();
}
