// F: PyTorch's torch.nn.functional.
export {};
