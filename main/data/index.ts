export { DataLoader, type Batch, type DataLoaderOptions, type LoaderStats } from './loader.js';
export { decodeRgb } from './decode.js';
export { decodeAllInto, type DecodeAllOptions } from './decode-pool.js';
export { spawnWorker } from './spawn.js';
