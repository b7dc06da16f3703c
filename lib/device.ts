// Devices and threads.
import { native } from './native';
import { deviceString } from './tensor';

/** A device ('cpu', 'cuda', 'cuda:1'), as torch.device. */
export class Device {
  readonly type: 'cpu' | 'cuda';
  readonly index: number | null;
  constructor(spec: string) {
    const s = deviceString(spec, 'device');
    const [type, idx] = s.split(':');
    this.type = type as 'cpu' | 'cuda';
    this.index = idx === undefined ? null : Number(idx);
  }
  /** The device string, e.g. 'cuda:0'. */
  toString(): string {
    return this.index === null ? this.type : `${this.type}:${this.index}`;
  }
}

/** nt.device('cuda:0') */
export function device(spec: string): Device {
  return new Device(spec);
}

/** torch.cuda: whether CUDA and cuDNN are available and how many devices. */
export const cuda = {
  /** Whether a CUDA device can be used. */
  isAvailable: (): boolean => native.cuda_is_available(),
  /** The number of CUDA devices. */
  deviceCount: (): number => native.cuda_device_count(),
  /** Whether cuDNN can be used. */
  cudnnIsAvailable: (): boolean => native.cudnn_is_available(),
};

/** Every device a test or benchmark should cover: 'cpu', then each CUDA device. */
export function availableDevices(): string[] {
  const n = native.cuda_is_available() ? native.cuda_device_count() : 0;
  return ['cpu', ...Array.from({ length: n }, (_, i) => `cuda:${i}`)];
}

/** Sets the number of threads libtorch uses for intra-op parallelism. */
export function setNumThreads(n: number): void {
  native.set_num_threads(n);
}
/** The number of threads libtorch uses for intra-op parallelism. */
export function getNumThreads(): number {
  return native.get_num_threads();
}
