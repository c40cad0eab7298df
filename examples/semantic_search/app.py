"""A small semantic-search web service over an embedded OmenDB database.

Documents (id, text, optional attributes) live as ordinary key-value entries
(key ``doc:<id>``, value a JSON object); their vectors live in the vector set
``docs`` of the same database.  Every add or delete writes both in one
atomic batch, so a crash never leaves a document without its vector or the
reverse.

Vectors come from the client (any model it likes, ``vector`` field) or, when
none is given, from a deterministic toy embedding (hashed character n-grams,
see ``embed``), which needs no model download: texts that share many
character trigrams land close together.  It is lexical, not semantic, but it
exercises the same code path a real embedding model would.

Run it (from the repository root, after ``make python``)::

    PYTHONPATH=build/python /usr/bin/python3 examples/semantic_search/app.py \\
        --db /tmp/search-db --port 8000

Endpoints (JSON): ``POST /documents``, ``GET /documents/{id}``,
``DELETE /documents/{id}``, ``POST /search``, ``GET /search?q=...``,
``GET /stats``.  See README.md.
"""
import argparse
import hashlib
import json
import os
import re
from typing import Any, Dict, List, Optional

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

import omendb

DEFAULT_DIM = 256
NGRAM = 3
SET_NAME = "docs"


def embed(text: str, dim: int = DEFAULT_DIM) -> np.ndarray:
    """Deterministic toy embedding: each character trigram of the lower-cased,
    space-padded words is hashed (BLAKE2b, so the result does not depend on
    Python's per-process hash seed) to a bucket and a sign; the bucket
    counts are scaled to unit length.  An empty text gets a fixed unit
    vector, since a cosine set rejects the zero vector."""
    v = np.zeros(dim, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()):
        w = f" {word} "
        for i in range(max(1, len(w) - NGRAM + 1)):
            h = hashlib.blake2b(w[i:i + NGRAM].encode(), digest_size=8).digest()
            x = int.from_bytes(h, "little")
            v[x % dim] += 1.0 if (x >> 63) & 1 else -1.0
    n = float(np.linalg.norm(v))
    if n == 0.0:
        v[0] = 1.0
        return v
    return v / n


class DocumentIn(BaseModel):
    id: str = Field(..., min_length=1, max_length=512)
    text: str = ""
    attrs: Optional[Dict[str, Any]] = None
    vector: Optional[List[float]] = None


class DocumentOut(BaseModel):
    id: str
    text: str
    attrs: Optional[Dict[str, Any]] = None


class SearchIn(BaseModel):
    text: Optional[str] = None
    vector: Optional[List[float]] = None
    k: int = Field(5, ge=1, le=1000)
    filter: Optional[str] = None
    ef: Optional[int] = Field(None, ge=1, le=10000)


class Hit(DocumentOut):
    score: float


class Service:
    """The database, the vector set and the two operations that must stay
    atomic.  One instance per app; thread-safe because the DB and the
    VectorSet are (FastAPI runs plain `def` endpoints in a thread pool)."""

    def __init__(self, path: str, dim: int = DEFAULT_DIM):
        self.db = omendb.open(path)
        self.vs = self.db.vector_set(SET_NAME, dim=dim, metric="cosine", ids="str")
        self.dim = self.vs.dim

    def close(self):
        self.db.close()

    @staticmethod
    def key(doc_id: str) -> bytes:
        return b"doc:" + doc_id.encode()

    def vector_for(self, text: Optional[str], vector: Optional[List[float]]) -> np.ndarray:
        if vector is not None:
            if len(vector) != self.dim:
                raise HTTPException(400, f"vector has {len(vector)} components, the index uses {self.dim}")
            return np.asarray(vector, dtype=np.float32)
        return embed(text or "", self.dim)

    def put(self, doc: DocumentIn) -> None:
        vec = self.vector_for(doc.text, doc.vector)
        body = json.dumps({"text": doc.text, "attrs": doc.attrs}).encode()
        with self.db.batch() as b:  # document and vector: both or neither
            b.put(self.key(doc.id), body)
            # attrs={} rather than None, so that re-adding a document without
            # attributes clears the old ones from the filter's view too
            b.vadd(self.vs, doc.id, vec, attrs=doc.attrs or {})

    def get(self, doc_id: str) -> Optional[DocumentOut]:
        raw = self.db.get(self.key(doc_id))
        if raw is None:
            return None
        d = json.loads(raw)
        return DocumentOut(id=doc_id, text=d["text"], attrs=d["attrs"])

    def delete(self, doc_id: str) -> bool:
        if self.key(doc_id) not in self.db:
            return False
        with self.db.batch() as b:
            b.delete(self.key(doc_id))
            b.vdelete(self.vs, doc_id)
        return True

    def search(self, q: SearchIn) -> List[Hit]:
        if q.text is None and q.vector is None:
            raise HTTPException(400, "give `text` or `vector`")
        vec = self.vector_for(q.text, q.vector)
        hits = self.vs.search(vec, k=q.k, ef=q.ef, filter=q.filter)
        docs = self.db.get_many([self.key(i) for i, _ in hits])
        out = []
        for (doc_id, score), raw in zip(hits, docs):
            if raw is None:  # deleted between the two reads
                continue
            d = json.loads(raw)
            out.append(Hit(id=doc_id, text=d["text"], attrs=d["attrs"], score=score))
        return out


def create_app(path: Optional[str] = None, dim: int = DEFAULT_DIM) -> FastAPI:
    """The FastAPI application over the database in `path` (default: the
    OMENDB_SEARCH_DB environment variable, else ./search-db).  The database
    is opened at startup and closed at shutdown."""
    path = path or os.environ.get("OMENDB_SEARCH_DB", "search-db")

    app = FastAPI(title="OmenDB semantic search")

    # (Debian's FastAPI 0.92 predates the `lifespan=` argument)
    @app.on_event("startup")
    def open_db():
        app.state.service = Service(path, dim)

    @app.on_event("shutdown")
    def close_db():
        app.state.service.close()

    def service(request: Request) -> Service:
        return request.app.state.service

    @app.exception_handler(omendb.InvalidArgument)
    async def invalid(request: Request, exc: omendb.InvalidArgument):
        return JSONResponse(status_code=400, content={"detail": exc.detail or str(exc)})

    @app.post("/documents", status_code=201)
    def add_document(doc: DocumentIn, svc: Service = Depends(service)):
        svc.put(doc)
        return {"id": doc.id}

    @app.get("/documents/{doc_id}", response_model=DocumentOut)
    def get_document(doc_id: str, svc: Service = Depends(service)):
        d = svc.get(doc_id)
        if d is None:
            raise HTTPException(404, f"no document {doc_id!r}")
        return d

    @app.delete("/documents/{doc_id}", status_code=204)
    def delete_document(doc_id: str, svc: Service = Depends(service)):
        if not svc.delete(doc_id):
            raise HTTPException(404, f"no document {doc_id!r}")

    @app.post("/search", response_model=List[Hit])
    def search(q: SearchIn, svc: Service = Depends(service)):
        return svc.search(q)

    @app.get("/search", response_model=List[Hit])
    def search_get(q: str = Query(..., description="query text"),
                   k: int = Query(5, ge=1, le=1000),
                   filter: Optional[str] = Query(None, description="e.g. .year > 2000"),
                   svc: Service = Depends(service)):
        return svc.search(SearchIn(text=q, k=k, filter=filter))

    @app.get("/stats")
    def stats(svc: Service = Depends(service)):
        return svc.vs.info()

    return app


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="search-db", help="database directory (created if absent)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--dim", type=int, default=DEFAULT_DIM)
    a = ap.parse_args()
    import uvicorn
    uvicorn.run(create_app(a.db, a.dim), host=a.host, port=a.port)


if __name__ == "__main__":
    main()
