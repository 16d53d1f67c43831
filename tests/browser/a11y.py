"""An accessibility pass over the page open in a Browser, as the console's pages must pass it (issue 13 §4):

- every visible input, select and textarea has an accessible name: a ``<label for>``, a wrapping ``<label>``,
  ``aria-label`` or ``aria-labelledby`` (a placeholder or title is no label); every link and button has text, an
  ``aria-label`` or an image with ``alt``;
- text contrast is at least 4.5:1 (3:1 for large text: 24 px, or 18.66 px bold), from the computed colours against
  the effective background (the ancestors' background colours composed until one is opaque);
- images have ``alt`` (``alt=""`` marks a decorative one); the page has exactly one ``h1`` and a ``lang``;
- keyboard: Tab reaches every link, button and field in DOM order, and the focused element shows a focus style
  (an outline or a box-shadow).

Colours are read by painting them onto a 1x1 canvas, so any CSS colour syntax the computed style returns
(``rgb()``, ``color(srgb …)``, ``oklch()``) becomes the same sRGB bytes the screen gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.browser.cdp import Browser

MAX_TABS = 300  # a page with more stops than this is not walked to the end (and says so)
SEGMENTS = 6  # the most parts one field is tabbed through (datetime-local: year, month, day, hour, minute, AM/PM)


@dataclass(frozen=True)
class Finding:
    rule: str  # name, contrast, alt, h1, lang, keyboard, focus
    target: str  # the element, as `tag#id[name]` or `tag "text"`
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.target}: {self.detail}"


def check_a11y(browser: Browser) -> list[Finding]:
    """Every finding on the page open in ``browser`` (an empty list: it passes). Moves the focus (Tab)."""
    found = [Finding(**f) for f in browser.js(_STATIC)]
    return found + _keyboard(browser)


def _keyboard(browser: Browser) -> list[Finding]:
    """Tab from the top: each press must land on the next stop in DOM order, with a visible focus style."""
    stops: list[dict[str, Any]] = browser.js(_STOPS)
    browser.page("Emulation.setFocusEmulationEnabled", {"enabled": True})  # a headless page has no window focus
    browser.js(_FROM_TOP)
    findings: list[Finding] = []
    try:
        previous = None
        for expected in stops[:MAX_TABS]:
            browser.press("Tab")
            got = browser.js(_FOCUSED)
            for _ in range(SEGMENTS):  # a date or time field takes a Tab per part (year, month, day) before it is left
                if previous is None or got["key"] != previous:
                    break
                browser.press("Tab")
                got = browser.js(_FOCUSED)
            previous = got["key"]
            if got["key"] != expected["key"]:
                detail = f"the next stop in DOM order, but Tab went to {got['target']}"
                findings.append(Finding("keyboard", expected["target"], detail))
                break
            if not got["visible_focus"]:
                findings.append(Finding("focus", got["target"], "no visible focus style (outline or box-shadow)"))
    finally:
        browser.js(_DONE)
    if len(stops) > MAX_TABS:
        findings.append(Finding("keyboard", "page", f"{len(stops)} Tab stops: only the first {MAX_TABS} walked"))
    return findings


_COMMON = """
  const shown = e => e.checkVisibility ? e.checkVisibility({visibilityProperty: true}) : e.getClientRects().length > 0;
  const describe = e => {
    let d = e.tagName.toLowerCase();
    if (e.id) d += '#' + e.id;
    if (e.getAttribute('name')) d += '[name=' + e.getAttribute('name') + ']';
    const text = (e.innerText || e.value || e.getAttribute('src') || '').replace(/\\s+/g, ' ').trim().slice(0, 40);
    return text ? d + ' "' + text + '"' : d;
  };
  const STOPS = 'a[href], area[href], button, input:not([type=hidden]), select, textarea, summary, iframe, ' +
    '[tabindex], [contenteditable=""], [contenteditable=true]';
  const reachable = e => shown(e) && !e.disabled && !e.closest('[inert]') && e.tabIndex >= 0 &&
    !(e.tagName === 'SUMMARY' && e.parentElement.tagName !== 'DETAILS');
  // Chromium (130+) also stops at a box that scrolls and holds nothing focusable, so the keyboard can scroll it
  const scrolls = e => {
    const style = getComputedStyle(e), can = v => v === 'auto' || v === 'scroll';
    return (can(style.overflowX) && e.scrollWidth > e.clientWidth) ||
      (can(style.overflowY) && e.scrollHeight > e.clientHeight);
  };
  const scroller = e => !e.matches(STOPS) && shown(e) && !e.closest('[inert]') && scrolls(e) &&
    !Array.from(e.querySelectorAll(STOPS)).some(reachable);
  const stops = () => {
    const all = Array.from(document.body.querySelectorAll('*'))
      .filter(e => e.matches(STOPS) ? reachable(e) : scroller(e));
    const radios = new Set();  // a radio group is one Tab stop: its checked radio, else its first
    return all.filter(e => {
      if (e.type !== 'radio' || !e.name) return true;
      const group = (e.form ? e.form.id || 'form' : 'doc') + '/' + e.name;
      if (radios.has(group)) return false;
      const members = all.filter(o => o.type === 'radio' && o.name === e.name && o.form === e.form);
      const pick = members.find(o => o.checked) || members[0];
      if (pick !== e) return false;
      radios.add(group);
      return true;
    });
  };
  const key = e => {
    if (!e.dataset.a11yStop) e.dataset.a11yStop = String(++window.__a11yStops || (window.__a11yStops = 1));
    return e.dataset.a11yStop;
  };
"""

_STOPS = "function() {" + _COMMON + " return stops().map(e => ({key: key(e), target: describe(e)})); }"

_FROM_TOP = """function() {
  const start = document.createElement('span');
  start.tabIndex = -1;
  start.id = '__a11y_start';
  document.body.prepend(start);
  start.focus();
  window.scrollTo(0, 0);
}"""

_FOCUSED = (
    "function() {"
    + _COMMON
    + """
  const e = document.activeElement;
  if (!e || e === document.body) return {key: null, target: 'nothing (the focus left the page)', visible_focus: false};
  const style = getComputedStyle(e);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== 'none';
  return {key: key(e), target: describe(e), visible_focus: Boolean(outline || shadow)};
}"""
)

_DONE = """function() {
  const start = document.getElementById('__a11y_start');
  if (start) start.remove();
  document.querySelectorAll('[data-a11y-stop]').forEach(e => e.removeAttribute('data-a11y-stop'));
  if (document.activeElement) document.activeElement.blur();
}"""

_STATIC = (
    "function() {"
    + _COMMON
    + """
  const findings = [];
  const add = (rule, e, detail) => findings.push({rule, target: typeof e === 'string' ? e : describe(e), detail});
  if (!(document.documentElement.getAttribute('lang') || '').trim()) add('lang', 'html', 'no lang attribute');
  const h1s = document.querySelectorAll('h1').length;
  if (h1s !== 1) add('h1', 'page', h1s + ' h1 elements (one expected)');

  const textOf = ids => ids.split(/\\s+/).map(id => document.getElementById(id)).filter(Boolean)
    .map(n => n.textContent).join(' ').trim();
  const unnamed = ['hidden', 'submit', 'button', 'reset', 'image'];
  for (const f of document.querySelectorAll('input, select, textarea')) {
    if (f.tagName === 'INPUT' && unnamed.includes(f.type)) continue;
    if (!shown(f) && f.type !== 'file' && f.type !== 'checkbox' && f.type !== 'radio') continue;
    const named = Array.from(f.labels || []).some(l => l.textContent.trim()) ||
      (f.getAttribute('aria-label') || '').trim() || textOf(f.getAttribute('aria-labelledby') || '');
    if (!named) add('name', f, 'no accessible name (label for, wrapping label, aria-label or aria-labelledby)');
  }
  for (const c of document.querySelectorAll('a[href], button, [role=button], input[type=submit], input[type=button]')) {
    if (!shown(c)) continue;
    const text = (c.innerText || c.value || '').trim() || (c.getAttribute('aria-label') || '').trim() ||
      textOf(c.getAttribute('aria-labelledby') || '') ||
      Array.from(c.querySelectorAll('img[alt]')).map(i => i.alt).join('').trim();
    if (!text) add('name', c, 'a link or button with no text or aria-label: nothing to read out');
  }
  for (const img of document.querySelectorAll('img, input[type=image]')) {
    if (!img.hasAttribute('alt')) add('alt', img, 'no alt attribute');
  }

  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const rgba = color => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = '#000';
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
    return a === 0 ? [0, 0, 0, 0] : [r, g, b, a / 255];
  };
  const over = (top, under) => top.slice(0, 3).map((c, i) => c * top[3] + under[i] * (1 - top[3])).concat([1]);
  const background = e => {
    const layers = [];
    for (let n = e; n && n.nodeType === 1; n = n.parentElement) {
      const style = getComputedStyle(n);
      if (style.backgroundImage !== 'none') return null;  // a picture behind the text: not computable here
      const c = rgba(style.backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255, 1]);
  };
  const lum = c => {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const opacity = e => {
    let o = 1;
    for (let n = e; n && n.nodeType === 1; n = n.parentElement) o *= parseFloat(getComputedStyle(n).opacity);
    return o;
  };
  const texty = e => Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim()) ||
    (['INPUT', 'SELECT', 'TEXTAREA'].includes(e.tagName) && (e.value || '').trim() &&
     !['hidden', 'checkbox', 'radio', 'file', 'range', 'color'].includes(e.type));
  for (const e of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'OPTION'].includes(e.tagName) || !texty(e) || !shown(e)) continue;
    if (e.disabled || e.closest('[aria-disabled=true]')) continue;  // inactive controls are exempt
    const bg = background(e);
    if (bg === null) continue;
    const style = getComputedStyle(e);
    const fg = rgba(style.color);
    fg[3] *= opacity(e);
    const text = over(fg, bg);
    const [hi, lo] = [lum(text), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio + 1e-6 < need) {
      add('contrast', e, 'contrast ' + ratio.toFixed(2) + ':1 < ' + need + ':1 (' + style.color + ' on rgb(' +
        bg.slice(0, 3).map(Math.round).join(', ') + '), ' + size + 'px)');
    }
  }
  return findings;
}"""
)
