export { augmentBatch, describeViews } from './ops.js';
export { drawBatch, planViews, sampleCropBoxes, streamSeed, type ViewPlan, type ViewKind } from './params.js';
