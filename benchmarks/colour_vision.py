"""How far apart the outline colours stay for colour-blind readers and in print: the palette the
package ships against the one it had (red/yellow/green kinds, blue/orange/grey changes), in the same run.

For each set (the detections' kinds, the change regions' directions) and each way of seeing (normal,
protanopia, deuteranopia, tritanopia simulated with Machado, Oliveira & Fernandes 2009 at severity 1.0,
and greyscale: CIELAB lightness alone) it prints the smallest CIEDE2000 difference between two colours of
the set, the pair it falls between, and the ratio of the shipped palette's figure to the old one's.

    python benchmarks/colour_vision.py
"""

from __future__ import annotations

from sitewatch.report.colour_vision import VISIONS, closest_pair
from sitewatch.report.colours import CHANGE_COLOURS, KIND_COLOURS

OLD_KIND_COLOURS = {"vessel": "#ff3b30", "crane": "#ffcc00", "truck": "#34c759"}
"""The baseline: the kinds' colours before 6 Dec 2026."""
OLD_CHANGE_COLOURS = {"appeared": "#007aff", "disappeared": "#ff9500", "altered": "#8e8e93"}
"""The baseline: the change directions' colours before 6 Dec 2026."""


def main() -> None:
    for title, old, new in (("kinds", OLD_KIND_COLOURS, KIND_COLOURS), ("change directions", OLD_CHANGE_COLOURS, CHANGE_COLOURS)):
        print(f"{title}: old {', '.join(f'{k} {v}' for k, v in old.items())}")
        print(f"{' ' * len(title)}  now {', '.join(f'{k} {v}' for k, v in new.items())}")
        print("| vision | old min ΔE00 (pair) | now min ΔE00 (pair) | now / old |")
        print("|---|---:|---:|---:|")
        for vision in VISIONS:
            d_old, *p_old = closest_pair(old, vision)
            d_new, *p_new = closest_pair(new, vision)
            print(f"| {vision} | {d_old:.1f} ({' / '.join(p_old)}) | {d_new:.1f} ({' / '.join(p_new)}) | {d_new / d_old:.2f}× |")
        print()


if __name__ == "__main__":
    main()
