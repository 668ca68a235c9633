export { ntXentLoss } from './nt-xent.js';
export { infoNceLoss } from './infonce.js';
export { mocoV3Loss } from './mocov3.js';
export { byolLoss, normalizedMse } from './byol.js';
export { dinoLoss, type DinoLossOptions } from './dino.js';
