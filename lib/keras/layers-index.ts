// nt.layers: the Keras layers users construct.
export { Layer, Dense, Flatten, Reshape, Dropout, Activation, Conv2D, MaxPooling2D, AveragePooling2D, InputLayer, Input } from './layers';
export type { LayerOptions, DenseOptions, Conv2DOptions, ActivationName } from './layers';
