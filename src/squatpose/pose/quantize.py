"""int8 ONNX: static quantization with ONNX Runtime, calibrated on real person crops.

Per-channel int8 weights and uint8 activations in QOperator form, which ONNX Runtime runs with integer
kernels. Activation ranges are the min/max over the crops the model sees in practice (ground-truth
person boxes of a COCO keypoints file), never random input. Only the backbone is quantized: the decoder
(every convolution outside the model's `backbone` module; the last `FLOAT_TAIL_CONVS` for a model without
one) stays float, since it shapes the heatmap peak that sub-pixel decoding reads, and it is a small share
of the time.

Measured on model v2 (docs/model-card.md), PCK@0.05 change against the float model on the LSP dev split,
no flip, 250 calibration crops of its training persons: backbone int8, decoder float, five random draws
−0.56 to +0.17 (mean −0.22); only the last 3 convolutions in graph order float −0.33 to −0.61 (three
draws), the first model that way −0.44 to −0.72 (five). A crop takes the same time either way (0.62–0.63×
MoveNet Lightning's, 1 thread, interleaved): the decoder is a small share. On the
first model, 99.99th-percentile and entropy ranges were no better than min/max: which crops are drawn
matters more than the method. ONNX Runtime's calibrator holds every activation of the crops it has not
yet summarised (about 90 MB per crop at 256×192), so it is given them `CALIBRATION_CHUNK` at a time.
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from squatpose import atomic
from squatpose.joints import get_joint_set
from squatpose.pose.checkpoint import LoadedModel
from squatpose.pose.data.dataset import PersonRecord, PoseDataset, load_records
from squatpose.pose.export import export_onnx

log = logging.getLogger(__name__)

FLOAT_TAIL_CONVS = 3
CALIBRATION_PERSONS = 250
CALIBRATION_CHUNK = 16


def calibration_batches(loaded: LoadedModel, records: list[PersonRecord], persons: int, seed: int = 0
                        ) -> Iterator[np.ndarray]:
    """Normalised evaluation crops `(1,3,h,w)` of `persons` records drawn at random (seeded)."""
    if not records:
        raise ValueError("int8 calibration needs person records; the calibration file has none")
    dataset = PoseDataset(records, loaded.codec, loaded.joint_set, loaded.input_mean, loaded.input_std)
    order = np.random.default_rng(seed).permutation(len(records))[:persons]
    for index in order:
        yield dataset[int(index)]["image"].numpy()[None]


def calibration_chunk(persons: int) -> int:
    """Crops summarised at a time: about `CALIBRATION_CHUNK`, but never a divisor of `persons`: ONNX
    Runtime's min/max calibrator fails ("No data is collected") when the last chunk comes out empty."""
    chunk = CALIBRATION_CHUNK
    while persons > chunk and persons % chunk == 0:
        chunk += 1
    return chunk


def float_convs(conv_names: list[str]) -> list[str]:
    """The convolutions that stay float: the decoder (outside `/backbone/`), else the last few."""
    backbone = [n for n in conv_names if n.startswith("/backbone/")]
    if not backbone:
        return conv_names[-FLOAT_TAIL_CONVS:]
    return [n for n in conv_names if not n.startswith("/backbone/")]


def quantize_int8(loaded: LoadedModel, out_path: str | Path, batches: Iterator[np.ndarray],
                  persons: int = CALIBRATION_PERSONS) -> Path:
    """Export `loaded` to float ONNX, quantize it statically with `batches` (`persons` crops) as
    calibration; atomic write."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict | None:
            batch = next(batches, None)
            return None if batch is None else {"image": batch}

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".squatpose-int8-") as tmp:
        float_path = export_onnx(loaded, Path(tmp) / "float.onnx")
        prepared = Path(tmp) / "prepared.onnx"
        # the batch axis is symbolic, which the symbolic shape pass can't complete
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        quantized = Path(tmp) / "int8.onnx"
        convs = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Conv"]
        quantize_static(str(prepared), str(quantized), Reader(), quant_format=QuantFormat.QOperator,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=float_convs(convs),
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"CalibMaxIntermediateOutputs": calibration_chunk(persons)})
        _copy_metadata(float_path, quantized)
        atomic.commit(quantized, out_path)  # same folder: an atomic rename
    log.info("int8 model written to %s", out_path)
    return out_path


def _copy_metadata(source: Path, target: Path) -> None:
    """The quantizer drops ONNX metadata; the int8 file must describe itself like the float one."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(source), load_external_data=False).metadata_props}
    model = onnx.load(str(target))
    del model.metadata_props[:]
    for key, value in {**meta, "precision": "int8"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(target))


def export_int8(loaded: LoadedModel, out_path: str | Path, calibration: str | Path | None,
                images: str | Path | None, persons: int | None = None) -> Path:
    """`quantize_int8` calibrated on up to `persons` (default CALIBRATION_PERSONS) persons of the COCO
    keypoints file `calibration`, its images under `images`."""
    if not (calibration and images):
        raise ValueError("--int8 needs --calibration JSON and --images DIR (crops for the activation ranges)")
    records = load_records(calibration, images, get_joint_set(loaded.joint_set.name))
    persons = min(persons or CALIBRATION_PERSONS, len(records))
    return quantize_int8(loaded, out_path, calibration_batches(loaded, records, persons), persons=persons)
