/** Trained model directories: manifest, save, load, predict, evaluate. @packageDocumentation */
export * from './manifest.js';
export * from './save-model.js';
export * from './graft-model.js';
export * from './evaluate-model.js';
export * from './export-tfjs.js';
