#!/usr/bin/env python3
"""Our exports in Rekall's formats read as Rekall reads them.

Without Rekall installed, this checks what Rekall's import checks and what
its writer does, with Python's own zipfile, json and hashlib (the modules
Rekall uses):
  - the .rekall.zip holds manifest.json then entries.json, deflated, mode
    0600 made on Unix; the manifest has Rekall's keys in order, format 1.0,
    and the sha256 of entries.json;
  - entries.json (and the JSON export) is exactly json.dumps(indent=2,
    ensure_ascii=False) of its parsed array, each entry with Rekall's 16 keys
    in Rekall's order; the manifest is json.dumps(indent=2);
  - the archive Rekall itself exported (shared/fixtures) imports, and our
    export of it is Rekall's entries.json byte for byte.
(Checked once by hand against Rekall 676d848 itself: its `rekall import`
accepts our archive and its JSON and Markdown exports of the result match ours
but for the access fields Rekall's import drops.)
Usage: rekall_archive_test.py REKALL_BIN
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "..", "shared", "fixtures", "rekall", "rekall-export.rekall.zip")
KEYS = ["id", "title", "type", "content", "project", "tags", "confidence", "status", "superseded_by",
        "created_at", "updated_at", "memory_type", "last_accessed", "access_count", "consolidation_score",
        "next_review"]


def rekall(binary, db, *args):
    r = subprocess.run([binary, "--db", db, "--quiet"] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("rekall %s failed: %s" % (" ".join(args), r.stderr))
    return r.stdout


def check_entries_json(data):
    entries = json.loads(data.decode("utf-8"))
    assert json.dumps(entries, indent=2, ensure_ascii=False).encode("utf-8") == data, "not Python's layout"
    for e in entries:
        assert list(e.keys()) == KEYS, list(e.keys())
        assert isinstance(e["consolidation_score"], float)
    return entries


def check_archive(path):
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        assert [i.filename for i in infos] == ["manifest.json", "entries.json"], infos
        for i in infos:
            assert i.compress_type == zipfile.ZIP_DEFLATED and i.create_system == 3, i
            assert i.external_attr >> 16 & 0o777 == 0o600, oct(i.external_attr)
        raw_manifest, data = z.read("manifest.json"), z.read("entries.json")
    manifest = json.loads(raw_manifest)
    assert json.dumps(manifest, indent=2).encode() == raw_manifest, "manifest not Python's layout"
    assert list(manifest.keys()) == ["format_version", "created_at", "rekall_version", "checksum", "stats"]
    assert manifest["format_version"] == "1.0"
    assert manifest["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
    entries = check_entries_json(data)
    stats = manifest["stats"]
    assert stats["entries_count"] == len(entries)
    assert stats["projects"] == sorted({e["project"] for e in entries if e["project"] is not None})
    types = {}
    for e in entries:
        types[e["type"]] = types.get(e["type"], 0) + 1
    assert list(stats["types"].items()) == list(types.items())
    return data


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as work:
        db = os.path.join(work, "k.db")
        rekall(binary, db, "add", "--title", "Caf\u00e9 \u65e5\u672c \U0001F600", "--type", "bug", "--content",
               "a \"quoted\"\n\tline \\ and \u0001", "--tag", "x,y", "--project", "p")
        rekall(binary, db, "add", "--title", "plain", "--type", "pattern", "--content", "")
        zip_path, json_path = os.path.join(work, "kb.rekall.zip"), os.path.join(work, "kb.json")
        rekall(binary, db, "export", zip_path)
        rekall(binary, db, "export", json_path)
        data = check_archive(zip_path)
        with open(json_path, "rb") as f:
            assert f.read() == data, "the JSON export is the archive's entries.json"

        if os.path.exists(FIXTURE):
            with zipfile.ZipFile(FIXTURE) as z:
                theirs = z.read("entries.json")
            db2 = os.path.join(work, "fixture.db")
            rekall(binary, db2, "import", "--no-embed", FIXTURE)
            out = os.path.join(work, "again.rekall.zip")
            rekall(binary, db2, "export", out)
            assert check_archive(out) == theirs, "our export of Rekall's archive differs from its entries.json"
    print("rekall archive compat: ok")


if __name__ == "__main__":
    main()
