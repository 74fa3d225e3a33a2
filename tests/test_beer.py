"""The BeerAdvocate readers on small files in the original format, generated here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imle_solvers.datasets import (
    BEER_ASPECTS,
    build_vocabulary,
    load_beer_annotations,
    load_beer_reviews,
    load_word_embeddings,
    subset_precision,
)
from imle_solvers.errors import InvalidInputError

TRAIN = [
    ("0.8 0.6 0.7 0.9 0.8", "pours a deep amber with a thick head"),
    ("0.2 0.4 0.3 0.1 0.2", "smells of wet cardboard"),
    ("1.0 1.0 0.9 1.0 1.0", "amber pour , citrus nose , great"),
]


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "reviews.aspect1.train.txt").write_text(
        "".join(f"{ratings}\t{text}\n" for ratings, text in TRAIN), encoding="utf-8"
    )
    (tmp_path / "reviews.aspect1.heldout.txt").write_text(
        "0.5 0.7 0.5 0.5 0.5\tamber head with unseen words\n\n", encoding="utf-8"
    )
    annotations = [
        {"x": "a thick amber head , smells of citrus".split(), "y": [0.9, 0.8, 0.5, 0.6, 0.7],
         "0": [[0, 4]], "1": [[5, 8]], "2": []},
        {"x": "citrus".split(), "y": [0.5] * 5, "0": [], "1": [[0, 1]], "2": []},
    ]
    (tmp_path / "annotations.json").write_text("".join(json.dumps(a) + "\n" for a in annotations), encoding="utf-8")
    (tmp_path / "vectors.txt").write_text("amber 1 2 3\nzebra 9 9 9\nhead 4 5 6\n", encoding="utf-8")
    return tmp_path


def test_vocabulary_follows_the_original_ids(folder):
    vocabulary = build_vocabulary(folder / "reviews.aspect1.train.txt")
    assert [vocabulary[w] for w in ("<PAD>", "<START>", "<UNK>", "pours", "a", "deep", "amber")] == [0, 1, 2, 3, 4, 5, 6]
    assert vocabulary["smells"] == 10  # pours a deep amber with thick head = 3..9 ("a" repeats)
    assert len(vocabulary) == 3 + len({w for _, text in TRAIN for w in text.split(" ")})


def test_reviews_pad_and_truncate_at_the_front(folder):
    path = folder / "reviews.aspect1.train.txt"
    vocabulary = build_vocabulary(path)
    reviews = load_beer_reviews(path, aspect=1, vocabulary=vocabulary, max_length=6)
    assert reviews.token_ids.shape == (3, 6) and reviews.token_ids.dtype == np.int64
    first = [vocabulary[w] for w in TRAIN[0][1].split()]  # 8 tokens, the last 6 kept
    assert reviews.token_ids[0].tolist() == first[-6:]
    second = [vocabulary[w] for w in TRAIN[1][1].split()]  # 4 tokens, right-aligned
    assert reviews.token_ids[1].tolist() == [0, 0, *second]
    assert reviews.lengths.tolist() == [6, 4, 6]
    np.testing.assert_allclose(reviews.ratings, [0.6, 0.4, 1.0], rtol=1e-6)
    assert reviews.all_ratings.shape == (3, len(BEER_ASPECTS))
    assert reviews.relevant is None and reviews.num_reviews == 3


def test_heldout_words_outside_the_vocabulary_are_unknown(folder):
    vocabulary = build_vocabulary(folder / "reviews.aspect1.train.txt")
    heldout = load_beer_reviews(folder / "reviews.aspect1.heldout.txt", aspect=3, vocabulary=vocabulary, max_length=8)
    assert heldout.num_reviews == 1  # the blank line is skipped
    expected = [vocabulary["amber"], vocabulary["head"], vocabulary["with"], 2, 2]
    assert heldout.token_ids[0].tolist() == [0, 0, 0, *expected]
    assert heldout.ratings.tolist() == [0.5]


def test_annotations_mark_the_aspect_tokens_aligned_with_the_ids(folder):
    vocabulary = build_vocabulary(folder / "reviews.aspect1.train.txt")
    data = load_beer_annotations(folder / "annotations.json", aspect=1, vocabulary=vocabulary, max_length=10)
    assert data.token_ids.shape == data.relevant.shape == (2, 10)
    row = data.token_ids[0]
    assert row[:2].tolist() == [0, 0] and row[2] == vocabulary["a"]
    # tokens 5..7 of the review ("smells of citrus") sit at 2 + 5 .. 2 + 7
    assert np.flatnonzero(data.relevant[0]).tolist() == [7, 8, 9]
    assert np.flatnonzero(data.relevant[1]).tolist() == [9]
    appearance = load_beer_annotations(folder / "annotations.json", aspect=0, vocabulary=vocabulary, max_length=10)
    assert np.flatnonzero(appearance.relevant[0]).tolist() == [2, 3, 4, 5]
    np.testing.assert_allclose(appearance.ratings, [0.9, 0.5])


def test_annotations_cut_off_at_the_front_go_with_their_tokens(folder):
    vocabulary = build_vocabulary(folder / "reviews.aspect1.train.txt")
    data = load_beer_annotations(folder / "annotations.json", aspect=0, vocabulary=vocabulary, max_length=6)
    # 8 tokens, the first two dropped: the appearance span [0, 4) keeps tokens 2, 3 at positions 0, 1
    assert np.flatnonzero(data.relevant[0]).tolist() == [0, 1]


def test_word_embeddings_rows_follow_the_ids(folder):
    vocabulary = build_vocabulary(folder / "reviews.aspect1.train.txt")
    matrix, found = load_word_embeddings(folder / "vectors.txt", vocabulary)
    assert matrix.shape == (max(vocabulary.values()) + 1, 3) and found == 2
    assert matrix[vocabulary["amber"]].tolist() == [1, 2, 3]
    assert matrix[vocabulary["head"]].tolist() == [4, 5, 6]
    assert not matrix[vocabulary["pours"]].any() and not matrix[0].any()


def test_subset_precision_counts_real_tokens_with_a_floor_of_k():
    ids = np.array([[0, 0, 5, 6, 7, 8], [9, 9, 9, 9, 9, 9]])
    relevant = np.array([[1, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 1]], bool)
    selected = np.array([[1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 1]])
    # row 0: padding ignored, real selected 5 and 7 -> 1 correct of max(2, 3); row 1: 1 of max(1, 3)
    assert subset_precision(selected, relevant, ids, k=3) == pytest.approx(2 / 6)
    with pytest.raises(InvalidInputError, match="one shape"):
        subset_precision(selected[:, :3], relevant, ids, k=3)


@pytest.mark.parametrize(
    "line, message",
    [
        ("0.1 0.2 0.3 0.4 0.5 no tab here\n", "line 2: expected ratings, a tab and the review text"),
        ("0.1 0.2 0.3\tthree ratings\n", "line 2: expected 5 ratings, but found 3"),
        ("0.1 x 0.3 0.4 0.5\tbad number\n", "line 2: expected ratings as numbers"),
        ("0.1 1.5 0.3 0.4 0.5\tout of range\n", "line 2: expected ratings in \\[0, 1\\], but found 1.5"),
    ],
)
def test_malformed_review_lines_are_named(tmp_path, line, message):
    path = tmp_path / "reviews.txt"
    path.write_text("0.1 0.2 0.3 0.4 0.5\tfine\n" + line, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=message) as error:
        load_beer_reviews(path, aspect=0, vocabulary={})
    assert "reviews.txt" in str(error.value)


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json\n", "line 1: expected a JSON object"),
        (json.dumps({"x": ["a"], "y": [0.5] * 5}) + "\n", "expected the keys 'x', 'y' and '1'"),
        (json.dumps({"x": ["a"], "y": [0.5] * 5, "1": [[0, 2]]}) + "\n", "within the review's 1 tokens, but found \\[0, 2\\]"),
        (json.dumps({"x": ["a"], "y": [0.5] * 2, "1": []}) + "\n", "expected 5 ratings, but found 2"),
    ],
)
def test_malformed_annotations_are_named(tmp_path, line, message):
    path = tmp_path / "annotations.json"
    path.write_text(line, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=message):
        load_beer_annotations(path, aspect=1, vocabulary={})


def test_bad_arguments_and_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        build_vocabulary(tmp_path / "missing.txt")
    path = tmp_path / "r.txt"
    path.write_text("0 0 0 0 0\tok\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="aspect to be an int in \\[0, 4\\]"):
        load_beer_reviews(path, aspect=5, vocabulary={})
    with pytest.raises(InvalidInputError, match="aspect to be an int in \\[0, 2\\]"):
        load_beer_annotations(path, aspect=3, vocabulary={})
    with pytest.raises(InvalidInputError, match="max_length to be a positive int"):
        load_beer_reviews(path, aspect=0, vocabulary={}, max_length=0)
    vectors = tmp_path / "v.txt"
    vectors.write_text("a 1 2\nb 1 2 3\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2: expected 2 numbers after the word, but found 3"):
        load_word_embeddings(vectors, {"a": 0, "b": 1})
