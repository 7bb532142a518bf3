from __future__ import annotations

import numpy as np
import pytest

from cryptoscore.errors import InputError, ParameterError
from cryptoscore.params import BFV8192
from cryptoscore.scoring.encoding import Layout, load_class_indices, slot_vectors

N = 8192


def test_binary_layout_uses_one_vector_and_every_slot():
    idx = np.array([0, 1] * 5000)
    layout, gen = slot_vectors(idx, BFV8192, 2)
    vecs = list(gen)
    assert layout.vectors == 1 and layout.chunks == 2 and len(vecs) == 2
    assert [pos for pos, _ in vecs] == [0, 1]
    flat = np.concatenate([v for _, v in vecs])
    assert np.array_equal(flat[:10000], idx) and not flat[10000:].any()
    assert layout.rows_in_chunk(0) == N and layout.rows_in_chunk(1) == 10000 - N


def test_one_hot_is_class_major_within_chunk_major_order():
    idx = np.arange(9000) % 3
    layout, gen = slot_vectors(idx, BFV8192, 3)
    vecs = [v for _, v in gen]
    assert layout.ciphertexts == 6 and len(vecs) == 6
    for k in range(2):
        for c in range(3):
            part = idx[k * N : (k + 1) * N]
            want = np.zeros(N, dtype=np.uint64)
            want[: part.size] = part == c
            assert np.array_equal(vecs[k * 3 + c], want)
    # every real row has exactly one 1, padding is all zero
    rows = sum(vecs[3 + c] for c in range(3))
    assert rows[: 9000 - N].tolist() == [1] * (9000 - N) and not rows[9000 - N :].any()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0, 1, 2], "class index 2 at item 3 is outside 0..1"),
        ([-1, 0], "class index -1 at item 1"),
        ([], "empty"),
        ([[0, 1], [1, 0]], "1-D"),
        ([0.5, 1.0], "whole numbers"),
        (["a", "b"], "integers"),
    ],
)
def test_bad_indices_named(values, message):
    with pytest.raises(InputError, match=message):
        slot_vectors(np.array(values), BFV8192, 2)


def test_float_and_bool_and_column_vectors_accepted():
    layout, _ = slot_vectors(np.array([[1.0], [0.0]]), BFV8192, 2)
    assert layout.n == 2
    layout, _ = slot_vectors(np.array([True, False, True]), BFV8192, 2)
    assert layout.n == 3


def test_layout_limits():
    with pytest.raises(InputError, match="classes"):
        Layout(10, 1, N)
    with pytest.raises(ParameterError, match="could exceed"):
        Layout.for_params(BFV8192, BFV8192.PLAIN_MODULUS, 2)


def test_csv_and_npy(tmp_path):
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("label\n1\n0\n 2 \n\n")
    assert load_class_indices(csv_path).tolist() == [1, 0, 2]
    npy = tmp_path / "p.npy"
    np.save(npy, np.array([3, 1, 4]))
    assert load_class_indices(npy).tolist() == [3, 1, 4]


@pytest.mark.parametrize(
    ("content", "message"),
    [("1,2\n", "expected one column"), ("1\nx\n", "'x' is not an integer"), ("\n", "no class")],
)
def test_bad_csv(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_class_indices(path)


def test_missing_file_and_pickled_npy(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_class_indices(tmp_path / "nope.csv")
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"not a readable \.npy"):
        load_class_indices(obj)
