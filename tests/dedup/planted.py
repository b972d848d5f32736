"""A seeded corpus with planted duplicates, and precision/recall of an index against it.

Base documents are random but grammatical sentences over a few hundred English words
(about 36 words each), so two of them share almost no word 3-grams and say unrelated things.
Plants, each pointing at the document it copies:

- ``exact``: a base document with its case and whitespace changed;
- ``near``: a base document with one word replaced or inserted (true 3-shingle Jaccard
  >= 0.8 at this length, checked by :func:`jaccard`);
- ``paraphrase``: the second sentence of a hand-written pair whose first sentence is a base
  document: the same meaning in other words.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from synthfactory.dedup.index import DedupIndex, Duplicate
from synthfactory.dedup.normalize import shingles

ADJECTIVES = """
    quiet bright heavy narrow ancient curious gentle rapid hollow golden frozen broken
    silent crowded distant tiny enormous careful humble fierce clever lazy sudden bitter
    smooth rough pale vivid fragile sturdy wooden copper hidden famous rural urban wild
    polite noisy hungry sleepy modern rusty elegant muddy salty sweet shallow steep
""".split()  # noqa: SIM905 (a list literal would be 60 lines)
NOUNS = """
    farmer engine river teacher violin harbor lantern merchant pilot garden mirror
    kettle tractor orchard soldier library bicycle castle sailor blanket compass painter
    bakery tunnel forest ladder window carpet rocket dentist hammer island museum pencil
    glacier market spider teapot wizard saddle canyon printer cathedral nurse volcano
    desert bridge shepherd parrot anchor furnace helmet lighthouse
""".split()  # noqa: SIM905 (a list literal would be 60 lines)
VERBS = """
    repaired painted followed carried ignored admired borrowed chased measured polished
    guarded visited cleaned described abandoned welcomed inspected lifted photographed
    sold moved hid weighed sketched
""".split()  # noqa: SIM905 (a list literal would be 60 lines)
PLACES = """
    kitchen station village courtyard attic factory meadow harbor basement office valley
    stadium hallway garage chapel warehouse balcony workshop tavern clinic
""".split()  # noqa: SIM905 (a list literal would be 60 lines)
# Single words ("at", "dawn", ...): the thresholds in test_quality were measured on them.
TIMES = """
    at dawn before lunch after midnight during the storm on tuesday in the spring by
    evening every winter at noon last autumn
""".split()  # noqa: SIM905 (a list literal would be 60 lines)

#: (original, paraphrase): the same meaning, mostly other words. A base document each.
PARAPHRASES: tuple[tuple[str, str], ...] = (
    (
        "How do I reset my password if I forgot it?",
        "What are the steps to recover a forgotten password?",
    ),
    (
        "The meeting has been moved to next Thursday afternoon.",
        "We rescheduled the meeting for Thursday afternoon next week.",
    ),
    (
        "Drinking enough water every day is important for your health.",
        "Staying hydrated daily matters a lot for being healthy.",
    ),
    (
        "The train to Boston was delayed by two hours because of snow.",
        "Snow held up the Boston train for two hours.",
    ),
    (
        "She finished writing her novel after five years of work.",
        "After working on it for five years, she completed her novel.",
    ),
    (
        "Please turn off the lights when you leave the room.",
        "Switch the lights off as you exit the room, please.",
    ),
    (
        "The company reported record profits in the last quarter.",
        "Last quarter the firm announced its highest earnings ever.",
    ),
    (
        "Can you recommend a good restaurant near the hotel?",
        "Is there a nice place to eat close to the hotel that you would suggest?",
    ),
    (
        "The doctor advised him to get more sleep and exercise regularly.",
        "His physician told him to sleep more and work out on a regular basis.",
    ),
    (
        "Our flight was cancelled, so we stayed another night in Rome.",
        "Because the flight got cancelled, we spent an extra night in Rome.",
    ),
    (
        "The museum is closed on Mondays for maintenance.",
        "Every Monday the museum shuts its doors for upkeep.",
    ),
    (
        "He apologized for arriving late to the interview.",
        "He said sorry for being late to his job interview.",
    ),
    (
        "This function returns the sum of all even numbers in the list.",
        "The function adds up every even number in the list and returns the total.",
    ),
    (
        "The children built a sandcastle on the beach all afternoon.",
        "All afternoon the kids made a sand castle at the beach.",
    ),
    (
        "Prices of vegetables have gone up sharply this winter.",
        "Vegetables have become much more expensive this winter.",
    ),
    (
        "I can't attend the party because I have to work late.",
        "I won't be able to come to the party since I'm working late.",
    ),
    (
        "The bridge will be closed for repairs until the end of May.",
        "Repairs will keep the bridge shut until late May.",
    ),
    (
        "Water boils at one hundred degrees Celsius at sea level.",
        "At sea level, the boiling point of water is 100 degrees Celsius.",
    ),
    (
        "The new phone has a longer battery life than the old model.",
        "Compared to the previous model, the new phone's battery lasts longer.",
    ),
    (
        "Remember to bring your passport to the airport.",
        "Don't forget to take your passport with you to the airport.",
    ),
    (
        "The team won the championship for the third year in a row.",
        "For three consecutive years the team has taken the championship.",
    ),
    (
        "Our store offers free delivery on orders over fifty dollars.",
        "Orders above fifty dollars are delivered free of charge by our shop.",
    ),
    (
        "The scientist discovered a new species of frog in the rainforest.",
        "A new kind of frog was found in the rainforest by the researcher.",
    ),
    (
        "It is going to rain heavily tomorrow, so take an umbrella.",
        "Heavy rain is expected tomorrow; bring an umbrella.",
    ),
    (
        "The library lets members borrow up to ten books at a time.",
        "Members of the library can check out a maximum of ten books at once.",
    ),
    (
        "My grandmother taught me how to bake bread when I was young.",
        "When I was a child, my grandma showed me how to make bread.",
    ),
    (
        "Sort the array in ascending order before searching it.",
        "Before you search the array, sort it from smallest to largest.",
    ),
    (
        "The hotel room had a beautiful view of the mountains.",
        "From the hotel room we could see the mountains, and it was lovely.",
    ),
    (
        "Smoking is not allowed anywhere inside the building.",
        "You may not smoke anywhere in the building.",
    ),
    (
        "The concert was sold out within minutes of tickets going on sale.",
        "Tickets for the concert sold out just minutes after they went on sale.",
    ),
    (
        "He lost his keys and had to wait outside for an hour.",
        "Having lost his keys, he waited outside for an hour.",
    ),
    (
        "The river flooded the village after days of heavy rain.",
        "After several days of intense rain, the river overflowed into the village.",
    ),
    (
        "Learning a second language takes patience and daily practice.",
        "You need patience and practice every day to learn another language.",
    ),
    (
        "The package should arrive within three business days.",
        "Expect the parcel to be delivered in three working days.",
    ),
)


@dataclass
class PlantedCorpus:
    """Keys and texts in corpus order, and the truth: plant key -> (kind, source key)."""

    keys: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    plants: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add(self, key: str, text: str, kind: str | None = None, source: str = "") -> None:
        self.keys.append(key)
        self.texts.append(text)
        if kind is not None:
            self.plants[key] = (kind, source)

    def count(self, kind: str) -> int:
        return sum(1 for plant_kind, _ in self.plants.values() if plant_kind == kind)


def base_document(rng: random.Random) -> str:
    """Four random sentences, about 36 words."""
    sentences = []
    for _ in range(4):
        a1, a2 = rng.sample(ADJECTIVES, 2)
        n1, n2 = rng.sample(NOUNS, 2)
        sentences.append(
            f"The {a1} {n1} {rng.choice(VERBS)} the {a2} {n2} "
            f"in the {rng.choice(PLACES)} {rng.choice(TIMES)}."
        )
    return " ".join(sentences)


def respell(text: str, rng: random.Random) -> str:
    """The same content in other case and whitespace (what exact dedup must see through)."""
    words = text.split(" ")
    changed = [w.upper() if rng.random() < 0.3 else w for w in words]
    return "  ".join(changed[:5]) + "\n" + " ".join(changed[5:]) + "  "


def edit(text: str, rng: random.Random) -> str:
    """One word replaced or inserted, not in the first or last three words."""
    words = text.split(" ")
    spot = rng.randrange(3, len(words) - 3)
    if rng.random() < 0.5:
        words[spot] = rng.choice(NOUNS)
    else:
        words.insert(spot, rng.choice(ADJECTIVES))
    return " ".join(words)


def jaccard(a: str, b: str, size: int = 3) -> float:
    """True Jaccard similarity of the word ``size``-gram sets of ``a`` and ``b``."""
    sa, sb = set(shingles(a, size)), set(shingles(b, size))
    return len(sa & sb) / len(sa | sb)


def planted_corpus(
    seed: int = 7, bases: int = 300, exact: int = 40, near: int = 40, paraphrases: bool = True
) -> PlantedCorpus:
    """Base documents first (generated, then the paraphrase originals), then the plants in
    a seeded random order."""
    rng = random.Random(seed)
    corpus = PlantedCorpus()
    for i in range(bases):
        corpus.add(f"base-{i}", base_document(rng))
    if paraphrases:
        for i, (original, _) in enumerate(PARAPHRASES):
            corpus.add(f"orig-{i}", original)
    plants: list[tuple[str, str, str, str]] = []
    for i in range(exact):
        source = rng.randrange(bases)
        plants.append((f"exact-{i}", respell(corpus.texts[source], rng), "exact", f"base-{source}"))
    for i in range(near):
        source = rng.randrange(bases)
        plants.append((f"near-{i}", edit(corpus.texts[source], rng), "near", f"base-{source}"))
    if paraphrases:
        for i, (_, paraphrase) in enumerate(PARAPHRASES):
            plants.append((f"para-{i}", paraphrase, "paraphrase", f"orig-{i}"))
    rng.shuffle(plants)
    for key, text, kind, source in plants:
        corpus.add(key, text, kind, source)
    return corpus


@dataclass(frozen=True)
class Quality:
    """Precision over all flags, recall per plant kind."""

    flagged: int
    correct: int
    recall: dict[str, float]

    @property
    def precision(self) -> float:
        return self.correct / self.flagged if self.flagged else 1.0


def score(
    index: DedupIndex, corpus: PlantedCorpus, batch: int = 64
) -> tuple[Quality, list[Duplicate | None]]:
    """Run ``corpus`` through ``index`` in batches; a flag is correct when it is a plant and
    names its source. Recall of a kind counts correct flags only."""
    verdicts: list[Duplicate | None] = []
    for start in range(0, len(corpus.keys), batch):
        verdicts += index.check_add(
            corpus.keys[start : start + batch], corpus.texts[start : start + batch]
        )
    flagged = correct = 0
    hits: dict[str, int] = {}
    for key, verdict in zip(corpus.keys, verdicts, strict=True):
        if verdict is None:
            continue
        flagged += 1
        plant = corpus.plants.get(key)
        if plant is not None and verdict.of == plant[1]:
            correct += 1
            hits[plant[0]] = hits.get(plant[0], 0) + 1
    kinds = {kind for kind, _ in corpus.plants.values()}
    recall = {kind: hits.get(kind, 0) / corpus.count(kind) for kind in kinds}
    return Quality(flagged, correct, recall), verdicts


def assert_quality(quality: Quality, precision: float, recall: dict[str, float]) -> None:
    """Fail unless precision and each kind's recall reach the floors (``recall`` may also
    give ceilings as negative numbers: ``-0.1`` means "at most 0.1")."""
    assert quality.precision >= precision, quality
    for kind, floor in recall.items():
        if floor >= 0:
            assert quality.recall[kind] >= floor, (kind, quality)
        else:
            assert quality.recall[kind] <= -floor, (kind, quality)


class NeverAdds:
    """A broken index: answers "new" to everything and remembers nothing."""

    def check_add(self, keys: Sequence[str], texts: Sequence[str]) -> list[Duplicate | None]:
        return [None] * len(keys)

    def __len__(self) -> int:
        return 0


class FlagsEverything:
    """A broken index: calls everything after the first text a copy of the first."""

    def __init__(self) -> None:
        self._first: str | None = None

    def check_add(self, keys: Sequence[str], texts: Sequence[str]) -> list[Duplicate | None]:
        out: list[Duplicate | None] = []
        for key in keys:
            if self._first is None:
                self._first = key
                out.append(None)
            else:
                out.append(Duplicate(of=self._first, method="exact", similarity=1.0))
        return out

    def __len__(self) -> int:
        return 1 if self._first else 0


__all__ = [
    "PARAPHRASES",
    "FlagsEverything",
    "NeverAdds",
    "PlantedCorpus",
    "Quality",
    "assert_quality",
    "jaccard",
    "planted_corpus",
    "score",
]
