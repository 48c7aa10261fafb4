"""Headless Chromium for tests, driven over the DevTools protocol on a pipe (no websocket library).

``--remote-debugging-pipe`` makes Chromium read commands on fd 3 and write answers and events
on fd 4, one JSON message each, NUL-terminated. Enough of the protocol to open a page, collect
its console messages, exceptions and network requests, read its DOM and take a screenshot.
Also a small PNG reader, to tell a blank screenshot from a page.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def chromium_path() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageLoad:
    """What a page did while it loaded."""

    url: str
    dom: str = ""
    screenshot: bytes = b""
    thumbnail: bytes = b""  # the same screenshot at 1/8 scale
    top: bytes = b""  # the first screen or so (what a README shows)
    console: list[str] = field(default_factory=list)  # console API calls and log entries
    errors: list[str] = field(default_factory=list)  # uncaught exceptions, errors in the log
    requests: list[str] = field(default_factory=list)  # every URL the page asked for


class Browser:
    """One headless Chromium process; use as a context manager."""

    def __init__(self, executable: str, width: int = 1280, height: int = 2000) -> None:
        self.width, self.height = width, height
        ours_r, chrome_w = os.pipe()  # chrome writes fd 4
        chrome_r, ours_w = os.pipe()  # chrome reads fd 3

        def fds() -> None:
            os.dup2(chrome_r, 3)
            os.dup2(chrome_w, 4)

        self.proc = subprocess.Popen(
            [executable, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--no-first-run",
             "--remote-debugging-pipe", f"--window-size={width},{height}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(chrome_r)
        os.close(chrome_w)
        self._in, self._out = ours_r, ours_w
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._send("Browser.close")
            self.proc.wait(10)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            self.proc.wait(10)
        finally:
            os.close(self._in)
            os.close(self._out)

    # -- the protocol ------------------------------------------------------------------------
    def _send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        return self._next

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None, timeout: float = 30) -> dict[str, Any]:
        ident = self._send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(ev.get("method") == method for ev in self.events):
            self.events.append(self._receive(deadline))

    # -- one page --------------------------------------------------------------------------------
    def load(self, url: str) -> PageLoad:
        """Open ``url`` in a new tab, wait for its load event, read what it did, screenshot the whole page."""
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.events = []
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired")
        page = PageLoad(url=url)
        page.dom = self.call(
            "Runtime.evaluate", {"expression": "document.documentElement.outerHTML", "returnByValue": True}, session=session
        )["result"]["value"]
        metrics = self.call("Page.getLayoutMetrics", session=session)
        content = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": self.width, "height": min(int(content["height"]), 16000), "scale": 1}
        shot = self.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}, session=session)
        page.screenshot = base64.b64decode(shot["data"])
        top = {**clip, "height": min(clip["height"], 1500)}
        page.top = base64.b64decode(
            self.call("Page.captureScreenshot", {"format": "png", "clip": top, "captureBeyondViewport": True}, session=session)["data"]
        )
        small = self.call("Page.captureScreenshot", {"format": "png", "clip": {**clip, "scale": 0.125}, "captureBeyondViewport": True}, session=session)
        page.thumbnail = base64.b64decode(small["data"])  # small enough to read pixel by pixel in Python
        for ev in self.events:
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                page.console.append(f"console.{params.get('type')}: {text}")
                if params.get("type") in ("error", "assert"):
                    page.errors.append(text)
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                page.errors.append(str(details.get("exception", {}).get("description") or details.get("text")))
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                page.console.append(f"log.{entry.get('level')}: {entry.get('text')}")
                if entry.get("level") == "error":
                    page.errors.append(str(entry.get("text")))
            elif method == "Network.requestWillBeSent":
                page.requests.append(str(params.get("request", {}).get("url")))
        self.call("Target.closeTarget", {"targetId": target})
        return page


# -- PNG ----------------------------------------------------------------------------------------
def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the pixels (one ``bytes`` per pixel) of an 8-bit RGB(A) PNG, as Chromium writes them."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour, interlace = header[8], header[9], header[12]
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG: depth {depth}, colour {colour}"
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    previous = bytearray(stride)
    pixels: list[bytes] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        pixels.extend(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
        previous = line
    return width, height, pixels


def dominant_colour_share(data: bytes, sample_every: int = 7) -> float:
    """The share of (sampled) pixels that have the page's most common colour: near 1.0 is a blank page."""
    _w, _h, pixels = png_pixels(data)
    sampled = pixels[::sample_every]
    counts: dict[bytes, int] = {}
    for pixel in sampled:
        counts[pixel] = counts.get(pixel, 0) + 1
    return max(counts.values()) / len(sampled)


def save(page: PageLoad, folder: Path, name: str) -> Path:
    """Keep the screenshot (and the DOM) as test artifacts; returns the PNG's path."""
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{name}.png"
    png.write_bytes(page.screenshot)
    (folder / f"{name}.top.png").write_bytes(page.top)
    (folder / f"{name}.dom.html").write_text(page.dom, encoding="utf-8")
    return png
