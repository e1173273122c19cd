/** TF.js graph models (TF Hub's TF.js format): read from disk or nsfwjs, and find their feature node. @packageDocumentation */
export * from './graph-model-json.js';
export * from './load-graph-model.js';
export * from './graph-features.js';
