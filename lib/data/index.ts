export * from './images';
export * from './augment';
