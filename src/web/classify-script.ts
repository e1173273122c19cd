/**
 * `classify.js` of a web export: plain browser JavaScript (no build step, no dependencies besides the engine's global:
 * `ort` from ort.wasm.min.js, or `tf` from tf.min.js + tf-backend-wasm.min.js) that preprocesses an image as the
 * server does and runs the model: {@link CLASSIFY_JS} runs model.onnx in onnxruntime-web, {@link CLASSIFY_TFJS_JS}
 * the TF.js layers model (tfjs/model.json) in TensorFlow.js's wasm backend. Both share the preprocessing below.
 *
 * Preprocessing, step by step, against the server's (src/data/decode-image.ts, sharp):
 * - orientation: createImageBitmap applies EXIF orientation ('from-image'), as sharp's autoOrient does;
 * - resize: 'stretch' draws the whole image into S x S; 'center-crop' draws the centred square of side
 *   min(w, h) x cropFraction into S x S, which is sharp's fit 'cover' (scale the short side to S / cropFraction,
 *   crop the centre);
 * - interpolation: the canvas's own smoothing (imageSmoothingQuality 'medium': mipmapped bilinear in Chromium)
 *   instead of sharp's antialiased linear kernel, and no JPEG shrink-on-load. Measured (test/export-web.test.ts,
 *   Chromium 'medium'; 'low' and 'high' were further off): downscaling a 640x400 JPEG to 224 differs by a mean
 *   0.5-0.7 levels of 255; upscaling a noisy 160 px image to 224 by 4.8 levels, because sharp's 'linear' upscale
 *   is not textbook bilinear: a plain bilinear reference in JS is as far from it (4.7-4.8 levels, with either
 *   pixel-centre convention). Top-1 agreed on every test image; probabilities moved by up to 0.12 on a tiny,
 *   overconfident test model;
 * - alpha: the canvas composites transparent pixels (premultiplied), the server keeps their stored RGB values
 *   (PIL's convert('RGB')); images with transparency may differ more;
 * - colour: the canvas works in sRGB; images with another embedded ICC profile are converted by the browser
 *   and by sharp, each with its own colour engine;
 * - then scale/mean/std/layout exactly as the manifest says (channelAffine in src/engine/preprocessing.ts).
 */
const PREPROCESS_JS = `  /** Per-channel v * mul + add, as Graft's channelAffine. Unknown scales are an error, never a guess. */
  function channelAffine(pre) {
    if (pre.scale === 'imagenet') {
      return {
        mul: [0, 1, 2].map(function (c) { return 1 / (255 * pre.std[c]); }),
        add: [0, 1, 2].map(function (c) { return -pre.mean[c] / pre.std[c]; }),
      };
    }
    if (pre.scale === '-1..1') return { mul: [1 / 127.5, 1 / 127.5, 1 / 127.5], add: [-1, -1, -1] };
    if (pre.scale === '0..1') return { mul: [1 / 255, 1 / 255, 1 / 255], add: [0, 0, 0] };
    throw new Error('Unknown preprocessing scale "' + pre.scale + '" in model.json');
  }

  /** Any image-like input to an ImageBitmap, EXIF orientation applied. */
  async function toBitmap(source) {
    if (typeof source === 'string') {
      var response = await fetch(source);
      if (!response.ok) throw new Error('Cannot fetch ' + source + ': HTTP ' + response.status);
      source = await response.blob();
    }
    if (source instanceof HTMLImageElement && !source.complete) await source.decode();
    return createImageBitmap(source, { imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  }

  /** RGBA bytes of the S x S image the model sees (center-crop or stretch, as the manifest says). */
  function resizeToSquare(bitmap, pre) {
    var size = pre.inputSize;
    var canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(size, size) : Object.assign(document.createElement('canvas'), { width: size, height: size });
    var ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'medium';
    var w = bitmap.width, h = bitmap.height;
    if (pre.resize === 'stretch') {
      ctx.drawImage(bitmap, 0, 0, w, h, 0, 0, size, size);
    } else if (pre.resize === 'center-crop') {
      // cropFraction (absent: 1) keeps that share of the short side, as the Node decoder does.
      var side = Math.min(w, h) * (pre.cropFraction || 1);
      ctx.drawImage(bitmap, (w - side) / 2, (h - side) / 2, side, side, 0, 0, size, size);
    } else {
      throw new Error('Unknown resize mode "' + pre.resize + '" in model.json');
    }
    return ctx.getImageData(0, 0, size, size).data;
  }

  /** Float32 input tensor data (NCHW or NHWC) from RGBA bytes. */
  function toTensorData(rgba, pre) {
    var size = pre.inputSize, n = size * size;
    var affine = channelAffine(pre);
    var out = new Float32Array(n * 3);
    var nchw = pre.layout === 'nchw';
    if (!nchw && pre.layout !== 'nhwc') throw new Error('Unknown layout "' + pre.layout + '" in model.json');
    for (var i = 0; i < n; i++) {
      for (var c = 0; c < 3; c++) {
        var v = rgba[i * 4 + c] * affine.mul[c] + affine.add[c];
        out[nchw ? c * n + i : i * 3 + c] = v;
      }
    }
    return out;
  }
`;

/** Opens model.onnx in onnxruntime-web (wasm): `run(Float32Array) -> probabilities`. */
const ORT_ENGINE_JS = `
  async function openEngine(info, base, pre) {
    if (typeof ort === 'undefined') throw new Error('onnxruntime-web is not loaded: include ort.wasm.min.js before classify.js');
    ort.env.wasm.wasmPaths = base.href;
    // Threads need cross-origin isolation (COOP/COEP headers); without it onnxruntime-web runs one thread.
    ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    var session = await ort.InferenceSession.create(new URL(info.onnx.file, base).href, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    var shape = pre.layout === 'nchw' ? [1, 3, pre.inputSize, pre.inputSize] : [1, pre.inputSize, pre.inputSize, 3];
    return {
      run: async function (data) {
        var feeds = {};
        feeds[info.onnx.input] = new ort.Tensor('float32', data, shape);
        var results = await session.run(feeds, [info.onnx.probabilities]);
        return Array.from(results[info.onnx.probabilities].data);
      },
      dispose: function () { return session.release(); },
    };
  }
`;

/** Opens the TF.js layers model in TensorFlow.js's wasm backend: `run(Float32Array) -> probabilities`. */
const TFJS_ENGINE_JS = `
  async function openEngine(info, base, pre) {
    if (typeof tf === 'undefined' || !tf.wasm) throw new Error('TensorFlow.js is not loaded: include tf.min.js and tf-backend-wasm.min.js before classify.js');
    if (pre.layout !== 'nhwc') throw new Error('The TF.js model takes NHWC input; model.json says ' + pre.layout);
    // The backend picks its build itself: SIMD, and threaded SIMD when the page is cross-origin isolated.
    tf.wasm.setWasmPaths(base.href);
    if (!(await tf.setBackend('wasm'))) throw new Error('TensorFlow.js could not start its wasm backend');
    var model = await tf.loadLayersModel(new URL(info.tfjs.file, base).href);
    var shape = [1, pre.inputSize, pre.inputSize, 3];
    return {
      run: async function (data) {
        // Test-time augmentation (model.onnx does it in its graph; layers cannot): the image and its mirror, averaged.
        var mirror = info.testTimeAugmentation === 'mirror';
        var p = tf.tidy(function () {
          var x = tf.tensor(data, shape, 'float32');
          var y = model.predict(mirror ? tf.concat([x, tf.reverse(x, 2)], 0) : x);
          // The first output holds the probabilities; a second, when present, the backbone features.
          var probs = Array.isArray(y) ? y[0] : y;
          return mirror ? probs.mean(0, true) : probs;
        });
        try {
          return Array.from(await p.data());
        } finally {
          p.dispose();
        }
      },
      dispose: function () { model.dispose(); },
    };
  }
`;

function classifyScript(engineName: string, openEngine: string): string {
  return `/* Graft web classifier: preprocessing from model.json, inference with ${engineName} (wasm). */
(function (global) {
  'use strict';

${PREPROCESS_JS}${openEngine}
  /**
   * Loads model.json and the model it names from baseUrl (default: this page's folder).
   * Resolves to { info, classify(source, { topK }) -> [{ label, probability }], preprocess(source), dispose() }.
   */
  async function load(baseUrl) {
    var base = new URL(baseUrl || './', document.baseURI);
    var response = await fetch(new URL('model.json', base));
    if (!response.ok) throw new Error('Cannot load model.json: HTTP ' + response.status);
    var info = await response.json();
    if (info.format !== 'graft-web-model') throw new Error('model.json is not a Graft web model');
    var pre = info.preprocessing;
    var engine = await openEngine(info, base, pre);

    async function preprocess(source) {
      var bitmap = await toBitmap(source);
      try {
        return toTensorData(resizeToSquare(bitmap, pre), pre);
      } finally {
        bitmap.close();
      }
    }

    async function classify(source, options) {
      var topK = Math.max(1, Math.min((options && options.topK) || 5, info.labels.length));
      var started = performance.now();
      var probs = await engine.run(await preprocess(source));
      var ranked = info.labels
        .map(function (label, i) { return { label: label, probability: probs[i], i: i }; })
        .sort(function (a, b) { return b.probability - a.probability || a.i - b.i; })
        .slice(0, topK)
        .map(function (p) { return { label: p.label, probability: p.probability }; });
      return { predictions: ranked, probabilities: probs, timing_ms: performance.now() - started };
    }

    return { info: info, classify: classify, preprocess: preprocess, dispose: engine.dispose };
  }

  global.GraftWeb = { load: load, channelAffine: channelAffine };
})(globalThis);
`;
}

/** classify.js for the onnxruntime-web export (ort.wasm.min.js loaded first). */
export const CLASSIFY_JS = classifyScript('onnxruntime-web', ORT_ENGINE_JS);

/** classify.js for the TF.js export (tf.min.js and tf-backend-wasm.min.js loaded first). */
export const CLASSIFY_TFJS_JS = classifyScript('TensorFlow.js', TFJS_ENGINE_JS);
