// What nt.utils gains for watching and exporting training (issue 17): the TensorBoard writer
// (PyTorch's torch.utils.tensorboard face) and the history/model plots.
/** TensorBoard event files: SummaryWriter (torch.utils.tensorboard). */
export * as tensorboard from './tensorboard';
export { plotHistory, plotModel } from './plot';
export type { HistoryLike, PlotHistoryOptions, PlotModelOptions } from './plot';
