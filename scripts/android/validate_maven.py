"""Validates the Maven repository layout written by write_maven.py.

What Gradle needs to resolve `implementation("com.utdstream:utd-stream-android:<v>")`
from a `maven { url = uri(...) }` repository, and what would silently break it:
the files at their Maven paths; a well-formed POM with the coordinates,
packaging aar, the Gradle-metadata marker and the dependencies (JNA as aar);
a .module in format 1.1 whose component matches, whose API and runtime
variants list the same dependencies as the POM (JNA through
thirdPartyCompatibility.artifactSelector) and whose file entry has the
.aar's size and digests (Gradle refuses a mismatch); the checksum files; and
maven-metadata.xml listing the version.
"""

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from layout import (ARTIFACT, CHECK_VERSION_SUFFIX, DEPENDENCIES, GRADLE_METADATA_MARKER, GROUP,
                    aar_name, version_dir)

POM_NS = "{http://maven.apache.org/POM/4.0.0}"
DIGESTS = ("md5", "sha1", "sha256", "sha512")


def _text(element, path):
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def check_version(version, mode):
    if mode == "check" and not version.endswith(CHECK_VERSION_SUFFIX):
        return [f"a check build's version must end with {CHECK_VERSION_SUFFIX}: {version}"]
    if mode == "release" and CHECK_VERSION_SUFFIX in version:
        return [f"a release build must not carry {CHECK_VERSION_SUFFIX}: {version}"]
    return []


def check_pom(data, version):
    """Returns (problems, {group:artifact: (version, type)})."""
    text = data.decode("utf-8", "replace")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        return [f"POM does not parse: {e}"], {}
    problems = []
    if root.tag != POM_NS + "project":
        problems.append(f"root element {root.tag} is not a Maven 4.0.0 <project>")
    expected = {"modelVersion": "4.0.0", "groupId": GROUP, "artifactId": ARTIFACT,
                "version": version, "packaging": "aar"}
    for tag, value in expected.items():
        found = _text(root, POM_NS + tag)
        if found != value:
            problems.append(f"POM <{tag}> is {found!r}, expected {value!r}")
    if GRADLE_METADATA_MARKER not in text:
        problems.append("POM lacks the Gradle metadata marker: Gradle would ignore the .module")
    deps = {}
    for dep in root.iter(POM_NS + "dependency"):
        key = f"{_text(dep, POM_NS + 'groupId')}:{_text(dep, POM_NS + 'artifactId')}"
        deps[key] = (_text(dep, POM_NS + "version"), _text(dep, POM_NS + "type") or None)
        if _text(dep, POM_NS + "scope") not in ("", "compile", "runtime"):
            problems.append(f"POM dependency {key} has scope {_text(dep, POM_NS + 'scope')}")
    problems += _check_dependencies("POM", deps)
    return problems, deps


def _check_dependencies(where, deps):
    problems = []
    for key, kind in DEPENDENCIES.items():
        if key not in deps:
            problems.append(f"{where} does not depend on {key}")
            continue
        version, found_kind = deps[key]
        if not version:
            problems.append(f"{where} dependency {key} has no version")
        if found_kind != kind:
            problems.append(f"{where} dependency {key} is of type {found_kind}, expected {kind}")
    return problems


def check_module(data, version, aar_file, aar_data, pom_deps):
    try:
        document = json.loads(data)
    except ValueError as e:
        return [f".module is not JSON: {e}"]
    problems = []
    if document.get("formatVersion") != "1.1":
        problems.append(f".module formatVersion is {document.get('formatVersion')!r}, expected '1.1'")
    component = document.get("component", {})
    for key, value in (("group", GROUP), ("module", ARTIFACT), ("version", version)):
        if component.get(key) != value:
            problems.append(f".module component.{key} is {component.get(key)!r}, expected {value!r}")
    variants = document.get("variants") or []
    usages = {v.get("attributes", {}).get("org.gradle.usage") for v in variants}
    for usage in ("java-api", "java-runtime"):
        if usage not in usages:
            problems.append(f".module has no variant with org.gradle.usage={usage}")
    want = {name: hashlib.new(name, aar_data).hexdigest() for name in DIGESTS}
    for variant in variants:
        name = variant.get("name", "?")
        attributes = variant.get("attributes", {})
        for key, value in (("org.gradle.category", "library"), ("org.gradle.libraryelements", "aar")):
            if attributes.get(key) != value:
                problems.append(f".module variant {name}: {key} is {attributes.get(key)!r}, expected {value!r}")
        files = variant.get("files") or []
        if len(files) != 1:
            problems.append(f".module variant {name} lists {len(files)} files, expected the .aar only")
        for entry in files:
            if entry.get("name") != aar_file or entry.get("url") != aar_file:
                problems.append(f".module variant {name} file is {entry.get('url')!r}, expected {aar_file}")
            if entry.get("size") != len(aar_data):
                problems.append(f".module variant {name}: size {entry.get('size')} but the .aar has {len(aar_data)}")
            for digest, value in want.items():
                if entry.get(digest) != value:
                    problems.append(f".module variant {name}: {digest} does not match the .aar")
        deps = {}
        for dep in variant.get("dependencies") or []:
            key = f"{dep.get('group')}:{dep.get('module')}"
            selector = (dep.get("thirdPartyCompatibility") or {}).get("artifactSelector") or {}
            if selector and selector.get("type") != selector.get("extension"):
                problems.append(f".module variant {name}: {key} selector type and extension differ")
            deps[key] = ((dep.get("version") or {}).get("requires", ""), selector.get("type"))
        problems += _check_dependencies(f".module variant {name}", deps)
        if deps != pom_deps:
            problems.append(f".module variant {name} dependencies differ from the POM's: {deps} vs {pom_deps}")
    return problems


def check_checksums(directory):
    problems = []
    files = [p for p in sorted(Path(directory).iterdir()) if p.suffix.lstrip(".") not in DIGESTS]
    for path in files:
        data = path.read_bytes()
        for digest in DIGESTS:
            side = path.with_name(path.name + "." + digest)
            if not side.exists():
                problems.append(f"missing {side.name}")
            elif side.read_text().strip() != hashlib.new(digest, data).hexdigest():
                problems.append(f"{side.name} does not match {path.name}")
    return problems


def check_metadata(path, version):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        return [f"maven-metadata.xml: {e}"]
    problems = []
    if _text(root, "groupId") != GROUP or _text(root, "artifactId") != ARTIFACT:
        problems.append("maven-metadata.xml names another artifact")
    if version not in [v.text for v in root.iter("version")]:
        problems.append(f"maven-metadata.xml does not list {version}")
    return problems


def validate(repo, version, aar_path, mode):
    """Returns a list of (check name, problems)."""
    results = [("maven version", check_version(version or "", mode))]
    directory = Path(version_dir(repo, version))
    base = f"{ARTIFACT}-{version}"
    paths = {ext: directory / f"{base}.{ext}" for ext in ("aar", "pom", "module")}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        results.append(("maven layout files", [f"missing {m}" for m in missing]))
        return results
    aar_data = paths["aar"].read_bytes()
    same = [] if aar_data == Path(aar_path).read_bytes() else [
        f"{paths['aar']} differs from the validated {aar_path}"]
    results.append(("maven layout files", same))
    pom_problems, pom_deps = check_pom(paths["pom"].read_bytes(), version)
    results.append(("POM", pom_problems))
    results.append((".module (Gradle module metadata)",
                    check_module(paths["module"].read_bytes(), version, aar_name(version), aar_data, pom_deps)))
    results.append(("checksum files", check_checksums(directory)))
    results.append(("maven-metadata.xml", check_metadata(directory.parent / "maven-metadata.xml", version)))
    return results
