"""The BeerAdvocate review data of the L2X experiments, in its original files.

Learning to explain (L2X; Chen et al., ICML 2018) and the I-MLE paper
(section 6.3) select ``k`` words of a beer review that suffice to predict
one aspect's rating; a held-out set of reviews carries human annotations of
the sentences about each aspect, against which the selection is scored. The
data (McAuley et al. 2012, as prepared by Lei et al. 2016) is not shipped and
nothing is downloaded: these functions read the files a user already has.

Files, as the original notebooks read them:

* ``reviews.aspect{a}.train.txt`` / ``reviews.aspect{a}.heldout.txt`` —
  one review per line: five ratings in ``[0, 1]`` separated by spaces
  (aspects 0-4: appearance, aroma, palate, taste, overall), a tab, then
  the review's tokens separated by single spaces.
* ``annotations.json`` — one JSON object per line: ``"x"`` the token list,
  ``"y"`` the five ratings, and for aspects ``"0"``, ``"1"``, ``"2"`` a list
  of ``[start, end)`` token ranges that annotators marked as about that aspect.
* ``review+wiki.filtered.200.txt`` — word embeddings, one word per line
  followed by its vector.

Token ids follow the original: ``0`` padding, ``1`` start, ``2`` unknown,
training words from ``3`` in order of first appearance. Sequences are padded
and truncated *at the front* to ``max_length`` (Keras ``pad_sequences``
defaults, which the original used): a review longer than ``max_length``
keeps its last ``max_length`` tokens, a shorter one is right-aligned.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import InvalidInputError

__all__ = [
    "BEER_ASPECTS",
    "BeerReviews",
    "build_vocabulary",
    "load_beer_reviews",
    "load_beer_annotations",
    "load_word_embeddings",
    "subset_precision",
]

BEER_ASPECTS: tuple[str, ...] = ("appearance", "aroma", "palate", "taste", "overall")
"""The five rated aspects, in the order of the ratings on each line (``aspect`` indexes it)."""

PAD, START, UNKNOWN = 0, 1, 2
_FIRST_WORD_ID = 3


class BeerReviews(NamedTuple):
    """Reviews as padded token ids, with one aspect's rating.

    Attributes:
        token_ids: int64 ``(N, max_length)``, padded with ``0`` at the front.
        lengths: int64 ``(N,)``, the number of real tokens kept (at most
            ``max_length``), right-aligned in ``token_ids``.
        ratings: float32 ``(N,)``, the chosen aspect's rating in ``[0, 1]``.
        all_ratings: float32 ``(N, 5)``, every aspect's rating.
        relevant: bool ``(N, max_length)`` aligned with ``token_ids``: the
            tokens annotated as about the aspect (annotations only; ``None``
            for plain review files).

    Example:
        >>> import tempfile, pathlib
        >>> from imle_solvers.datasets import build_vocabulary, load_beer_reviews
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.txt"
        >>> _ = path.write_text("0.8 0.6 0.7 0.9 0.8\\tgreat dark pour\\n")
        >>> reviews = load_beer_reviews(path, aspect=1, vocabulary=build_vocabulary(path), max_length=5)
        >>> reviews.token_ids.tolist(), reviews.ratings.tolist()
        ([[0, 0, 3, 4, 5]], [0.6000000238418579])
    """

    token_ids: np.ndarray
    lengths: np.ndarray
    ratings: np.ndarray
    all_ratings: np.ndarray
    relevant: np.ndarray | None = None

    @property
    def num_reviews(self) -> int:
        """The number of reviews ``N``."""
        return int(self.token_ids.shape[0])


def _check_aspect(owner: str, aspect, count: int = len(BEER_ASPECTS)) -> int:
    if isinstance(aspect, bool) or not isinstance(aspect, (int, np.integer)) or not 0 <= aspect < count:
        raise InvalidInputError(f"{owner}: expected aspect to be an int in [0, {count - 1}], but found {aspect!r}")
    return int(aspect)


def _check_length(owner: str, max_length) -> int:
    if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) or max_length < 1:
        raise InvalidInputError(f"{owner}: expected max_length to be a positive int, but found {max_length!r}")
    return int(max_length)


def _open(owner: str, path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{owner}: no such file {path}")
    return path


def _parse_review(owner: str, path: Path, number: int, line: str) -> tuple[list[float], list[str]]:
    """Ratings and tokens of one line; ``number`` is 1-based for messages."""
    ratings_text, tab, text = line.rstrip("\r\n").partition("\t")
    if not tab:
        raise InvalidInputError(
            f"{owner}: {path}, line {number}: expected ratings, a tab and the review text, but found no tab"
        )
    try:
        ratings = [float(value) for value in ratings_text.split()]
    except ValueError:
        raise InvalidInputError(
            f"{owner}: {path}, line {number}: expected ratings as numbers, but found {ratings_text!r}"
        ) from None
    if len(ratings) != len(BEER_ASPECTS):
        raise InvalidInputError(
            f"{owner}: {path}, line {number}: expected {len(BEER_ASPECTS)} ratings, but found {len(ratings)}"
        )
    return ratings, text.split(" ") if text else []


def _reviews(owner: str, path: Path):
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield number, _parse_review(owner, path, number, line)


def build_vocabulary(path: str | os.PathLike) -> dict[str, int]:
    """The word ids of a training file, as the original notebooks assign them.

    ``"<PAD>"`` is 0, ``"<START>"`` 1, ``"<UNK>"`` 2; every other token of the
    file gets the next id, from 3, in order of first appearance.

    Args:
        path: a review file (``reviews.aspect{a}.train.txt``).

    Raises:
        FileNotFoundError: the file does not exist.
        InvalidInputError: a line is not ``ratings<TAB>text`` with five
            ratings (the message names the file and line).

    Example:
        >>> import tempfile, pathlib
        >>> from imle_solvers.datasets import build_vocabulary
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.txt"
        >>> _ = path.write_text("1 1 1 1 1\\ta hoppy ale\\n0 0 0 0 0\\ta flat ale\\n")
        >>> build_vocabulary(path)
        {'<PAD>': 0, '<START>': 1, '<UNK>': 2, 'a': 3, 'hoppy': 4, 'ale': 5, 'flat': 6}
    """
    path = _open("build_vocabulary", path)
    vocabulary = {"<PAD>": PAD, "<START>": START, "<UNK>": UNKNOWN}
    for _, (_, tokens) in _reviews("build_vocabulary", path):
        for token in tokens:
            if token not in vocabulary:
                vocabulary[token] = len(vocabulary)
    return vocabulary


def _pad_front(sequences: list[list[int]], max_length: int) -> tuple[np.ndarray, np.ndarray]:
    token_ids = np.zeros((len(sequences), max_length), dtype=np.int64)
    lengths = np.zeros(len(sequences), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        kept = sequence[-max_length:]
        lengths[row] = len(kept)
        if kept:
            token_ids[row, max_length - len(kept):] = kept
    return token_ids, lengths


def load_beer_reviews(
    path: str | os.PathLike, *, aspect: int, vocabulary: dict[str, int], max_length: int = 350
) -> BeerReviews:
    """Load a review file as padded token ids and one aspect's ratings.

    Args:
        path: ``reviews.aspect{a}.train.txt`` or ``.heldout.txt`` (format in
            the module docstring).
        aspect: which rating to return, 0-4 (:data:`BEER_ASPECTS`).
        vocabulary: word → id, from :func:`build_vocabulary` on the training
            file; words not in it become ``<UNK>`` (2).
        max_length: the padded length (350 in the original); longer reviews
            keep their last ``max_length`` tokens.

    Returns:
        :class:`BeerReviews` with ``relevant=None``.

    Raises:
        FileNotFoundError: the file does not exist.
        InvalidInputError: a malformed line (file and line number named), a
            rating outside ``[0, 1]``, or a bad ``aspect``/``max_length``.

    Example:
        >>> import tempfile, pathlib
        >>> from imle_solvers.datasets import load_beer_reviews
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "heldout.txt"
        >>> _ = path.write_text("0.2 0.4 0.6 0.8 1.0\\tnice new words\\n")
        >>> reviews = load_beer_reviews(path, aspect=4, vocabulary={"nice": 3}, max_length=4)
        >>> reviews.token_ids.tolist(), reviews.lengths.tolist(), reviews.ratings.tolist()
        ([[0, 3, 2, 2]], [3], [1.0])
    """
    owner = "load_beer_reviews"
    aspect = _check_aspect(owner, aspect)
    max_length = _check_length(owner, max_length)
    path = _open(owner, path)
    sequences, all_ratings = [], []
    for number, (ratings, tokens) in _reviews(owner, path):
        bad = [value for value in ratings if not 0.0 <= value <= 1.0]
        if bad:
            raise InvalidInputError(f"{owner}: {path}, line {number}: expected ratings in [0, 1], but found {bad[0]}")
        sequences.append([vocabulary.get(token, UNKNOWN) for token in tokens])
        all_ratings.append(ratings)
    token_ids, lengths = _pad_front(sequences, max_length)
    all_ratings = np.asarray(all_ratings, dtype=np.float32).reshape(-1, len(BEER_ASPECTS))
    return BeerReviews(token_ids, lengths, all_ratings[:, aspect].copy(), all_ratings)


def load_beer_annotations(
    path: str | os.PathLike, *, aspect: int, vocabulary: dict[str, int], max_length: int = 350
) -> BeerReviews:
    """Load ``annotations.json``: reviews with the tokens annotated for one aspect.

    Args:
        path: the annotations file, one JSON object per line with ``"x"``
            (tokens), ``"y"`` (five ratings) and, per annotated aspect,
            ``"0"``/``"1"``/``"2"``: ``[start, end)`` token ranges.
        aspect: the annotated aspect, 0 (appearance), 1 (aroma) or 2
            (palate).
        vocabulary: word → id from the training file; unknown words become 2.
        max_length: as in :func:`load_beer_reviews`; annotations on tokens cut
            off at the front are dropped with them.

    Returns:
        :class:`BeerReviews` whose ``relevant`` marks the annotated tokens,
        aligned with ``token_ids``.

    Raises:
        FileNotFoundError: the file does not exist.
        InvalidInputError: a line that is not JSON, lacks ``"x"``, ``"y"`` or
            the aspect's key, or has a range outside the review (file and
            line number named).

    Example:
        >>> import json, tempfile, pathlib
        >>> from imle_solvers.datasets import load_beer_annotations
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "annotations.json"
        >>> review = {"x": ["smells", "of", "citrus", "."], "y": [0.5, 0.9, 0.5, 0.5, 0.5], "1": [[0, 3]]}
        >>> _ = path.write_text(json.dumps(review) + "\\n")
        >>> data = load_beer_annotations(path, aspect=1, vocabulary={"citrus": 3}, max_length=5)
        >>> data.token_ids.tolist(), data.relevant.astype(int).tolist(), data.ratings.tolist()
        ([[0, 2, 2, 3, 2]], [[0, 1, 1, 1, 0]], [0.8999999761581421])
    """
    owner = "load_beer_annotations"
    aspect = _check_aspect(owner, aspect, count=3)
    max_length = _check_length(owner, max_length)
    path = _open(owner, path)
    sequences, all_ratings, marks = [], [], []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{owner}: {path}, line {number}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise InvalidInputError(f"{where}: expected a JSON object, but found invalid JSON ({error})") from None
            missing = [key for key in ("x", "y", str(aspect)) if key not in item]
            if missing:
                raise InvalidInputError(f"{where}: expected the keys 'x', 'y' and '{aspect}', but found no {missing}")
            tokens, ratings = item["x"], item["y"]
            if len(ratings) != len(BEER_ASPECTS):
                raise InvalidInputError(f"{where}: expected {len(BEER_ASPECTS)} ratings, but found {len(ratings)}")
            mark = np.zeros(len(tokens), dtype=bool)
            for span in item[str(aspect)]:
                start, end = span
                if not 0 <= start <= end <= len(tokens):
                    raise InvalidInputError(
                        f"{where}: expected ranges [start, end) within the review's {len(tokens)} tokens, "
                        f"but found {list(span)}"
                    )
                mark[start:end] = True
            sequences.append([vocabulary.get(token, UNKNOWN) for token in tokens])
            all_ratings.append([float(value) for value in ratings])
            marks.append(mark)
    token_ids, lengths = _pad_front(sequences, max_length)
    relevant = np.zeros_like(token_ids, dtype=bool)
    for row, mark in enumerate(marks):
        kept = mark[len(mark) - lengths[row]:]
        relevant[row, max_length - len(kept):] = kept
    all_ratings = np.asarray(all_ratings, dtype=np.float32).reshape(-1, len(BEER_ASPECTS))
    return BeerReviews(token_ids, lengths, all_ratings[:, aspect].copy(), all_ratings, relevant)


def load_word_embeddings(
    path: str | os.PathLike, vocabulary: dict[str, int], *, dim: int | None = None
) -> tuple[np.ndarray, int]:
    """An embedding matrix for a vocabulary from a text file of word vectors.

    Each line is a word followed by its vector (``review+wiki.filtered.200.txt``
    has 200 numbers per word). Row ``i`` of the matrix is the vector of the
    word with id ``i``; words without a vector (and the padding, start and
    unknown ids) get zeros, as in the original.

    Args:
        path: the embeddings file.
        vocabulary: word → id (ids ``0 .. max id``).
        dim: the expected vector length; by default that of the first line.

    Returns:
        ``(matrix, found)``: float32 ``(max id + 1, dim)`` and the number of
        vocabulary words that had a vector.

    Raises:
        FileNotFoundError: the file does not exist.
        InvalidInputError: a line whose vector has another length, or
            non-numbers (file and line named).

    Example:
        >>> import tempfile, pathlib
        >>> from imle_solvers.datasets import load_word_embeddings
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "vectors.txt"
        >>> _ = path.write_text("ale 0.5 -1\\nlager 2 3\\n")
        >>> matrix, found = load_word_embeddings(path, {"<PAD>": 0, "ale": 1, "stout": 2})
        >>> matrix.tolist(), found
        ([[0.0, 0.0], [0.5, -1.0], [0.0, 0.0]], 1)
    """
    owner = "load_word_embeddings"
    path = _open(owner, path)
    size = max(vocabulary.values(), default=-1) + 1
    matrix = None
    found = 0
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.split()
            if not parts:
                continue
            word, values = parts[0], parts[1:]
            if dim is None:
                dim = len(values)
            if len(values) != dim or dim == 0:
                raise InvalidInputError(
                    f"{owner}: {path}, line {number}: expected {dim} numbers after the word, but found {len(values)}"
                )
            if matrix is None:
                matrix = np.zeros((size, dim), dtype=np.float32)
            index = vocabulary.get(word)
            if index is None:
                continue
            try:
                matrix[index] = np.asarray(values, dtype=np.float32)
            except ValueError:
                raise InvalidInputError(f"{owner}: {path}, line {number}: expected numbers after {word!r}") from None
            found += 1
    if matrix is None:
        raise InvalidInputError(f"{owner}: {path}: expected word vectors, but found an empty file")
    return matrix, found


def subset_precision(selected, relevant, token_ids, *, k: int) -> float:
    """The share of selected words that annotators marked, as the I-MLE release scores it.

    Only selected real tokens count (padding is ignored); each review
    contributes ``max(selected real tokens, k)`` to the denominator, so a
    selection that lands on padding is not rewarded for it:
    ``sum_i correct_i / sum_i max(selected_i, k)``. (The original looked
    annotation tokens up with unknown words as padding, so it never counted
    them; here an unknown word, id 2, is a real token.)

    Args:
        selected: 0/1 or bool ``(N, L)``, the selected positions.
        relevant: bool ``(N, L)``, the annotated positions
            (:attr:`BeerReviews.relevant`).
        token_ids: ``(N, L)``, ``0`` marking padding.
        k: the number of words a method selects.

    Example:
        >>> import numpy as np
        >>> from imle_solvers.datasets import subset_precision
        >>> ids = np.array([[0, 5, 6, 7]])
        >>> subset_precision(np.array([[1, 1, 1, 0]]), np.array([[0, 1, 0, 1]], bool), ids, k=2)
        0.5
    """
    selected = np.asarray(selected).astype(bool)
    relevant = np.asarray(relevant, dtype=bool)
    real = np.asarray(token_ids) != PAD
    if not (selected.shape == relevant.shape == real.shape):
        raise InvalidInputError(
            f"subset_precision: expected selected, relevant and token_ids of one shape, but found "
            f"{selected.shape}, {relevant.shape} and {real.shape}"
        )
    chosen = selected & real
    correct = int((chosen & relevant).sum())
    denominator = int(np.maximum(chosen.sum(1), k).sum())
    return correct / denominator if denominator else 0.0
