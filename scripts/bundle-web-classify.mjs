import { build } from 'vite';

/** The browser entry of each web engine (src/web/browser), keyed as WebEngine in src/web/export-web.ts. */
const ENTRIES = {
  'onnxruntime-web': { file: 'src/web/browser/classify-onnxruntime-web.ts', runtime: 'onnxruntime-web' },
  tfjs: { file: 'src/web/browser/classify-tfjs.ts', runtime: 'TensorFlow.js' },
};

/**
 * Bundles each web engine's classify.js with Vite: one self-contained classic script (an IIFE that defines the
 * global `GraftWeb`; the engine's own global, `ort` or `tf`, comes from the runtime loaded before it), not
 * minified so that users can read what runs in their page. Any warning fails the build: a Node module reaching
 * the bundle (Vite would stub it for the browser) is one.
 * @param {string} root the repository root (with a trailing separator)
 * @returns {Promise<Record<keyof typeof ENTRIES, string>>} the script text per engine
 */
export async function bundleWebClassify(root) {
  const scripts = {};
  for (const [engine, { file, runtime }] of Object.entries(ENTRIES)) {
    const output = await build({
      configFile: false,
      root,
      logLevel: 'silent',
      publicDir: false,
      build: {
        write: false,
        copyPublicDir: false,
        emptyOutDir: false,
        minify: false,
        target: 'es2020',
        lib: { entry: `${root}${file}`, formats: ['iife'], name: 'GraftWeb', fileName: () => 'classify.js' },
        rollupOptions: {
          onwarn(warning) {
            throw new Error(`bundling ${file}: ${warning.message}`);
          },
        },
      },
    });
    const results = Array.isArray(output) ? output : [output];
    const chunks = results.flatMap((r) => ('output' in r ? r.output : [])).filter((o) => o.type === 'chunk');
    if (chunks.length !== 1) throw new Error(`bundling ${file}: expected one chunk, got ${chunks.length}`);
    const code = chunks[0].code;
    // A classic script: no module syntax and no require left in it.
    if (/^\s*(import|export)\s|\brequire\(/m.test(code)) throw new Error(`bundling ${file}: the bundle still imports or requires a module`);
    // Prepended here: Vite's iife post-processing drops rollup's banner.
    scripts[engine] = `/* Graft web classifier: preprocessing from model.json, inference with ${runtime} (wasm). Built by Vite from ${file}. */\n${code}`;
  }
  return scripts;
}
