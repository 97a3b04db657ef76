"""Station and line names: the released normaliser (quirks kept) and mapkit's own.

``paper_clean`` reproduces the released ``clean_string`` exactly, including the ways it
is not idempotent; ``normalize`` is the default-mode normaliser, idempotent by
construction (it iterates to a fixed point) and applied exactly once to each name.
Both run in time linear in the name's length.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CACHE_MAX_LEN = 256  # longer strings (a whole completion pasted as a name) are not memoised

# --------------------------------------------------------------------------- shared

_OPEN = re.compile(r"[(（]")
_CLOSE = re.compile(r"[)）]")


def drop_parenthesised(s: str) -> str:
    """Remove every "(...)" / "（...）" group (opener up to the first closer after it).

    Same result as the released ``re.sub(r'[\\(\\（][^\\)\\）]*[\\)\\）]', '', s)``, whose
    backtracking is quadratic on many unclosed openers; this scan is linear. An opener
    with no closer after it is kept, and so is everything after it (no later opener can
    be closed either).
    """
    pieces: list[str] = []
    pos = 0
    while True:
        opener = _OPEN.search(s, pos)
        if opener is None:
            break
        closer = _CLOSE.search(s, opener.end())
        if closer is None:
            break
        pieces.append(s[pos:opener.start()])
        pos = closer.end()
    if pos == 0:
        return s
    pieces.append(s[pos:])
    return "".join(pieces)


# --------------------------------------------------------------------------- paper

# Substring replacements of the released clean_string, in its order. Quirks (kept in
# paper mode): they apply inside words ("Metropolitan" -> "politan", "Broadway" ->
# "Bluway"), "Univ." becomes "Universityersity" (the "Univ" rule fires again on the
# expansion), "Tech." likewise, and "Asian Games Village" -> "yayuncun" is a Beijing
# alias. They are case-sensitive and run before lower-casing, so "ROAD", "STATION" and
# "METRO" survive one pass but not a second one: clean_string is not idempotent.
_PAPER_REPLACEMENTS = (
    ("Metro", ""), ("metro", ""), (",", ""), ("*", ""), ("\n", ""), ("'", ""),
    ("Univ.", "University"), ("Univ", "University"), ("Tech.", "Technology"), ("Tech", "Technology"),
    ("road", "lu"), ("Road", "lu"),
    ("Station", ""), ("station", ""), ("Asian Games Village", "yayuncun"),
)
_SPACE_HYPHEN = re.compile(r"[\s\-]+")  # same class as the released code (Unicode \s)


def _paper_clean(s: str) -> str:
    for old, new in _PAPER_REPLACEMENTS:
        s = s.replace(old, new)
    # Only one trailing 站 goes, and only if it is the very last character (a trailing
    # space hides it until a second pass).
    s = s.removesuffix("站")
    s = drop_parenthesised(s)
    return _SPACE_HYPHEN.sub("", s).lower()


_paper_clean_cached = lru_cache(maxsize=1 << 16)(_paper_clean)


def paper_clean(s: str) -> str:
    """The released ``clean_string``: exact output, linear time."""
    return _paper_clean_cached(s) if len(s) <= _CACHE_MAX_LEN else _paper_clean(s)


# --------------------------------------------------------------------------- default

_ACCENTS = re.compile("[\u0300-\u036f]")  # Latin/Greek/Cyrillic combining accents only
_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script
_DROP_WORDS = frozenset({"station", "metro"})  # whole words only, never inside a word
_ABBREVIATIONS = {"univ": "university", "tech": "technology", "road": "lu"}  # whole words; targets are not keys


def _normalize_step(s: str) -> str:
    # Accents off ("São" == "Sao"), compatibility forms folded (full-width letters and
    # brackets, ligatures), case folded. Kana voicing marks (U+3099/U+309A) are outside
    # the accent range on purpose: が and か are different sounds.
    s = _ACCENTS.sub("", unicodedata.normalize("NFKD", s))
    s = unicodedata.normalize("NFKC", s).casefold()
    s = drop_parenthesised(s)  # "(Transfer Station)" markers and similar notes
    words = [_ABBREVIATIONS.get(w, w) for w in _WORD.findall(s) if w not in _DROP_WORDS]
    return "".join(words).rstrip("站駅")  # 站 (zh) and 駅 (ja) mean "station"; spaces and punctuation never matter


def _normalize(s: str) -> str:
    # One step is not always a fixed point (the joined words can form a dropped word,
    # case folding can expose an accent), so iterate; it settles within two or three.
    for _ in range(6):
        nxt = _normalize_step(s)
        if nxt == s:
            break
        s = nxt
    return s


_normalize_cached = lru_cache(maxsize=1 << 16)(_normalize)


def normalize(name: str) -> str:
    """Default-mode station key: idempotent, so normalising a normalised name is a no-op.

    >>> normalize("Shibuya Station (Transfer Station)") == normalize("shibuya") == "shibuya"
    True
    >>> normalize("西直门站") == normalize("西直门")
    True
    """
    return _normalize_cached(name) if len(name) <= _CACHE_MAX_LEN else _normalize(name)


def line_key(name: str) -> str:
    """Default-mode line key: case, spaces and punctuation ignored ("Line 2" == "line-2")."""
    s = unicodedata.normalize("NFKC", name[:_CACHE_MAX_LEN * 4]).casefold()
    return "".join(_WORD.findall(drop_parenthesised(s)))
