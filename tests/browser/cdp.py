"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: commands in on fd 3,
answers out on fd 4, each a JSON message ending in NUL), with the standard library only.

Why not just ``--window-size=360,…``: the new headless mode keeps a window at least 500 px wide, so a page laid out
there and cropped to 360 px is not what a phone shows. Device emulation (``Emulation.setDeviceMetricsOverride``,
mobile) lays the page out at 360 CSS px, as a phone with that width does.

The page as a person uses it: ``navigate`` (and ``status``, ``errors`` of the page shown), ``fill`` a field by its
label, ``set_files``, ``click`` by text or selector (a real mouse click; a confirm() is answered), ``text``,
``cookies``, ``press("Tab")`` and ``active()`` (what has the focus). Elements are found in the page by a small
script, never by coordinates or ids the test guesses.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class CdpError(RuntimeError):
    pass


class Browser:
    """One headless Chromium and one page in it."""

    def __init__(self, binary: str, profile: Path, *, timeout: float = 30.0) -> None:
        self.timeout = timeout
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()

        def onto_3_and_4() -> None:  # in the child, before exec: the pipe ends where Chromium expects them
            commands, answers = os.dup(cmd_r), os.dup(res_w)
            os.dup2(commands, 3)
            os.dup2(answers, 4)

        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,  # Python's own descriptors are close-on-exec anyway; 3 and 4 (dup2'd) are not
            preexec_fn=onto_3_and_4,
        )
        os.close(cmd_r)
        os.close(res_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self._answers: dict[int, dict[str, Any]] = {}
        self._unawaited: set[int] = set()
        self.accept_dialogs = True  # a confirm() is answered OK (False: Cancel)
        self.dialogs: list[str] = []  # the messages of the dialogs the page opened
        self._page_enabled = False
        self.status: int | None = None  # the HTTP status of the page the last navigation or click loaded
        self.errors: list[str] = []  # what went wrong while it loaded (see loading())
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = False) -> dict[str, Any]:
        mine = self._send(method, params, session=session)
        while mine not in self._answers:
            self._take(self._read())
        answer = self._answers.pop(mine)
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def _send(self, method: str, params: dict[str, Any] | None, *, session: bool) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _take(self, message: dict[str, Any]) -> None:
        """File what Chromium sent: an answer by its id, an event in ``events``. A JavaScript dialog (the
        console's ``data-confirm``) is answered at once, as ``accept_dialogs`` says, and its text kept in
        ``dialogs``: it blocks the page (and the click that opened it) until it is."""
        if "id" in message:
            if message["id"] in self._unawaited:
                self._unawaited.discard(message["id"])
            else:
                self._answers[message["id"]] = message
        elif message.get("method") == "Page.javascriptDialogOpening":
            self.dialogs.append(str(message["params"].get("message", "")))
            answer = self._send("Page.handleJavaScriptDialog", {"accept": self.accept_dialogs}, session=True)
            self._unawaited.add(answer)
        else:
            self.events.append(message)

    def page(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call(method, params, session=True)

    def wait_for(self, event: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, seen in enumerate(self.events):
                if seen.get("method") == event:
                    return self.events.pop(i)
            if time.monotonic() > deadline:
                raise CdpError(f"no {event} within {self.timeout} s")
            self._take(self._read())

    def open(self, url: str, *, width: int, height: int) -> None:
        """Load ``url`` as a phone ``width`` CSS px wide would (its viewport meta honoured)."""
        self.viewport(width, height, mobile=True)
        self.navigate(url)

    def viewport(self, width: int, height: int, *, mobile: bool) -> None:
        """Lay the page out at ``width`` CSS px: a phone's (``mobile``: its viewport meta honoured) or a desktop's."""
        self.page(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def navigate(self, url: str) -> None:
        """Go to ``url`` and wait until it has loaded (its load event)."""
        with self.loading():
            answer = self.page("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise CdpError(f"navigating to {url}: {answer['errorText']}")

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        """Wait, after the block, for the page the block causes to load (a click on a link, a form submitted);
        its HTTP status is then in ``status`` (after redirects: the page shown), and what went wrong while it
        loaded in ``errors``: script errors, console errors (a CSP refusal among them), sub-resources that failed."""
        if not self._page_enabled:
            for domain in ("Page", "Network", "Runtime", "Log"):
                self.page(f"{domain}.enable")
            self._page_enabled = True
        self.events = []  # whatever came before the block is not about the page it loads
        yield
        self.wait_for("Page.loadEventFired")
        documents = [
            e["params"]["response"]
            for e in self.events
            if e.get("method") == "Network.responseReceived" and e["params"].get("type") == "Document"
        ]
        self.status = int(documents[0]["status"]) if documents else None
        self.errors = [problem for e in self.events if (problem := _problem(e)) is not None]
        self.events = []

    def evaluate(self, expression: str) -> Any:
        """A value computed in the page (DevTools' evaluation is not the page's script: its CSP does not apply)."""
        answer = self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise CdpError(str(answer["exceptionDetails"]))
        return answer["result"].get("value")

    # ------------------------------------------------------------------------- the page as a person uses it

    @property
    def url(self) -> str:
        return str(self.evaluate("location.href"))

    def js(self, function: str, *args: Any) -> Any:
        """``function`` (a JS function declaration) called with ``args`` (JSON values), ``this`` being document."""
        return self._call_on(self._document(), function, *args)

    def find(self, *, label: str | None = None, text: str | None = None, selector: str | None = None) -> str:
        """The object id of the first visible element: the field whose label (or aria-label) reads ``label``, the
        link/button whose text (or value) reads ``text`` (an exact match first, then the first one containing it),
        or the one matching the CSS ``selector``."""
        [(how, what)] = [(k, v) for k, v in (("label", label), ("text", text), ("selector", selector)) if v]
        found = self._call_on(self._document(), _FIND, how, what, by_value=False)
        if found.get("subtype") == "null" or "objectId" not in found:
            raise CdpError(f"no element with {how} {what!r} on {self.url}")
        return str(found["objectId"])

    def fill(self, label: str, value: str) -> None:
        """Type ``value`` into the field labelled ``label`` (a select: choose the option with that value or text)."""
        element = self.find(label=label)
        typed = self._call_on(element, _PREPARE_FILL, value)
        if typed and value:
            self.page("Input.insertText", {"text": value})
        shown = self._call_on(element, "function() { return this.value; }")
        if typed and shown != value:
            raise CdpError(f"the field labelled {label!r} holds {shown!r} after typing {value!r}")

    def set_files(self, label: str, *paths: Path) -> None:
        """Choose ``paths`` in the file input labelled ``label`` (DOM.setFileInputFiles), as the file picker would."""
        element = self.find(label=label)
        self.page("DOM.setFileInputFiles", {"files": [str(p.resolve()) for p in paths], "objectId": element})

    def click(
        self, text: str | None = None, *, selector: str | None = None, label: str | None = None, navigates: bool = True
    ) -> None:
        """A real mouse click in the middle of the element; with ``navigates``, wait for the page it leads to."""
        element = self.find(text=text, selector=selector, label=label)
        x, y = self._call_on(element, _CENTRE)
        with self.loading() if navigates else contextlib.nullcontext():
            for kind in ("mousePressed", "mouseReleased"):
                self.page("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def text(self, selector: str = "body") -> str:
        """The rendered text of the first element matching ``selector`` (as ``innerText``: what a person reads)."""
        return str(self._call_on(self.find(selector=selector), "function() { return this.innerText; }"))

    def texts(self, selector: str) -> list[str]:
        return list(self.js(_TEXTS, selector))

    def cookies(self) -> list[dict[str, Any]]:
        """The cookies the browser would send to the current page (with httpOnly, secure, sameSite)."""
        return list(self.page("Network.getCookies", {"urls": [self.url]})["cookies"])

    def clear_cookies(self) -> None:
        self.page("Network.clearBrowserCookies")

    def press(self, key: str, *, shift: bool = False) -> None:
        """Press and release ``key`` ("Tab", "Enter", "Escape", " ") as the keyboard would."""
        code, text = KEYS[key]
        base = {"key": key, "code": "Space" if key == " " else key, "windowsVirtualKeyCode": code}
        base["modifiers"] = 8 if shift else 0
        self.page("Input.dispatchKeyEvent", {**base, "type": "keyDown" if text else "rawKeyDown", "text": text})
        self.page("Input.dispatchKeyEvent", {**base, "type": "keyUp"})

    def active(self) -> dict[str, Any]:
        """What has the focus: its tag, id, name, text and focus style (outline, box-shadow)."""
        return dict(self.js(_ACTIVE))

    def _document(self) -> str:
        return str(self.page("Runtime.evaluate", {"expression": "document"})["result"]["objectId"])

    def _call_on(self, object_id: str, function: str, *args: Any, by_value: bool = True) -> Any:
        answer = self.page(
            "Runtime.callFunctionOn",
            {
                "objectId": object_id,
                "functionDeclaration": function,
                "arguments": [{"value": a} for a in args],
                "returnByValue": by_value,
                "awaitPromise": True,
            },
        )
        if "exceptionDetails" in answer:
            raise CdpError(str(answer["exceptionDetails"]))
        result: dict[str, Any] = answer["result"]
        return result.get("value") if by_value else result

    def screenshot(self, path: Path) -> None:
        data = self.page("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (CdpError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._cmd_w)
        os.close(self._res_r)

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._res_r], [], [], left)[0]:
                raise CdpError(f"no answer from Chromium within {self.timeout} s")
            chunk = os.read(self._res_r, 1 << 20)
            if not chunk:
                raise CdpError("Chromium closed the pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed


def _problem(event: dict[str, Any]) -> str | None:
    """What an event of a page's load says went wrong, if anything (Chromium's own favicon request aside)."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        return f"script error: {details.get('exception', {}).get('description') or details.get('text')}"
    if method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        entry = params["entry"]
        if entry.get("source") == "network":  # "Failed to load resource": the statuses below (and ``status``) say it
            return None
        return f"console ({entry.get('source')}): {entry.get('text')} {entry.get('url') or ''}".rstrip()
    if method == "Network.responseReceived" and params.get("type") != "Document":
        response = params.get("response", {})
        if int(response.get("status", 0)) >= 400 and "favicon.ico" not in str(response.get("url", "")):
            return f"HTTP {response['status']} for {response.get('url')}"
    return None


KEYS = {"Tab": (9, ""), "Enter": (13, "\r"), "Escape": (27, ""), " ": (32, " ")}

_FIND = """function(how, what) {
  const norm = s => (s || '').replace(/\\s+/g, ' ').trim();
  const shown = e => e.checkVisibility ? e.checkVisibility() : e.getClientRects().length > 0;
  const pick = (items, read) => {
    const seen = items.filter(shown);
    return seen.find(e => norm(read(e)) === norm(what)) || seen.find(e => norm(read(e)).includes(norm(what))) || null;
  };
  if (how === 'selector') return Array.from(document.querySelectorAll(what)).find(shown) || null;
  if (how === 'text') {
    const clickable = 'a[href], button, input[type=submit], input[type=button], input[type=reset], summary, ' +
      '[role=button]';
    const read = e => e.value && e.tagName === 'INPUT' ? e.value : e.innerText;
    return pick(Array.from(document.querySelectorAll(clickable)), read);
  }
  const fields = Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'));
  const byAria = pick(fields.filter(f => f.hasAttribute('aria-label')), f => f.getAttribute('aria-label'));
  if (byAria) return byAria;
  const label = pick(Array.from(document.querySelectorAll('label')).filter(l => l.control), l => {
    const copy = l.cloneNode(true);
    copy.querySelectorAll('input, select, textarea, .help, small').forEach(n => n.remove());
    return copy.textContent.replace(/[*＊]/g, '');
  });
  return label ? label.control : null;
}"""

_PREPARE_FILL = """function(value) {
  this.scrollIntoView({block: 'center'});
  this.focus();
  const kinds = ['text', 'search', 'email', 'tel', 'url', 'password', 'number', ''];
  const typed = this.tagName === 'TEXTAREA' || (this.tagName === 'INPUT' && kinds.includes(this.type));
  if (typed) { this.value = ''; return true; }
  if (this.tagName === 'SELECT') {
    const option = Array.from(this.options).find(o => o.value === value || o.text.trim() === value);
    if (!option) throw new Error('no option ' + value);
    this.value = option.value;
  } else if (this.type === 'checkbox' || this.type === 'radio') {
    this.checked = !['', '0', 'false', 'off'].includes(value);
  } else {
    this.value = value;
  }
  this.dispatchEvent(new Event('input', {bubbles: true}));
  this.dispatchEvent(new Event('change', {bubbles: true}));
  return false;
}"""

_CENTRE = """function() {
  this.scrollIntoView({block: 'center'});
  const r = this.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
}"""

_TEXTS = """function(selector) {
  return Array.from(document.querySelectorAll(selector), e => e.innerText.replace(/\\s+/g, ' ').trim());
}"""

_ACTIVE = """function() {
  const e = document.activeElement;
  if (!e) return {tag: null};
  const style = getComputedStyle(e);
  return {
    tag: e.tagName.toLowerCase(), id: e.id || null, name: e.getAttribute('name'),
    text: (e.innerText || e.value || '').replace(/\\s+/g, ' ').trim().slice(0, 60),
    outline: style.outlineStyle === 'none' || style.outlineWidth === '0px' ? 'none' : style.outlineStyle,
    box_shadow: style.boxShadow,
  };
}"""
