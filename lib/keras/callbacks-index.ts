// nt.callbacks: every Keras callback, including the ones that save (they import the model's saving code).
export * from './callbacks';
export { ModelCheckpoint, BackupAndRestore, formatFilepath } from './checkpoint_callbacks';
export type { ModelCheckpointOptions, BackupAndRestoreOptions } from './checkpoint_callbacks';
