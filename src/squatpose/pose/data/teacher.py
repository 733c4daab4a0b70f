"""A MoveNet SinglePose teacher (ONNX), used at training time only: label refinement and pseudo-labels.

Never shipped and never called at inference. Interface of the file (see the teachers' README): input
`[1, S, S, 3]` int32 RGB 0–255 (S = 256 Thunder, 192 Lightning), output `[1, 1, 17, 3]` = (y, x, score)
normalised to the crop, COCO keypoint order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from squatpose.geometry import box_to_center_size
from squatpose.joints import COCO_FLIP_PERM

BOX_PADDING = 1.25  # square crop side = 1.25 × the larger box side, as in the teachers' measured setup
TEACHER_FIELD = "teacher_keypoints"  # per-annotation COCO field read by load_records (distillation targets)


class TeacherError(ValueError):
    """A teacher model file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class TeacherPose:
    """17 COCO keypoints in image pixels `(17, 2)` and their scores `(17,)`."""

    points: np.ndarray
    scores: np.ndarray

    def coco_field(self) -> list[float]:
        """The per-annotation `teacher_keypoints` field: (x, y, score) × 17 in COCO order, image px."""
        rows = np.concatenate([self.points.round(2), self.scores[:, None].round(3)], axis=1)
        return [float(v) for v in rows.reshape(-1)]


class MoveNetTeacher:
    """MoveNet SinglePose on a square crop around a person box, optionally averaged with its mirror image."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        path = Path(path)
        if not path.is_file():
            raise TeacherError(f"{path}: teacher model file not found")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 -- onnxruntime raises its own exception types for a bad file
            raise TeacherError(f"{path}: not a loadable ONNX model ({exc})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else None
        if (shape is None or len(shape) != 4 or shape[1] != shape[2] or not isinstance(shape[1], int)
                or shape[3] != 3 or len(outputs) != 1 or list(outputs[0].shape)[-2:] != [17, 3]):
            raise TeacherError(f"{path}: not a MoveNet SinglePose model (expected one [1,S,S,3] input and a "
                               f"[1,1,17,3] output, got inputs {[i.shape for i in inputs]}, "
                               f"outputs {[o.shape for o in outputs]})")
        self.path = path
        self.size = int(shape[1])
        self.input_name = inputs[0].name
        self.int_input = "int" in inputs[0].type

    def crop_matrix(self, box_xywh: np.ndarray) -> np.ndarray:
        """2×3 affine: image px → crop px for the padded square crop around the box."""
        center, size = box_to_center_size(np.asarray(box_xywh, np.float64), 1.0, BOX_PADDING)
        scale = self.size / size[0]
        offset = self.size / 2 - 0.5
        return np.array([[scale, 0.0, offset - scale * center[0]],
                         [0.0, scale, offset - scale * center[1]]])

    def _run(self, crop: np.ndarray) -> np.ndarray:
        batch = crop[None].astype(np.int32 if self.int_input else np.float32)
        return self.session.run(None, {self.input_name: batch})[0].reshape(17, 3)

    def predict(self, image_rgb: np.ndarray, box_xywh: np.ndarray, flip: bool = True) -> TeacherPose:
        """Keypoints of the person in `box_xywh` (image px). `flip` averages with the mirrored crop."""
        matrix = self.crop_matrix(box_xywh)
        crop = cv2.warpAffine(image_rgb, matrix, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        # Output is normalised to the crop: pixel-centre convention, x_px = x * S - 0.5.
        out = self._run(crop)
        xy = out[:, [1, 0]] * self.size - 0.5
        score = out[:, 2]
        if flip:
            mirrored = self._run(np.ascontiguousarray(crop[:, ::-1]))[list(COCO_FLIP_PERM)]
            xy_m = mirrored[:, [1, 0]] * self.size - 0.5
            xy_m[:, 0] = self.size - 1 - xy_m[:, 0]
            xy = (xy + xy_m) / 2
            score = (score + mirrored[:, 2]) / 2
        inverse = cv2.invertAffineTransform(matrix)
        points = xy @ inverse[:, :2].T + inverse[:, 2]
        return TeacherPose(points.astype(np.float64), score.astype(np.float64))
