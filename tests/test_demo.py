"""The demo's sample clip: cache, local copy, verified download, and a clear message without any."""
import pytest

from squatpose import demo


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(demo, "_local_copies", lambda: [tmp_path / "nowhere" / demo.SAMPLE_NAME])
    return tmp_path


def test_without_network_or_copy_the_message_says_what_to_do(isolated, monkeypatch):
    monkeypatch.setattr(demo, "SAMPLE_URL", (isolated / "no_such_file.mp4").as_uri())
    with pytest.raises(demo.SampleUnavailable) as err:
        demo.sample_clip()
    text = str(err.value)
    assert "could not be downloaded" in text and "squatpose demo --video" in text
    assert demo.SAMPLE_SHA256 in text


def test_download_is_checked_by_sha256(isolated, monkeypatch):
    wrong = isolated / "wrong.mp4"
    wrong.write_bytes(b"not the sample")
    monkeypatch.setattr(demo, "SAMPLE_URL", wrong.as_uri())
    with pytest.raises(demo.SampleUnavailable, match="unexpected SHA-256"):
        demo.sample_clip()
    assert not list((isolated / "cache").rglob("*.mp4"))


def test_real_sample_is_found_and_cached(isolated, monkeypatch):
    from conftest import REPO
    shared = REPO.parent / "shared" / "samples" / demo.SAMPLE_NAME
    if not shared.exists():
        pytest.skip(f"{shared} is not present on this machine")
    monkeypatch.setattr(demo, "SAMPLE_URL", shared.as_uri())  # stands in for the public URL
    path = demo.sample_clip()
    assert path == isolated / "cache" / "squatpose" / "samples" / demo.SAMPLE_NAME
    assert demo.sha256_of(path) == demo.SAMPLE_SHA256
    assert demo.sample_clip() == path  # second call: from the cache
