"""Convert MediaPipe's BlazePose person detector (TFLite) into the ONNX file shipped in squatpose.

Run once by a maintainer, not at install or run time:

    pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
        mediapipe==0.10.14 -d /tmp/mp
    pip install tflite ai-edge-litert onnx    # conversion-time only, not squatpose dependencies
    python tools/convert_detector.py /tmp/mp/mediapipe-0.10.14-*.whl

The TFLite file stores its weights as sparse float16 tensors (DENSIFY + DEQUANTIZE ops), which the
generic converters do not handle. The LiteRT interpreter computes those constants once; the remaining
ops (convolutions, padding, adds, depth-to-space, bilinear resize, reshape, concat) are written as ONNX
nodes in NCHW layout. The input stays NHWC `(1,224,224,3)` float32 in [-1, 1], like the original; the
outputs are `regressors (1,2254,12)` and `scores (1,2254,1)` (logits). The script checks the ONNX
output against the interpreter on a test image before writing.
"""
from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

MEMBER = "mediapipe/modules/pose_detection/pose_detection.tflite"
OUT = Path(__file__).resolve().parents[1] / "src" / "squatpose" / "video" / "models" / "person_detector.onnx"
OPS = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
CONSTANT_OPS = {"DENSIFY", "DEQUANTIZE"}


def interpreter(model_bytes: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model_bytes, experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


class Converter:
    def __init__(self, model_bytes: bytes) -> None:
        self.model = tflite.Model.GetRootAsModel(model_bytes, 0)
        self.graph = self.model.Subgraphs(0)
        self.it = interpreter(model_bytes)
        self.it.set_tensor(self.it.get_input_details()[0]["index"], np.zeros((1, 224, 224, 3), np.float32))
        self.it.invoke()
        self.nodes: list = []
        self.inits: list = []
        self.casts: list = []
        self.const: dict[int, np.ndarray] = {}
        self.nchw: set[int] = set()  # tensors held in NCHW layout in the ONNX graph

    def name(self, i: int) -> str:
        return f"t{i}"

    def op_name(self, op) -> str:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        return OPS[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]

    def constant(self, i: int) -> np.ndarray | None:
        if i in self.const:
            return self.const[i]
        tensor = self.graph.Tensors(i)
        data = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(data, np.ndarray) and data.size and tensor.Type() == tflite.TensorType.FLOAT32:
            return data.view(np.float32).reshape(tensor.ShapeAsNumpy())
        if isinstance(data, np.ndarray) and data.size and tensor.Type() == tflite.TensorType.INT32:
            return data.view(np.int32).reshape(tensor.ShapeAsNumpy())
        return None

    def init(self, name: str, value: np.ndarray) -> str:
        # a weight shared by two ops
        if any(existing.name in (name, name + "_f16") for existing in self.inits):
            return name
        if value.dtype == np.float32 and value.size > 64:
            # The original weights are float16: stored so they take half the space; ONNX Runtime folds the
            # cast once when it loads the file.
            self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value, np.float16), name + "_f16"))
            self.casts.append(helper.make_node("Cast", [name + "_f16"], [name], to=TensorProto.FLOAT))
            return name
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def shape(self, i: int) -> list[int]:
        return [int(v) for v in self.graph.Tensors(i).ShapeAsNumpy()]

    def activation(self, out: str, fused: int) -> None:
        if fused == tflite.ActivationFunctionType.NONE:
            return
        tmp = out + "_pre"
        self.nodes[-1].output[0] = tmp
        if fused == tflite.ActivationFunctionType.RELU:
            self.nodes.append(helper.make_node("Relu", [tmp], [out]))
        elif fused == tflite.ActivationFunctionType.RELU6:
            lo, hi = self.init(out + "_lo", np.float32(0)), self.init(out + "_hi", np.float32(6))
            self.nodes.append(helper.make_node("Clip", [tmp, lo, hi], [out]))
        else:
            raise NotImplementedError(f"fused activation {fused}")

    def same_pads(self, in_hw, kernel_hw, stride_hw, dilation_hw) -> list[int]:
        begins, ends = [], []
        for size, k, s, d in zip(in_hw, kernel_hw, stride_hw, dilation_hw):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            begins.append(total // 2)
            ends.append(total - total // 2)
        return begins + ends

    def conv(self, op, depthwise: bool) -> None:
        opts_cls = tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions
        opts = opts_cls()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        x, w, b = op.InputsAsNumpy()
        out = op.OutputsAsNumpy()[0]
        weight = self.constant(w)
        in_c = self.shape(x)[3]
        if depthwise:   # [1,kh,kw,C*M] → [C*M,1,kh,kw]
            onnx_w, group = weight.transpose(3, 0, 1, 2), in_c
        else:           # [O,kh,kw,I] → [O,I,kh,kw]
            onnx_w, group = weight.transpose(0, 3, 1, 2), 1
        stride = [opts.StrideH(), opts.StrideW()]
        dilation = [opts.DilationHFactor(), opts.DilationWFactor()]
        kernel = list(onnx_w.shape[2:])
        pads = (self.same_pads(self.shape(x)[1:3], kernel, stride, dilation)
                if opts.Padding() == tflite.Padding.SAME else [0, 0, 0, 0])
        inputs = [self.name(x), self.init(f"w{w}", onnx_w.astype(np.float32))]
        if b >= 0:
            inputs.append(self.init(f"b{b}", self.constant(b).astype(np.float32)))
        self.nodes.append(helper.make_node("Conv", inputs, [self.name(out)], strides=stride,
                                           dilations=dilation,
                                           pads=pads, group=group, kernel_shape=kernel))
        self.activation(self.name(out), opts.FusedActivationFunction())
        self.nchw.add(out)

    def add(self, op) -> None:
        opts = tflite.AddOptions()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        a, b = op.InputsAsNumpy()
        out = op.OutputsAsNumpy()[0]
        if self.constant(a) is not None or self.constant(b) is not None or not {a, b} <= self.nchw:
            raise NotImplementedError("ADD of constants or non-NCHW tensors")
        self.nodes.append(helper.make_node("Add", [self.name(a), self.name(b)], [self.name(out)]))
        self.activation(self.name(out), opts.FusedActivationFunction())
        self.nchw.add(out)

    def pad(self, op) -> None:
        x, p = op.InputsAsNumpy()[:2]
        out = op.OutputsAsNumpy()[0]
        pads = self.constant(p)[[0, 3, 1, 2]]  # NHWC rows → NCHW
        onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]]).astype(np.int64)
        self.nodes.append(helper.make_node("Pad", [self.name(x), self.init(f"p{out}", onnx_pads)],
                                           [self.name(out)]))
        self.nchw.add(out)

    def depth_to_space(self, op) -> None:
        opts = tflite.DepthToSpaceOptions()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        x, out = op.InputsAsNumpy()[0], op.OutputsAsNumpy()[0]
        self.nodes.append(helper.make_node("DepthToSpace", [self.name(x)], [self.name(out)],
                                           blocksize=opts.BlockSize(), mode="DCR"))
        self.nchw.add(out)

    def resize(self, op) -> None:
        opts = tflite.ResizeBilinearOptions()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        x = op.InputsAsNumpy()[0]
        out = op.OutputsAsNumpy()[0]
        n, h, w, c = self.shape(out)
        mode = ("align_corners" if opts.AlignCorners() else "half_pixel" if opts.HalfPixelCenters()
                else "asymmetric")
        sizes = self.init(f"s{out}", np.array([n, c, h, w], np.int64))
        self.nodes.append(helper.make_node("Resize", [self.name(x), "", "", sizes], [self.name(out)],
                                           mode="linear", coordinate_transformation_mode=mode))
        self.nchw.add(out)

    def reshape(self, op) -> None:
        x = op.InputsAsNumpy()[0]
        out = op.OutputsAsNumpy()[0]
        source = self.name(x)
        if x in self.nchw:  # back to NHWC so that the flattening order matches TFLite's
            source = self.name(x) + "_nhwc"
            self.nodes.append(helper.make_node("Transpose", [self.name(x)], [source], perm=[0, 2, 3, 1]))
        shape = self.init(f"r{out}", np.array(self.shape(out), np.int64))
        self.nodes.append(helper.make_node("Reshape", [source, shape], [self.name(out)]))

    def concat(self, op) -> None:
        opts = tflite.ConcatenationOptions()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        inputs = list(op.InputsAsNumpy())
        out = op.OutputsAsNumpy()[0]
        if any(i in self.nchw for i in inputs):
            raise NotImplementedError("CONCATENATION of NCHW tensors")
        self.nodes.append(helper.make_node("Concat", [self.name(i) for i in inputs], [self.name(out)],
                                           axis=int(opts.Axis())))

    def convert(self) -> onnx.ModelProto:
        g = self.graph
        (inp,), outs = g.InputsAsNumpy(), list(g.OutputsAsNumpy())
        self.nodes.append(helper.make_node("Transpose", ["input"], [self.name(inp)], perm=[0, 3, 1, 2]))
        self.nchw.add(inp)
        handlers = {"CONV_2D": lambda op: self.conv(op, False),
                    "DEPTHWISE_CONV_2D": lambda op: self.conv(op, True),
                    "ADD": self.add, "PAD": self.pad, "DEPTH_TO_SPACE": self.depth_to_space,
                    "RESIZE_BILINEAR": self.resize, "RESHAPE": self.reshape, "CONCATENATION": self.concat}
        for k in range(g.OperatorsLength()):
            op = g.Operators(k)
            kind = self.op_name(op)
            if kind in CONSTANT_OPS:
                out = op.OutputsAsNumpy()[0]
                self.const[out] = self.it.get_tensor(out)
                continue
            handlers[kind](op)
        names = ["regressors" if self.shape(i)[-1] > 1 else "scores" for i in outs]
        for name, i in zip(names, outs):
            self.nodes.append(helper.make_node("Identity", [self.name(i)], [name]))
        graph = helper.make_graph(
            self.casts + self.nodes, "blazepose_person_detector",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 224, 224, 3])],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, self.shape(i)) for n, i in zip(names, outs)],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                  producer_name="squatpose")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def check(model: onnx.ModelProto, model_bytes: bytes) -> float:
    """Largest difference between ONNX Runtime and the LiteRT interpreter on a structured test image."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    image = np.clip(np.cumsum(rng.normal(0, 0.05, (1, 224, 224, 3)), axis=2), -1, 1).astype(np.float32)
    it = interpreter(model_bytes)
    it.set_tensor(it.get_input_details()[0]["index"], image)
    it.invoke()
    expected = [it.get_tensor(d["index"]) for d in it.get_output_details()]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": image})
    by_shape = {e.shape[-1]: e for e in expected}
    return max(float(np.abs(g - by_shape[g.shape[-1]]).max()) for g in got)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="the mediapipe wheel, or pose_detection.tflite itself")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.source.suffix == ".whl":
        with zipfile.ZipFile(args.source) as wheel:
            model_bytes = wheel.read(MEMBER)
    else:
        model_bytes = args.source.read_bytes()
    print(f"source sha256 {hashlib.sha256(model_bytes).hexdigest()}")
    model = Converter(model_bytes).convert()
    error = check(model, model_bytes)
    print(f"largest difference from the TFLite interpreter: {error:.2e}")
    if error > 1e-3:
        raise SystemExit("the converted model does not match the original; nothing written")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, args.out)
    data = args.out.read_bytes()
    print(f"wrote {args.out} ({len(data) / 1e6:.1f} MB, sha256 {hashlib.sha256(data).hexdigest()})")


if __name__ == "__main__":
    main()
