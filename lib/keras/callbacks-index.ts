// nt.callbacks: every Keras callback, including the ones that save (they import the model's saving code).
/**
 * Keras callbacks: the hooks fit calls, History, EarlyStopping, ModelCheckpoint, TensorBoard...
 * @module
 */
export * from './callbacks';
export { ModelCheckpoint, BackupAndRestore, formatFilepath } from './checkpoint_callbacks';
export type { ModelCheckpointOptions, BackupAndRestoreOptions } from './checkpoint_callbacks';
// export and observability (issue 17): TensorBoard and the HTML training report
export { TensorBoard } from './tensorboard_callback';
export type { TensorBoardOptions } from './tensorboard_callback';
export { HtmlReport } from './html_report_callback';
export type { HtmlReportOptions } from './html_report_callback';
