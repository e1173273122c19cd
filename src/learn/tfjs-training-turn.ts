/**
 * One tfjs training run at a time in a process. tfjs's backend and the gradient kernels Graft registers on it are
 * process-wide, and fine-tuning switches their matrix products to onnxruntime's native GEMM, which rounds differently:
 * two runs interleaved at their awaits would each train partly under the other's setting (an MLP head trained beside,
 * or after, a fine-tune came out different from the same call alone). Runs take turns; both run on the one JavaScript
 * thread anyway, so nothing is lost.
 */
let last: Promise<void> = Promise.resolve();

/** Runs `run` once every tfjs training run started before it has ended (however it ended). */
export async function inTfjsTrainingTurn<T>(run: () => Promise<T>): Promise<T> {
  const before = last;
  let done!: () => void;
  last = new Promise<void>((resolve) => (done = resolve));
  await before;
  try {
    return await run();
  } finally {
    done();
  }
}
