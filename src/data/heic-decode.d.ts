// heic-decode ships no types; this is the part of its API Graft calls (see heic.ts).
declare module 'heic-decode' {
  /** The first (primary) image of a HEIC file as RGBA bytes, its transformations (rotation, mirror) applied. */
  function decode(input: { buffer: Uint8Array }): Promise<{ width: number; height: number; data: Uint8ClampedArray }>;
  export default decode;
}
