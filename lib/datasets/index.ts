// Datasets with Keras' loadData(): read from files on this machine, never downloaded.
export { mnist, fashionMnist } from './mnist';
export { cifar10, cifar100 } from './cifar';
export { imdb } from './imdb';
export { bostonHousing } from './boston';
export { datasetsHome } from './files';
export type { Splits, PathOptions } from './files';
export type { Cifar100Options } from './cifar';
export type { ImdbOptions } from './imdb';
export type { BostonOptions } from './boston';
