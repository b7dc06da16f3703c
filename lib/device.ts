// Devices and threads.
import { native } from './native';
import { deviceString } from './tensor';

export class Device {
  readonly type: 'cpu' | 'cuda';
  readonly index: number | null;
  constructor(spec: string) {
    const s = deviceString(spec, 'device');
    const [type, idx] = s.split(':');
    this.type = type as 'cpu' | 'cuda';
    this.index = idx === undefined ? null : Number(idx);
  }
  toString(): string {
    return this.index === null ? this.type : `${this.type}:${this.index}`;
  }
}

/** nt.device('cuda:0') */
export function device(spec: string): Device {
  return new Device(spec);
}

export const cuda = {
  isAvailable: (): boolean => native.cuda_is_available(),
  deviceCount: (): number => native.cuda_device_count(),
  cudnnIsAvailable: (): boolean => native.cudnn_is_available(),
};

/** Every device a test or benchmark should cover: 'cpu', then each CUDA device. */
export function availableDevices(): string[] {
  const n = native.cuda_is_available() ? native.cuda_device_count() : 0;
  return ['cpu', ...Array.from({ length: n }, (_, i) => `cuda:${i}`)];
}

export function setNumThreads(n: number): void {
  native.set_num_threads(n);
}
export function getNumThreads(): number {
  return native.get_num_threads();
}
