// nt.save / nt.load: the PyTorch-style API's files. safetensors by default; PyTorch's torch.save
// zip format (.pt/.pth) both ways, tensors only. The format is read from the file's first bytes.
import * as path from 'path';
import { Tensor, typeOfValue } from '../tensor';
import { DeviceLike } from '../tensor';
import { saveSafetensors, loadSafetensors } from './safetensors';
import { isZip, readTorchZip, torchZipChunks } from './torchfile';
import { writeFileAtomicSync } from './atomic';
import { checkBudget, maxBytesFor, MaxBytesOptions, openRegular } from './files';

/** Options of nt.save (torch.save): the file format and safetensors metadata. */
export interface SaveOptions {
  /** 'safetensors' (the default, and what a .safetensors name gets) or 'pt' (what .pt/.pth/.bin names get). */
  format?: 'safetensors' | 'pt';
  /** safetensors only: string metadata stored in the header. */
  metadata?: Record<string, string>;
}

/** Options of nt.load (torch.load): the device to load onto (map_location) and the file size limit. */
export interface LoadOptions extends MaxBytesOptions {
  /** Move every loaded tensor to this device (PyTorch's map_location). */
  device?: DeviceLike;
}

function formatFor(file: string, opts: SaveOptions): 'safetensors' | 'pt' {
  if (opts.format !== undefined) {
    if (opts.format !== 'safetensors' && opts.format !== 'pt') {
      throw new RangeError(`nt.save: expected format 'safetensors' or 'pt' but received ${typeOfValue(opts.format)}`);
    }
    return opts.format;
  }
  return ['.pt', '.pth', '.bin', '.ckpt'].includes(path.extname(file).toLowerCase()) ? 'pt' : 'safetensors';
}

/**
 * Saves a state dict (an object or Map of named tensors) atomically: safetensors, or PyTorch's
 * torch.save format for .pt/.pth names (which may also hold nested arrays, objects and numbers).
 */
export async function save(obj: unknown, file: string, opts: SaveOptions = {}): Promise<void> {
  if (typeof file !== 'string' || !file) throw new TypeError(`nt.save: expected a file path but received ${typeOfValue(file)}`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`nt.save: expected an options object but received ${typeOfValue(opts)}`);
  if (obj === null || typeof obj !== 'object' || obj instanceof Tensor) {
    throw new TypeError(`nt.save: expected a state dict (an object or Map of tensors) but received ${obj instanceof Tensor ? 'a Tensor' : typeOfValue(obj)}`);
  }
  if (formatFor(file, opts) === 'safetensors') {
    const entries = obj instanceof Map ? [...obj.entries()] : Object.entries(obj);
    const tensors: Record<string, Tensor> = {};
    for (const [k, v] of entries) {
      if (!(v instanceof Tensor)) {
        throw new TypeError(`nt.save: safetensors holds only tensors, but '${String(k)}' is ${typeOfValue(v)}; save to a .pt file for nested values`);
      }
      if (v.isDisposed) throw new TypeError(`nt.save: '${String(k)}' is a disposed Tensor`);
      tensors[String(k)] = v;
    }
    saveSafetensors(file, tensors, opts.metadata);
    return;
  }
  const archive = path.basename(file).replace(/\.[^.]*$/, '').replace(/[^\w.-]/g, '_') || 'archive';
  writeFileAtomicSync(file, torchZipChunks(obj, archive));
}

function moveTo(v: unknown, device: DeviceLike): unknown {
  if (v instanceof Tensor) {
    const m = v.to(device);
    if (m !== v) v.dispose();
    return m;
  }
  if (Array.isArray(v)) return v.map((x) => moveTo(x, device));
  if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) (v as Record<string, unknown>)[k] = moveTo((v as Record<string, unknown>)[k], device);
  }
  return v;
}

/**
 * Loads what nt.save (or Python's safetensors / torch.save of a state dict) wrote: an object of
 * named tensors (typed so; a .pt file may also hold nested arrays, objects and numbers). A
 * torch.save file needing arbitrary unpickling is refused, never run.
 */
export async function load(file: string, opts: LoadOptions = {}): Promise<Record<string, Tensor>> {
  if (typeof file !== 'string' || !file) throw new TypeError(`nt.load: expected a file path but received ${typeOfValue(file)}`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`nt.load: expected an options object but received ${typeOfValue(opts)}`);
  const { fh, size } = await openRegular(file, 'nt.load', '; for a saved Keras model use nt.loadModel');
  let out: unknown;
  try {
    const budget = maxBytesFor(opts, size, 'nt.load');
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    if (isZip(head.subarray(0, bytesRead))) {
      checkBudget(size, budget, 'the archive', 'nt.load', file);
      out = readTorchZip(await fh.readFile(), file, budget);
    } else if (bytesRead >= 4 && head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a && head[3] === 0x0a) {
      throw new Error(`nt.load: ${file} is in torch.save's legacy (pre-1.6) pickle format, which only Python can read: ` +
        're-save it from Python with torch.save(state_dict, f) (the zip format) or as safetensors');
    } else {
      out = loadSafetensors(file, { maxBytes: budget });
    }
  } finally {
    await fh.close();
  }
  if (opts.device !== undefined) out = moveTo(out, opts.device);
  if (out === null || typeof out !== 'object' || Array.isArray(out)) {
    throw new Error(`nt.load: ${file} holds ${typeOfValue(out)}, not a dict of tensors`);
  }
  return out as Record<string, Tensor>;
}
