// PyTorch-style optimizers over native torch::optim, learning-rate schedulers and gradient clipping.
export {};
