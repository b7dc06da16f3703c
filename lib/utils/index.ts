// nt.utils: the helpers PyTorch keeps in torch.utils and Keras in keras.utils, one namespace object
// that each domain extends with its own section below.

// ---- data: torch.utils.data (Dataset, TensorDataset, DataLoader, samplers) ----
export * as data from './data';

// ---- tensorboard, toCategorical, plotting: sections added by their domains ----
