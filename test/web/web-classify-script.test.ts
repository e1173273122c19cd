import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { rgbToTensor } from '../../src/data/decode-image.js';
import { channelAffine, makePreprocessing, type Layout, type Scale } from '../../src/core/preprocessing.js';
import { pixelsToTensor } from '../../src/core/pixel-tensor.js';
import { CLASSIFY_JS, CLASSIFY_TFJS_JS } from '../../src/web/classify-script.js';

interface GraftWebGlobal {
  load: unknown;
  channelAffine: typeof channelAffine;
  pixelsToTensor: typeof pixelsToTensor;
}

/** Runs a classify.js as a classic script in a fresh context and returns the `GraftWeb` global it defines. */
function graftWebOf(script: string): GraftWebGlobal {
  const context: { GraftWeb?: GraftWebGlobal } = {};
  runInNewContext(script, context);
  if (context.GraftWeb === undefined) throw new Error('classify.js defined no GraftWeb');
  return context.GraftWeb;
}

function randomBytes(length: number, seed: number): Uint8Array {
  let state = seed;
  return Uint8Array.from({ length }, () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 24);
}

const scales: Scale[] = ['imagenet', '-1..1', '0..1'];
const layouts: Layout[] = ['nchw', 'nhwc'];

describe('pixelsToTensor: the preprocessing arithmetic Node and the browser share', () => {
  it.each(scales.flatMap((scale) => layouts.map((layout) => ({ scale, layout }))))('RGBA (canvas) and RGB (sharp) bytes give the same tensor ($scale, $layout)', ({ scale, layout }) => {
    const pre = makePreprocessing({ inputSize: 16, scale, layout });
    const rgb = randomBytes(16 * 16 * 3, 5);
    const rgba = new Uint8ClampedArray(16 * 16 * 4);
    for (let p = 0; p < 256; p++) rgba.set([rgb[3 * p]!, rgb[3 * p + 1]!, rgb[3 * p + 2]!, 255 - p], 4 * p);
    const fromRgb = pixelsToTensor(rgb, 3, pre);
    expect(pixelsToTensor(rgba, 4, pre)).toEqual(fromRgb);
    // Against the definition: x = v * mul[c] + add[c] at the layout's index.
    const { mul, add } = channelAffine(pre);
    for (const [p, c] of [[0, 0], [17, 1], [255, 2]] as const) {
      const at = layout === 'nchw' ? c * 256 + p : p * 3 + c;
      expect(fromRgb[at]).toBe(Math.fround(rgb[3 * p + c]! * mul[c] + add[c]));
    }
    // rgbToTensor (the Node decoder's last step) is this very function.
    expect(rgbToTensor(rgb, pre)).toEqual(fromRgb);
  });

  it('rejects a buffer of the wrong size and an unknown layout or scale, echoing the value', () => {
    const pre = makePreprocessing({ inputSize: 16, scale: '0..1', layout: 'nhwc' });
    expect(() => pixelsToTensor(new Uint8Array(10), 4, pre)).toThrow(/must hold 1024 bytes \(16 x 16 x 4\)\. Received: 10/);
    expect(() => pixelsToTensor(new Uint8Array(768), 3, { ...pre, layout: 'chw' as Layout })).toThrow(/Received: "chw"/);
    expect(() => channelAffine({ ...pre, scale: '0..255' as Scale })).toThrow(RangeError);
  });
});

describe('classify.js of the web export, bundled from src/web/browser', () => {
  it.each([['onnxruntime-web', CLASSIFY_JS], ['tfjs', CLASSIFY_TFJS_JS]] as const)('%s: a self-contained classic script whose arithmetic equals Node\'s', (engine, script) => {
    expect(script).toMatch(new RegExp(`^/\\* Graft web classifier: .*Built by Vite from src/web/browser/classify-${engine}\\.ts\\. \\*/`));
    expect(script).not.toMatch(/^\s*(import|export)\s|\brequire\(/m);
    const graftWeb = graftWebOf(script);
    expect(typeof graftWeb.load).toBe('function');
    for (const scale of scales) {
      const pre = makePreprocessing({ inputSize: 16, scale, layout: engine === 'tfjs' ? 'nhwc' : 'nchw' });
      expect(graftWeb.channelAffine(pre)).toEqual(channelAffine(pre));
      const rgba = randomBytes(16 * 16 * 4, 9);
      expect(Array.from(graftWeb.pixelsToTensor(rgba, 4, pre))).toEqual(Array.from(pixelsToTensor(rgba, 4, pre)));
    }
  });

  it('each engine gets its own runtime check', () => {
    expect(CLASSIFY_JS).toContain('include ort.wasm.min.js before classify.js');
    expect(CLASSIFY_JS).not.toContain('tf-backend-wasm.min.js');
    expect(CLASSIFY_TFJS_JS).toContain('include tf.min.js and tf-backend-wasm.min.js before classify.js');
    // The mirror test-time augmentation is inside the TF.js model, as in model.onnx: the engine must not mirror again.
    expect(CLASSIFY_TFJS_JS).not.toContain('reverse(');
  });
});
