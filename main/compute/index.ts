export * from './backend.js';
export { conv2dBackpropFilterIm2col, registerWasmConv2DBackpropFilter } from './wasm-conv-grad.js';
