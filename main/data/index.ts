export { DataLoader, type Batch, type DataLoaderOptions, type LoaderStats } from './loader.js';
