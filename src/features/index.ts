export * from './cache-key.js';
export * from './default-cache-dir.js';
export * from './feature-store.js';
export * from './extract-views.js';
