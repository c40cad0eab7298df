"""The semantic-search example through FastAPI's TestClient (no network:
requests go straight into the ASGI app).  Run by `make test-examples`."""
import os
import sys

import numpy as np
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import app as search_app  # noqa: E402

DOCS = [
    ("d1", "The quick brown fox jumps over the lazy dog", {"year": 1990, "lang": "en"}),
    ("d2", "A quick brown dog outpaces a lazy fox", {"year": 2005, "lang": "en"}),
    ("d3", "Vector databases search embeddings by similarity", {"year": 2021, "lang": "en"}),
    ("d4", "Approximate nearest neighbour search with HNSW graphs", {"year": 2018, "lang": "en"}),
    ("d5", "Der schnelle braune Fuchs springt", {"year": 2001, "lang": "de"}),
    ("d6", "Learned indexes replace B-trees with models", {"year": 2018, "lang": "en"}),
]


@pytest.fixture
def client(tmp_path):
    with TestClient(search_app.create_app(str(tmp_path / "db"), dim=128)) as c:
        for doc_id, text, attrs in DOCS:
            r = c.post("/documents", json={"id": doc_id, "text": text, "attrs": attrs})
            assert r.status_code == 201, r.text
        yield c


def ids(resp):
    assert resp.status_code == 200, resp.text
    return [h["id"] for h in resp.json()]


def test_embedding_is_deterministic_and_unit_length():
    a = search_app.embed("hello world", 64)
    b = search_app.embed("hello world", 64)
    assert a.dtype == np.float32 and a.shape == (64,)
    assert np.array_equal(a, b)
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert abs(float(np.linalg.norm(search_app.embed("", 64))) - 1.0) < 1e-6
    # sharing trigrams means closer than sharing none
    near = float(search_app.embed("searching vectors", 64) @ search_app.embed("vector search", 64))
    far = float(search_app.embed("searching vectors", 64) @ search_app.embed("lazy fox", 64))
    assert near > far


def test_search_ranks_by_similarity(client):
    got = ids(client.post("/search", json={"text": "nearest neighbour search HNSW", "k": 3}))
    assert got[0] == "d4"
    hits = client.post("/search", json={"text": "lazy brown fox", "k": 6}).json()
    assert {h["id"] for h in hits[:2]} == {"d1", "d2"}
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores)  # distances: closest first
    assert hits[0]["text"] and hits[0]["attrs"]["lang"] == "en"
    assert ids(client.get("/search", params={"q": "quick brown fox", "k": 2}))[:2] in (["d1", "d2"], ["d2", "d1"])


def test_search_with_filter_matches_oracle(client):
    for flt, pred in [(".year >= 2018", lambda a: a["year"] >= 2018),
                      ('.lang == "de"', lambda a: a["lang"] == "de"),
                      ('.year < 2000 or .lang == "de"', lambda a: a["year"] < 2000 or a["lang"] == "de")]:
        got = ids(client.post("/search", json={"text": "search", "k": 10, "filter": flt}))
        want = {d for d, _, a in DOCS if pred(a)}
        assert set(got) == want  # k exceeds the matches: every match comes back, nothing else
    got = ids(client.get("/search", params={"q": "fox", "filter": ".year > 3000"}))
    assert got == []


def test_get_update_delete(client):
    r = client.get("/documents/d3")
    assert r.status_code == 200 and r.json()["attrs"]["year"] == 2021
    assert client.get("/documents/nope").status_code == 404
    # update: new text moves the document in the ranking
    client.post("/documents", json={"id": "d3", "text": "Der braune Fuchs schnell"})
    assert client.get("/documents/d3").json()["attrs"] is None
    got = ids(client.post("/search", json={"text": "braune Fuchs", "k": 2}))
    assert set(got) == {"d3", "d5"}
    # the old attributes are gone from the filter's view too
    assert "d3" not in ids(client.post("/search", json={"text": "x", "k": 10, "filter": ".year > 2020"}))
    assert client.delete("/documents/d5").status_code == 204
    assert client.delete("/documents/d5").status_code == 404
    assert client.get("/documents/d5").status_code == 404
    got = ids(client.post("/search", json={"text": "Der schnelle braune Fuchs springt", "k": 10}))
    assert "d5" not in got and len(got) == len(DOCS) - 1
    assert client.get("/stats").json()["count"] == len(DOCS) - 1


def test_client_supplied_vectors(client):
    v = [0.0] * 128
    v[7] = 1.0
    r = client.post("/documents", json={"id": "vec", "text": "given vector", "vector": v})
    assert r.status_code == 201
    assert ids(client.post("/search", json={"vector": v, "k": 1})) == ["vec"]
    r = client.post("/documents", json={"id": "bad", "text": "x", "vector": [1.0, 2.0]})
    assert r.status_code == 400 and "128" in r.json()["detail"]
    assert client.get("/documents/bad").status_code == 404


def test_bad_requests(client):
    r = client.post("/search", json={"text": "fox", "filter": ".year >"})
    assert r.status_code == 400 and r.json()["detail"]
    assert client.post("/search", json={"text": "fox", "k": 0}).status_code == 422
    assert client.post("/search", json={"k": 3}).status_code == 400
    zero = [0.0] * 128
    r = client.post("/documents", json={"id": "z", "text": "", "vector": zero})
    assert r.status_code == 400  # a cosine index cannot hold the zero vector
    assert client.get("/documents/z").status_code == 404  # and nothing was stored


def test_data_survives_restart(tmp_path):
    path = str(tmp_path / "db")
    with TestClient(search_app.create_app(path, dim=64)) as c:
        c.post("/documents", json={"id": "a", "text": "persistent vectors", "attrs": {"n": 1}})
        c.post("/documents", json={"id": "b", "text": "ephemeral words"})
    with TestClient(search_app.create_app(path, dim=64)) as c:
        assert ids(c.post("/search", json={"text": "persistent vector", "k": 1})) == ["a"]
        assert c.get("/documents/a").json()["attrs"] == {"n": 1}
        assert c.get("/stats").json()["count"] == 2
