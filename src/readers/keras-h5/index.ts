/** Keras .h5 import: read a full Keras 2/3 HDF5 model into a TF.js layers model, or weights-only files into an architecture. @packageDocumentation */
export * from './load-keras-h5.js';
export * from './load-weights-only.js';
export * from './keras-config.js';
export * from './keras-weights.js';
