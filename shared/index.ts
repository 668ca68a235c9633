export * from './contract/index.js';
export * from './wire.js';
