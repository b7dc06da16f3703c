// nt.layers: the Keras layers users construct.
/**
 * Keras layers (keras.layers): Dense, Conv2D, LSTM, MultiHeadAttention, the merge and preprocessing layers...
 * @module
 */
export { Layer, Dense, Flatten, Reshape, Dropout, Activation, Conv2D, MaxPooling2D, AveragePooling2D, InputLayer, Input } from './layers';
export type { LayerOptions, DenseOptions, Conv2DOptions, ActivationName } from './layers';
export { Conv1D, GlobalAveragePooling2D, GlobalMaxPooling2D, GlobalAveragePooling1D, GlobalMaxPooling1D, BatchNormalization, LayerNormalization, Embedding, SimpleRNN, LSTM, GRU, Bidirectional } from './layers_more';
export type { Conv1DOptions, BatchNormalizationOptions, LayerNormalizationOptions, EmbeddingOptions, RNNLayerOptions, MergeMode } from './layers_more';
export { MultiHeadAttention } from './attention';
export type { MultiHeadAttentionOptions, MultiHeadAttentionCallOptions } from './attention';
export { RandomFlip, RandomRotation, RandomZoom, RandomTranslation, Rescaling, Resizing } from './preprocessing';
export type { RandomFlipOptions, RandomTransformOptions, ResizingOptions, FlipMode, FillMode, TransformInterpolation, ResizeInterpolation, Factor } from './preprocessing';
// Keras engine v2 (issue 14): merge layers
export { Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot } from './merge';
