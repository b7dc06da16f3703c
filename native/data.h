// Image transforms shared by lib/data (ImageDataGenerator) and the Keras random image layers
// (native/keras_preprocessing.cc): one definition of the transform matrix and of the resampler.
#pragma once
#include <array>

#include "errors.h"

namespace nt {

// One image's transform as Keras' ImageDataGenerator composes it: rotation by thetaDeg (counter-
// clockwise) with the shifts tx (rows) and ty (columns), then shear (degrees), then zoom zx, zy, then
// the flips. Returns the 2x3 matrix (row-major) that data_affine_transform samples through.
std::array<double, 6> TransformMatrix(double thetaDeg, double tx, double ty, double shearDeg, double zx, double zy,
                                      bool flipHorizontal, bool flipVertical);

// images [N, H, W, C] channels-last; matrices [N, 2, 3] float64 (TransformMatrix's, about the image
// centre); interpolation 'bilinear' | 'nearest', fillMode 'constant' | 'nearest' | 'reflect' | 'wrap'
// (anything else is an ArgError naming where). Returns sample(images) * scale as float32 (float64 for float64 images),
// differentiable and on the images' device where they need it.
at::Tensor AffineResample(at::Tensor x, const at::Tensor& matrices, const std::string& interpolation,
                          const std::string& fillMode, double cval, double scale, const std::string& where);

}  // namespace nt
