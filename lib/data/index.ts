// nt.data: input pipelines and preprocessing.
export * from './dataset';
export * from './text';
