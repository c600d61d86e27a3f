"""Uploads on the page: TorchScript gated, every problem one message in place that names the
file, never a temp path or traceback; images decoded once and kept once per session."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import fragility as fg
import hostile
from app_driver import APP, latest_job, run_until_done
from dashboard.components import compute, uploads


@pytest.fixture
def context(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("fragility-app-secret-51a9")
    return hostile.Context(secret=secret, marker=tmp_path / "marker", model_limit_mb=2)


def messages(at: AppTest) -> list[str]:
    return [element.value for element in at.error]


def page_text(at: AppTest) -> str:
    """Everything the page shows as text (markdown, alerts, captions, labels)."""
    parts = []
    for kind in ("markdown", "error", "warning", "caption", "success", "info", "code"):
        parts += [str(element.value) for element in at.get(kind)]
    parts += [caption for image in at.get("image") for caption in image.captions]
    return "\n".join(parts)


def own_model(at: AppTest, kind: str) -> AppTest:
    at.radio(key="model_source").set_value("Your own file").run()
    return at.radio(key="own_kind").set_value(kind).run()


def test_torchscript_is_off_with_the_reason_when_the_operator_says_so(monkeypatch):
    monkeypatch.setenv("FRAGILITY_ALLOW_TORCHSCRIPT", "0")
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    own_model(at, "TorchScript")
    assert not at.exception
    assert any(message.startswith("**TorchScript uploads are off on this server.**")
               for message in messages(at))
    shown = " ".join(messages(at))
    assert "turned them off (`FRAGILITY_ALLOW_TORCHSCRIPT=0`)" in shown
    assert "served to a network" not in shown      # the operator's choice, not the address
    assert [uploader.key for uploader in at.get("file_uploader")] == []
    at.radio(key="own_kind").set_value("State dict").run()       # weights stay open
    assert "own_model_file" in [uploader.key for uploader in at.get("file_uploader")]


def test_off_on_a_network_the_message_says_how_to_turn_it_on(monkeypatch):
    monkeypatch.delenv("FRAGILITY_ALLOW_TORCHSCRIPT", raising=False)
    message = uploads.torchscript_off_message()
    assert "served to a network" in message and "FRAGILITY_ALLOW_TORCHSCRIPT=1" in message


def test_no_stated_limit_is_above_the_servers_upload_ceiling(monkeypatch):
    class Upload:
        name, size = "big.pt", 150_000_000

    monkeypatch.setenv("FRAGILITY_MAX_MODEL_MB", "200")
    monkeypatch.setattr(uploads, "server_ceiling_mb", lambda: 101)
    assert uploads.limit_text("model") == "101 MB" and uploads.limit_text("image") == "20 MB"
    with pytest.raises(fg.InputError, match="big.pt is 150.0 MB; the limit for a model file is 101 MB"):
        uploads.read(Upload(), "model")
    monkeypatch.setenv("FRAGILITY_MAX_MODEL_MB", "50")
    assert uploads.limit_text("model") == "50 MB"


@pytest.mark.parametrize("address,allowed", [(None, False), ("0.0.0.0", False), ("::", False),
                                             ("192.168.1.20", False), ("my-host", False),
                                             ("127.0.0.1", True), ("::1", True),
                                             ("localhost", True)])
def test_torchscript_default_follows_the_bound_address(monkeypatch, address, allowed):
    monkeypatch.delenv("FRAGILITY_ALLOW_TORCHSCRIPT", raising=False)
    monkeypatch.setattr(uploads.st, "get_option", lambda name: address)
    assert uploads.torchscript_allowed() is allowed
    monkeypatch.setenv("FRAGILITY_ALLOW_TORCHSCRIPT", "1")
    assert uploads.torchscript_allowed()


def test_torchscript_upload_is_tried_probed_and_attacked(monkeypatch):
    monkeypatch.setenv("FRAGILITY_ALLOW_TORCHSCRIPT", "1")
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    own_model(at, "TorchScript")
    at.number_input(key="own_input_size").set_value(32)
    at.file_uploader(key="own_model_file").set_value(
        ("three.pt", hostile.torchscript(hostile.ThreeClasses()), "application/octet-stream"))
    at.run()
    assert not at.exception and not messages(at), messages(at)
    at.selectbox(key="image_choice").set_value("Upload your own image").run()
    at.file_uploader(key="image_file").set_value(("noise.png", hostile.noisy(), "image/png"))
    at.run()
    at.number_input(key="steps").set_value(2)
    at.run()
    at.button(key="run_attack").click().run()
    job = latest_job(at)
    run_until_done(at)
    assert not messages(at), messages(at)
    assert job.result[0].perturbed.shape == (1, 3, 32, 32)
    # a labels file with the wrong count names itself
    at.file_uploader(key="own_labels_file").set_value(
        ("ten.txt", "\n".join(map(str, range(10))).encode(), "text/plain")).run()
    assert messages(at) == ["labels file ten\\.txt has 10 labels but the model has 3 classes; "
                            "give exactly 3, one per class in order"]


def test_a_hostile_torchscript_upload_shows_no_server_file(monkeypatch, context):
    monkeypatch.setenv("FRAGILITY_ALLOW_TORCHSCRIPT", "1")
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    own_model(at, "TorchScript")
    for name in ("steal-in-forward.pt", "steal-while-loading.pt"):
        item = hostile.item(name, context)
        at.file_uploader(key="own_model_file").set_value((item.name, item.data, "x/y")).run()
        assert not at.exception
        assert len(messages(at)) == 1 and name.replace(".", "\\.").split("\\.pt")[0] in \
            messages(at)[0].replace("\\-", "-")
        assert context.secret.read_text() not in page_text(at)


@pytest.mark.parametrize("name", ["deep.json", "eleven.txt", "big-labels.txt", "binary.txt"])
def test_a_bad_labels_file_is_one_message_on_the_page(name, context):
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    item = hostile.item(name, context)
    at.file_uploader(key="labels_file").set_value((item.name, item.data, "text/plain")).run()
    assert not at.exception
    assert not at.sidebar.error                        # once: on the page, not the sidebar
    assert len(at.main.error) == 1
    assert re.search(item.expect, at.main.error[0].value.replace("\\", "")), at.main.error[0].value
    assert "run_attack" not in [button.key for button in at.button]   # nothing runs with the wrong labels


def test_weights_upload_messages_name_the_file_and_no_temp_path(context):
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    own_model(at, "State dict")
    at.selectbox(key="own_architecture").set_value("bundled").run()
    for name in ("random.pt", "pickle-reduce.pt"):
        item = hostile.item(name, context)
        at.file_uploader(key="own_model_file").set_value((item.name, item.data, "x/y")).run()
        shown = " ".join(messages(at)).replace("\\", "")
        assert shown.startswith(name) and "/tmp" not in shown and "Traceback" not in shown
        assert ("pickled Python objects" in shown) == name.startswith("pickle")
    assert not context.marker.exists()
    weights = hostile.torch_saved(hostile.bundled_state())
    at.file_uploader(key="own_model_file").set_value(("mine.pt", weights, "x/y")).run()
    assert not messages(at) and at.button(key="run_attack")


def test_uploaders_accept_what_the_messages_list(app):
    app.selectbox(key="image_choice").set_value("Upload your own image").run()
    accepted = app.file_uploader(key="image_file").allowed_type
    assert sorted(type_.lstrip(".") for type_ in accepted) == sorted(fg.images.EXTENSIONS)
    for extension in fg.images.EXTENSIONS:
        assert {"jpg": "JPEG", "jpeg": "JPEG", "tif": "TIFF"}.get(
            extension, extension.upper().replace("WEBP", "WebP")) in fg.images.FORMATS
    frames = [Image.new("RGB", (70, 70), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=50)
    app.file_uploader(key="image_file").set_value(("anim.gif", gif.getvalue(), "image/gif")).run()
    assert not messages(app) and app.button(key="run_attack")


def test_a_large_image_is_decoded_once_and_kept_once(app, monkeypatch):
    calls = []
    real = fg.load_image
    monkeypatch.setattr(fg, "load_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    data = hostile.flat_png(2500)
    app.selectbox(key="image_choice").set_value("Upload your own image").run()
    app.file_uploader(key="image_file").set_value(("flat.png", data, "image/png")).run()
    for opacity in (0.2, 0.4, 0.6, 0.8):
        app.slider(key="opacity").set_value(opacity).run()
    assert len(calls) == 1
    (key, image), = [app.session_state["uploaded_image"]]
    assert image.shape == (3, 64, 64) and key[2] == 64
    app.selectbox(key="image_choice").set_value(fg.samples("synthetic")[0].name).run()
    assert "uploaded_image" not in app.session_state


def test_an_unexpected_error_is_a_short_message_with_details(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("internal detail /srv/secret/path")

    monkeypatch.setattr(fg, "explain", broken)
    app.selectbox(key="method").set_value("gradient-x-input").run()   # not yet cached
    assert not app.exception
    assert [m for m in messages(app) if m.startswith("Something went wrong while drawing this "
                                                     "page (RuntimeError)")]
    assert any(expander.label == "Details" for expander in app.expander)
    assert "internal detail" not in page_text(app)


def test_an_unexpected_error_in_a_job_is_a_short_message_with_details(app, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("internal detail")

    monkeypatch.setattr(compute, "attack", broken)
    app.number_input(key="steps").set_value(2).run()
    app.button(key="run_attack").click().run()
    job = latest_job(app)
    run_until_done(app)
    assert job.unexpected is not None
    assert messages(app) == ["Something went wrong while computing (KeyError). The dashboard "
                             "keeps working: change a setting or try again."]
    details = [e for e in app.expander if e.label == "Details"][0]
    assert job.unexpected.reference in details.markdown[0].value
    assert "internal detail" not in page_text(app)


def test_a_refused_weights_file_is_remembered_and_not_read_again(context, monkeypatch):
    from fragility.models import custom

    reads = []
    real = custom.read_state_dict
    monkeypatch.setattr(custom, "read_state_dict", lambda *a, **k: reads.append(1) or real(*a, **k))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    own_model(at, "State dict")
    at.selectbox(key="own_architecture").set_value("bundled").run()
    item = hostile.item("deflate-bomb.pt", context)
    at.file_uploader(key="own_model_file").set_value((item.name, item.data, "x/y")).run()
    first = messages(at)
    at.run()                                     # reruns of the page
    at.run()
    assert not at.exception
    assert len(first) == 1 and re.search(item.expect, first[0].replace("\\", "")), first
    assert messages(at) == first and len(reads) == 1
