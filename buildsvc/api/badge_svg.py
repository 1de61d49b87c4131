"""A status badge as SVG: "build" on grey, then the status on its colour.

Only fixed words are drawn (the build statuses, ``none`` and ``unknown``), so nothing a
user typed ever reaches the image. Widths are estimated from the character count, as
a badge's 11 px Verdana runs about 6.5 px per character.
"""

from __future__ import annotations

from buildsvc.builds.states import BuildStatus

__all__ = ["render_badge"]

LABEL = "build"
COLOURS = {
    BuildStatus.SUCCEEDED.value: "#2e7d32",
    BuildStatus.FAILED.value: "#c62828",
    BuildStatus.TIMED_OUT.value: "#c62828",
    BuildStatus.CANCELLED.value: "#6b7280",
    BuildStatus.SUPERSEDED.value: "#6b7280",
    BuildStatus.QUEUED.value: "#1f5fbf",
    BuildStatus.FETCHING.value: "#1f5fbf",
    BuildStatus.BUILDING.value: "#1f5fbf",
    BuildStatus.PUSHING.value: "#1f5fbf",
    "none": "#6b7280",
}
UNKNOWN_COLOUR = "#9e9e9e"


def _width(text: str) -> int:
    return round(len(text) * 6.5) + 12


def render_badge(status: str) -> str:
    """The SVG of a badge showing ``status`` (anything unknown shows ``unknown``)."""
    text = status if status in COLOURS else "unknown"
    colour = COLOURS.get(text, UNKNOWN_COLOUR)
    left, right = _width(LABEL), _width(text)
    total = left + right
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" '
        f'role="img" aria-label="{LABEL}: {text}">'
        f"<title>{LABEL}: {text}</title>"
        f'<rect width="{left}" height="20" rx="3" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" rx="3" fill="{colour}"/>'
        f'<rect x="{left}" width="4" height="20" fill="{colour}"/>'
        '<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" '
        'text-anchor="middle">'
        f'<text x="{left / 2:g}" y="14">{LABEL}</text>'
        f'<text x="{left + right / 2:g}" y="14">{text}</text>'
        "</g></svg>"
    )
