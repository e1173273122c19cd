export * from './export-web.js';
export * from './web-model-info.js';
export * from './web-app-root.js';
