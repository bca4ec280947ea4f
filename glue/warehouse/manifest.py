"""The SQL manifest: which version is current, its files, and the fingerprints that freeze it.

`sql/manifest.yml` lists, per version, its status (`draft` or `released`), its ordered files, the
windows and horizon the SQL implements (a file named `vN/file.sql` is taken, unchanged, from an earlier
version's directory), how records are landed (`landing: python` for v1, where Python
builds the raw rows; `landing: sql` from v2, where the version's own landing macros parse and type them),
and one fingerprint per statement (table, view or macro):
the SHA-256 of the statement normalised by sqlglot (comments and layout do not count, logic does).
A released version is frozen: `load_version` refuses SQL whose fingerprints differ from the manifest.
A version also records the SHA-256 of each file's text (`file_sha256`): when every file of a released version
is byte for byte the recorded one, its recorded fingerprints are used as they are and sqlglot is not run
(parsing costs 0.3-0.6 s, most of the time it takes to open a warehouse); any other text, even a comment,
is fingerprinted with sqlglot and checked as before.
`python -m glue.warehouse.manifest --update v1` rewrites the fingerprints and file hashes of a draft version;
`--record-hashes v1` records the file hashes of a released one after checking its fingerprints with sqlglot.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from glue.errors import WarehouseError

MANIFEST = "manifest.yml"


@dataclass(frozen=True)
class SqlVersion:
    """One loaded SQL version: its text per file and its fingerprints."""

    name: str
    status: str
    files: tuple[tuple[str, str], ...]  # (file name, SQL text) in apply order
    fingerprints: dict[str, str]  # object name -> fingerprint
    windows_s: tuple[int, ...]
    horizon_s: int
    landing: str = "python"  # "python": glue.warehouse.landing builds raw rows; "sql": the version's landing macros

    @property
    def fingerprint(self) -> str:
        """One fingerprint for the whole version (order-sensitive)."""
        joined = "\n".join(f"{k}={v}" for k, v in self.fingerprints.items())
        return hashlib.sha256(joined.encode()).hexdigest()[:16]

    @property
    def script(self) -> str:
        return "\n".join(text for _, text in self.files)


def statement_fingerprints(sql_text: str) -> dict[str, str]:
    """Object name -> SHA-256 (16 hex) of each CREATE statement, normalised by sqlglot."""
    return dict(_statement_fingerprints(sql_text))


@functools.lru_cache(maxsize=64)
def _statement_fingerprints(sql_text: str) -> tuple[tuple[str, str], ...]:
    # cached per text: parsing with sqlglot is the slowest part of opening a warehouse (~0.5 s), and a
    # process (a test run, the demo) opens many warehouses of the same version
    import sqlglot
    from sqlglot import expressions as exp

    out: dict[str, str] = {}
    for stmt in sqlglot.parse(sql_text, read="duckdb"):
        if stmt is None:
            continue
        name = object_name(stmt)
        normalised = stmt.sql(dialect="duckdb", normalize=True, comments=False)
        if not isinstance(stmt, exp.Create):
            name = name or f"stmt_{len(out)}"
        out[name] = hashlib.sha256(normalised.encode()).hexdigest()[:16]
    return tuple(out.items())


def object_name(stmt) -> str:
    """The name a CREATE statement defines (table, view or macro), lower-case."""
    from sqlglot import expressions as exp

    target = stmt.this
    if isinstance(target, exp.UserDefinedFunction):
        target = target.this
    if isinstance(target, exp.Schema):
        target = target.this
    if isinstance(target, exp.Table):
        return target.name.lower()
    return str(target).lower()


REPO_SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def resolve_sql_dir(sql_dir: str | Path) -> Path:
    """`sql_dir` as given; a relative one that does not exist falls back to the repository's sql/ directory."""
    path = Path(sql_dir)
    if not path.is_absolute() and not (path / MANIFEST).is_file() and (REPO_SQL_DIR / MANIFEST).is_file():
        return REPO_SQL_DIR
    return path


def read_manifest(sql_dir: str | Path) -> dict:
    path = resolve_sql_dir(sql_dir) / MANIFEST
    if not path.is_file():
        raise WarehouseError(f"no SQL manifest at {path}", "run from the repository root or set features.sql_dir")
    return yaml.safe_load(path.read_text()) or {}


def load_version(sql_dir: str | Path, version: str = "", *, check_frozen: bool = True) -> SqlVersion:
    """Load a version (default: the manifest's current one); a released version must match its fingerprints."""
    manifest = read_manifest(sql_dir)
    sql_dir = resolve_sql_dir(sql_dir)
    name = version or manifest.get("current", "")
    spec = (manifest.get("versions") or {}).get(name)
    if spec is None:
        raise WarehouseError(f"SQL version '{name}' is not in {Path(sql_dir) / MANIFEST}",
                             f"known: {', '.join(manifest.get('versions') or {})}")
    files = []
    for fname in spec.get("files") or []:
        # "v1/030_features.sql": a file an earlier version already holds, shared unchanged (no copy)
        path = Path(sql_dir) / fname if "/" in fname else Path(sql_dir) / name / fname
        if not path.is_file():
            raise WarehouseError(f"SQL file {path} listed in the manifest is missing", "restore it")
        files.append((fname, path.read_text()))
    status = spec.get("status", "draft")
    if check_frozen and status == "released" and file_hashes(files) == spec.get("file_sha256"):
        # the released text itself: its fingerprints are the recorded ones (a test re-derives them with sqlglot)
        fingerprints = dict(spec.get("fingerprints") or {})
    else:
        fingerprints = {}
        for _, text in files:
            fingerprints.update(statement_fingerprints(text))
    if check_frozen and status == "released":
        recorded = spec.get("fingerprints") or {}
        changed = sorted(k for k in set(recorded) | set(fingerprints) if recorded.get(k) != fingerprints.get(k))
        if changed:
            raise WarehouseError(
                f"released SQL version {name} was modified ({', '.join(changed)})",
                "released versions are frozen: revert the change and put new logic in a new version directory",
            )
    return SqlVersion(
        name=name,
        status=status,
        files=tuple(files),
        fingerprints=fingerprints,
        windows_s=tuple(int(w) for w in spec.get("windows_s") or ()),
        horizon_s=int(spec.get("horizon_s") or 60),
        landing=str(spec.get("landing") or "python"),
    )


def file_hashes(files: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> dict[str, str]:
    """Manifest file entry -> SHA-256 (hex) of its text."""
    return {fname: hashlib.sha256(text.encode()).hexdigest() for fname, text in files}


def update_fingerprints(sql_dir: str | Path, version: str) -> dict[str, str]:
    """Recompute and store the fingerprints and file hashes of a draft version (a released one is refused)."""
    path = Path(sql_dir) / MANIFEST
    manifest = read_manifest(sql_dir)
    spec = manifest["versions"][version]
    if spec.get("status") == "released":
        raise WarehouseError(f"SQL version {version} is released and frozen", "create a new version instead")
    loaded = load_version(sql_dir, version, check_frozen=False)
    spec["fingerprints"] = loaded.fingerprints
    spec["file_sha256"] = file_hashes(loaded.files)
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return loaded.fingerprints


def record_file_hashes(sql_dir: str | Path, version: str) -> dict[str, str]:
    """Record the file hashes of a version whose files give its recorded fingerprints (checked with sqlglot)."""
    path = Path(sql_dir) / MANIFEST
    manifest = read_manifest(sql_dir)
    spec = manifest["versions"][version]
    loaded = load_version(sql_dir, version, check_frozen=False)
    if loaded.fingerprints != spec.get("fingerprints"):
        raise WarehouseError(f"SQL version {version}: its files do not give its recorded fingerprints",
                             "revert the files (a released version) or run --update (a draft)")
    spec["file_sha256"] = file_hashes(loaded.files)
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return spec["file_sha256"]


def main() -> None:
    parser = argparse.ArgumentParser(description="Recompute the fingerprints of a draft SQL version, or record the "
                                                 "file hashes of a released one.")
    parser.add_argument("--sql-dir", default="sql")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--update", metavar="VERSION")
    group.add_argument("--record-hashes", metavar="VERSION")
    args = parser.parse_args()
    if args.update:
        out = update_fingerprints(args.sql_dir, args.update)
    else:
        out = record_file_hashes(args.sql_dir, args.record_hashes)
    for name, value in out.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
