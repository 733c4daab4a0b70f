"""Graph rewrites of an exported ONNX model that keep its outputs and make ONNX Runtime faster."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, shape_inference


def fold_pads_into_convs(model: onnx.ModelProto) -> int:
    """Merge each zero `Pad` that feeds only a `Conv` into that conv's own (possibly asymmetric) `pads`;
    returns how many were merged. The same numbers come out, faster: EfficientNet's 'SAME' padding of
    stride-2 convs exports as separate Pads, which ONNX Runtime runs outside its blocked-layout conv
    kernels, converting the layout before and after each one."""
    graph = model.graph
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    candidates = []
    for pad in (n for n in graph.node if n.op_type == "Pad"):
        attrs = {a.name: helper.get_attribute_value(a) for a in pad.attribute}
        users = consumers.get(pad.output[0], [])
        conv_attrs = {a.name: helper.get_attribute_value(a) for a in users[0].attribute} if users else {}
        if (attrs.get("mode", b"constant") == b"constant" and len(users) == 1 and users[0].op_type == "Conv"
                and pad.output[0] not in outputs and conv_attrs.get("auto_pad", b"NOTSET") == b"NOTSET"):
            candidates.append((pad, users[0], conv_attrs))
    if not candidates:
        return 0
    # The amounts (and fill value) are computed inside the graph from the fixed input size: evaluate them.
    wanted = [name for pad, _, _ in candidates for name in pad.input[1:3] if name]
    values = dict(zip(wanted, _evaluate(model, wanted), strict=True))
    merged = 0
    for pad, conv, conv_attrs in candidates:
        amounts = values[pad.input[1]].astype(int).ravel()
        fill = values[pad.input[2]] if len(pad.input) > 2 and pad.input[2] else np.zeros(1)
        if amounts.size != 8 or amounts[[0, 1, 4, 5]].any() or (amounts < 0).any() or (fill != 0).any():
            continue
        old = list(conv_attrs.get("pads", [0, 0, 0, 0]))
        new = [old[0] + amounts[2], old[1] + amounts[3], old[2] + amounts[6], old[3] + amounts[7]]
        kept = [a for a in conv.attribute if a.name != "pads"]
        del conv.attribute[:]
        conv.attribute.extend([*kept, helper.make_attribute("pads", [int(v) for v in new])])
        conv.input[0] = pad.input[0]
        graph.node.remove(pad)
        merged += 1
    _drop_unused_nodes(graph)
    return merged


def _evaluate(model: onnx.ModelProto, names: list[str]) -> list:
    """Values of intermediate tensors that do not depend on the input's contents, from one run."""
    import onnxruntime as ort

    probe = type(model)()
    probe.CopyFrom(model)
    probe.graph.output.extend(helper.make_empty_tensor_value_info(name) for name in names)
    session = ort.InferenceSession(shape_inference.infer_shapes(probe).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    feed = {}
    for inp in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        feed[inp.name] = np.zeros(shape, np.float32)
    return session.run(names, feed)


def _drop_unused_nodes(graph: onnx.GraphProto) -> None:
    """Remove nodes none of whose outputs is used (what computed the pad amounts)."""
    while True:
        used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(out in used for out in n.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)
