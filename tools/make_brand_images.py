"""Draw the site's raster images into docs/assets/: the link-preview card and the home-screen icon.

They are committed (a build does not redraw them); run this again after changing
the name, the colours or the ∇ mark of docs/assets/favicon.svg:

    .venv/bin/python tools/make_brand_images.py

The card has Chinese text, so a CJK font must be installed (Debian:
``apt-get install fonts-wqy-microhei``).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402

ASSETS = Path(__file__).resolve().parent.parent / "docs" / "assets"
ORANGE = "#e64a19"
NABLA = [(0.2, 0.73), (0.8, 0.73), (0.5, 0.2)]  # the favicon's triangle in a unit square


def cjk_font() -> str:
    """Path of an installed font with Chinese glyphs."""
    for font in font_manager.findSystemFonts():
        if any(name in font.lower() for name in ("wqy", "notosanscjk", "notoserifcjk", "sourcehan")):
            return font
    raise SystemExit("no CJK font found: install one (Debian: apt-get install fonts-wqy-microhei)")


def canvas(width: float, height: float):
    """A figure of width x height inches, drawn on in inches (one unit = 100 pixels)."""
    figure = plt.figure(figsize=(width, height), dpi=100, facecolor=ORANGE)
    ax = figure.add_axes((0, 0, 1, 1), xlim=(0, width), ylim=(0, height))
    ax.set_axis_off()
    return figure, ax


def mark(ax, x: float, y: float, size: float, linewidth: float) -> None:
    """The ∇ mark filling the square of side ``size`` with lower-left corner (x, y)."""
    corners = [(x + u * size, y + v * size) for u, v in NABLA]
    ax.add_patch(Polygon(corners, closed=True, fill=False, edgecolor="white", linewidth=linewidth, joinstyle="round"))


def social_card() -> None:
    font = font_manager.FontProperties(fname=cjk_font())
    figure, ax = canvas(12, 6.3)
    mark(ax, 0.55, 3.5, 1.6, 7)
    ax.text(0.8, 2.6, "PyTorch Notes", color="white", fontsize=64, fontweight="bold")
    ax.text(0.8, 1.8, "Every line of code has been run.", color="white", fontsize=30)
    ax.text(0.8, 1.05, "PyTorch 笔记 · 每一行代码都真正运行过", color="white", fontsize=30, fontproperties=font)
    ax.text(0.8, 0.4, "English · 简体中文", color="#ffccbc", fontsize=22, fontproperties=font)
    figure.savefig(ASSETS / "social-card.png", facecolor=ORANGE, metadata={"Software": None})
    plt.close(figure)


def touch_icon() -> None:
    figure, ax = canvas(1.8, 1.8)
    mark(ax, 0.1, 0.1, 1.6, 9)
    figure.savefig(ASSETS / "apple-touch-icon.png", facecolor=ORANGE, metadata={"Software": None})
    plt.close(figure)


if __name__ == "__main__":
    social_card()
    touch_icon()
    print("wrote", ASSETS / "social-card.png", "and", ASSETS / "apple-touch-icon.png")
