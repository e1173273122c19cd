export * from './start-server.js';
export * from './error-mapping.js';
export * from './serve-error.js';
export * from './model-registry.js';
export * from './dynamic-batcher.js';
export * from './server-metrics.js';
export type { ImagePrediction } from './predict-images.js';
