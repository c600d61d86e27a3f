"""Labels files: text or JSON in, class names out; every problem names the file and the limit."""

import json

import pytest

import fragility as fg
from fragility.labels import MAX_BYTES, MAX_LABEL_CHARS


def test_text_one_label_per_line_blank_lines_ignored(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("cat\n\n  dog \r\nbird\n")
    assert fg.load_labels(path) == ["cat", "dog", "bird"]
    assert fg.load_labels(path.read_bytes(), name="labels.txt", classes=3) == ["cat", "dog", "bird"]


@pytest.mark.parametrize("content", [
    ["cat", "dog", "bird"],
    {"0": "cat", "1": "dog", "2": "bird"},
    {"2": "bird", "0": "cat", "1": "dog"},                   # any key order
    {"0": ["n0001", "cat"], "1": ["n0002", "dog"], "2": ["n0003", "bird"]},   # ImageNet index
])
def test_json_lists_and_index_mappings(content):
    data = json.dumps(content).encode()
    assert fg.load_labels(data, name="labels.json") == ["cat", "dog", "bird"]


def test_json_is_recognised_without_a_name():
    assert fg.load_labels(b'["a", "b"]') == ["a", "b"]
    assert fg.load_labels(b"a\nb") == ["a", "b"]


def test_utf8_with_byte_order_mark():
    assert fg.load_labels("\ufeffchat\nchien".encode("utf-8"), name="fr.txt") == ["chat", "chien"]


def test_count_must_match_the_classes():
    with pytest.raises(fg.InputError, match=r"labels file five\.txt has 5 labels but the model "
                                            r"has 10 classes"):
        fg.load_labels(b"a\nb\nc\nd\ne", name="five.txt", classes=10)


def test_deep_nesting_is_an_input_error_not_a_recursion_error():
    with pytest.raises(fg.InputError, match=r"deep\.json nests JSON too deeply"):
        fg.load_labels(b"[" * 200_000 + b"]" * 200_000, name="deep.json")
    with pytest.raises(fg.InputError, match="where a name is expected"):
        fg.load_labels(b"[[[1]]]", name="nested.json")


def test_size_limit_names_the_file_and_the_limit(tmp_path):
    data = b"x\n" * (MAX_BYTES // 2 + 1)
    with pytest.raises(fg.InputError, match=rf"big\.txt is {len(data):,} bytes; the limit is "
                                            rf"{MAX_BYTES:,} bytes"):
        fg.load_labels(data, name="big.txt")
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    with pytest.raises(fg.InputError, match=f"the limit is {MAX_BYTES:,} bytes"):
        fg.load_labels(path)


@pytest.mark.parametrize("data,message", [
    (b"\xff\xfe\x00\x01", "not UTF-8 text"),
    (b'{"a": 1', "not valid JSON .* line 1"),
    (b'{"cat": "dog"}', "has the key 'cat', not a class index"),
    (b'{"0": "a", "2": "b"}', "0 to 1 without gaps"),
    (b'"just a string"', "holds a JSON str"),
    (b"[]", "has no labels"),
    (b"", "has no labels"),
    (b'[null, "a"]', "NoneType where a name is expected"),
    (("y" * (MAX_LABEL_CHARS + 1)).encode(), f"the limit is {MAX_LABEL_CHARS} per label"),
])
def test_bad_files_name_the_file(data, message):
    name = "labels.json" if data[:1] in (b"{", b"[", b'"') else "labels.txt"
    with pytest.raises(fg.InputError, match=rf"labels file labels\.(json|txt) .*{message}"):
        fg.load_labels(data, name=name)


def test_missing_file_and_wrong_type(tmp_path):
    with pytest.raises(fg.InputError, match="no such labels file"):
        fg.load_labels(tmp_path / "nope.txt")
    with pytest.raises(fg.InputError, match="path or bytes"):
        fg.load_labels(["a", "b"])
