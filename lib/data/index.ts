// nt.data: input pipelines, text and image preprocessing, augmentation.
export * from './dataset';
export * from './text';
export * from './images';
export * from './augment';
