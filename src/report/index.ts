export * from './build-report.js';
export * from './line-chart.js';
export * from './render-report.js';
export * from './thumbnail.js';
