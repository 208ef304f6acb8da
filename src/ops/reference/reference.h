// SPDX-License-Identifier: Apache-2.0
// A naive interpreter for the mnet format: plain NCHW loops in float, accumulating in double, written straight from
// models/FORMAT.md. It is the tests' oracle for the oneDNN engine, so it shares nothing with it but the validated
// Graph, is never linked into the CLI and never includes oneDNN. Slow by design: clarity over speed.
#pragma once

#include <vector>

#include "graph/graph.h"
#include "mnet/model.h"
#include "mnet/tensor.h"

namespace mnet::reference {

// Runs `model` on `src`, which must be the model input's shape with any batch N >= 1 ({N, C, H, W}): the Graph's
// batch-1 shapes are scaled in dim 0. Returns the graph outputs in Model::outputs() order, each with batch N.
// Throws InvalidArgument on a wrong input shape, Unsupported for a broadcast that is ambiguous at batch N.
// With `fake_quant`, an emulation of int8 execution (the shared int8 references' method): the input and every
// node output that carries per-tensor u8/s8 quantization are rounded to its grid and clamped to its range,
// x -> (clamp(round(x / s) + zp, qmin, qmax) - zp) * s, rounding half to even.
std::vector<Tensor> run(const Model& model, const Tensor& src, bool fake_quant = false);

// The same run, returning every activation of the graph, indexed by Graph value id (value 0 is the input): for
// locating the first layer where an engine and the reference part ways.
std::vector<Tensor> run_all(const Model& model, const Tensor& src, bool fake_quant = false);

// One activation function (FORMAT.md "activation"), evaluated in double. None is the identity.
double activate(Activation act, double x);

}  // namespace mnet::reference
