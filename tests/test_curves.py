"""Training curves: a PNG from metrics.jsonl, without touching matplotlib's backend."""
import json

import cv2
import matplotlib

from squatpose.pose.training.curves import plot_curves


def test_curves_png_from_metrics(tmp_path):
    backend = matplotlib.get_backend()
    rows = [{"epoch": e, "train_loss": 1.0 / e,
             "val": {"pck_box": {"pooled": {"0.05": 10.0 * e, "0.1": 20.0 * e}}}}
            for e in (1, 2, 3)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plot_curves(tmp_path / "metrics.jsonl", tmp_path / "curves.png")
    image = cv2.imread(str(tmp_path / "curves.png"))
    assert image is not None and image.shape[1] > 2 * image.shape[0] > 300  # two panels side by side
    assert matplotlib.get_backend() == backend
