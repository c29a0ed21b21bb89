"""Looking at what a report rendered: the images of its HTML, and whether a chart is drawn."""
from __future__ import annotations

import io
from html.parser import HTMLParser

from PIL import Image

from llmledger.processor.reports import charts


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def images_of(html: str) -> list[dict]:
    parser = _Images()
    parser.feed(html)
    return parser.images


def dark_pixels(image: Image.Image, below: int) -> int:
    return sum(image.convert("L").histogram()[:below])


def assert_a_drawn_chart(png: bytes) -> Image.Image:
    """A PNG at the charts' size whose pixels are not all one colour: something is drawn."""
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    width, height = image.size
    assert width == 2 * charts.WIDTH_PX and 240 <= height <= 2400
    inked = dark_pixels(image, below=200)
    assert inked > 0.02 * width * height, "the chart is (nearly) blank"
    assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 20  # bars, lines, text in several colours
    return image
