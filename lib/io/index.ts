// nt.io: files in and out. safetensors for tensors, atomic writes for anything a crash must not tear.
export { saveSafetensors, loadSafetensors, readSafetensors, MAX_HEADER_BYTES } from './safetensors';
export { writeFileAtomicSync } from './atomic';
export { save, load } from './serialize';
export type { SaveOptions, LoadOptions } from './serialize';
