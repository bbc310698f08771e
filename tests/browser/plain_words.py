"""`assert_plain_words(page)`: the words a volunteer reads on a console page carry no engineering.

Reusable by any browser test (`from tests.browser.plain_words import assert_plain_words`): it reads the
text a person sees (not the contents of closed <details> toggles, where ids and raw values are kept on
purpose, not form fields' values, not hidden elements, scripts or styles) and fails naming what it
found: an RRULE fragment, a `config/` path, a {placeholder}, a rule id from the rules config, or jargon
(JARGON: "rolled back", "(p50)", "Tier", "member(s)"...).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Text nodes a person can see. A closed <details> shows only its <summary>; a textarea's text is its
# value (a form field), as is an input's; <option>s are read only from the <select> shown.
VISIBLE_TEXT = """
() => {
  const skip = new Set(["SCRIPT", "STYLE", "TEMPLATE", "NOSCRIPT", "TEXTAREA", "DATALIST", "OPTION", "SELECT"]);
  const parts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!text) continue;
    let el = node.parentElement, hidden = false;
    for (let up = el; up && !hidden; up = up.parentElement) {
      if (skip.has(up.tagName)) hidden = true;
      const details = up.parentElement && up.parentElement.tagName === "DETAILS" ? up.parentElement : null;
      if (details && !details.open && up.tagName !== "SUMMARY") hidden = true;
    }
    if (!hidden && el.tagName === "DETAILS" && !el.open) hidden = true;  // loose text in a closed toggle
    if (hidden || !el.checkVisibility({ visibilityProperty: true })) continue;
    parts.push(text);
  }
  for (const select of document.querySelectorAll("select")) {  // what a closed <select> shows
    if (select.selectedOptions.length && select.checkVisibility()) parts.push(select.selectedOptions[0].text);
  }
  return parts.join("\\n");
}
"""

RRULE = re.compile(r"\b(?:RRULE|FREQ=|BYDAY=|BYMONTHDAY=|INTERVAL=|WKST=)")
CONFIG_PATH = re.compile(r"\bconfig/")
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
RULE_ID = re.compile(r"\b[a-z0-9_]+(?:\.[a-z0-9_]+)+\b")
# Words a new coordinator tripped on (an outsider's walk of the console): engineering, statistics and
# paging jargon, a count of zero said as news, and "member(s)" for a proper singular or plural.
JARGON = re.compile(
    r"\binbound path\b|\bdatabase transaction\b|\brolled back\b|Twilio's transcript|\(p50\)|\(p90\)"
    r"|\bpending alert|\bby the console\b|\bTier\b|\b0 pending\b|\w\(s\)"
)


@lru_cache(maxsize=1)
def rule_ids() -> frozenset[str]:
    from webhooks.console.words import rule_ids

    return rule_ids()


def engineering_words(text: str) -> list[str]:
    """What a volunteer would trip on in `text`, each named with the line it is on."""
    found = []
    ids = rule_ids()
    for line in text.splitlines():
        for what, pattern in (
            ("RRULE", RRULE),
            ("config path", CONFIG_PATH),
            ("placeholder", PLACEHOLDER),
            ("jargon", JARGON),
        ):
            found += [f"{what} {m.group(0)!r} in {line.strip()[:120]!r}" for m in pattern.finditer(line)]
        found += [
            f"rule id {m.group(0)!r} in {line.strip()[:120]!r}"
            for m in RULE_ID.finditer(line)
            if m.group(0) in ids
        ]
    return found


def visible_text(page) -> str:
    return page.evaluate(VISIBLE_TEXT)


def assert_plain_words(page, where: str = "") -> str:
    """Fail if the page's visible text has an RRULE, a config/ path, a {placeholder} or a rule id.
    Returns the text read, for further checks."""
    text = visible_text(page)
    found = engineering_words(text)
    assert not found, f"{where or page.url}: engineering words a volunteer would read:\n" + "\n".join(found)
    return text
