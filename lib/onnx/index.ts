// nt.onnx: models out to ONNX Runtime. nt.onnx.export(module, exampleInputs, path) for nn.Sequential;
// Keras models use model.export(path, { format: 'onnx' }).
export { exportModule as export, exportKerasModel, kerasModelToOnnx, moduleToOnnx } from './export';
export type { ExportOptions, ModuleExportOptions } from './export';
export { ExportError, MIN_OPSET, MAX_OPSET, DEFAULT_OPSET } from './builder';
export { EXPORTABLE_LAYERS } from './keras';
