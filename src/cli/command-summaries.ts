/**
 * What `graft --help` lists for each command: its usage term and description, as the command's own module declares
 * them. Kept here so that the overview loads no command (all of them import ~1 s of modules on 2 cores);
 * `test/cli/command-summaries.test.ts` checks every entry against the command it summarises.
 */
export const COMMAND_SUMMARIES = {
  demo: ['demo [options]', 'the whole workflow offline on images Graft draws itself: train, evaluate, write a report, predict'],
  train: ['train [options] [train-dir]', 'train a classifier on a folder of labelled images (one sub-folder per class, or a CSV path,label)'],
  embed: ['embed [options] <data>', 'compute backbone features for a dataset: into the feature cache, or with --store into shard files (one per --shard) for a cluster'],
  features: ['features', 'feature stores written by graft embed --store: status, and Parquet export/import'],
  eval: ['eval [options] <model-dir> <dir>', 'score a trained model directory on labelled images: accuracy with its interval, per-class scores, confusion matrix, classes most confused, calibration, mistakes; --compare tells two models apart'],
  predict: ['predict [options] <model-dir> <image...>', 'classify images with a trained model directory'],
  inspect: ['inspect [options] <dir>', 'summarise a dataset before training: classes, counts, and every file that cannot be used, with the reason'],
  download: [
    'download [options] <manifest>',
    'fetch the images a CSV or JSONL manifest names by URL into a folder (a sub-folder per class) and write a manifest.csv there that graft train reads; run again, it fetches only what is missing',
  ],
  models: ['models', 'the backbone catalogue: list it, describe a model, download one into the cache'],
  cache: ['cache', 'the cache folder: what it holds (features, downloaded backbones), and emptying it'],
  convert: [
    'convert [options] <input>',
    'convert a model between formats (TF.js layers/graph, Keras .h5 -> ONNX or TF.js; ONNX -> TF.js layers) and check the result numerically; nothing is written when the check fails',
  ],
  serve: ['serve [options] <model-dir...>', 'serve trained models over HTTP: POST /v1/models/<name>/predict, GET /v1/models, /healthz, /readyz, /metrics, /openapi.json'],
  ui: ['ui [options]', 'the training dashboard: create a project from a folder or uploads, train, watch the curves, inspect mistakes'],
  report: ['report [options] <model-dir>', 'write one self-contained HTML report: training curves, confusion matrix, per-class scores, misclassified thumbnails'],
  export: [
    'export [options] <model-dir>',
    'export a trained model for another runtime: --to web writes a static folder that classifies in the browser (onnxruntime-web running model.onnx itself, or TensorFlow.js on request); --to tfjs writes a TF.js layers model with its labels and preprocessing; --to teachable-machine writes a folder that the Teachable Machine and ml5 libraries load as one of their own models',
  ],
} as const satisfies Record<string, readonly [term: string, description: string]>;

export type CommandName = keyof typeof COMMAND_SUMMARIES;
