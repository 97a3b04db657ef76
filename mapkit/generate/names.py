"""Seeded, pronounceable place names per language, unique within one city.

Names are built from syllables and place-name endings typical of the language, never
taken from a list of real stations. Latin-script languages give the name directly;
Chinese and Japanese give a romanised ``name`` (so maps render with the default font)
and the native script in ``names`` (``names["zh"]``, ``names["ja"]``), like Tokyo's
annotation does.

    >>> import random
    >>> gen = NameGenerator("en", random.Random(0))
    >>> name = gen.station()
    >>> name.latin == name.latin.strip() and name.latin[0].isupper()
    True
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from mapkit.errors import GenerateError

# Latin-script languages: onsets, vowels, codas, and endings that make a syllable stem
# sound like a place of that language; "words" are the second words of station names.
_LATIN = {
    "en": {
        "onsets": ["b", "br", "c", "ch", "cr", "d", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "r", "s", "sh", "st", "t",
                   "th", "w", "wh"],
        "vowels": ["a", "e", "i", "o", "u", "ai", "ea", "oo", "ay"],
        "codas": ["", "", "l", "n", "r", "s", "m", "rn", "ll", "ck", "nd"],
        "endings": ["ton", "field", "bury", "wood", "ford", "ham", "ley", "well", "brook", "gate", "moor", "stead", "wick",
                    "combe", "mouth"],
        "words": ["Park", "Road", "Square", "Cross", "Green", "Hill", "Market", "Street", "Bridge", "Junction", "Common", "Central"],
        "prefixes": ["North", "South", "East", "West", "Upper", "Lower", "New", "Old"],
    },
    "de": {
        "onsets": ["b", "br", "d", "f", "g", "gr", "h", "k", "kl", "l", "m", "n", "p", "r", "s", "sch", "st", "t", "w", "z"],
        "vowels": ["a", "e", "i", "o", "u", "ei", "au", "ie", "ä", "ö", "ü"],
        "codas": ["", "", "l", "n", "r", "s", "m", "ck", "nd", "rg", "lt"],
        "endings": ["dorf", "berg", "hausen", "feld", "heim", "bach", "burg", "stein", "au", "tal", "hof", "brück"],
        "words": ["Platz", "Tor", "Markt", "Allee", "Straße", "Brücke", "Park", "Ring", "Hafen", "Mitte"],
        "prefixes": ["Nord-", "Süd-", "Ost-", "West-", "Alt-", "Neu-", "Ober-", "Unter-"],  # as in Alt-Tegel
    },
    "fr": {
        "onsets": ["b", "c", "ch", "d", "f", "g", "j", "l", "m", "n", "p", "r", "s", "t", "v"],
        "vowels": ["a", "e", "i", "o", "ou", "au", "ai", "é", "eu"],
        "codas": ["", "", "", "l", "n", "r", "s"],
        "endings": ["ville", "mont", "court", "val", "bourg", "lieu", "celle", "fort", "champ", "bois", "noy"],
        "words": ["Gare", "Place", "Porte", "Parc", "Pont", "Marché", "Rives", "Quai", "Halles"],
        "prefixes": ["Saint-", "Haut-", "Bas-", "Vieux-", "Grand-"],
    },
    "es": {
        "onsets": ["b", "c", "ch", "d", "f", "g", "j", "l", "ll", "m", "n", "p", "r", "s", "t", "v"],
        "vowels": ["a", "e", "i", "o", "u", "ia", "ue", "ie"],
        "codas": ["", "", "", "l", "n", "r", "s"],
        "endings": ["ada", "illa", "ejo", "era", "ales", "ona", "ero", "osa", "ina", "ares"],
        "words": ["Plaza", "Puerta", "Parque", "Mercado", "Puente", "Avenida", "Estación", "Jardines"],
        "prefixes": ["San ", "Santa ", "Villa ", "Nueva ", "Alto "],
    },
    "it": {
        "onsets": ["b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "br", "tr"],
        "vowels": ["a", "e", "i", "o", "u", "ia", "io"],
        "codas": ["", "", "", "l", "n", "r"],
        "endings": ["ano", "ello", "ina", "ona", "ate", "ile", "ore", "aro", "etto", "enza"],
        "words": ["Piazza", "Porta", "Parco", "Ponte", "Mercato", "Viale", "Stazione", "Borgo"],
        "prefixes": ["San ", "Santa ", "Monte ", "Villa ", "Borgo "],
    },
}

# Chinese: characters common in place names with their pinyin (no tones; Beijing's
# station names are written the same way, e.g. Xizhimen).
_ZH = [
    ("东", "dong"), ("西", "xi"), ("南", "nan"), ("北", "bei"), ("山", "shan"), ("湖", "hu"), ("桥", "qiao"),
    ("新", "xin"), ("安", "an"), ("平", "ping"), ("华", "hua"), ("龙", "long"), ("金", "jin"), ("明", "ming"),
    ("光", "guang"), ("城", "cheng"), ("河", "he"), ("海", "hai"), ("天", "tian"), ("长", "chang"), ("阳", "yang"),
    ("兴", "xing"), ("清", "qing"), ("松", "song"), ("林", "lin"), ("石", "shi"), ("泉", "quan"), ("宁", "ning"),
    ("福", "fu"), ("江", "jiang"), ("塘", "tang"), ("花", "hua"), ("桃", "tao"), ("云", "yun"), ("凤", "feng"),
    ("文", "wen"), ("德", "de"), ("春", "chun"), ("永", "yong"), ("嘉", "jia"), ("秀", "xiu"), ("翠", "cui"),
    ("丰", "feng"), ("白", "bai"), ("青", "qing"), ("红", "hong"), ("鹿", "lu"), ("梅", "mei"), ("荷", "he"),
    ("柳", "liu"), ("槐", "huai"), ("银", "yin"), ("玉", "yu"), ("宝", "bao"), ("景", "jing"), ("瑞", "rui"),
]
_ZH_SUFFIX = [("", ""), ("", ""), ("路", "lu"), ("门", "men"), ("桥", "qiao"), ("庄", "zhuang"), ("园", "yuan"),
              ("湾", "wan"), ("口", "kou"), ("街", "jie"), ("村", "cun"), ("公园", "gongyuan"), ("广场", "guangchang")]

# Japanese: kanji common in place names with a reading (Hepburn, no macrons).
_JA = [
    ("新", "shin"), ("田", "ta"), ("山", "yama"), ("川", "kawa"), ("本", "moto"), ("野", "no"), ("沢", "sawa"),
    ("谷", "ya"), ("島", "shima"), ("原", "hara"), ("井", "i"), ("木", "ki"), ("松", "matsu"), ("森", "mori"),
    ("高", "taka"), ("中", "naka"), ("上", "kami"), ("下", "shimo"), ("大", "o"), ("小", "ko"), ("北", "kita"),
    ("南", "minami"), ("東", "higashi"), ("西", "nishi"), ("日", "hi"), ("石", "ishi"), ("岡", "oka"), ("宮", "miya"),
    ("池", "ike"), ("浜", "hama"), ("桜", "sakura"), ("駒", "koma"), ("清", "kiyo"), ("藤", "fuji"), ("若", "waka"),
    ("青", "ao"), ("白", "shira"), ("戸", "to"), ("江", "e"), ("津", "tsu"), ("瀬", "se"), ("梅", "ume"), ("鶴", "tsuru"),
]
_JA_SUFFIX = [("", ""), ("", ""), ("町", "-cho"), ("台", "dai"), ("前", "mae"), ("口", "guchi"), ("橋", "bashi"),
              ("坂", "zaka"), ("公園", " Koen")]

LANGUAGES = ("en", "de", "fr", "es", "it", "zh", "ja")


@dataclass(frozen=True)
class PlaceName:
    latin: str  # the station's display `name`
    native: str | None = None  # the same name in its own script (zh, ja), else None


@dataclass
class NameGenerator:
    """Draws names for one city from ``rng``; every name it returns is new for the city."""

    language: str
    rng: random.Random
    used: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise GenerateError(f"--lang {self.language!r} has no name generator; choose from {', '.join(LANGUAGES)}")

    def station(self) -> PlaceName:
        for _ in range(500):
            name = self._draw()
            keys = {name.latin.casefold(), (name.native or "").casefold()} - {""}
            if not keys & self.used:
                self.used.update(keys)
                return name
        raise GenerateError(f"ran out of distinct {self.language} names; ask for fewer stations per city")

    def word(self) -> str:
        """A short stem (for city and line names), capitalised; not reserved."""
        if self.language in ("zh", "ja"):
            table = _ZH if self.language == "zh" else _JA
            return "".join(self.rng.choice(table)[1] for _ in range(2)).capitalize()
        return self._stem(self.rng.randint(2, 3)).capitalize()

    # ------------------------------------------------------------ internals

    def _stem(self, syllables: int, coda: bool = True) -> str:
        p = _LATIN[self.language]
        out = ""
        for _ in range(syllables):
            out += self.rng.choice(p["onsets"]) + self.rng.choice(p["vowels"])
        # A coda before a consonant ending makes clusters nobody can say (Stiendbrück).
        return out + (self.rng.choice(p["codas"]) if coda else "")

    def _draw(self) -> PlaceName:
        if self.language == "zh":
            chars = [self.rng.choice(_ZH) for _ in range(2)]
            suffix = self.rng.choice(_ZH_SUFFIX)
            native = "".join(c for c, _ in chars) + suffix[0]
            latin = "".join(r for _, r in chars).capitalize()
            latin += (" " + suffix[1].capitalize()) if len(suffix[1]) > 4 else suffix[1]
            return PlaceName(latin, native)
        if self.language == "ja":
            chars = [self.rng.choice(_JA) for _ in range(2)]
            suffix = self.rng.choice(_JA_SUFFIX)
            return PlaceName(("".join(r for _, r in chars) + suffix[1]).capitalize(), "".join(c for c, _ in chars) + suffix[0])
        p = _LATIN[self.language]
        roll = self.rng.random()
        # Mostly one syllable before the ending: Ashford, not Ashgrillbrookford.
        ending = self.rng.choice(p["endings"])
        base = (self._stem(1 if self.rng.random() < 0.7 else 2, coda=ending[0] in "aeiouäöüé") + ending).capitalize()
        if roll < 0.55:
            return PlaceName(base)
        if roll < 0.8:
            word = self.rng.choice(p["words"])
            # Romance languages put the noun first (Place X, Piazza X), English and German after.
            return PlaceName(f"{word} {base}" if self.language in ("fr", "es", "it") else f"{base} {word}")
        prefix = self.rng.choice(p["prefixes"])
        if prefix.endswith(("-", " ")):
            return PlaceName(prefix + base)
        return PlaceName(f"{prefix} {base}" if self.language == "en" else prefix + base.lower())
