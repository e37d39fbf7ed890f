"""Plain English sentences for TTS data and intelligibility tests.

``data.sentence`` draws random word sequences ("guy current literally governor national"): good
for teaching sounds, but no listener -- human or Whisper -- can check a word salad, because
understanding leans on grammar (Whisper tiny.en hears espeak-ng's own audio of such salads with
WER ~0.9, of plain sentences ~0.2). ``simple_sentence`` builds short grammatical sentences from a
small hand-written grammar (subject, verb, object, optional place/time) over common words, so a
TTS model hears natural function words and phrasing, and unseen sentences can be drawn from
other seeds.

``HARVARD`` holds sentences in the style of the IEEE 1969 "Harvard" phonetically balanced lists
(public domain): they never come out of the grammar, so they test generalisation to new words
and new sentence shapes.
"""
from __future__ import annotations

import numpy as np

SUBJECTS = ["the man", "the woman", "the boy", "the girl", "my friend", "her brother", "his sister",
            "the old man", "the young woman", "our teacher", "the doctor", "the driver", "a child",
            "the farmer", "my mother", "my father", "the baby", "the cat", "the dog", "the bird",
            "he", "she", "they", "we", "i", "you", "everyone", "nobody", "the team", "the police"]
VERBS = ["saw", "found", "made", "took", "wanted", "liked", "gave away", "kept", "left", "bought",
         "sold", "opened", "closed", "moved", "cleaned", "painted", "fixed", "carried", "washed",
         "dropped", "lost", "brought", "needed", "watched", "heard", "read", "wrote", "sent",
         "cooked", "broke", "built", "held", "picked up", "put down", "filled", "checked", "used"]
ADJECTIVES = ["old", "new", "big", "small", "red", "blue", "green", "black", "white", "long",
              "short", "heavy", "light", "warm", "cold", "clean", "dirty", "empty", "full", "bright",
              "dark", "soft", "hard", "quiet", "loud", "cheap", "good", "bad", "strange", "simple"]
NOUNS = ["door", "window", "car", "book", "letter", "box", "bag", "table", "chair", "cup", "glass",
         "bottle", "key", "phone", "paper", "picture", "coat", "shirt", "hat", "shoe", "ball", "bike",
         "boat", "house", "room", "garden", "tree", "flower", "fish", "bread", "apple", "cake",
         "river", "road", "bridge", "train", "ticket", "map", "clock", "lamp", "bed", "wall",
         "fence", "gate", "basket", "bucket", "knife", "plate", "card", "song", "story", "game"]
PLACES = ["in the kitchen", "in the garden", "at the station", "at school", "at home", "in the car",
          "on the table", "by the river", "near the door", "in the park", "at the market",
          "on the bus", "in the morning", "at night", "after lunch", "before dinner", "last week",
          "on monday", "on sunday", "yesterday", "today", "this morning", "every day", "again"]
DETERMINERS = ["the", "a", "my", "your", "his", "her", "our", "their", "that", "this"]

HARVARD = [
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "it is easy to tell the depth of a well",
    "these days a chicken leg is a rare dish",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
    "the box was thrown beside the parked truck",
    "the hogs were fed chopped corn and garbage",
    "four hours of steady work faced us",
    "a large size in stockings is hard to sell",
    "the boy was there when the sun rose",
    "a rod is used to catch pink salmon",
    "the source of the huge river is the clear spring",
    "kick the ball straight and follow through",
    "help the woman get back to her feet",
    "a pot of tea helps to pass the evening",
    "smoky fires lack flame and heat",
    "the soft cushion broke the man's fall",
    "the salt breeze came across from the sea",
    "the wide road shimmered in the hot sun",
]


def simple_sentence(rng: np.random.Generator) -> str:
    """One sentence: subject verb [determiner] [adjective] noun [[,] place/time], lower case
    (3-10 words)."""
    words = [SUBJECTS[rng.integers(len(SUBJECTS))], VERBS[rng.integers(len(VERBS))]]
    det = DETERMINERS[rng.integers(len(DETERMINERS))]
    noun = NOUNS[rng.integers(len(NOUNS))]
    adj = ADJECTIVES[rng.integers(len(ADJECTIVES))] if rng.random() < 0.6 else ""
    if det == "a" and adj[:1] in ("a", "e", "i", "o", "u") or det == "a" and not adj and noun[0] in "aeiou":
        det = "an"
    words += [det] + ([adj] if adj else []) + [noun]
    if rng.random() < 0.6:
        if rng.random() < 0.3:
            words[-1] += ","
        words.append(PLACES[rng.integers(len(PLACES))])
    return " ".join(words)


def written(text: str, rng: np.random.Generator, question: bool = False) -> str:
    """How people type it: 70 % sentence case with a final ``.`` (some ``!``, some ``?`` when
    ``question``), "I" capitalised; 30 % left lower case without a full stop."""
    if rng.random() >= 0.7:
        return text
    t = " ".join("I" if w == "i" else w for w in text.split(" "))
    end = rng.random()
    mark = "?" if question and end < 0.1 else "!" if end > 0.9 else "."
    return t[0].upper() + t[1:] + mark
