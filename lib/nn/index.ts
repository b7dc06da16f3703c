// PyTorch-style modules over native torch::nn.
export {};
