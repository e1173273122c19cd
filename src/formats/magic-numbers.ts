/** Whether a file's first bytes are an ONNX ModelProto's: field 1 (ir_version, varint: tag 0x08), which exporters all write first. */
export function startsLikeOnnx(head: Uint8Array): boolean {
  return head[0] === 0x08;
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Whether a file's first bytes are HDF5's signature (a Keras .h5 starts with it). */
export function startsWithHdf5Signature(head: Uint8Array): boolean {
  return HDF5_SIGNATURE.every((byte, i) => head[i] === byte);
}
