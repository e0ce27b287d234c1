#!/usr/bin/env python3
"""Writes a Maven repository layout for the AAR: what `maven { url = uri(...) }` reads.

  <repo>/com/utdstream/utd-stream-android/<version>/
      utd-stream-android-<version>.aar / .pom / .module   (+ .md5 .sha1 .sha256 .sha512)
  <repo>/com/utdstream/utd-stream-android/maven-metadata.xml

Gradle prefers the .module (Gradle module metadata) when the POM carries the
marker comment; the POM is for Maven and older tools. Both list the same
dependencies. JNA must be consumed as its .aar (it ships libjnidispatch.so
per ABI): the POM says <type>aar</type>, the .module says so with
thirdPartyCompatibility.artifactSelector, since JNA's own published metadata
is a POM whose default artifact is the desktop jar.

Usage: write_maven.py --repo DIR --aar FILE --version V
         --dependency group:artifact:version[@aar] ... [--license NAME] [--check-build]
"""

import argparse
import hashlib
import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent))

from layout import ARTIFACT, GRADLE_METADATA_MARKER, GROUP, aar_name, version_dir  # noqa: E402

DIGESTS = ("md5", "sha1", "sha256", "sha512")


def digests(data):
    return {name: hashlib.new(name, data).hexdigest() for name in DIGESTS}


def parse_dependency(text):
    coordinate, _, extension = text.partition("@")
    group, artifact, version = coordinate.split(":")
    return {"group": group, "artifact": artifact, "version": version, "type": extension or None}


def pom(version, dependencies, description, license_name):
    deps = "".join(
        "    <dependency>\n"
        f"      <groupId>{escape(d['group'])}</groupId>\n"
        f"      <artifactId>{escape(d['artifact'])}</artifactId>\n"
        f"      <version>{escape(d['version'])}</version>\n"
        + (f"      <type>{escape(d['type'])}</type>\n" if d["type"] else "")
        # compile: the SDK's public API exposes these types (JNA structures,
        # Flow, FirebaseMessagingService), so consumers compile against them.
        + "      <scope>compile</scope>\n"
        "    </dependency>\n"
        for d in dependencies)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <!-- Gradle reads {ARTIFACT}-{escape(version)}.module beside this file instead of this POM: -->
  <!-- {GRADLE_METADATA_MARKER} -->
  <modelVersion>4.0.0</modelVersion>
  <groupId>{GROUP}</groupId>
  <artifactId>{ARTIFACT}</artifactId>
  <version>{escape(version)}</version>
  <packaging>aar</packaging>
  <name>UTD Stream SDK for Android</name>
  <description>{escape(description)}</description>
  <licenses>
    <license>
      <name>{escape(license_name)}</name>
    </license>
  </licenses>
  <dependencies>
{deps}  </dependencies>
</project>
"""


def module(version, dependencies, aar_file, aar_data, check_build):
    def dependency(d):
        entry = {"group": d["group"], "module": d["artifact"], "version": {"requires": d["version"]}}
        if d["type"]:
            entry["thirdPartyCompatibility"] = {
                "artifactSelector": {"name": d["artifact"], "type": d["type"], "extension": d["type"]}}
        return entry

    def variant(name, usage):
        return {
            "name": name,
            "attributes": {
                "org.gradle.category": "library",
                "org.gradle.dependency.bundling": "external",
                "org.gradle.jvm.environment": "android",
                "org.gradle.libraryelements": "aar",
                "org.gradle.usage": usage,
                "org.jetbrains.kotlin.platform.type": "androidJvm",
            },
            "dependencies": [dependency(d) for d in dependencies],
            "files": [dict(name=aar_file, url=aar_file, size=len(aar_data), **digests(aar_data))],
        }

    return {
        "formatVersion": "1.1",
        "component": {
            "group": GROUP,
            "module": ARTIFACT,
            "version": version,
            # A check build is not a release: Gradle's status scheme ranks it below one.
            "attributes": {"org.gradle.status": "integration" if check_build else "release"},
        },
        "variants": [variant("aarApiElements", "java-api"), variant("aarRuntimeElements", "java-runtime")],
    }


def metadata(existing, version):
    """maven-metadata.xml for the artifact, keeping versions already in the repository."""
    versions = []
    if existing.exists():
        try:
            versions = [v.text for v in ET.parse(existing).getroot().iter("version") if v.text]
        except ET.ParseError:
            versions = []
        versions = [v for v in versions if v != version]
    versions.append(version)
    listed = "".join(f"      <version>{escape(v)}</version>\n" for v in versions)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>{GROUP}</groupId>
  <artifactId>{ARTIFACT}</artifactId>
  <versioning>
    <latest>{escape(version)}</latest>
    <release>{escape(version)}</release>
    <versions>
{listed}    </versions>
  </versioning>
</metadata>
"""


def write_with_checksums(path, data):
    path.write_bytes(data)
    for name, value in digests(data).items():
        path.with_name(path.name + "." + name).write_text(value)


def write(repo, aar_path, version, dependencies, license_name="Apache-2.0", check_build=False):
    aar_data = Path(aar_path).read_bytes()
    target = Path(version_dir(repo, version))
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    base = f"{ARTIFACT}-{version}"
    description = ("CHECK BUILD without native libraries, not for shipping: made where no Android NDK exists"
                   if check_build else
                   "Headless real-time audio/video SDK: Rust core with UniFFI Kotlin bindings and the "
                   "Android calls layer (ConnectionService, FCM, notifications)")
    write_with_checksums(target / aar_name(version), aar_data)
    write_with_checksums(target / f"{base}.pom",
                         pom(version, dependencies, description, license_name).encode())
    document = module(version, dependencies, aar_name(version), aar_data, check_build)
    write_with_checksums(target / f"{base}.module", (json.dumps(document, indent=2) + "\n").encode())
    meta = target.parent / "maven-metadata.xml"
    write_with_checksums(meta, metadata(meta, version).encode())
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--aar", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--dependency", action="append", default=[], required=True)
    parser.add_argument("--license", default="Apache-2.0")
    parser.add_argument("--check-build", action="store_true")
    args = parser.parse_args(argv)
    dependencies = [parse_dependency(d) for d in args.dependency]
    target = write(args.repo, args.aar, args.version, dependencies, args.license, args.check_build)
    print(f"maven layout in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
