// nt.utils: the helpers PyTorch keeps in torch.utils and Keras in keras.utils, one namespace object
// that each domain extends with its own section below.

// ---- data: torch.utils.data (Dataset, TensorDataset, DataLoader, samplers) ----
/** torch.utils.data: Dataset, TensorDataset, DataLoader and samplers. */
export * as data from './data';

// ---- tensorboard and plots: nt.utils.tensorboard.SummaryWriter, plotHistory, plotModel ----
export * from './observe';

// ---- toCategorical and other Keras utils: sections added by their domains ----
