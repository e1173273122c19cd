import type { Backbone } from '../engine/backbone.js';

/** One backbone call on decoded images of one size: their feature vectors (copies), and the seconds the call took. */
export async function embedBatch(backbone: Backbone, images: readonly Float32Array[], featureDim: number): Promise<{ vectors: Float32Array[]; seconds: number }> {
  const imageSize = images[0]?.length ?? 0;
  const input = new Float32Array(images.length * imageSize);
  images.forEach((data, i) => input.set(data, i * imageSize));
  const started = performance.now();
  const out = await backbone.embed(input, images.length);
  const seconds = (performance.now() - started) / 1000;
  return { vectors: images.map((_, i) => out.slice(i * featureDim, (i + 1) * featureDim)), seconds };
}
