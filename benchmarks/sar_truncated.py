"""How many SAR detections on the real chips are flagged ``truncated`` (cut by the chip's edge or no data).

Run:  python benchmarks/sar_truncated.py [--datasets DIR]

Reads the chips as ``benchmarks/sar_real.py`` does (same detector, same nominal pixel sizes, VV
only) and prints, per dataset, the detections and how many are truncated; on OpenSARShip also
the centred ships (``sar_real.centred_detection``) that are: a chip is cut around its ship, so a
centred ship flagged truncated would be a false flag. Truncation only flags: no figure of
``sar_real.py`` depends on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import sar_real  # noqa: E402
from sitewatch.detect.sar import detect_sar  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=sar_real.DEFAULT_DATASETS)
    root: Path = ap.parse_args(argv).datasets
    if message := sar_real.missing_datasets(root, (*sar_real.BOX_CHIPS, sar_real.OPENSARSHIP)):
        print(message, file=sys.stderr)
        return 2
    for label, chips, px in (("sar-ship-dataset", sar_real.ssdd_chips(root), 5.0), ("hrsid", sar_real.hrsid_chips(root), 1.0)):
        dets = [d for _, img, _ in chips for d in detect_sar(img, px)]
        print(f"{label:<17} chips {len(chips):4d}  detections {len(dets):4d}  truncated {sum(d.truncated for d in dets):4d}")
    for kind in ("GRD", "SLC"):
        ships = [c for c in sar_real.opensarship_chips(root) if c.kind == kind]
        n = t = centred = centred_t = 0
        for c in ships:
            dets = detect_sar(c.intensity, c.pixel)
            n += len(dets)
            t += sum(d.truncated for d in dets)
            d = sar_real.centred_detection(c, dets)
            if d is not None:
                centred += 1
                centred_t += bool(getattr(d, "truncated", False))
        print(
            f"opensarship {kind}   chips {len(ships):4d}  detections {n:4d}  truncated {t:4d}"
            f"  centred ships {centred:4d}  of them truncated {centred_t}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
