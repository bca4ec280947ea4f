"""The SQL manifest: which version is current, the objects each version is made of, and the fingerprints that freeze it.

SQL lives one object (table, view or macro) per file, in layer folders: `sql/models/<layer>/<object>.sql` is the
object as the version that first has it wrote it (the base); a later version that changes it adds a variant
beside it, `<object>.<version>.sql`. `sql/manifest.yml` holds:

* `objects`: every object, in creation order (dependencies first), with the first version that has it;
* `versions`: per version its status (`draft` or `released`), the windows and horizon the SQL implements, how
  records are landed (`landing: python` for v1, where Python builds the raw rows; `landing: sql` from v2, where
  the version's own landing macros parse and type them), `uses` (the variants it takes other than the base) and
  one fingerprint per object: the SHA-256 of its statement normalised by sqlglot (comments and layout do not
  count, logic does);
* `file_fingerprints`: a cache, object file -> SHA-256 of its text and the fingerprint of that text.

The rule that makes a version: version V has every object whose first version is at or before V (in the order
`versions` lists them), each in its newest variant at or before V, else its base. `uses` records what the rule
gives, so the manifest alone says what a version is made of; a released version whose variant files no longer
give its `uses` is refused, like one whose fingerprints changed (adding `x.v5.sql` never changes v1..v4).
A released version is frozen: `load_version` refuses SQL whose fingerprints differ from the manifest. An object
file whose text has the SHA-256 the cache records takes the cached fingerprint and is not parsed (parsing every
object with sqlglot costs 0.3-0.6 s, most of the time it takes to open a warehouse); any other text, even a
comment, is fingerprinted with sqlglot and checked as before.

`python -m glue.warehouse.manifest --update v5` rewrites `uses`, the fingerprints and the cache entries of a
draft version; `--record-hashes v1` records the cache entries of a released one after checking its fingerprints
with sqlglot. How to add a version: docs/warehouse.md.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from glue.errors import WarehouseError

MANIFEST = "manifest.yml"
MODELS = "models"


@dataclass(frozen=True)
class SqlVersion:
    """One loaded SQL version: the text of each of its object files in creation order, and its fingerprints."""

    name: str
    status: str
    files: tuple[tuple[str, str], ...]  # (object file under sql/models, SQL text) in creation order
    fingerprints: dict[str, str]  # object name -> fingerprint, in creation order
    windows_s: tuple[int, ...]
    horizon_s: int
    landing: str = "python"  # "python": glue.warehouse.landing builds raw rows; "sql": the version's landing macros
    uses: dict[str, str] = field(default_factory=dict)  # object -> the variant it takes, where not the base

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


@functools.lru_cache(maxsize=256)
def _statement_fingerprints(sql_text: str) -> tuple[tuple[str, str], ...]:
    # cached per text: parsing with sqlglot is the slowest part of opening a warehouse (~0.5 s for a version), and
    # a process (a test run, the demo) opens many warehouses of the same version
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


def object_name(stmt: Any) -> str:
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
    # the C loader where PyYAML has it: the manifest is read each time a warehouse opens (3x faster than pure Python)
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


def model_files(sql_dir: str | Path) -> dict[str, dict[str, str]]:
    """Object -> {variant: file under sql/models}; the base file's variant is '' (`x.sql`), a variant's `vN`."""
    root = resolve_sql_dir(sql_dir) / MODELS
    out: dict[str, dict[str, str]] = {}
    for path in sorted(root.glob("*/*.sql")):
        obj, _, variant = path.name[: -len(".sql")].partition(".")
        rel = path.relative_to(root).as_posix()
        seen = out.setdefault(obj, {})
        if variant in seen:
            raise WarehouseError(f"SQL object {obj} has two files: {seen[variant]} and {rel}",
                                 "keep one object per name (remove or rename one)")
        seen[variant] = rel
    return out


def resolve_files(manifest: dict, files: dict[str, dict[str, str]], version: str) -> tuple[list[str], dict[str, str]]:
    """The object files `version` is made of, in creation order, and its `uses` (object -> non-base variant).

    The rule: every object of `objects` whose first version is at or before `version`, in its newest variant at
    or before `version` (the order of `versions`), else its base `<object>.sql`.
    """
    order = list(manifest.get("versions") or {})
    rank = order.index(version)
    paths: list[str] = []
    uses: dict[str, str] = {}
    for obj, since in (manifest.get("objects") or {}).items():
        if since not in order:
            raise WarehouseError(f"SQL object {obj}: first version '{since}' is not in {MANIFEST}",
                                 f"set objects.{obj} to one of {', '.join(order)}")
        if order.index(since) > rank:
            continue
        variants = files.get(obj) or {}
        if "" not in variants:
            raise WarehouseError(f"SQL object {obj} ({since}) has no base file sql/{MODELS}/<layer>/{obj}.sql",
                                 "restore it (a changed object is a variant beside it, never a replacement)")
        usable = [v for v in variants if v and v in order and order.index(v) <= rank]
        chosen = max(usable, key=order.index, default="")
        paths.append(variants[chosen])
        if chosen:
            uses[obj] = chosen
    return paths, uses


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_version(sql_dir: str | Path, version: str = "", *, check_frozen: bool = True,
                 use_cache: bool = True) -> SqlVersion:
    """Load a version (default: the manifest's current one); a released version must match its fingerprints."""
    manifest = read_manifest(sql_dir)
    root = resolve_sql_dir(sql_dir)
    name = version or manifest.get("current", "")
    spec = (manifest.get("versions") or {}).get(name)
    if spec is None:
        raise WarehouseError(f"SQL version '{name}' is not in {root / MANIFEST}",
                             f"known: {', '.join(manifest.get('versions') or {})}")
    paths, uses = resolve_files(manifest, model_files(root), name)
    cache = (manifest.get("file_fingerprints") or {}) if use_cache else {}
    files = []
    fingerprints: dict[str, str] = {}
    for rel in paths:
        text = (root / MODELS / rel).read_text()
        obj = Path(rel).name.split(".")[0]
        cached = cache.get(rel) or {}
        if cached.get("sha256") == text_sha256(text):
            # the very text fingerprinted before: its fingerprint is the cached one (a test re-derives it)
            fingerprints[obj] = str(cached.get("fingerprint"))
        else:
            found = statement_fingerprints(text)
            if list(found) != [obj]:
                raise WarehouseError(f"SQL file {MODELS}/{rel} must define exactly the object {obj}, "
                                     f"it defines {', '.join(found) or 'nothing'}",
                                     "keep one CREATE statement per file, named as the file")
            fingerprints[obj] = found[obj]
        files.append((rel, text))
    status = spec.get("status", "draft")
    if check_frozen and status == "released":
        recorded = spec.get("fingerprints") or {}
        changed = sorted(k for k in set(recorded) | set(fingerprints) if recorded.get(k) != fingerprints.get(k))
        if changed or uses != (spec.get("uses") or {}):
            what = ", ".join(changed) or f"variants {uses} instead of the recorded {spec.get('uses') or {}}"
            raise WarehouseError(
                f"released SQL version {name} was modified ({what})",
                "released versions are frozen: revert the change and put new logic in a variant file "
                "<object>.<new version>.sql used by a new version (docs/warehouse.md)",
            )
    return SqlVersion(
        name=name,
        status=status,
        files=tuple(files),
        fingerprints=fingerprints,
        windows_s=tuple(int(w) for w in spec.get("windows_s") or ()),
        horizon_s=int(spec.get("horizon_s") or 60),
        landing=str(spec.get("landing") or "python"),
        uses=uses,
    )


def file_fingerprints(loaded: SqlVersion) -> dict[str, dict[str, str]]:
    """The cache entries of a loaded version: object file -> {sha256 of its text, fingerprint}."""
    return {rel: {"sha256": text_sha256(text), "fingerprint": loaded.fingerprints[Path(rel).name.split(".")[0]]}
            for rel, text in loaded.files}


def update_fingerprints(sql_dir: str | Path, version: str) -> dict[str, str]:
    """Recompute and store `uses`, the fingerprints and cache entries of a draft version (a released one is refused)."""
    manifest = read_manifest(sql_dir)
    spec = manifest["versions"][version]
    if spec.get("status") == "released":
        raise WarehouseError(f"SQL version {version} is released and frozen", "create a new version instead")
    loaded = load_version(sql_dir, version, check_frozen=False, use_cache=False)
    spec["uses"] = loaded.uses
    spec["fingerprints"] = loaded.fingerprints
    _record_cache(manifest, loaded)
    write_manifest(sql_dir, manifest)
    return loaded.fingerprints


def record_file_hashes(sql_dir: str | Path, version: str) -> dict[str, dict[str, str]]:
    """Record the cache entries of a version whose files give its recorded fingerprints (checked with sqlglot)."""
    manifest = read_manifest(sql_dir)
    spec = manifest["versions"][version]
    loaded = load_version(sql_dir, version, check_frozen=False, use_cache=False)
    if loaded.fingerprints != spec.get("fingerprints") or loaded.uses != (spec.get("uses") or {}):
        raise WarehouseError(f"SQL version {version}: its files do not give its recorded fingerprints",
                             "revert the files (a released version) or run --update (a draft)")
    _record_cache(manifest, loaded)
    write_manifest(sql_dir, manifest)
    return file_fingerprints(loaded)


def _record_cache(manifest: dict, loaded: SqlVersion) -> None:
    cache = manifest.setdefault("file_fingerprints", {})
    cache.update(file_fingerprints(loaded))
    manifest["file_fingerprints"] = dict(sorted(cache.items()))


class _Flow(list):
    """A list written on one line ([10, 30, 60, 300])."""


class _FlowDict(dict):
    """A mapping written on one line ({sha256: ..., fingerprint: ...})."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # every version spells out its own settings (no &id001)
        return True


_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(_FlowDict, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))


def dump_manifest(manifest: dict, header: str = "") -> str:
    """The manifest as YAML: `header` (its leading comment lines) first, lists of numbers and cache entries inline."""
    doc = dict(manifest)
    doc["versions"] = {
        name: {k: (_Flow(v) if isinstance(v, list) else v) for k, v in spec.items()}
        for name, spec in (manifest.get("versions") or {}).items()
    }
    if "file_fingerprints" in manifest:
        doc["file_fingerprints"] = {k: _FlowDict(v) for k, v in manifest["file_fingerprints"].items()}
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=120)


def write_manifest(sql_dir: str | Path, manifest: dict) -> None:
    """Rewrite sql/manifest.yml, keeping its leading comment block (the rules written there by hand)."""
    path = resolve_sql_dir(sql_dir) / MANIFEST
    lines = path.read_text().splitlines(keepends=True) if path.is_file() else []
    header = ""
    for line in lines:
        if not line.startswith("#") and line.strip():
            break
        header += line
    path.write_text(dump_manifest(manifest, header))


def main() -> None:
    parser = argparse.ArgumentParser(description="Recompute the variants and fingerprints of a draft SQL version, "
                                                 "or record the file hashes of a released one.")
    parser.add_argument("--sql-dir", default="sql")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--update", metavar="VERSION")
    group.add_argument("--record-hashes", metavar="VERSION")
    args = parser.parse_args()
    try:
        if args.update:
            for name, value in update_fingerprints(args.sql_dir, args.update).items():
                print(f"{name}: {value}")
        else:
            for rel, entry in record_file_hashes(args.sql_dir, args.record_hashes).items():
                print(f"{rel}: {entry['fingerprint']}")
    except KeyError as exc:  # a version the manifest does not have
        raise SystemExit(f"error: SQL version {exc} is not in {resolve_sql_dir(args.sql_dir) / MANIFEST}. "
                         "Add it under `versions` first (docs/warehouse.md, How to add SQL v6)") from None
    except WarehouseError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
