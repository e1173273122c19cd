export * from './classification.js';
export * from './format-report.js';
