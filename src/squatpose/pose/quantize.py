"""int8 ONNX: static quantization with ONNX Runtime, calibrated on real person crops.

Per-channel int8 weights and uint8 activations in QOperator form, which ONNX Runtime runs with integer
kernels; `Int8Recipe` names the variants (7-bit weights for x86 CPUs without VNNI, whose kernel would
saturate with 8-bit ones: docs/model-card.md, "Which file runs on which CPU"; all of them are measured by
benchmarks/int8_variants.py). Activation ranges are the min/max over the crops the model sees in practice
(ground-truth person boxes of a COCO keypoints file), never random input. Only the backbone is quantized: the
decoder (every convolution outside the model's `backbone` module; the last `FLOAT_TAIL_CONVS` for a model
without one) stays float, since it shapes the heatmap peak that sub-pixel decoding reads, and it is a small
share of the time.

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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Int8Recipe:
    """How ONNX Runtime quantizes the model: operator or QDQ format, per-channel or per-tensor weights,
    int8 (`s8`) or uint8 (`u8`) weights, 7-bit weights (`reduce_range`), and convolutions kept float
    beside the decoder: the first one (which reads the image) and any named. `x86_exact` says whether every
    x86 kernel of ONNX Runtime sums its products exactly: without VNNI its uint8 × int8 kernel adds two
    products into a saturating 16-bit sum, which 7-bit weights (at most 2 × 255 × 64 = 32640) or uint8 weights
    (another kernel) cannot overflow."""

    name: str
    qdq: bool = False
    per_channel: bool = True
    weights: str = "s8"
    reduce_range: bool = False
    first_conv_float: bool = False
    keep_float: tuple[str, ...] = ()

    @property
    def x86_exact(self) -> bool:
        return self.reduce_range or self.weights == "u8"

    def metadata(self) -> dict[str, str]:
        """What the file records of its recipe, so that a runtime can tell which CPUs compute it exactly."""
        weights = ("uint" if self.weights == "u8" else "int") + ("7" if self.reduce_range else "8")
        return {"precision": "int8", "int8_recipe": self.name, "int8_weights": weights,
                "int8_x86_exact": "yes" if self.x86_exact else "no"}


# The file the default backend runs on x86 CPUs with VNNI and on ARM (docs/model-card.md, Speed).
VNNI_RECIPE = Int8Recipe("u8s8-per-channel")
# The file for x86 CPUs without VNNI: 7-bit weights cannot saturate their 16-bit pair sums. Its first
# convolution stays float: with 7-bit weights that layer (27 weights per output, on raw pixels) cost
# most of the accuracy lost (docs/model-card.md, Speed).
PORTABLE_RECIPE = Int8Recipe("u8s7-per-channel-first-float", reduce_range=True, first_conv_float=True)


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


def quantize_int8(loaded: LoadedModel, out_path: str | Path, batches: Iterator[np.ndarray] | None,
                  persons: int = CALIBRATION_PERSONS, recipe: Int8Recipe = VNNI_RECIPE,
                  ranges_cache: Path | None = None) -> Path:
    """Export `loaded` to float ONNX, quantize it statically with `batches` (`persons` crops) as
    calibration; atomic write. `ranges_cache`: a JSON file of activation ranges, written on first use
    and read instead of calibrating after that (the ranges do not depend on the recipe)."""
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
        cached = ranges_cache is not None and ranges_cache.is_file()
        quantize_static(str(prepared), str(quantized), None if cached or batches is None else Reader(),
                        quant_format=QuantFormat.QDQ if recipe.qdq else QuantFormat.QOperator,
                        per_channel=recipe.per_channel, reduce_range=recipe.reduce_range,
                        activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QUInt8 if recipe.weights == "u8" else QuantType.QInt8,
                        nodes_to_exclude=float_convs(convs) + convs[:1] * recipe.first_conv_float
                        + [n for n in recipe.keep_float if n in convs],
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"CalibMaxIntermediateOutputs": calibration_chunk(persons)},
                        calibration_cache_path=ranges_cache)
        _copy_metadata(float_path, quantized, recipe.metadata())
        atomic.commit(quantized, out_path)  # same folder: an atomic rename
    log.info("int8 model written to %s", out_path)
    return out_path


def _copy_metadata(source: Path, target: Path, extra: dict[str, str]) -> None:
    """The quantizer drops ONNX metadata; the int8 file must describe itself like the float one."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(source), load_external_data=False).metadata_props}
    model = onnx.load(str(target))
    del model.metadata_props[:]
    for key, value in {**meta, **extra}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(target))


def export_int8(loaded: LoadedModel, out_path: str | Path, calibration: str | Path | None,
                images: str | Path | None, persons: int | None = None, weights_bits: int = 8) -> Path:
    """`quantize_int8` calibrated on up to `persons` (default CALIBRATION_PERSONS) persons of the COCO
    keypoints file `calibration`, its images under `images`: the shipped recipe of `weights_bits` (8:
    VNNI_RECIPE, 7: PORTABLE_RECIPE)."""
    if not (calibration and images):
        raise ValueError("--int8 needs --calibration JSON and --images DIR (crops for the activation ranges)")
    records = load_records(calibration, images, get_joint_set(loaded.joint_set.name))
    persons = min(persons or CALIBRATION_PERSONS, len(records))
    recipe = {8: VNNI_RECIPE, 7: PORTABLE_RECIPE}[weights_bits]
    return quantize_int8(loaded, out_path, calibration_batches(loaded, records, persons), persons=persons,
                         recipe=recipe)
